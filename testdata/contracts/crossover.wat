;; crossover.wat - re-entrancy and revert of a nested frame (A -> B -> A).
;;
;; Deploy two instances, X and Y, of this contract. The test calls
;;   X.check_crossover_revert(Y ++ outer ++ inner)
;; which
;;   1. sets X's value to `outer`;
;;   2. calls Y.call_back_and_panic(X ++ inner);
;;        Y calls back into X: X.set_crossover(inner)   (re-entrant: X's frame
;;        from step 1 is still live and shares X's memory), then Y panics
;;        with "crossover panic";
;;   3. expects `c` to return -1 (callee panicked): Y's failure reverts Y's
;;      whole subtree, including the nested write of `inner` into X;
;;   4. returns X's value, which must be `outer` again.
;; Afterwards X.crossover() must still return `outer` (the caller's own write
;; is kept because the caller succeeded), and the receipt's call tree holds
;; X -> Y -> X with the inner two frames failed.
;;
;; Memory map (2 pages):
;;   0x0000 .. 0x0008   the value, u64 LE (starts at 0)
;;   0x0100 .. 0x0120   scratch: the id of the contract to call
;;   0x0400 .. 0x0500   constant strings
;;   0x10000 .. 0x20000 argument buffer A
;;
;; Exports (ids are 32 bytes, integers u64 LE):
;;   set_crossover          u64 -> ()           value = arg
;;   crossover              ()  -> u64          value
;;   check_crossover_revert id ++ u64 outer ++ u64 inner -> u64 value after
;;                          the failed nested call (see above); panics
;;                          "callee did not panic" if `c` did not return -1
;;   call_back_and_panic    id ++ u64 v -> never returns: calls
;;                          id.set_crossover(v), then panics "crossover panic"
;;                          (or "call back failed" if that call failed)
;; Malformed arguments panic with "bad argument".
(module
  (import "env" "c" (func $c (param i32 i32 i32 i32 i64) (result i32)))
  (import "env" "self_id" (func $self_id))
  (import "env" "panic" (func $panic (param i32)))

  (memory (export "memory") 2)
  (global $A (export "A") i32 (i32.const 65536))

  (global $VALUE i32 (i32.const 0))
  (global $ID i32 (i32.const 0x100))

  (data (i32.const 0x400) "set_crossover")         ;; 0x400, 13
  (data (i32.const 0x410) "call_back_and_panic")   ;; 0x410, 19
  (data (i32.const 0x430) "crossover panic")       ;; 0x430, 15
  (data (i32.const 0x440) "callee did not panic")  ;; 0x440, 20
  (data (i32.const 0x460) "call back failed")      ;; 0x460, 16
  (data (i32.const 0x470) "bad argument")          ;; 0x470, 12

  (func $fail (param $ptr i32) (param $len i32)
    (memory.copy (global.get $A) (local.get $ptr) (local.get $len))
    (call $panic (local.get $len))
    unreachable)

  (func $expect_len (param $len i32) (param $want i32)
    (if (i32.ne (local.get $len) (local.get $want))
      (then (call $fail (i32.const 0x470) (i32.const 12)))))

  (func (export "set_crossover") (param $len i32) (result i32)
    (call $expect_len (local.get $len) (i32.const 8))
    (i64.store (global.get $VALUE) (i64.load (global.get $A)))
    (i32.const 0))

  (func (export "crossover") (param $len i32) (result i32)
    (i64.store (global.get $A) (i64.load (global.get $VALUE)))
    (i32.const 8))

  (func (export "check_crossover_revert") (param $len i32) (result i32)
    (local $inner i64)
    (call $expect_len (local.get $len) (i32.const 48))
    (memory.copy (global.get $ID) (global.get $A) (i32.const 32))
    ;; 1. value = outer
    (i64.store (global.get $VALUE) (i64.load offset=32 (global.get $A)))
    (local.set $inner (i64.load offset=40 (global.get $A)))
    ;; 2. other.call_back_and_panic(own id ++ inner)
    (call $self_id)                                   ;; A[0..32] = own id
    (i64.store offset=32 (global.get $A) (local.get $inner))
    ;; 3. the callee must have panicked
    (if (i32.ne (call $c (global.get $ID) (i32.const 0x410) (i32.const 19)
                         (i32.const 40) (i64.const 0))
                (i32.const -1))
      (then (call $fail (i32.const 0x440) (i32.const 20))))
    ;; 4. return the value as it is now
    (i64.store (global.get $A) (i64.load (global.get $VALUE)))
    (i32.const 8))

  (func (export "call_back_and_panic") (param $len i32) (result i32)
    (call $expect_len (local.get $len) (i32.const 40))
    (memory.copy (global.get $ID) (global.get $A) (i32.const 32))
    ;; A[0..8] = v, then id.set_crossover(v)
    (i64.store (global.get $A) (i64.load offset=32 (global.get $A)))
    (if (i32.lt_s (call $c (global.get $ID) (i32.const 0x400) (i32.const 13)
                           (i32.const 8) (i64.const 0))
                  (i32.const 0))
      (then (call $fail (i32.const 0x460) (i32.const 16))))
    (call $fail (i32.const 0x430) (i32.const 15))
    (i32.const 0))
)
