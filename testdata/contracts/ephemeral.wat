;; ephemeral.wat - wasmstate's ephemeral key-value data (wasm32).
;;
;; Ephemeral data lives for the session only: it is never committed and never
;; part of the state root. wasmstate's own imports (module "env"):
;;   ws_eph_set (i32 key_ptr, i32 key_len, i32 val_len)         key = A[..val_len]
;;   ws_eph_get (i32 key_ptr, i32 key_len) -> i32  value into A, its length,
;;                                                  or -1 when absent
;;   ws_eph_del (i32 key_ptr, i32 key_len) -> i32  1 if the key existed, else 0
;;
;; Serves: set/get/delete, empty values (length 0, distinct from absent),
;; overwrite, data surviving across calls within a session but not across
;; sessions or into the state root, and (with a failing call) whatever
;; wasmstate's SPEC says about ephemeral writes of a failed call.
;;
;; Memory map (2 pages):
;;   0x0400 .. 0x0500   constant strings
;;   0x1000 .. 0x10000  scratch: the key, copied out of A (A is where values
;;                      go in and come out)
;;   0x10000 .. 0x20000 argument buffer A
;;
;; Exports (integers little-endian):
;;   eph_set  u32 key_len ++ key ++ value -> ()   keys up to 0xF000 bytes
;;   eph_get  key -> the value, or the 4 bytes FF FF FF FF when absent (a
;;                   present 4-byte value FF FF FF FF looks the same: don't
;;                   use that value in tests)
;;   eph_del  key -> u8 1 if the key existed, else 0
;; Malformed arguments panic with "bad argument".
(module
  (import "env" "ws_eph_set" (func $eph_set (param i32 i32 i32)))
  (import "env" "ws_eph_get" (func $eph_get (param i32 i32) (result i32)))
  (import "env" "ws_eph_del" (func $eph_del (param i32 i32) (result i32)))
  (import "env" "panic" (func $panic (param i32)))

  (memory (export "memory") 2)
  (global $A (export "A") i32 (i32.const 65536))

  (global $KEY i32 (i32.const 0x1000))
  (global $KEY_MAX i32 (i32.const 0xF000))

  (data (i32.const 0x400) "bad argument")   ;; 0x400, 12

  (func $bad_argument
    (memory.copy (global.get $A) (i32.const 0x400) (i32.const 12))
    (call $panic (i32.const 12))
    unreachable)

  ;; Copy A[$off .. $off+$key_len] to $KEY.
  (func $take_key (param $off i32) (param $key_len i32)
    (if (i32.gt_u (local.get $key_len) (global.get $KEY_MAX))
      (then (call $bad_argument)))
    (memory.copy (global.get $KEY) (i32.add (global.get $A) (local.get $off))
                 (local.get $key_len)))

  (func (export "eph_set") (param $len i32) (result i32)
    (local $key_len i32)
    (local $val_off i32)
    (local $val_len i32)
    (if (i32.lt_u (local.get $len) (i32.const 4))
      (then (call $bad_argument)))
    (local.set $key_len (i32.load (global.get $A)))
    (if (i32.gt_u (local.get $key_len) (i32.sub (local.get $len) (i32.const 4)))
      (then (call $bad_argument)))
    (call $take_key (i32.const 4) (local.get $key_len))
    ;; the value follows the key; move it to the start of A
    (local.set $val_off (i32.add (i32.const 4) (local.get $key_len)))
    (local.set $val_len (i32.sub (local.get $len) (local.get $val_off)))
    (memory.copy (global.get $A) (i32.add (global.get $A) (local.get $val_off))
                 (local.get $val_len))
    (call $eph_set (global.get $KEY) (local.get $key_len) (local.get $val_len))
    (i32.const 0))

  (func (export "eph_get") (param $len i32) (result i32)
    (local $r i32)
    (call $take_key (i32.const 0) (local.get $len))
    (local.set $r (call $eph_get (global.get $KEY) (local.get $len)))
    (if (i32.lt_s (local.get $r) (i32.const 0))
      (then
        (i32.store (global.get $A) (i32.const -1))
        (return (i32.const 4))))
    (local.get $r))

  (func (export "eph_del") (param $len i32) (result i32)
    (call $take_key (i32.const 0) (local.get $len))
    (i32.store8 (global.get $A) (call $eph_del (global.get $KEY) (local.get $len)))
    (i32.const 1))
)
