;; REJECT: env.c imported with a wrong signature: the gas limit is declared
;; i32; the wasm32 signature is (i32 i32 i32 i32 i64) -> i32.
(module
  (import "env" "c" (func $c (param i32 i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 2)
  (global (export "A") i32 (i32.const 65536))
  (func (export "f") (param i32) (result i32) (i32.const 0)))
