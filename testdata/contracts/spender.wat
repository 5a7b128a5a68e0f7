;; spender.wat - gas accounting, out-of-gas, call depth and stack exhaustion.
;;
;; Serves: limit()/spent() of a frame, the callee gas limit rule (explicit
;; limit if > 0 and below what is left, else 93 % of what is left), the
;; caller paying what the callee spent, out-of-gas of a top-level call and
;; of a nested one (-2), the call depth cap, and a wasm stack overflow being
;; an ordinary call failure.
;;
;; Memory map (2 pages):
;;   0x0100 .. 0x0120   scratch: the id of the contract to call
;;   0x0200 .. 0x0300   scribble area written by the small loop
;;   0x0400 .. 0x0500   constant strings
;;   0x10000 .. 0x20000 argument buffer A
;;
;; Exports (integers little-endian):
;;   get_limit_and_spent  () -> u64 limit ++ u64 spent_before ++ u64 spent_after
;;                          (24 bytes): limit() and spent() at entry, then
;;                          spent() after a small loop (64 iterations of
;;                          memory writes), so spent_after > spent_before
;;   loop_forever         () -> never returns (runs out of gas)
;;   spend_on_callee      id ++ [u64 gas] -> 48 bytes: the callee's 24
;;                          bytes from c(id, "get_limit_and_spent", no arg,
;;                          gas or 0), then this frame's u64 limit,
;;                          u64 spent before the call, u64 spent after it.
;;                          Pass this contract's own id (or another
;;                          spender's). Panics "call failed" if the call
;;                          fails.
;;   recurse              u32 depth -> u32 levels ++ i32 code (8 bytes).
;;                          depth 0 returns (0, 0). Otherwise calls itself
;;                          (self_id) with depth-1: on success returns
;;                          (callee's levels + 1, callee's code); on a
;;                          negative code r returns (0, r). So without a cap
;;                          recurse(n) = (n, 0); with a depth cap the
;;                          outermost result says how many nested calls
;;                          succeeded and which code stopped the descent
;;                          (i32 min for "depth exceeded").
;;   deep_stack           () -> never returns: unbounded wasm recursion,
;;                          exhausts the wasm stack. Each level also moves
;;                          the mutable global $sp down by 16, so the failed
;;                          call must restore $sp with the rest of the state.
;;   stack_pointer        () -> u32 the current value of $sp (0x10000 unless
;;                          a failed deep_stack leaked its changes)
;; Malformed arguments panic with "bad argument".
(module
  (import "env" "c" (func $c (param i32 i32 i32 i32 i64) (result i32)))
  (import "env" "self_id" (func $self_id))
  (import "env" "limit" (func $limit (result i64)))
  (import "env" "spent" (func $spent (result i64)))
  (import "env" "panic" (func $panic (param i32)))

  (memory (export "memory") 2)
  (global $A (export "A") i32 (i32.const 65536))

  ;; A compiler-style shadow stack pointer; deep_stack pushes a frame per level.
  (global $sp (mut i32) (i32.const 0x10000))

  (global $ID i32 (i32.const 0x100))

  (data (i32.const 0x400) "get_limit_and_spent")   ;; 0x400, 19
  (data (i32.const 0x420) "recurse")               ;; 0x420, 7
  (data (i32.const 0x430) "call failed")           ;; 0x430, 11
  (data (i32.const 0x440) "bad argument")          ;; 0x440, 12

  (func $fail (param $ptr i32) (param $len i32)
    (memory.copy (global.get $A) (local.get $ptr) (local.get $len))
    (call $panic (local.get $len))
    unreachable)

  (func $bad_argument (call $fail (i32.const 0x440) (i32.const 12)))

  (func (export "get_limit_and_spent") (param $len i32) (result i32)
    (local $limit i64)
    (local $before i64)
    (local $i i32)
    (local.set $limit (call $limit))
    (local.set $before (call $spent))
    ;; a small loop, so that some gas is spent between the two readings
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (i32.const 64)))
        (i32.store (i32.add (i32.const 0x200) (i32.shl (i32.and (local.get $i) (i32.const 63))
                                                         (i32.const 2)))
                   (local.get $i))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (i64.store offset=0 (global.get $A) (local.get $limit))
    (i64.store offset=8 (global.get $A) (local.get $before))
    (i64.store offset=16 (global.get $A) (call $spent))
    (i32.const 24))

  (func (export "loop_forever") (param $len i32) (result i32)
    (loop $forever (br $forever))
    unreachable)

  (func (export "spend_on_callee") (param $len i32) (result i32)
    (local $gas i64)
    (local $limit i64)
    (local $before i64)
    (if (i32.eq (local.get $len) (i32.const 40))
      (then (local.set $gas (i64.load offset=32 (global.get $A))))
      (else (if (i32.ne (local.get $len) (i32.const 32))
              (then (call $bad_argument)))))
    (memory.copy (global.get $ID) (global.get $A) (i32.const 32))
    (local.set $limit (call $limit))
    (local.set $before (call $spent))
    (if (i32.ne (call $c (global.get $ID) (i32.const 0x400) (i32.const 19)
                         (i32.const 0) (local.get $gas))
                (i32.const 24))
      (then (call $fail (i32.const 0x430) (i32.const 11))))
    ;; A[0..24] holds the callee's result; append this frame's readings
    (i64.store offset=24 (global.get $A) (local.get $limit))
    (i64.store offset=32 (global.get $A) (local.get $before))
    (i64.store offset=40 (global.get $A) (call $spent))
    (i32.const 48))

  (func (export "recurse") (param $len i32) (result i32)
    (local $depth i32)
    (local $r i32)
    (if (i32.ne (local.get $len) (i32.const 4))
      (then (call $bad_argument)))
    (local.set $depth (i32.load (global.get $A)))
    (if (i32.eqz (local.get $depth))
      (then
        (i64.store (global.get $A) (i64.const 0))   ;; levels 0, code 0
        (return (i32.const 8))))
    (call $self_id)
    (memory.copy (global.get $ID) (global.get $A) (i32.const 32))
    (i32.store (global.get $A) (i32.sub (local.get $depth) (i32.const 1)))
    (local.set $r (call $c (global.get $ID) (i32.const 0x420) (i32.const 7)
                           (i32.const 4) (i64.const 0)))
    (if (i32.lt_s (local.get $r) (i32.const 0))
      (then
        (i32.store offset=0 (global.get $A) (i32.const 0))
        (i32.store offset=4 (global.get $A) (local.get $r))
        (return (i32.const 8))))
    (if (i32.ne (local.get $r) (i32.const 8))
      (then (call $fail (i32.const 0x430) (i32.const 11))))
    (i32.store (global.get $A) (i32.add (i32.load (global.get $A)) (i32.const 1)))
    (i32.const 8))

  ;; Recurses until the wasm stack is exhausted. It is not a tail call, and
  ;; it moves $sp down like compiled code would (wrapping is harmless: the
  ;; frames are never written).
  (func $deep (param $n i64) (result i64)
    (global.set $sp (i32.sub (global.get $sp) (i32.const 16)))
    (i64.add (call $deep (i64.add (local.get $n) (i64.const 1))) (i64.const 1)))

  (func (export "deep_stack") (param $len i32) (result i32)
    (drop (call $deep (i64.const 0)))
    (i32.const 0))

  (func (export "stack_pointer") (param $len i32) (result i32)
    (i32.store (global.get $A) (global.get $sp))
    (i32.const 4))
)
