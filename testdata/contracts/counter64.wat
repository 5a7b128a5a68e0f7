;; counter64.wat - counter.wat built for wasm64 (a memory64 memory).
;;
;; Same exports, behaviour and memory map as counter.wat; only the memory is
;; 64-bit, so A, $sp and every address are i64. Exported functions still have
;; type (i32 arg_len) -> i32 result_len, as the ABI requires for wasm64 too.
;;
;; Serves: wasm64 contracts next to wasm32 ones in one session (e.g.
;; callcenter.wat calling counter64.wat, callcenter64.wat calling counter.wat),
;; and persistence of i64 mutable globals ($sp is an i64 here, like the
;; __stack_pointer of a wasm64 build).
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
  (memory (export "memory") i64 2)

  ;; The argument buffer: an exported constant global, as the ABI requires.
  (global $A (export "A") i64 (i64.const 65536))

  ;; Mimics the __stack_pointer global every compiler emits: mutable and not
  ;; exported. Functions below push and pop frames on it.
  (global $sp (mut i64) (i64.const 0x1000))

  ;; A mutable i64 global (not exported) holding contract state, to test that
  ;; mutable globals are saved and restored with the contract's memory.
  (global $g (mut i64) (i64.const 0))

  ;; The counter starts at 0xfc.
  (data (i64.const 0) "\fc\00\00\00\00\00\00\00")

  ;; Trap unless the argument is exactly $want bytes long.
  (func $expect_len (param $len i32) (param $want i32)
    (if (i32.ne (local.get $len) (local.get $want))
      (then unreachable)))

  ;; read_value: copy the counter into A through a stack frame, the way
  ;; compiled code spills a local to the shadow stack.
  (func (export "read_value") (param $len i32) (result i32)
    (local $frame i64)
    ;; push a 16-byte frame
    (local.set $frame (i64.sub (global.get $sp) (i64.const 16)))
    (global.set $sp (local.get $frame))
    ;; frame[0..8] = counter; A[0..8] = frame[0..8]
    (i64.store (local.get $frame) (i64.load (i64.const 0)))
    (i64.store (global.get $A) (i64.load (local.get $frame)))
    ;; pop the frame
    (global.set $sp (i64.add (local.get $frame) (i64.const 16)))
    (i32.const 8))

  ;; increment: counter += 1, returns nothing.
  (func (export "increment") (param $len i32) (result i32)
    (i64.store (i64.const 0)
      (i64.add (i64.load (i64.const 0)) (i64.const 1)))
    (i32.const 0))

  ;; add(u64 n): counter += n, returns the new counter.
  (func (export "add") (param $len i32) (result i32)
    (local $frame i64)
    (call $expect_len (local.get $len) (i32.const 8))
    (local.set $frame (i64.sub (global.get $sp) (i64.const 16)))
    (global.set $sp (local.get $frame))
    ;; frame[0..8] = counter + n
    (i64.store (local.get $frame)
      (i64.add (i64.load (i64.const 0)) (i64.load (global.get $A))))
    (i64.store (i64.const 0) (i64.load (local.get $frame)))
    (i64.store (global.get $A) (i64.load (local.get $frame)))
    (global.set $sp (i64.add (local.get $frame) (i64.const 16)))
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
