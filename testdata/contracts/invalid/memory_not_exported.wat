;; REJECT: the memory is defined but not exported.
(module
  (memory 2)
  (global (export "A") i32 (i32.const 65536))
  (func (export "f") (param i32) (result i32) (i32.const 0)))
