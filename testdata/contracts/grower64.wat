;; grower64.wat - grower.wat built for wasm64 (a memory64 memory).
;;
;; Same exports, argument/result layouts and messages as grower.wat; the
;; memory is 64-bit, so memory.grow/memory.size work in i64 pages and
;; addresses are i64. A wasm64 memory may grow past 4 GiB (wasmstate commits
;; up to 4 TiB), subject to the engine's limits.
;;
;; Serves: growth, revert of growth and reload of a wasm64 memory.
;;
;; Exports:
;;   grow            u32 pages -> u64 new size in pages (marker 0xAB at the
;;                                last byte when pages > 0; panics
;;                                "memory.grow failed" when refused)
;;   grow_and_panic  u32 pages -> never: grows, then panics "grow and panic"
;;   size            ()  -> u64 memory size in pages
;;   read_at         u64 address -> u8 the byte there (traps when out of bounds)
(module
  (import "env" "panic" (func $panic (param i32)))

  (memory (export "memory") i64 2)
  (global $A (export "A") i64 (i64.const 65536))

  (data (i64.const 0x400) "memory.grow failed")   ;; 0x400, 18
  (data (i64.const 0x420) "grow and panic")       ;; 0x420, 14
  (data (i64.const 0x430) "bad argument")         ;; 0x430, 12

  (func $fail (param $ptr i64) (param $len i32)
    (memory.copy (global.get $A) (local.get $ptr) (i64.extend_i32_u (local.get $len)))
    (call $panic (local.get $len))
    unreachable)

  (func $expect_len (param $len i32) (param $want i32)
    (if (i32.ne (local.get $len) (local.get $want))
      (then (call $fail (i64.const 0x430) (i32.const 12)))))

  (func $grow (param $len i32) (result i64)
    (local $pages i64)
    (call $expect_len (local.get $len) (i32.const 4))
    (local.set $pages (i64.load32_u (global.get $A)))
    (if (i64.eq (memory.grow (local.get $pages)) (i64.const -1))
      (then (call $fail (i64.const 0x400) (i32.const 18))))
    (if (i64.ne (local.get $pages) (i64.const 0))
      (then
        (i64.store8
          (i64.sub (i64.mul (memory.size) (i64.const 65536)) (i64.const 1))
          (i64.const 0xAB))))
    (memory.size))

  (func (export "grow") (param $len i32) (result i32)
    (i64.store (global.get $A) (call $grow (local.get $len)))
    (i32.const 8))

  (func (export "grow_and_panic") (param $len i32) (result i32)
    (drop (call $grow (local.get $len)))
    (call $fail (i64.const 0x420) (i32.const 14))
    (i32.const 0))

  (func (export "size") (param $len i32) (result i32)
    (i64.store (global.get $A) (memory.size))
    (i32.const 8))

  (func (export "read_at") (param $len i32) (result i32)
    (call $expect_len (local.get $len) (i32.const 8))
    (i32.store8 (global.get $A) (i32.load8_u (i64.load (global.get $A))))
    (i32.const 1))
)
