;; eventer.wat - events.
;;
;; Serves: events in receipts (order, source id, topic, data), events of a
;; failed call (marked reverted in a nested call; never leaking into the next
;; top-level receipt), large event data, topic validation.
;;
;; Memory map (2 pages):
;;   0x0400 .. 0x0500   constant strings
;;   0x1000 .. 0x10000  scratch: a topic copied out of A (emit_raw)
;;   0x10000 .. 0x20000 argument buffer A
;;
;; Exports (integers little-endian):
;;   emit_events     u32 n -> ()     emits n events, topic "number", data
;;                                   u32 i (4 bytes LE) for i = 0 .. n-1
;;   emit_and_panic  bytes -> never  emits one event, topic "before_panic",
;;                                   data = the argument bytes, then panics
;;                                   with "eventer panic"
;;   emit_big        u32 size -> ()  fills A[i] = i mod 256 for
;;                                   i < min(size, 65536), then emits topic
;;                                   "big" with data A[..size]; size > 65536
;;                                   must fail the call (out of bounds)
;;   emit_raw        u32 topic_len ++ topic ++ data -> ()
;;                                   emits that topic (any bytes, e.g.
;;                                   invalid UTF-8 or empty) with that data
;; Malformed arguments panic with "bad argument".
(module
  (import "env" "emit" (func $emit (param i32 i32 i32)))
  (import "env" "panic" (func $panic (param i32)))

  (memory (export "memory") 2)
  (global $A (export "A") i32 (i32.const 65536))

  (global $TOPIC i32 (i32.const 0x1000))
  (global $TOPIC_MAX i32 (i32.const 0xF000))

  (data (i32.const 0x400) "number")          ;; 0x400, 6
  (data (i32.const 0x410) "before_panic")    ;; 0x410, 12
  (data (i32.const 0x420) "big")             ;; 0x420, 3
  (data (i32.const 0x430) "eventer panic")   ;; 0x430, 13
  (data (i32.const 0x440) "bad argument")    ;; 0x440, 12

  (func $fail (param $ptr i32) (param $len i32)
    (memory.copy (global.get $A) (local.get $ptr) (local.get $len))
    (call $panic (local.get $len))
    unreachable)

  (func $expect_len (param $len i32) (param $want i32)
    (if (i32.ne (local.get $len) (local.get $want))
      (then (call $fail (i32.const 0x440) (i32.const 12)))))

  (func (export "emit_events") (param $len i32) (result i32)
    (local $n i32)
    (local $i i32)
    (call $expect_len (local.get $len) (i32.const 4))
    (local.set $n (i32.load (global.get $A)))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (i32.store (global.get $A) (local.get $i))
        (call $emit (i32.const 0x400) (i32.const 6) (i32.const 4))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (i32.const 0))

  (func (export "emit_and_panic") (param $len i32) (result i32)
    (call $emit (i32.const 0x410) (i32.const 12) (local.get $len))
    (call $fail (i32.const 0x430) (i32.const 13))
    (i32.const 0))

  (func (export "emit_big") (param $len i32) (result i32)
    (local $size i32)
    (local $fill i32)
    (local $i i32)
    (call $expect_len (local.get $len) (i32.const 4))
    (local.set $size (i32.load (global.get $A)))
    ;; fill only inside the buffer; a larger size is passed on to emit as is
    (local.set $fill
      (select (local.get $size) (i32.const 65536)
              (i32.le_u (local.get $size) (i32.const 65536))))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $fill)))
        (i32.store8 (i32.add (global.get $A) (local.get $i)) (local.get $i))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (call $emit (i32.const 0x420) (i32.const 3) (local.get $size))
    (i32.const 0))

  (func (export "emit_raw") (param $len i32) (result i32)
    (local $topic_len i32)
    (local $data_off i32)
    (local $data_len i32)
    (if (i32.lt_u (local.get $len) (i32.const 4))
      (then (call $fail (i32.const 0x440) (i32.const 12))))
    (local.set $topic_len (i32.load (global.get $A)))
    (if (i32.or (i32.gt_u (local.get $topic_len) (i32.sub (local.get $len) (i32.const 4)))
                (i32.gt_u (local.get $topic_len) (global.get $TOPIC_MAX)))
      (then (call $fail (i32.const 0x440) (i32.const 12))))
    (memory.copy (global.get $TOPIC) (i32.add (global.get $A) (i32.const 4))
                 (local.get $topic_len))
    (local.set $data_off (i32.add (i32.const 4) (local.get $topic_len)))
    (local.set $data_len (i32.sub (local.get $len) (local.get $data_off)))
    (memory.copy (global.get $A) (i32.add (global.get $A) (local.get $data_off))
                 (local.get $data_len))
    (call $emit (global.get $TOPIC) (local.get $topic_len) (local.get $data_len))
    (i32.const 0))
)
