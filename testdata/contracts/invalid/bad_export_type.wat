;; REJECT: an exported function of type (i32 i32) -> i32; every exported
;; function must be (i32) -> i32.
(module
  (memory (export "memory") 2)
  (global (export "A") i32 (i32.const 65536))
  (func (export "f") (param i32) (result i32) (i32.const 0))
  (func (export "g") (param i32 i32) (result i32) (i32.const 0)))
