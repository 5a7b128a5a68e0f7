;; REJECT: the memory is imported (and re-exported) instead of defined by the
;; module; a contract owns its memory.
(module
  (import "env" "memory" (memory 2))
  (export "memory" (memory 0))
  (global (export "A") i32 (i32.const 65536))
  (func (export "f") (param i32) (result i32) (i32.const 0)))
