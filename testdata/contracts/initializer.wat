;; initializer.wat - the optional `init` export.
;;
;; Serves: init running exactly once, at deploy, with the deploy's init
;; argument; init not being callable afterwards (neither by the host nor by
;; another contract, e.g. through callcenter.wat's delegate_query); a deploy
;; whose init fails (wrong argument length) deploying nothing.
;;
;; Memory map (2 pages):
;;   0x0000 .. 0x0008   the value, u64 LE (0 until init runs)
;;   0x0400 .. 0x0500   constant strings
;;   0x10000 .. 0x20000 argument buffer A
;;
;; Exports (integers u64 LE):
;;   init   u64 -> ()   value = arg; panics "bad argument" unless the
;;                      argument is exactly 8 bytes
;;   value  ()  -> u64  the value
(module
  (import "env" "panic" (func $panic (param i32)))

  (memory (export "memory") 2)
  (global $A (export "A") i32 (i32.const 65536))

  (data (i32.const 0x400) "bad argument")   ;; 0x400, 12

  (func (export "init") (param $len i32) (result i32)
    (if (i32.ne (local.get $len) (i32.const 8))
      (then
        (memory.copy (global.get $A) (i32.const 0x400) (i32.const 12))
        (call $panic (i32.const 12))
        unreachable))
    (i64.store (i32.const 0) (i64.load (global.get $A)))
    (i32.const 0))

  (func (export "value") (param $len i32) (result i32)
    (i64.store (global.get $A) (i64.load (i32.const 0)))
    (i32.const 8))
)
