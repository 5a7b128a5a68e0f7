;; REJECT: no global "A" is exported (the global exists but is not exported
;; under that name).
(module
  (memory (export "memory") 2)
  (global (export "B") i32 (i32.const 65536))
  (func (export "f") (param i32) (result i32) (i32.const 0)))
