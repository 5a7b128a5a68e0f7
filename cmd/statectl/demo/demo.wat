;; demo.wat - the example contract `statectl demo` deploys (embedded in the
;; binary). A counter that also records the block height, read from the
;; session metadata, at which it was last ticked.
;;
;; Memory map (2 wasm pages = 128 KiB; state page 0 is what the demo proves):
;;   0x0000 .. 0x0008   counter, u64 LE (0 at deploy)
;;   0x0008 .. 0x0010   block_height of the last tick, u64 LE (0 = never)
;;   0x0010 .. 0x0018   block_height of the first tick, u64 LE
;;   0x0400 .. 0x0500   constant strings
;;   0x10000 .. 0x20000 argument buffer A
;;
;; Exports (all (i32 arg_len) -> i32 result_len, integers u64 LE):
;;   tick  () -> counter ++ block_height   counter += 1, records
;;                 hd("block_height"), which must be a u64 greater than the
;;                 last one recorded; emits event "tick" with the result
;;   read  () -> counter ++ last height ++ first height
;;
;; Errors: panics "block_height must be a u64" when the metadata is absent
;; or not 8 bytes, "block_height must increase" when it is not above the
;; last recorded height.
(module
  (import "env" "hd" (func $hd (param i32 i32) (result i32)))
  (import "env" "emit" (func $emit (param i32 i32 i32)))
  (import "env" "panic" (func $panic (param i32)))

  (memory (export "memory") 2)
  (global $A (export "A") i32 (i32.const 65536))

  (data (i32.const 0x400) "block_height")                ;; 12 bytes
  (data (i32.const 0x410) "block_height must be a u64")  ;; 26 bytes
  (data (i32.const 0x430) "block_height must increase")  ;; 26 bytes
  (data (i32.const 0x450) "tick")                        ;; 4 bytes

  ;; fail copies the message at $msg into A and panics with it.
  (func $fail (param $msg i32) (param $len i32)
    (memory.copy (global.get $A) (local.get $msg) (local.get $len))
    (call $panic (local.get $len))
    unreachable)

  (func (export "tick") (param $len i32) (result i32)
    (local $height i64)
    ;; hd copies the value into A and returns its length.
    (if (i32.ne (call $hd (i32.const 0x400) (i32.const 12)) (i32.const 8))
      (then (call $fail (i32.const 0x410) (i32.const 26))))
    (local.set $height (i64.load (global.get $A)))
    (if (i64.le_u (local.get $height) (i64.load (i32.const 8)))
      (then (call $fail (i32.const 0x430) (i32.const 26))))
    (if (i64.eqz (i64.load (i32.const 0)))
      (then (i64.store (i32.const 16) (local.get $height))))
    (i64.store (i32.const 0) (i64.add (i64.load (i32.const 0)) (i64.const 1)))
    (i64.store (i32.const 8) (local.get $height))
    ;; result and event data: counter ++ height
    (i64.store (global.get $A) (i64.load (i32.const 0)))
    (i64.store (i32.add (global.get $A) (i32.const 8)) (local.get $height))
    (call $emit (i32.const 0x450) (i32.const 4) (i32.const 16))
    (i32.const 16))

  (func (export "read") (param $len i32) (result i32)
    (memory.copy (global.get $A) (i32.const 0) (i32.const 24))
    (i32.const 24))
)
