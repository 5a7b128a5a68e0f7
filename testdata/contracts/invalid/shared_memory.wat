;; REJECT: a shared memory (threads proposal; shared memories need a maximum).
(module
  (memory (export "memory") 2 2 shared)
  (global (export "A") i32 (i32.const 65536))
  (func (export "f") (param i32) (result i32) (i32.const 0)))
