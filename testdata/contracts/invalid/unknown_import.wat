;; REJECT: an import from "env" that the host does not provide.
(module
  (import "env" "get_random" (func $get_random (result i64)))
  (memory (export "memory") 2)
  (global (export "A") i32 (i32.const 65536))
  (func (export "f") (param i32) (result i32) (i32.const 0)))
