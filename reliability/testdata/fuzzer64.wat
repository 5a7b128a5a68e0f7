;; fuzzer64.wat - calls any host import with raw values (wasm64 (memory64)).
;;
;; Serves reliability/: the host-function fuzz target (FuzzHostCall), the
;; resource-abuse, isolation and crash tests. One export, "go", reads a
;; selector and five raw 64-bit arguments from its argument and passes
;; them, unchecked, to the selected import; pointers are i64 (memory64),
;; lengths and counts i32 (the low 32 bits), gas values i64.
;;
;; Argument (in A, integers little-endian), at least 48 bytes (shorter: no-op,
;; result ()):
;;   A+0   u32 sel      which operation (below); unknown: no operation
;;   A+4   u32 ret      result length: the call returns A[0..ret] ++ u64 r
;;                      (r = the import's result, sign-extended; 0 if none)
;;                      when ret <= 65528, else the raw length ret (so the
;;                      host must reject ret > 65536)
;;   A+8   u64 a0 .. A+40 u64 a4   raw arguments
;;   A+48  payload      stays in A: what host functions read as A[..len]
;;
;; Operations: sel 0..15 call the import of that index in SPEC.md §10.3 order
;; with (a0, a1, ...) as its parameters:
;;    0 c(a0, a1, a2, a3, a4)   1 hq(a0, a1, a2)    2 hd(a0, a1)
;;    3 emit(a0, a1, a2)        4 feed(a0)          5 caller()
;;    6 callstack()             7 limit()           8 spent()
;;    9 panic(a0)              10 owner(a0)        11 self_id()
;;   12 hdebug(a0)             13 ws_eph_set(a0, a1, a2)
;;   14 ws_eph_get(a0, a1)     15 ws_eph_del(a0, a1)
;; and
;;   16 r = memory.grow(a0)                       (pages)
;;   17 memory.copy(a0, A+48, a1)                 store the payload at a0
;;   18 memory.copy(A, a0, a1)                    load a1 bytes at a0 into A
;;   19 loop forever                              (runs out of gas)
;;   20 unbounded wasm recursion                  (exhausts the wasm stack)
;;   21 r = memory.size                           (pages)
;;
;; Memory map (2 pages at deploy): constant strings at 0x400 (see the data
;; segments; fuzz seeds point at them), ids at 0x100, argument buffer A at
;; 0x10000 .. 0x20000.
(module
  (import "env" "c" (func $c (param i64 i64 i32 i32 i64) (result i32)))
  (import "env" "hq" (func $hq (param i64 i32 i32) (result i32)))
  (import "env" "hd" (func $hd (param i64 i32) (result i32)))
  (import "env" "emit" (func $emit (param i64 i32 i32)))
  (import "env" "feed" (func $feed (param i32)))
  (import "env" "caller" (func $caller (result i32)))
  (import "env" "callstack" (func $callstack (result i32)))
  (import "env" "limit" (func $limit (result i64)))
  (import "env" "spent" (func $spent (result i64)))
  (import "env" "panic" (func $panic (param i32)))
  (import "env" "owner" (func $owner (param i64) (result i32)))
  (import "env" "self_id" (func $self_id))
  (import "env" "hdebug" (func $hdebug (param i32)))
  (import "env" "ws_eph_set" (func $eph_set (param i64 i32 i32)))
  (import "env" "ws_eph_get" (func $eph_get (param i64 i32) (result i32)))
  (import "env" "ws_eph_del" (func $eph_del (param i64 i32) (result i32)))

  (memory (export "memory") i64 2)
  (global $A (export "A") i64 (i64.const 65536))

  ;; ids: the counter the tests deploy at 0xC0..C0, fuzzer at 0xF3..F3,
  ;; fuzzer64 at 0xF6..F6
  (data (i64.const 0x100) "\c0\c0\c0\c0\c0\c0\c0\c0\c0\c0\c0\c0\c0\c0\c0\c0\c0\c0\c0\c0\c0\c0\c0\c0\c0\c0\c0\c0\c0\c0\c0\c0")
  (data (i64.const 0x120) "\f3\f3\f3\f3\f3\f3\f3\f3\f3\f3\f3\f3\f3\f3\f3\f3\f3\f3\f3\f3\f3\f3\f3\f3\f3\f3\f3\f3\f3\f3\f3\f3")
  (data (i64.const 0x140) "\f6\f6\f6\f6\f6\f6\f6\f6\f6\f6\f6\f6\f6\f6\f6\f6\f6\f6\f6\f6\f6\f6\f6\f6\f6\f6\f6\f6\f6\f6\f6\f6")
  (data (i64.const 0x400) "go")            ;; 0x400, 2
  (data (i64.const 0x410) "hash")          ;; 0x410, 4
  (data (i64.const 0x420) "boom")          ;; 0x420, 4
  (data (i64.const 0x430) "err")           ;; 0x430, 3
  (data (i64.const 0x440) "block_height")  ;; 0x440, 12
  (data (i64.const 0x460) "read_value")    ;; 0x460, 10
  (data (i64.const 0x470) "increment")     ;; 0x470, 9
  (data (i64.const 0x480) "big")           ;; 0x480, 3
  (data (i64.const 0x490) "init")          ;; 0x490, 4
  (data (i64.const 0x4a0) "topic\ff")      ;; 0x4a0, 6 (invalid UTF-8 at 5)

  ;; raw argument i as i64, and as i32 (low 32 bits)
  (func $a (param $i i32) (result i64)
    (i64.load (i64.add (global.get $A) (i64.extend_i32_u (i32.add (i32.const 8) (i32.shl (local.get $i) (i32.const 3)))))))
  (func $w (param $i i32) (result i32) (i32.wrap_i64 (call $a (local.get $i))))
  (func $p (param $i i32) (result i64) (call $a (local.get $i)))

  (func $recurse (param $n i64) (result i64)
    (i64.add (call $recurse (i64.add (local.get $n) (i64.const 1))) (i64.const 1)))

  (func (export "go") (param $len i32) (result i32)
    (local $sel i32) (local $ret i32) (local $r i64)
    (if (i32.lt_u (local.get $len) (i32.const 48)) (then (return (i32.const 0))))
    (local.set $sel (i32.load (global.get $A)))
    (local.set $ret (i32.load offset=4 (global.get $A)))
    (block $done
    (block $b21
    (block $b20
    (block $b19
    (block $b18
    (block $b17
    (block $b16
    (block $b15
    (block $b14
    (block $b13
    (block $b12
    (block $b11
    (block $b10
    (block $b9
    (block $b8
    (block $b7
    (block $b6
    (block $b5
    (block $b4
    (block $b3
    (block $b2
    (block $b1
    (block $b0
      (br_table $b0 $b1 $b2 $b3 $b4 $b5 $b6 $b7 $b8 $b9 $b10 $b11 $b12 $b13 $b14 $b15 $b16 $b17 $b18 $b19 $b20 $b21 $done (local.get $sel)))
      ;; 0 c
      (local.set $r (i64.extend_i32_s (call $c (call $p (i32.const 0)) (call $p (i32.const 1)) (call $w (i32.const 2)) (call $w (i32.const 3)) (call $a (i32.const 4)))))
      (br $done))
      ;; 1 hq
      (local.set $r (i64.extend_i32_s (call $hq (call $p (i32.const 0)) (call $w (i32.const 1)) (call $w (i32.const 2)))))
      (br $done))
      ;; 2 hd
      (local.set $r (i64.extend_i32_s (call $hd (call $p (i32.const 0)) (call $w (i32.const 1)))))
      (br $done))
      ;; 3 emit
      (call $emit (call $p (i32.const 0)) (call $w (i32.const 1)) (call $w (i32.const 2)))
      (br $done))
      ;; 4 feed
      (call $feed (call $w (i32.const 0)))
      (br $done))
      ;; 5 caller
      (local.set $r (i64.extend_i32_s (call $caller)))
      (br $done))
      ;; 6 callstack
      (local.set $r (i64.extend_i32_s (call $callstack)))
      (br $done))
      ;; 7 limit
      (local.set $r (call $limit))
      (br $done))
      ;; 8 spent
      (local.set $r (call $spent))
      (br $done))
      ;; 9 panic
      (call $panic (call $w (i32.const 0)))
      (br $done))
      ;; 10 owner
      (local.set $r (i64.extend_i32_s (call $owner (call $p (i32.const 0)))))
      (br $done))
      ;; 11 self_id
      (call $self_id)
      (br $done))
      ;; 12 hdebug
      (call $hdebug (call $w (i32.const 0)))
      (br $done))
      ;; 13 ws_eph_set
      (call $eph_set (call $p (i32.const 0)) (call $w (i32.const 1)) (call $w (i32.const 2)))
      (br $done))
      ;; 14 ws_eph_get
      (local.set $r (i64.extend_i32_s (call $eph_get (call $p (i32.const 0)) (call $w (i32.const 1)))))
      (br $done))
      ;; 15 ws_eph_del
      (local.set $r (i64.extend_i32_s (call $eph_del (call $p (i32.const 0)) (call $w (i32.const 1)))))
      (br $done))
      ;; 16 grow
      (local.set $r (memory.grow (call $a (i32.const 0))))
      (br $done))
      ;; 17 store
      (memory.copy (call $p (i32.const 0)) (i64.add (global.get $A) (i64.const 48)) (call $a (i32.const 1)))
      (br $done))
      ;; 18 load
      (memory.copy (global.get $A) (call $p (i32.const 0)) (call $a (i32.const 1)))
      (br $done))
      ;; 19 loop
      (loop $forever (br $forever))
      (br $done))
      ;; 20 recurse
      (drop (call $recurse (i64.const 0)))
      (br $done))
      ;; 21 size
      (local.set $r (memory.size))
      (br $done))
    ;; A[0..ret] ++ u64 r, or the raw length
    (if (i32.le_u (local.get $ret) (i32.const 65528))
      (then
        (i64.store (i64.add (global.get $A) (i64.extend_i32_u (local.get $ret))) (local.get $r))
        (return (i32.add (local.get $ret) (i32.const 8)))))
    (local.get $ret))
)
