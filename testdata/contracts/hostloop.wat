;; hostloop.wat - calls one host function many times in a loop (wasm32).
;;
;; Serves bench/BenchmarkGasCalibration: the time one unit of gas buys when
;; a contract spends its gas on host calls with large arguments, rather
;; than on instructions.
;;
;; Memory map (2 pages): 0x0400 .. 0x0500 constant strings; 0x10000 ..
;; 0x20000 argument buffer A.
;;
;; Exports (argument: u32 n ++ u32 len, little-endian; A[8..] is the data):
;;   query    n times hq("echo", A[..len]): the embedder's query answers
;;            with its input (registered by the benchmark)
;;   metadata n times hd("big"): a 64 KiB metadata value copied out
;;   feed     n times feed(A[..len])
;;   eph      n times ws_eph_set("k", A[..len]) then ws_eph_get("k")
;;   debug    n times hdebug(A[..len])
;; Each returns () (result length 0).
(module
  (import "env" "hq" (func $hq (param i32 i32 i32) (result i32)))
  (import "env" "hd" (func $hd (param i32 i32) (result i32)))
  (import "env" "feed" (func $feed (param i32)))
  (import "env" "ws_eph_set" (func $eph_set (param i32 i32 i32)))
  (import "env" "ws_eph_get" (func $eph_get (param i32 i32) (result i32)))
  (import "env" "hdebug" (func $hdebug (param i32)))

  (memory (export "memory") 2)
  (global $A (export "A") i32 (i32.const 65536))

  (data (i32.const 0x400) "echo")  ;; 0x400, 4
  (data (i32.const 0x410) "big")   ;; 0x410, 3
  (data (i32.const 0x420) "k")     ;; 0x420, 1

  (func $n (result i32) (i32.load (global.get $A)))
  (func $len (result i32) (i32.load offset=4 (global.get $A)))

  (func (export "query") (param i32) (result i32)
    (local $i i32) (local $n i32) (local $len i32)
    (local.set $n (call $n)) (local.set $len (call $len))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
      (drop (call $hq (i32.const 0x400) (i32.const 4) (local.get $len)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $next)))
    (i32.const 0))

  (func (export "metadata") (param i32) (result i32)
    (local $i i32) (local $n i32)
    (local.set $n (call $n))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
      (drop (call $hd (i32.const 0x410) (i32.const 3)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $next)))
    (i32.const 0))

  (func (export "feed") (param i32) (result i32)
    (local $i i32) (local $n i32) (local $len i32)
    (local.set $n (call $n)) (local.set $len (call $len))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
      (call $feed (local.get $len))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $next)))
    (i32.const 0))

  (func (export "eph") (param i32) (result i32)
    (local $i i32) (local $n i32) (local $len i32)
    (local.set $n (call $n)) (local.set $len (call $len))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
      (call $eph_set (i32.const 0x420) (i32.const 1) (local.get $len))
      (drop (call $eph_get (i32.const 0x420) (i32.const 1)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $next)))
    (i32.const 0))

  (func (export "debug") (param i32) (result i32)
    (local $i i32) (local $n i32) (local $len i32)
    (local.set $n (call $n)) (local.set $len (call $len))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
      (call $hdebug (local.get $len))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $next)))
    (i32.const 0))
)
