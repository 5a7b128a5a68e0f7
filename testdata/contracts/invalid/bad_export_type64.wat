;; REJECT: a memory64 module exporting a function of type (i64) -> i64.
;; Exported functions are (i32) -> i32 in wasm64 modules too.
(module
  (memory (export "memory") i64 2)
  (global (export "A") i64 (i64.const 65536))
  (func (export "f") (param i64) (result i64) (i64.const 0)))
