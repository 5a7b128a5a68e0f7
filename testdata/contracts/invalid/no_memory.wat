;; REJECT: the module defines no memory (a contract has exactly one).
(module
  (global (export "A") i32 (i32.const 65536))
  (func (export "f") (param i32) (result i32) (i32.const 0)))
