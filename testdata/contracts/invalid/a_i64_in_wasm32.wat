;; REJECT: a wasm32 (32-bit memory) module whose A is an i64; A must be an
;; i32 for a 32-bit memory.
(module
  (memory (export "memory") 2)
  (global (export "A") i64 (i64.const 65536))
  (func (export "f") (param i32) (result i32) (i32.const 0)))
