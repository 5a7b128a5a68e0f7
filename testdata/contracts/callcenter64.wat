;; callcenter64.wat - callcenter.wat built for wasm64 (a memory64 memory).
;;
;; Same exports, argument/result layouts, messages and memory map as
;; callcenter.wat; pointers are i64, so it imports the wasm64 signatures:
;;   c        (i64 callee_ptr, i64 name_ptr, i32 name_len, i32 arg_len, i64 gas) -> i32
;;   self_id, caller, callstack, panic: the same as for wasm32
;; Exported functions are still (i32 arg_len) -> i32 result_len.
;;
;; Serves: wasm64 -> wasm32 calls (callcenter64 -> counter), wasm64 -> wasm64
;; calls (callcenter64 -> counter64), and the wasm64 signature of `c`.
;;
;; Memory map (2 pages):
;;   0x0100 .. 0x0120   scratch: the callee id of the current call
;;   0x0400 .. 0x0500   constant strings
;;   0x1000 .. 0x10000  scratch: a function name copied out of A (delegate_query)
;;   0x10000 .. 0x20000 argument buffer A
;;
;; Exports: see callcenter.wat (query_counter, increment_counter, calling_self,
;; call_self, return_self_id, return_caller, return_callstack, delegate_query,
;; call_with_gas).
(module
  (import "env" "c" (func $c (param i64 i64 i32 i32 i64) (result i32)))
  (import "env" "self_id" (func $self_id))
  (import "env" "caller" (func $caller (result i32)))
  (import "env" "callstack" (func $callstack (result i32)))
  (import "env" "panic" (func $panic (param i32)))

  (memory (export "memory") i64 2)
  (global $A (export "A") i64 (i64.const 65536))

  (global $ID i64 (i64.const 0x100))
  (global $NAME i64 (i64.const 0x1000))
  (global $NAME_MAX i32 (i32.const 0xF000))

  (data (i64.const 0x400) "read_value")      ;; 0x400, 10
  (data (i64.const 0x410) "increment")       ;; 0x410, 9
  (data (i64.const 0x420) "return_self_id")  ;; 0x420, 14
  (data (i64.const 0x440) "call failed")     ;; 0x440, 11
  (data (i64.const 0x450) "bad argument")    ;; 0x450, 12

  ;; Panic with the message at [$ptr, $ptr+$len).
  (func $fail (param $ptr i64) (param $len i32)
    (memory.copy (global.get $A) (local.get $ptr) (i64.extend_i32_u (local.get $len)))
    (call $panic (local.get $len))
    unreachable)

  (func $bad_argument (call $fail (i64.const 0x450) (i32.const 12)))

  (func $expect_len (param $len i32) (param $want i32)
    (if (i32.ne (local.get $len) (local.get $want))
      (then (call $bad_argument))))

  ;; 1 if the 32 bytes at $a and $b are equal, else 0.
  (func $eq32 (param $a i64) (param $b i64) (result i32)
    (i32.and
      (i32.and
        (i64.eq (i64.load offset=0 (local.get $a)) (i64.load offset=0 (local.get $b)))
        (i64.eq (i64.load offset=8 (local.get $a)) (i64.load offset=8 (local.get $b))))
      (i32.and
        (i64.eq (i64.load offset=16 (local.get $a)) (i64.load offset=16 (local.get $b)))
        (i64.eq (i64.load offset=24 (local.get $a)) (i64.load offset=24 (local.get $b))))))

  ;; c(id at $ID, name, A[..arg_len], gas 0); panics "call failed" on a
  ;; negative code, else returns the result length.
  (func $call_or_fail (param $name i64) (param $name_len i32) (param $arg_len i32) (result i32)
    (local $r i32)
    (local.set $r (call $c (global.get $ID) (local.get $name) (local.get $name_len)
                           (local.get $arg_len) (i64.const 0)))
    (if (i32.lt_s (local.get $r) (i32.const 0))
      (then (call $fail (i64.const 0x440) (i32.const 11))))
    (local.get $r))

  (func $take_id (param $len i32)
    (call $expect_len (local.get $len) (i32.const 32))
    (memory.copy (global.get $ID) (global.get $A) (i64.const 32)))

  (func (export "query_counter") (param $len i32) (result i32)
    (call $take_id (local.get $len))
    (call $call_or_fail (i64.const 0x400) (i32.const 10) (i32.const 0)))

  (func (export "increment_counter") (param $len i32) (result i32)
    (call $take_id (local.get $len))
    (call $call_or_fail (i64.const 0x410) (i32.const 9) (i32.const 0)))

  (func (export "calling_self") (param $len i32) (result i32)
    (call $take_id (local.get $len))
    (call $self_id)
    (i32.store8 (global.get $A) (call $eq32 (global.get $A) (global.get $ID)))
    (i32.const 1))

  (func (export "call_self") (param $len i32) (result i32)
    (call $self_id)
    (memory.copy (global.get $ID) (global.get $A) (i64.const 32))
    (if (i32.ne (call $call_or_fail (i64.const 0x420) (i32.const 14) (i32.const 0))
                (i32.const 32))
      (then (call $fail (i64.const 0x440) (i32.const 11))))
    (i32.store8 (global.get $A) (call $eq32 (global.get $A) (global.get $ID)))
    (i32.const 1))

  (func (export "return_self_id") (param $len i32) (result i32)
    (call $self_id)
    (i32.const 32))

  (func (export "return_caller") (param $len i32) (result i32)
    (if (result i32) (call $caller)
      (then
        (memory.copy (i64.add (global.get $A) (i64.const 1)) (global.get $A) (i64.const 32))
        (i32.store8 (global.get $A) (i32.const 1))
        (i32.const 33))
      (else
        (i32.store8 (global.get $A) (i32.const 0))
        (i32.const 1))))

  (func (export "return_callstack") (param $len i32) (result i32)
    (i32.mul (call $callstack) (i32.const 32)))

  (func (export "delegate_query") (param $len i32) (result i32)
    (local $name_len i32)
    (local $inner_off i32)
    (local $inner_len i32)
    (local $r i32)
    (local $msg_len i32)
    (if (i32.lt_u (local.get $len) (i32.const 36))
      (then (call $bad_argument)))
    (local.set $name_len (i32.load offset=32 (global.get $A)))
    (if (i32.or (i32.gt_u (local.get $name_len) (i32.sub (local.get $len) (i32.const 36)))
                (i32.gt_u (local.get $name_len) (global.get $NAME_MAX)))
      (then (call $bad_argument)))
    (memory.copy (global.get $ID) (global.get $A) (i64.const 32))
    (memory.copy (global.get $NAME)
                 (i64.add (global.get $A) (i64.const 36))
                 (i64.extend_i32_u (local.get $name_len)))
    (local.set $inner_off (i32.add (i32.const 36) (local.get $name_len)))
    (local.set $inner_len (i32.sub (local.get $len) (local.get $inner_off)))
    (memory.copy (global.get $A)
                 (i64.add (global.get $A) (i64.extend_i32_u (local.get $inner_off)))
                 (i64.extend_i32_u (local.get $inner_len)))
    (local.set $r (call $c (global.get $ID) (global.get $NAME) (local.get $name_len)
                           (local.get $inner_len) (i64.const 0)))
    (if (i32.ge_s (local.get $r) (i32.const 0))
      (then (return (local.get $r))))
    (if (i32.eq (local.get $r) (i32.const -1))
      (then
        (local.set $msg_len (i32.load (global.get $A)))
        (if (i32.gt_u (local.get $msg_len) (i32.const 65528))
          (then
            (local.set $msg_len (i32.const 65528))
            (i32.store (global.get $A) (local.get $msg_len))))
        (memory.copy (i64.add (global.get $A) (i64.const 4)) (global.get $A)
                     (i64.extend_i32_u (i32.add (local.get $msg_len) (i32.const 4))))
        (i32.store (global.get $A) (local.get $r))
        (return (i32.add (local.get $msg_len) (i32.const 8)))))
    (i32.store (global.get $A) (local.get $r))
    (i32.const 4))

  (func (export "call_with_gas") (param $len i32) (result i32)
    (local $gas i64)
    (call $expect_len (local.get $len) (i32.const 40))
    (memory.copy (global.get $ID) (global.get $A) (i64.const 32))
    (local.set $gas (i64.load offset=32 (global.get $A)))
    (i32.store (global.get $A)
      (call $c (global.get $ID) (i64.const 0x400) (i32.const 10) (i32.const 0) (local.get $gas)))
    (i32.const 4))
)
