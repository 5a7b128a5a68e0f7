;; ephemeral64.wat - ephemeral.wat built for wasm64 (a memory64 memory).
;;
;; Same exports, layouts and messages as ephemeral.wat, using the wasm64
;; signatures of wasmstate's ephemeral imports:
;;   ws_eph_set (i64 key_ptr, i32 key_len, i32 val_len)
;;   ws_eph_get (i64 key_ptr, i32 key_len) -> i32
;;   ws_eph_del (i64 key_ptr, i32 key_len) -> i32
;;
;; Serves: the wasm64 signatures, and (with ephemeral.wat) whether ephemeral
;; data is per contract or shared, as SPEC.md defines it.
;;
;; Exports:
;;   eph_set  u32 key_len ++ key ++ value -> ()
;;   eph_get  key -> value, or FF FF FF FF when absent
;;   eph_del  key -> u8 1 if the key existed, else 0
(module
  (import "env" "ws_eph_set" (func $eph_set (param i64 i32 i32)))
  (import "env" "ws_eph_get" (func $eph_get (param i64 i32) (result i32)))
  (import "env" "ws_eph_del" (func $eph_del (param i64 i32) (result i32)))
  (import "env" "panic" (func $panic (param i32)))

  (memory (export "memory") i64 2)
  (global $A (export "A") i64 (i64.const 65536))

  (global $KEY i64 (i64.const 0x1000))
  (global $KEY_MAX i32 (i32.const 0xF000))

  (data (i64.const 0x400) "bad argument")   ;; 0x400, 12

  (func $bad_argument
    (memory.copy (global.get $A) (i64.const 0x400) (i64.const 12))
    (call $panic (i32.const 12))
    unreachable)

  (func $take_key (param $off i32) (param $key_len i32)
    (if (i32.gt_u (local.get $key_len) (global.get $KEY_MAX))
      (then (call $bad_argument)))
    (memory.copy (global.get $KEY)
                 (i64.add (global.get $A) (i64.extend_i32_u (local.get $off)))
                 (i64.extend_i32_u (local.get $key_len))))

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
    (local.set $val_off (i32.add (i32.const 4) (local.get $key_len)))
    (local.set $val_len (i32.sub (local.get $len) (local.get $val_off)))
    (memory.copy (global.get $A)
                 (i64.add (global.get $A) (i64.extend_i32_u (local.get $val_off)))
                 (i64.extend_i32_u (local.get $val_len)))
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
