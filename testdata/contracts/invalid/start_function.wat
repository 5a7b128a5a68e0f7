;; REJECT: a start function (it would run at every instantiation, including
;; reloads from a commit; contracts get `init`, run once at deploy).
(module
  (memory (export "memory") 2)
  (global (export "A") i32 (i32.const 65536))
  (func $start (i32.store (i32.const 0) (i32.const 1)))
  (start $start)
  (func (export "f") (param i32) (result i32) (i32.const 0)))
