;; counter.wat - the simplest stateful contract (wasm32).
;;
;; Serves: deploy / call / commit / reload round trips, data segments applied
;; only at deploy, persistence of mutable globals, and (via counter64.wat)
;; wasm32 and wasm64 contracts side by side.
;;
;; Memory map (2 pages = 128 KiB):
;;   0x0000 .. 0x0008   the counter, u64 LE; a data segment sets it to 0xfc at
;;                      deploy (a memory loaded from a commit is never
;;                      re-initialised, so the value must survive reloads)
;;   0x0800 .. 0x1000   shadow stack, grows down from 0x1000 (global $sp)
;;   0x10000 .. 0x20000 argument buffer A
;;
;; Exports (all (i32 arg_len) -> i32 result_len; integers are u64 LE):
;;   read_value  ()  -> u64 counter
;;   increment   ()  -> ()            counter += 1
;;   add         u64 -> u64           counter += arg, returns the new value
;;   set_global  u64 -> ()            $g = arg
;;   get_global  ()  -> u64           $g
(module
  (memory (export "memory") 2)

  ;; The argument buffer: an exported constant global, as the ABI requires.
  (global $A (export "A") i32 (i32.const 65536))

  ;; Mimics the __stack_pointer global every compiler emits: mutable and not
  ;; exported. Functions below push and pop frames on it.
  (global $sp (mut i32) (i32.const 0x1000))

  ;; A mutable i64 global (not exported) holding contract state, to test that
  ;; mutable globals are saved and restored with the contract's memory.
  (global $g (mut i64) (i64.const 0))

  ;; The counter starts at 0xfc.
  (data (i32.const 0) "\fc\00\00\00\00\00\00\00")

  ;; Trap unless the argument is exactly $want bytes long.
  (func $expect_len (param $len i32) (param $want i32)
    (if (i32.ne (local.get $len) (local.get $want))
      (then unreachable)))

  ;; read_value: copy the counter into A through a stack frame, the way
  ;; compiled code spills a local to the shadow stack.
  (func (export "read_value") (param $len i32) (result i32)
    (local $frame i32)
    ;; push a 16-byte frame
    (local.set $frame (i32.sub (global.get $sp) (i32.const 16)))
    (global.set $sp (local.get $frame))
    ;; frame[0..8] = counter; A[0..8] = frame[0..8]
    (i64.store (local.get $frame) (i64.load (i32.const 0)))
    (i64.store (global.get $A) (i64.load (local.get $frame)))
    ;; pop the frame
    (global.set $sp (i32.add (local.get $frame) (i32.const 16)))
    (i32.const 8))

  ;; increment: counter += 1, returns nothing.
  (func (export "increment") (param $len i32) (result i32)
    (i64.store (i32.const 0)
      (i64.add (i64.load (i32.const 0)) (i64.const 1)))
    (i32.const 0))

  ;; add(u64 n): counter += n, returns the new counter.
  (func (export "add") (param $len i32) (result i32)
    (local $frame i32)
    (call $expect_len (local.get $len) (i32.const 8))
    (local.set $frame (i32.sub (global.get $sp) (i32.const 16)))
    (global.set $sp (local.get $frame))
    ;; frame[0..8] = counter + n
    (i64.store (local.get $frame)
      (i64.add (i64.load (i32.const 0)) (i64.load (global.get $A))))
    (i64.store (i32.const 0) (i64.load (local.get $frame)))
    (i64.store (global.get $A) (i64.load (local.get $frame)))
    (global.set $sp (i32.add (local.get $frame) (i32.const 16)))
    (i32.const 8))

  ;; set_global(u64 v): $g = v.
  (func (export "set_global") (param $len i32) (result i32)
    (call $expect_len (local.get $len) (i32.const 8))
    (global.set $g (i64.load (global.get $A)))
    (i32.const 0))

  ;; get_global() -> u64 $g.
  (func (export "get_global") (param $len i32) (result i32)
    (i64.store (global.get $A) (global.get $g))
    (i32.const 8))
)
