;; A data driver for testdata/contracts/counter.wat, written for the tests
;; of package driver: it implements the ABI of Dusk's data drivers (see
;; driver.go) by hand. Functions and their JSON:
;;   add         argument: a JSON number (u64, 1 to 19 digits) -> 8 bytes LE
;;   increment,
;;   read_value  argument: null -> no bytes
;;   big         argument: null -> 100,000 bytes (tests output buffer growth)
;; Results of add, increment and read_value (a u64, 8 bytes LE) decode to a
;; JSON number. Memory: a bump allocator from 64 KiB that takes back
;; last-in-first-out frees (the host frees in that order).
(module
  (memory (export "memory") 2)
  (global $heap (mut i32) (i32.const 65536))
  (global $inited (mut i32) (i32.const 0))
  (global $err_ptr (mut i32) (i32.const 0))
  (global $err_len (mut i32) (i32.const 0))
  (data (i32.const 1024) "add") ;; ADD, 3 bytes
  (data (i32.const 1040) "read_value") ;; READ, 10 bytes
  (data (i32.const 1056) "increment") ;; INC, 9 bytes
  (data (i32.const 1072) "big") ;; BIG, 3 bytes
  (data (i32.const 1088) "null") ;; NULL, 4 bytes
  (data (i32.const 1104) "add: want a JSON number of 1 to 19 digits") ;; E_NUM, 41 bytes
  (data (i32.const 1152) "unknown function") ;; E_UNKNOWN, 16 bytes
  (data (i32.const 1168) "want the JSON argument null") ;; E_NULL, 27 bytes
  (data (i32.const 1200) "want the 8 bytes of a u64") ;; E_U64, 25 bytes
  (data (i32.const 1232) "output buffer too small") ;; E_BUF, 23 bytes
  (data (i32.const 1264) "driver not initialized") ;; E_INIT, 22 bytes
  (data (i32.const 1296) "0.1.0") ;; VERSION, 5 bytes
  (data (i32.const 1312) "{\"contract\":\"counter\",\"functions\":{\"add\":\"u64\",\"increment\":\"null\",\"read_value\":\"null\"}}") ;; SCHEMA, 87 bytes

  (func (export "init") (global.set $inited (i32.const 1)))

  (func (export "alloc") (param $n i32) (result i32)
    (local $p i32) (local $end i32)
    (local.set $p (global.get $heap))
    (local.set $end (i32.and (i32.add (i32.add (local.get $p) (local.get $n)) (i32.const 7)) (i32.const -8)))
    (if (i32.lt_u (local.get $end) (local.get $p)) (then unreachable))
    (if (i32.gt_u (local.get $end) (i32.mul (memory.size) (i32.const 65536)))
      (then
        (if (i32.eq
              (memory.grow (i32.sub (i32.shr_u (i32.add (local.get $end) (i32.const 65535)) (i32.const 16)) (memory.size)))
              (i32.const -1))
          (then unreachable))))
    (global.set $heap (local.get $end))
    (local.get $p))

  (func (export "dealloc") (param $p i32) (param $n i32)
    (if (i32.eq (i32.and (i32.add (i32.add (local.get $p) (local.get $n)) (i32.const 7)) (i32.const -8)) (global.get $heap))
      (then (global.set $heap (local.get $p)))))

  (func $fail (param $p i32) (param $n i32) (param $code i32) (result i32)
    (global.set $err_ptr (local.get $p))
    (global.set $err_len (local.get $n))
    (local.get $code))

  ;; write puts [u32 len][bytes] at out, or fails with code 4.
  (func $write (param $out i32) (param $size i32) (param $src i32) (param $n i32) (result i32)
    (if (i32.lt_u (local.get $size) (i32.add (local.get $n) (i32.const 4)))
      (then (return (call $fail (i32.const 1232) (i32.const 23) (i32.const 4)))))
    (i32.store (local.get $out) (local.get $n))
    (memory.copy (i32.add (local.get $out) (i32.const 4)) (local.get $src) (local.get $n))
    (i32.const 0))

  (func $eq (param $a i32) (param $an i32) (param $b i32) (param $bn i32) (result i32)
    (local $i i32)
    (if (i32.ne (local.get $an) (local.get $bn)) (then (return (i32.const 0))))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $an)))
        (if (i32.ne (i32.load8_u (i32.add (local.get $a) (local.get $i))) (i32.load8_u (i32.add (local.get $b) (local.get $i))))
          (then (return (i32.const 0))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (i32.const 1))

  (func (export "get_last_error") (param $out i32) (param $size i32) (result i32)
    (call $write (local.get $out) (local.get $size) (global.get $err_ptr) (global.get $err_len)))

  (func (export "encode_input_fn") (param $fn i32) (param $fnlen i32) (param $js i32) (param $jslen i32) (param $out i32) (param $size i32) (result i32)
    (local $i i32) (local $c i32) (local $v i64)
    (if (i32.eqz (global.get $inited)) (then (return (call $fail (i32.const 1264) (i32.const 22) (i32.const 3)))))
    (if (call $eq (local.get $fn) (local.get $fnlen) (i32.const 1024) (i32.const 3))
      (then
        (if (i32.or (i32.eqz (local.get $jslen)) (i32.gt_u (local.get $jslen) (i32.const 19)))
          (then (return (call $fail (i32.const 1104) (i32.const 41) (i32.const 1)))))
        (loop $digits
          (local.set $c (i32.load8_u (i32.add (local.get $js) (local.get $i))))
          (if (i32.or (i32.lt_u (local.get $c) (i32.const 48)) (i32.gt_u (local.get $c) (i32.const 57)))
            (then (return (call $fail (i32.const 1104) (i32.const 41) (i32.const 1)))))
          (local.set $v (i64.add (i64.mul (local.get $v) (i64.const 10)) (i64.extend_i32_u (i32.sub (local.get $c) (i32.const 48)))))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br_if $digits (i32.lt_u (local.get $i) (local.get $jslen))))
        (i64.store (i32.const 4096) (local.get $v))
        (return (call $write (local.get $out) (local.get $size) (i32.const 4096) (i32.const 8)))))
    (if (i32.or (i32.or (call $eq (local.get $fn) (local.get $fnlen) (i32.const 1040) (i32.const 10))
                        (call $eq (local.get $fn) (local.get $fnlen) (i32.const 1056) (i32.const 9)))
                (call $eq (local.get $fn) (local.get $fnlen) (i32.const 1072) (i32.const 3)))
      (then
        (if (i32.eqz (call $eq (local.get $js) (local.get $jslen) (i32.const 1088) (i32.const 4)))
          (then (return (call $fail (i32.const 1168) (i32.const 27) (i32.const 1)))))
        (if (call $eq (local.get $fn) (local.get $fnlen) (i32.const 1072) (i32.const 3))
          (then (return (call $write (local.get $out) (local.get $size) (i32.const 0) (i32.const 100000)))))
        (return (call $write (local.get $out) (local.get $size) (i32.const 0) (i32.const 0)))))
    (call $fail (i32.const 1152) (i32.const 16) (i32.const 2)))

  (func (export "decode_output_fn") (param $fn i32) (param $fnlen i32) (param $b i32) (param $blen i32) (param $out i32) (param $size i32) (result i32)
    (local $v i64) (local $p i32)
    (if (i32.eqz (global.get $inited)) (then (return (call $fail (i32.const 1264) (i32.const 22) (i32.const 3)))))
    (if (i32.eqz (i32.or (i32.or (call $eq (local.get $fn) (local.get $fnlen) (i32.const 1024) (i32.const 3))
                                 (call $eq (local.get $fn) (local.get $fnlen) (i32.const 1040) (i32.const 10)))
                         (call $eq (local.get $fn) (local.get $fnlen) (i32.const 1056) (i32.const 9))))
      (then (return (call $fail (i32.const 1152) (i32.const 16) (i32.const 2)))))
    (if (i32.ne (local.get $blen) (i32.const 8)) (then (return (call $fail (i32.const 1200) (i32.const 25) (i32.const 1)))))
    (local.set $v (i64.load (local.get $b)))
    ;; Decimal digits, last first, ending at 4200.
    (local.set $p (i32.const 4200))
    (loop $digit
      (local.set $p (i32.sub (local.get $p) (i32.const 1)))
      (i32.store8 (local.get $p) (i32.add (i32.const 48) (i32.wrap_i64 (i64.rem_u (local.get $v) (i64.const 10)))))
      (local.set $v (i64.div_u (local.get $v) (i64.const 10)))
      (br_if $digit (i64.ne (local.get $v) (i64.const 0))))
    (call $write (local.get $out) (local.get $size) (local.get $p) (i32.sub (i32.const 4200) (local.get $p))))

  (func (export "get_version") (param $out i32) (param $size i32) (result i32)
    (call $write (local.get $out) (local.get $size) (i32.const 1296) (i32.const 5)))

  (func (export "get_schema") (param $out i32) (param $size i32) (result i32)
    (call $write (local.get $out) (local.get $size) (i32.const 1312) (i32.const 87)))
)
