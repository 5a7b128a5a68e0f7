;; REJECT: a memory64 module whose A is an i32; A must be an i64 for a
;; 64-bit memory.
(module
  (memory (export "memory") i64 2)
  (global (export "A") i32 (i32.const 65536))
  (func (export "f") (param i32) (result i32) (i32.const 0)))
