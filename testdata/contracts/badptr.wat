;; badptr.wat - out-of-bounds pointers and lengths handed to the host (wasm32).
;;
;; Serves: the rule that every pointer and length a contract passes is
;; bounds-checked, and that a bad one fails the call with an error, never a
;; host crash, a read/write outside the contract's memory, or a silent
;; success. Each export below makes exactly one import call with exactly one
;; bad pointer or length; everything else about the call is valid.
;;
;; What a test should expect: the call fails with an error (for `c`, the ABI
;; also allows the host to return the code i32 min to the caller instead;
;; the bad_c* exports then return that code as 4 bytes LE). If the host
;; wrongly accepts the call, the export returns normally (0 bytes, or the
;; 4-byte code for bad_c*), which the test must treat as a failure.
;;
;; Pointer values used ("end" = memory size in bytes = 0x20000; memory never
;; grows here):
;;   0xFFFFFFF0 with length 32: ptr + len wraps around 2^32 to 0x10, so a
;;                              host computing the end in u32 sees it fit
;;   end - 16 with length 32:   straddles the end of memory by 16 bytes
;;   end with length 1:         starts just past the end
;;   length 0xFFFFFFFF:         huge as u32, -1 as i32
;;   length 65537:              one more than the argument buffer holds
;;
;; Memory map (2 pages):
;;   0x0100 .. 0x0120   this contract's own id (self_id), the valid callee
;;   0x0400 .. 0x0500   constant strings
;;   0x10000 .. 0x20000 argument buffer A
;;
;; Exports (one bad argument each):
;;   ok               () -> ()   valid call target for the bad_c* cases
;;   bad_c            c: callee_ptr = end - 16 (32-byte id straddles the end)
;;   bad_c_name       c: name_ptr = 0xFFFFFFF0, name_len = 32
;;   bad_c_arg        c: arg_len = 65537
;;   bad_hq           hq: name_ptr = 0xFFFFFFF0, name_len = 32
;;   bad_hq_arg       hq("hash"): arg_len = 65537
;;   bad_hd           hd: name_len = 0xFFFFFFFF
;;   bad_hd_ptr       hd: name_ptr = end, name_len = 1
;;   bad_emit         emit: topic_ptr = 0xFFFFFFF0, topic_len = 32
;;   bad_emit_data    emit("topic"): arg_len = 65537
;;   bad_feed         feed: arg_len = 65537 (call it in feeder mode)
;;   bad_panic        panic: msg_len = 65537
;;   bad_owner        owner: id_ptr = end - 16
;;   bad_hdebug       hdebug: msg_len = 65537 (call it with debugging on; a
;;                    host that ignores hdebug when debugging is off must
;;                    still not crash)
;;   bad_eph_set      ws_eph_set: key_ptr = 0xFFFFFFF0, key_len = 32
;;   bad_eph_set_val  ws_eph_set: val_len = 65537
;;   bad_eph_get      ws_eph_get: key_ptr = end, key_len = 1
;;   bad_eph_del      ws_eph_del: key_len = 0xFFFFFFFF
;;   ret_too_long     returns result length 65537 (> the argument buffer)
;;   ret_negative     returns result length -1 (0xFFFFFFFF as u32)
(module
  (import "env" "c" (func $c (param i32 i32 i32 i32 i64) (result i32)))
  (import "env" "hq" (func $hq (param i32 i32 i32) (result i32)))
  (import "env" "hd" (func $hd (param i32 i32) (result i32)))
  (import "env" "emit" (func $emit (param i32 i32 i32)))
  (import "env" "feed" (func $feed (param i32)))
  (import "env" "panic" (func $panic (param i32)))
  (import "env" "owner" (func $owner (param i32) (result i32)))
  (import "env" "self_id" (func $self_id))
  (import "env" "hdebug" (func $hdebug (param i32)))
  (import "env" "ws_eph_set" (func $eph_set (param i32 i32 i32)))
  (import "env" "ws_eph_get" (func $eph_get (param i32 i32) (result i32)))
  (import "env" "ws_eph_del" (func $eph_del (param i32 i32) (result i32)))

  (memory (export "memory") 2)
  (global $A (export "A") i32 (i32.const 65536))

  (global $ID i32 (i32.const 0x100))
  ;; ptr + 32 wraps around 2^32
  (global $WRAP i32 (i32.const 0xFFFFFFF0))
  (global $TOO_LONG i32 (i32.const 65537))

  (data (i32.const 0x400) "ok")             ;; 0x400, 2
  (data (i32.const 0x410) "hash")           ;; 0x410, 4
  (data (i32.const 0x420) "block_height")   ;; 0x420, 12
  (data (i32.const 0x430) "topic")          ;; 0x430, 5
  (data (i32.const 0x440) "key")            ;; 0x440, 3

  ;; The first byte past the end of memory.
  (func $end (result i32)
    (i32.mul (memory.size) (i32.const 65536)))

  ;; Store own id at $ID (the valid callee for the bad_c* cases).
  (func $own_id
    (call $self_id)
    (memory.copy (global.get $ID) (global.get $A) (i32.const 32)))

  ;; Return the code `c` gave back, as 4 bytes.
  (func $code (param $r i32) (result i32)
    (i32.store (global.get $A) (local.get $r))
    (i32.const 4))

  (func (export "ok") (param $len i32) (result i32)
    (i32.const 0))

  (func (export "bad_c") (param $len i32) (result i32)
    (call $code (call $c (i32.sub (call $end) (i32.const 16))
                         (i32.const 0x400) (i32.const 2) (i32.const 0) (i64.const 0))))

  (func (export "bad_c_name") (param $len i32) (result i32)
    (call $own_id)
    (call $code (call $c (global.get $ID) (global.get $WRAP) (i32.const 32)
                         (i32.const 0) (i64.const 0))))

  (func (export "bad_c_arg") (param $len i32) (result i32)
    (call $own_id)
    (call $code (call $c (global.get $ID) (i32.const 0x400) (i32.const 2)
                         (global.get $TOO_LONG) (i64.const 0))))

  (func (export "bad_hq") (param $len i32) (result i32)
    (drop (call $hq (global.get $WRAP) (i32.const 32) (i32.const 0)))
    (i32.const 0))

  (func (export "bad_hq_arg") (param $len i32) (result i32)
    (drop (call $hq (i32.const 0x410) (i32.const 4) (global.get $TOO_LONG)))
    (i32.const 0))

  (func (export "bad_hd") (param $len i32) (result i32)
    (drop (call $hd (i32.const 0x420) (i32.const 0xFFFFFFFF)))
    (i32.const 0))

  (func (export "bad_hd_ptr") (param $len i32) (result i32)
    (drop (call $hd (call $end) (i32.const 1)))
    (i32.const 0))

  (func (export "bad_emit") (param $len i32) (result i32)
    (call $emit (global.get $WRAP) (i32.const 32) (i32.const 0))
    (i32.const 0))

  (func (export "bad_emit_data") (param $len i32) (result i32)
    (call $emit (i32.const 0x430) (i32.const 5) (global.get $TOO_LONG))
    (i32.const 0))

  (func (export "bad_feed") (param $len i32) (result i32)
    (call $feed (global.get $TOO_LONG))
    (i32.const 0))

  (func (export "bad_panic") (param $len i32) (result i32)
    (call $panic (global.get $TOO_LONG))
    (i32.const 0))

  (func (export "bad_owner") (param $len i32) (result i32)
    (drop (call $owner (i32.sub (call $end) (i32.const 16))))
    (i32.const 0))

  (func (export "bad_hdebug") (param $len i32) (result i32)
    (call $hdebug (global.get $TOO_LONG))
    (i32.const 0))

  (func (export "bad_eph_set") (param $len i32) (result i32)
    (call $eph_set (global.get $WRAP) (i32.const 32) (i32.const 0))
    (i32.const 0))

  (func (export "bad_eph_set_val") (param $len i32) (result i32)
    (call $eph_set (i32.const 0x440) (i32.const 3) (global.get $TOO_LONG))
    (i32.const 0))

  (func (export "bad_eph_get") (param $len i32) (result i32)
    (drop (call $eph_get (call $end) (i32.const 1)))
    (i32.const 0))

  (func (export "bad_eph_del") (param $len i32) (result i32)
    (drop (call $eph_del (i32.const 0x440) (i32.const 0xFFFFFFFF)))
    (i32.const 0))

  (func (export "ret_too_long") (param $len i32) (result i32)
    (i32.const 65537))

  (func (export "ret_negative") (param $len i32) (result i32)
    (i32.const -1))
)
