;; REJECT: an import from module "wasi_snapshot_preview1"; only module "env"
;; may be imported from.
(module
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 2)
  (global (export "A") i32 (i32.const 65536))
  (func (export "f") (param i32) (result i32) (i32.const 0)))
