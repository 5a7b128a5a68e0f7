;; gasmeter.wat - one priced operation per export, for the gas transcript.
;;
;; Serves: engine/gas_test.go TestGasTranscript, with testdata/gas/transcript.json.
;; Every export does as little as possible around the one operation it
;; exercises, so that its gas is the price table (SPEC.md §11) applied to
;; counts read off this file. The operator count of each export is written
;; next to it: wasmtime charges one unit of fuel per operator except nop,
;; drop, block, loop, else, end, unreachable and return (0), plus one for
;; entering the function. The transcript's fuel counts are these plus one
;; (plus two more where a callee's noop runs, plus one per memory.grow: the
;; call of the growth hook the engine compiles in before it, SPEC.md §11).
;;
;; Memory map (2 pages):
;;   0x0100 .. 0x0120   the callee id (set by set_callee)
;;   0x0200 .. 0x0220   32 zero bytes: an id no contract has
;;   0x0400 .. 0x0500   constant strings
;;   0x2000, 0x3000, 0x4000  bytes written by write_pages / rewrite
;;   0x10000 .. 0x20000 argument buffer A
;;
;; Exports: argument -> result, and what each charges besides its fuel.
;;   noop        () -> ()                        nothing
;;   caller      () -> ()                        GasHostCall
;;   callstack   () -> ()                        GasHostCall
;;   limit       () -> u64 limit()               GasHostCall
;;   spent       () -> u64 spent()               GasHostCall
;;   self_id     () -> id                        GasHostCall + 32 output bytes
;;   owner       () -> own owner bytes           GasHostCall + owner output bytes
;;   metadata    () -> hd("block_height")        GasHostCall + 12 name + value bytes
;;   query       x  -> hq("double", x)           GasHostCall + 6 name + n input,
;;                                               GasQueryByte·n, the query's price,
;;                                               output bytes
;;   emit        x  -> () (topic "topic")        GasHostCall + 5 name + n input,
;;                                               GasEventBase, GasEventByte·(5+n)
;;   feed        x  -> ()                        GasHostCall + n input
;;   debug       x  -> ()                        GasHostCall + n input
;;   panic       x  -> fails with message x      GasHostCall + n input
;;   trap        () -> fails (unreachable)       -
;;   burn        () -> never (loops)             fuel until the limit
;;   deep        () -> never (recurses)          fuel until the stack overflows,
;;                                               GasFrameFailure, GasStackOverflow
;;   eph_set     x  -> () (key "k1" := x)        GasHostCall + 2 key + n input,
;;                                               GasEphemeralByte·(2+n)
;;   eph_get     () -> value of "k1"             GasHostCall + 2 key + value bytes
;;   eph_del     () -> ()                        GasHostCall + 2 key
;;   write_pages () -> ()  one byte 1 into each of 3 pages   GasPageWrite·3
;;                                                (0 when the bytes are already 1)
;;   grow        () -> ()  memory.grow 1         GasGrowHook + GasMemoryGrow
;;   grow_refused () -> () memory.grow 2^32-1 pages, refused (-1): GasGrowHook
;;   set_callee  id -> ()  stores id at 0x100    GasPageWrite (page 0)
;;   call_noop   () -> callee's result of noop   GasHostCall + GasCallBase +
;;                                               4 name bytes + the callee's gas
;;   call_fail   () -> () c(callee, "fail", gas 5000)  ... + the whole 5000 +
;;                                               4 output bytes (u32 length 0)
;;   call_burn   () -> () c(callee, "burn", gas 500)   ... + the whole 500
;;   call_missing () -> () c(zero id, "noop")    GasHostCall + GasCallBase + 4
;;   call_fail_default () -> () c(callee, "fail", gas 0): pays 93 % of what it
;;                                               had left + 4 output bytes
;;   call_between () -> () writes page 0x2000 (byte 2), calls callee noop,
;;                  writes it again (byte 3): the page is charged twice
;;   fail        () -> fails: panic with an empty message
(module
  (import "env" "c" (func $c (param i32 i32 i32 i32 i64) (result i32)))
  (import "env" "hq" (func $hq (param i32 i32 i32) (result i32)))
  (import "env" "hd" (func $hd (param i32 i32) (result i32)))
  (import "env" "emit" (func $emit (param i32 i32 i32)))
  (import "env" "feed" (func $feed (param i32)))
  (import "env" "caller" (func $caller (result i32)))
  (import "env" "callstack" (func $callstack (result i32)))
  (import "env" "limit" (func $limit (result i64)))
  (import "env" "spent" (func $spent (result i64)))
  (import "env" "panic" (func $panic (param i32)))
  (import "env" "owner" (func $owner (param i32) (result i32)))
  (import "env" "self_id" (func $self_id))
  (import "env" "hdebug" (func $hdebug (param i32)))
  (import "env" "ws_eph_set" (func $eph_set (param i32 i32 i32)))
  (import "env" "ws_eph_get" (func $eph_get (param i32 i32) (result i32)))
  (import "env" "ws_eph_del" (func $eph_del (param i32 i32) (result i32)))

  (memory (export "memory") 2)
  (global $A (export "A") i32 (i32.const 65536))

  (data (i32.const 0x400) "noop")          ;; 4
  (data (i32.const 0x408) "topic")         ;; 5
  (data (i32.const 0x410) "block_height")  ;; 12
  (data (i32.const 0x420) "double")        ;; 6
  (data (i32.const 0x428) "k1")            ;; 2
  (data (i32.const 0x438) "fail")          ;; 4
  (data (i32.const 0x440) "burn")          ;; 4

  ;; operators 1: i32.const
  (func (export "noop") (param i32) (result i32)
    (i32.const 0))

  ;; operators 2: call, i32.const
  (func (export "caller") (param i32) (result i32)
    (drop (call $caller))
    (i32.const 0))

  ;; operators 2: call, i32.const
  (func (export "callstack") (param i32) (result i32)
    (drop (call $callstack))
    (i32.const 0))

  ;; operators 4: global.get, call, i64.store, i32.const
  (func (export "limit") (param i32) (result i32)
    (i64.store (global.get $A) (call $limit))
    (i32.const 8))

  ;; operators 4: global.get, call, i64.store, i32.const
  (func (export "spent") (param i32) (result i32)
    (i64.store (global.get $A) (call $spent))
    (i32.const 8))

  ;; operators 2: call, i32.const
  (func (export "self_id") (param i32) (result i32)
    (call $self_id)
    (i32.const 32))

  ;; operators 2: i32.const, call
  (func (export "owner") (param i32) (result i32)
    (call $owner (i32.const 0)))

  ;; operators 3: i32.const ×2, call
  (func (export "metadata") (param i32) (result i32)
    (call $hd (i32.const 0x410) (i32.const 12)))

  ;; operators 4: i32.const ×2, local.get, call
  (func (export "query") (param $n i32) (result i32)
    (call $hq (i32.const 0x420) (i32.const 6) (local.get $n)))

  ;; operators 5: i32.const ×2, local.get, call, i32.const
  (func (export "emit") (param $n i32) (result i32)
    (call $emit (i32.const 0x408) (i32.const 5) (local.get $n))
    (i32.const 0))

  ;; operators 3: local.get, call, i32.const
  (func (export "feed") (param $n i32) (result i32)
    (call $feed (local.get $n))
    (i32.const 0))

  ;; operators 3: local.get, call, i32.const
  (func (export "debug") (param $n i32) (result i32)
    (call $hdebug (local.get $n))
    (i32.const 0))

  ;; operators 2: local.get, call (unreachable is free and never reached)
  (func (export "panic") (param $n i32) (result i32)
    (call $panic (local.get $n))
    unreachable)

  ;; operators 2: i32.const, call
  (func (export "fail") (param i32) (result i32)
    (call $panic (i32.const 0))
    unreachable)

  ;; operators 1: i32.const (drop and unreachable are free)
  (func (export "trap") (param i32) (result i32)
    (drop (i32.const 1))
    unreachable)

  ;; loops until out of gas: br costs 1 per iteration
  (func (export "burn") (param i32) (result i32)
    (loop $l (br $l))
    (i32.const 0))

  ;; recurses until the wasm stack is exhausted
  (func $deep (call $deep))
  (func (export "deep") (param i32) (result i32)
    (call $deep)
    (i32.const 0))

  ;; operators 5: i32.const ×2, local.get, call, i32.const
  (func (export "eph_set") (param $n i32) (result i32)
    (call $eph_set (i32.const 0x428) (i32.const 2) (local.get $n))
    (i32.const 0))

  ;; operators 3: i32.const ×2, call
  (func (export "eph_get") (param i32) (result i32)
    (call $eph_get (i32.const 0x428) (i32.const 2)))

  ;; operators 4: i32.const ×2, call, i32.const
  (func (export "eph_del") (param i32) (result i32)
    (drop (call $eph_del (i32.const 0x428) (i32.const 2)))
    (i32.const 0))

  ;; operators 10: 3 × (i32.const ×2, i32.store8), i32.const
  (func (export "write_pages") (param i32) (result i32)
    (i32.store8 (i32.const 0x2000) (i32.const 1))
    (i32.store8 (i32.const 0x3000) (i32.const 1))
    (i32.store8 (i32.const 0x4000) (i32.const 1))
    (i32.const 0))

  ;; operators 3: i32.const, memory.grow, i32.const (+1: the hook's call)
  (func (export "grow") (param i32) (result i32)
    (drop (memory.grow (i32.const 1)))
    (i32.const 0))

  ;; operators 3: i32.const, memory.grow, i32.const (+1: the hook's call)
  (func (export "grow_refused") (param i32) (result i32)
    (drop (memory.grow (i32.const -1)))
    (i32.const 0))

  ;; operators 5: i32.const, global.get, i32.const, memory.copy, i32.const
  (func (export "set_callee") (param i32) (result i32)
    (memory.copy (i32.const 0x100) (global.get $A) (i32.const 32))
    (i32.const 0))

  ;; operators 6: i32.const ×4, i64.const, call
  (func (export "call_noop") (param i32) (result i32)
    (call $c (i32.const 0x100) (i32.const 0x400) (i32.const 4) (i32.const 0) (i64.const 0)))

  ;; operators 7: i32.const ×4, i64.const, call, i32.const
  (func (export "call_fail") (param i32) (result i32)
    (drop (call $c (i32.const 0x100) (i32.const 0x438) (i32.const 4) (i32.const 0) (i64.const 5000)))
    (i32.const 0))

  ;; operators 7: i32.const ×4, i64.const, call, i32.const
  (func (export "call_burn") (param i32) (result i32)
    (drop (call $c (i32.const 0x100) (i32.const 0x440) (i32.const 4) (i32.const 0) (i64.const 500)))
    (i32.const 0))

  ;; operators 7: i32.const ×4, i64.const, call, i32.const
  (func (export "call_missing") (param i32) (result i32)
    (drop (call $c (i32.const 0x200) (i32.const 0x400) (i32.const 4) (i32.const 0) (i64.const 0)))
    (i32.const 0))

  ;; operators 7: i32.const ×4, i64.const, call (6 before the callee runs), i32.const
  (func (export "call_fail_default") (param i32) (result i32)
    (drop (call $c (i32.const 0x100) (i32.const 0x438) (i32.const 4) (i32.const 0) (i64.const 0)))
    (i32.const 0))

  ;; operators 13: i32.const ×2, i32.store8, i32.const ×4, i64.const, call,
  ;; i32.const ×2, i32.store8, i32.const
  (func (export "call_between") (param i32) (result i32)
    (i32.store8 (i32.const 0x2000) (i32.const 2))
    (drop (call $c (i32.const 0x100) (i32.const 0x400) (i32.const 4) (i32.const 0) (i64.const 0)))
    (i32.store8 (i32.const 0x2000) (i32.const 3))
    (i32.const 0))
)
