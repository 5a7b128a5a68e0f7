;; REJECT: two memories (multi-memory); a contract has exactly one.
;; Otherwise valid: the first memory is exported and holds A.
(module
  (memory $m (export "memory") 2)
  (memory $extra 1)
  (global (export "A") i32 (i32.const 65536))
  (func (export "f") (param i32) (result i32) (i32.const 0)))
