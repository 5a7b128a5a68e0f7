;; badptr64.wat - out-of-bounds pointers handed to the host (wasm64).
;;
;; The wasm64 counterpart of badptr.wat, aimed at the two classic mistakes
;; with 64-bit pointers:
;;   * truncation: a pointer of 2^32 + p is out of bounds of this 128 KiB
;;     memory, but a host that cuts it to 32 bits reads p, which here always
;;     holds valid data (a name, own id...), so the call would wrongly succeed;
;;     owner(2^32) truncates to owner(0), which means "self";
;;   * wrap-around: 0xFFFFFFFFFFFFFFF0 + 32 wraps around 2^64 to 0x10.
;; Lengths stay i32 in wasm64, so the length cases repeat badptr.wat's.
;;
;; What a test should expect: as for badptr.wat (the call fails with an
;; error; for `c` the host may instead return the code i32 min, which the
;; bad_c* exports return as 4 bytes LE).
;;
;; Memory map (2 pages, 64-bit):
;;   0x0100 .. 0x0120   own id (self_id), the valid callee
;;   0x0400 .. 0x0500   constant strings
;;   0x10000 .. 0x20000 argument buffer A
;;
;; Exports (one bad argument each; HI = 2^32):
;;   ok               () -> ()   valid call target
;;   bad_c            c: callee_ptr = HI + 0x100 (truncates to own id)
;;   bad_c_wrap       c: callee_ptr = 0xFFFFFFFFFFFFFFF0
;;   bad_c_name       c: name_ptr = HI + 0x400 (truncates to "ok")
;;   bad_c_arg        c: arg_len = 65537
;;   bad_hq           hq: name_ptr = HI + 0x410 (truncates to "hash")
;;   bad_hd           hd: name_ptr = HI + 0x420 (truncates to "block_height")
;;   bad_hd_len       hd: name_len = 0xFFFFFFFF
;;   bad_emit         emit: topic_ptr = 0xFFFFFFFFFFFFFFF0, topic_len = 32
;;   bad_emit_trunc   emit: topic_ptr = HI + 0x430 (truncates to "topic")
;;   bad_emit_data    emit("topic"): arg_len = 65537
;;   bad_feed         feed: arg_len = 65537 (call it in feeder mode)
;;   bad_panic        panic: msg_len = 65537
;;   bad_owner        owner: id_ptr = HI (truncates to 0 = "self")
;;   bad_hdebug       hdebug: msg_len = 65537 (debugging on)
;;   bad_eph_set      ws_eph_set: key_ptr = HI + 0x440 (truncates to "key")
;;   bad_eph_get      ws_eph_get: key_ptr = 0xFFFFFFFFFFFFFFF0, key_len = 32
;;   bad_eph_del      ws_eph_del: key_ptr = 0x8000000000000000 (negative as
;;                    i64), key_len = 1
;;   ret_too_long     returns result length 65537
;;   ret_negative     returns result length -1
(module
  (import "env" "c" (func $c (param i64 i64 i32 i32 i64) (result i32)))
  (import "env" "hq" (func $hq (param i64 i32 i32) (result i32)))
  (import "env" "hd" (func $hd (param i64 i32) (result i32)))
  (import "env" "emit" (func $emit (param i64 i32 i32)))
  (import "env" "feed" (func $feed (param i32)))
  (import "env" "panic" (func $panic (param i32)))
  (import "env" "owner" (func $owner (param i64) (result i32)))
  (import "env" "self_id" (func $self_id))
  (import "env" "hdebug" (func $hdebug (param i32)))
  (import "env" "ws_eph_set" (func $eph_set (param i64 i32 i32)))
  (import "env" "ws_eph_get" (func $eph_get (param i64 i32) (result i32)))
  (import "env" "ws_eph_del" (func $eph_del (param i64 i32) (result i32)))

  (memory (export "memory") i64 2)
  (global $A (export "A") i64 (i64.const 65536))

  (global $ID i64 (i64.const 0x100))
  (global $HI i64 (i64.const 0x100000000))
  (global $WRAP i64 (i64.const 0xFFFFFFFFFFFFFFF0))
  (global $TOO_LONG i32 (i32.const 65537))

  (data (i64.const 0x400) "ok")             ;; 0x400, 2
  (data (i64.const 0x410) "hash")           ;; 0x410, 4
  (data (i64.const 0x420) "block_height")   ;; 0x420, 12
  (data (i64.const 0x430) "topic")          ;; 0x430, 5
  (data (i64.const 0x440) "key")            ;; 0x440, 3

  (func $own_id
    (call $self_id)
    (memory.copy (global.get $ID) (global.get $A) (i64.const 32)))

  (func $code (param $r i32) (result i32)
    (i32.store (global.get $A) (local.get $r))
    (i32.const 4))

  (func (export "ok") (param $len i32) (result i32)
    (i32.const 0))

  (func (export "bad_c") (param $len i32) (result i32)
    (call $own_id)
    (call $code (call $c (i64.add (global.get $HI) (global.get $ID))
                         (i64.const 0x400) (i32.const 2) (i32.const 0) (i64.const 0))))

  (func (export "bad_c_wrap") (param $len i32) (result i32)
    (call $code (call $c (global.get $WRAP)
                         (i64.const 0x400) (i32.const 2) (i32.const 0) (i64.const 0))))

  (func (export "bad_c_name") (param $len i32) (result i32)
    (call $own_id)
    (call $code (call $c (global.get $ID) (i64.add (global.get $HI) (i64.const 0x400))
                         (i32.const 2) (i32.const 0) (i64.const 0))))

  (func (export "bad_c_arg") (param $len i32) (result i32)
    (call $own_id)
    (call $code (call $c (global.get $ID) (i64.const 0x400) (i32.const 2)
                         (global.get $TOO_LONG) (i64.const 0))))

  (func (export "bad_hq") (param $len i32) (result i32)
    (drop (call $hq (i64.add (global.get $HI) (i64.const 0x410)) (i32.const 4) (i32.const 0)))
    (i32.const 0))

  (func (export "bad_hd") (param $len i32) (result i32)
    (drop (call $hd (i64.add (global.get $HI) (i64.const 0x420)) (i32.const 12)))
    (i32.const 0))

  (func (export "bad_hd_len") (param $len i32) (result i32)
    (drop (call $hd (i64.const 0x420) (i32.const 0xFFFFFFFF)))
    (i32.const 0))

  (func (export "bad_emit") (param $len i32) (result i32)
    (call $emit (global.get $WRAP) (i32.const 32) (i32.const 0))
    (i32.const 0))

  (func (export "bad_emit_trunc") (param $len i32) (result i32)
    (call $emit (i64.add (global.get $HI) (i64.const 0x430)) (i32.const 5) (i32.const 0))
    (i32.const 0))

  (func (export "bad_emit_data") (param $len i32) (result i32)
    (call $emit (i64.const 0x430) (i32.const 5) (global.get $TOO_LONG))
    (i32.const 0))

  (func (export "bad_feed") (param $len i32) (result i32)
    (call $feed (global.get $TOO_LONG))
    (i32.const 0))

  (func (export "bad_panic") (param $len i32) (result i32)
    (call $panic (global.get $TOO_LONG))
    (i32.const 0))

  (func (export "bad_owner") (param $len i32) (result i32)
    (drop (call $owner (global.get $HI)))
    (i32.const 0))

  (func (export "bad_hdebug") (param $len i32) (result i32)
    (call $hdebug (global.get $TOO_LONG))
    (i32.const 0))

  (func (export "bad_eph_set") (param $len i32) (result i32)
    (call $eph_set (i64.add (global.get $HI) (i64.const 0x440)) (i32.const 3) (i32.const 0))
    (i32.const 0))

  (func (export "bad_eph_get") (param $len i32) (result i32)
    (drop (call $eph_get (global.get $WRAP) (i32.const 32)))
    (i32.const 0))

  (func (export "bad_eph_del") (param $len i32) (result i32)
    (drop (call $eph_del (i64.const 0x8000000000000000) (i32.const 1)))
    (i32.const 0))

  (func (export "ret_too_long") (param $len i32) (result i32)
    (i32.const 65537))

  (func (export "ret_negative") (param $len i32) (result i32)
    (i32.const -1))
)
