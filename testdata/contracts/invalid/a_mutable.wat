;; REJECT: the exported global "A" is mutable; it must be a constant.
(module
  (memory (export "memory") 2)
  (global (export "A") (mut i32) (i32.const 65536))
  (func (export "f") (param i32) (result i32) (i32.const 0)))
