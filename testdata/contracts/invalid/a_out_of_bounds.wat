;; REJECT: A is too close to the end of memory: A + 65536 = 131073 exceeds
;; the 2-page (131072-byte) memory by one byte.
(module
  (memory (export "memory") 2)
  (global (export "A") i32 (i32.const 65537))
  (func (export "f") (param i32) (result i32) (i32.const 0)))
