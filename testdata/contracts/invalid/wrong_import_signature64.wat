;; REJECT: a memory64 module importing env.c with the wasm32 signature
;; (i32 i32 i32 i32 i64) -> i32; wasm64 modules must use the one with i64
;; pointers, (i64 i64 i32 i32 i64) -> i32.
(module
  (import "env" "c" (func $c (param i32 i32 i32 i32 i64) (result i32)))
  (memory (export "memory") i64 2)
  (global (export "A") i64 (i64.const 65536))
  (func (export "f") (param i32) (result i32) (i32.const 0)))
