;; callcenter.wat - inter-contract calls (wasm32).
;;
;; Serves: calls between contracts (wasm32 -> wasm32 and wasm32 -> wasm64 via
;; counter64.wat), self calls, caller()/callstack(), the error codes `c`
;; returns to a calling contract, explicit callee gas limits.
;;
;; Memory map (2 pages):
;;   0x0100 .. 0x0120   scratch: the callee id of the current call
;;   0x0400 .. 0x0500   constant strings (data segments below)
;;   0x1000 .. 0x10000  scratch: a function name copied out of A (delegate_query)
;;   0x10000 .. 0x20000 argument buffer A
;;
;; Exports (ids are 32 bytes, integers little-endian):
;;   query_counter     id -> callee's result     c(id, "read_value", no arg)
;;   increment_counter id -> callee's result     c(id, "increment", no arg)
;;   calling_self      id -> u8 (1 if id == self_id(), else 0)
;;   call_self         () -> u8 (1 if c(self_id(), "return_self_id") returned
;;                              our own id, else 0)
;;   return_self_id    () -> id
;;   return_caller     () -> u8 1 + id of the immediate caller, or u8 0 when
;;                              the host called (33 or 1 bytes)
;;   return_callstack  () -> count * 32 bytes: the ids callstack() returned
;;   delegate_query    id ++ u32 name_len ++ name ++ inner_arg ->
;;                     on success (code >= 0): exactly the callee's result;
;;                     on code -1 (callee panicked): i32 -1 ++ u32 msg_len ++ msg
;;                     on any other negative code: the i32 code (4 bytes)
;;   call_with_gas     id ++ u64 gas_limit -> i32 code (4 bytes) of
;;                     c(id, "read_value", no arg, gas_limit): the result
;;                     length (8 for a counter) or the negative error code
;;
;; query_counter, increment_counter and call_self panic with "call failed"
;; when `c` returns a negative code. Malformed arguments panic with
;; "bad argument". All calls but call_with_gas pass gas limit 0 (= default).
(module
  (import "env" "c" (func $c (param i32 i32 i32 i32 i64) (result i32)))
  (import "env" "self_id" (func $self_id))
  (import "env" "caller" (func $caller (result i32)))
  (import "env" "callstack" (func $callstack (result i32)))
  (import "env" "panic" (func $panic (param i32)))

  (memory (export "memory") 2)
  (global $A (export "A") i32 (i32.const 65536))

  ;; Where the callee id is kept while A is reused for the call's argument.
  (global $ID i32 (i32.const 0x100))
  ;; Where delegate_query keeps the function name.
  (global $NAME i32 (i32.const 0x1000))
  (global $NAME_MAX i32 (i32.const 0xF000))

  ;; Constant strings: (address, length)
  (data (i32.const 0x400) "read_value")      ;; 0x400, 10
  (data (i32.const 0x410) "increment")       ;; 0x410, 9
  (data (i32.const 0x420) "return_self_id")  ;; 0x420, 14
  (data (i32.const 0x440) "call failed")     ;; 0x440, 11
  (data (i32.const 0x450) "bad argument")    ;; 0x450, 12

  ;; Panic with the message at [$ptr, $ptr+$len): copy it into A, call panic.
  (func $fail (param $ptr i32) (param $len i32)
    (memory.copy (global.get $A) (local.get $ptr) (local.get $len))
    (call $panic (local.get $len))
    unreachable)

  (func $bad_argument (call $fail (i32.const 0x450) (i32.const 12)))

  ;; Panic "bad argument" unless $len == $want.
  (func $expect_len (param $len i32) (param $want i32)
    (if (i32.ne (local.get $len) (local.get $want))
      (then (call $bad_argument))))

  ;; 1 if the 32 bytes at $a and $b are equal, else 0.
  (func $eq32 (param $a i32) (param $b i32) (result i32)
    (i32.and
      (i32.and
        (i64.eq (i64.load offset=0 (local.get $a)) (i64.load offset=0 (local.get $b)))
        (i64.eq (i64.load offset=8 (local.get $a)) (i64.load offset=8 (local.get $b))))
      (i32.and
        (i64.eq (i64.load offset=16 (local.get $a)) (i64.load offset=16 (local.get $b)))
        (i64.eq (i64.load offset=24 (local.get $a)) (i64.load offset=24 (local.get $b))))))

  ;; c(id at $ID, name, A[..arg_len], gas 0); panics "call failed" on a
  ;; negative code, else returns the result length.
  (func $call_or_fail (param $name i32) (param $name_len i32) (param $arg_len i32) (result i32)
    (local $r i32)
    (local.set $r (call $c (global.get $ID) (local.get $name) (local.get $name_len)
                           (local.get $arg_len) (i64.const 0)))
    (if (i32.lt_s (local.get $r) (i32.const 0))
      (then (call $fail (i32.const 0x440) (i32.const 11))))
    (local.get $r))

  ;; Move the 32-byte id argument out of A.
  (func $take_id (param $len i32)
    (call $expect_len (local.get $len) (i32.const 32))
    (memory.copy (global.get $ID) (global.get $A) (i32.const 32)))

  (func (export "query_counter") (param $len i32) (result i32)
    (call $take_id (local.get $len))
    (call $call_or_fail (i32.const 0x400) (i32.const 10) (i32.const 0)))

  (func (export "increment_counter") (param $len i32) (result i32)
    (call $take_id (local.get $len))
    (call $call_or_fail (i32.const 0x410) (i32.const 9) (i32.const 0)))

  (func (export "calling_self") (param $len i32) (result i32)
    (call $take_id (local.get $len))
    (call $self_id)                      ;; A[0..32] = own id
    (i32.store8 (global.get $A) (call $eq32 (global.get $A) (global.get $ID)))
    (i32.const 1))

  (func (export "call_self") (param $len i32) (result i32)
    (call $self_id)
    (memory.copy (global.get $ID) (global.get $A) (i32.const 32))
    ;; the callee (this very contract, re-entered) returns its id in our A
    (if (i32.ne (call $call_or_fail (i32.const 0x420) (i32.const 14) (i32.const 0))
                (i32.const 32))
      (then (call $fail (i32.const 0x440) (i32.const 11))))
    (i32.store8 (global.get $A) (call $eq32 (global.get $A) (global.get $ID)))
    (i32.const 1))

  (func (export "return_self_id") (param $len i32) (result i32)
    (call $self_id)
    (i32.const 32))

  (func (export "return_caller") (param $len i32) (result i32)
    (if (result i32) (call $caller)
      (then
        ;; A[0..32] holds the caller's id: shift it to A[1..33], flag in A[0]
        (memory.copy (i32.add (global.get $A) (i32.const 1)) (global.get $A) (i32.const 32))
        (i32.store8 (global.get $A) (i32.const 1))
        (i32.const 33))
      (else
        (i32.store8 (global.get $A) (i32.const 0))
        (i32.const 1))))

  (func (export "return_callstack") (param $len i32) (result i32)
    ;; callstack() writes count ids into A and returns count
    (i32.mul (call $callstack) (i32.const 32)))

  (func (export "delegate_query") (param $len i32) (result i32)
    (local $name_len i32)
    (local $inner_off i32)
    (local $inner_len i32)
    (local $r i32)
    (local $msg_len i32)
    ;; id (32) + name_len (4) at least
    (if (i32.lt_u (local.get $len) (i32.const 36))
      (then (call $bad_argument)))
    (local.set $name_len (i32.load offset=32 (global.get $A)))
    ;; the name must fit in the argument and in the scratch area
    (if (i32.or (i32.gt_u (local.get $name_len) (i32.sub (local.get $len) (i32.const 36)))
                (i32.gt_u (local.get $name_len) (global.get $NAME_MAX)))
      (then (call $bad_argument)))
    (memory.copy (global.get $ID) (global.get $A) (i32.const 32))
    (memory.copy (global.get $NAME)
                 (i32.add (global.get $A) (i32.const 36)) (local.get $name_len))
    ;; the inner argument follows the name; move it to the start of A
    (local.set $inner_off (i32.add (i32.const 36) (local.get $name_len)))
    (local.set $inner_len (i32.sub (local.get $len) (local.get $inner_off)))
    (memory.copy (global.get $A)
                 (i32.add (global.get $A) (local.get $inner_off)) (local.get $inner_len))
    (local.set $r (call $c (global.get $ID) (global.get $NAME) (local.get $name_len)
                           (local.get $inner_len) (i64.const 0)))
    ;; success: the callee's result is already in A
    (if (i32.ge_s (local.get $r) (i32.const 0))
      (then (return (local.get $r))))
    (if (i32.eq (local.get $r) (i32.const -1))
      (then
        ;; A = u32 msg_len ++ msg: shift it right by 4 and prepend the code,
        ;; clamping so the result stays within the 64 KiB buffer
        (local.set $msg_len (i32.load (global.get $A)))
        (if (i32.gt_u (local.get $msg_len) (i32.const 65528))
          (then
            (local.set $msg_len (i32.const 65528))
            (i32.store (global.get $A) (local.get $msg_len))))
        (memory.copy (i32.add (global.get $A) (i32.const 4)) (global.get $A)
                     (i32.add (local.get $msg_len) (i32.const 4)))
        (i32.store (global.get $A) (local.get $r))
        (return (i32.add (local.get $msg_len) (i32.const 8)))))
    (i32.store (global.get $A) (local.get $r))
    (i32.const 4))

  (func (export "call_with_gas") (param $len i32) (result i32)
    (local $gas i64)
    (call $expect_len (local.get $len) (i32.const 40))
    (memory.copy (global.get $ID) (global.get $A) (i32.const 32))
    (local.set $gas (i64.load offset=32 (global.get $A)))
    (i32.store (global.get $A)
      (call $c (global.get $ID) (i32.const 0x400) (i32.const 10) (i32.const 0) (local.get $gas)))
    (i32.const 4))
)
