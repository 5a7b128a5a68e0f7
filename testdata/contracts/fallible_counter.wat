;; fallible_counter.wat - a counter whose increment can panic after writing.
;;
;; Serves: a failed top-level call leaves no trace: its memory writes are
;; discarded (the counter keeps its old value) and its panic message is
;; reported with the error.
;;
;; Memory map (2 pages):
;;   0x0000 .. 0x0008   the counter, u64 LE, 0xfc at deploy (data segment)
;;   0x0400 .. 0x0500   constant strings
;;   0x10000 .. 0x20000 argument buffer A
;;
;; Exports:
;;   increment   u8 panic -> ()    counter += 1; then, if panic == 1, panics
;;                                 with "Incremental panic" (the write must be
;;                                 reverted); any other byte: no panic
;;   read_value  ()       -> u64   the counter
(module
  (import "env" "panic" (func $panic (param i32)))

  (memory (export "memory") 2)
  (global $A (export "A") i32 (i32.const 65536))

  (data (i32.const 0) "\fc\00\00\00\00\00\00\00")
  (data (i32.const 0x400) "Incremental panic")   ;; 0x400, 17
  (data (i32.const 0x420) "bad argument")        ;; 0x420, 12

  (func $fail (param $ptr i32) (param $len i32)
    (memory.copy (global.get $A) (local.get $ptr) (local.get $len))
    (call $panic (local.get $len))
    unreachable)

  (func (export "increment") (param $len i32) (result i32)
    (if (i32.ne (local.get $len) (i32.const 1))
      (then (call $fail (i32.const 0x420) (i32.const 12))))
    (i64.store (i32.const 0) (i64.add (i64.load (i32.const 0)) (i64.const 1)))
    (if (i32.eq (i32.load8_u (global.get $A)) (i32.const 1))
      (then (call $fail (i32.const 0x400) (i32.const 17))))
    (i32.const 0))

  (func (export "read_value") (param $len i32) (result i32)
    (i64.store (global.get $A) (i64.load (i32.const 0)))
    (i32.const 8))
)
