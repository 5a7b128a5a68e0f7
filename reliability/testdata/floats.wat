;; floats.wat - floating-point results, NaNs included, stored as state.
;;
;; Serves reliability/: determinism of floating point (wasmstate enables
;; NaN canonicalisation). "mix" interprets its argument as two f64 (and the
;; low halves as two f32) bit patterns, computes 20 f64 and 12 f32
;; results (arithmetic, sqrt of negatives, 0/0, inf-inf, min/max with NaN,
;; conversions, sign operations), stores their bit patterns in memory and
;; returns them; it also keeps the last x/y and fx/fy in mutable f64/f32
;; globals, which the state commits.
;;
;; Memory map (2 pages): u32 call counter at 0x0; call n writes its
;; 32 × 8 result bytes at 0x100 + (n mod 32) × 0x200 (spread over the
;; first four 4 KiB pages); argument buffer A at 0x10000 .. 0x20000.
;;
;; Exports:
;;   mix      u64 a ++ u64 b -> 32 × u64 bit patterns (f32 results zero-
;;            extended), in the order of the source; a wrong argument
;;            length traps
;;   globals  () -> u64 bits of the f64 global ++ u64 bits of the f32 global
(module
  (memory (export "memory") 2)
  (global $A (export "A") i32 (i32.const 65536))
  (global $gd (mut f64) (f64.const 0))
  (global $gs (mut f32) (f32.const 0))

  (func (export "mix") (param $len i32) (result i32)
    (local $x f64) (local $y f64) (local $fx f32) (local $fy f32)
    (local $one f64) (local $zero f64) (local $out i32) (local $n i32)
    (if (i32.ne (local.get $len) (i32.const 16)) (then unreachable))
    (local.set $x (f64.load (global.get $A)))
    (local.set $y (f64.load offset=8 (global.get $A)))
    (local.set $fx (f32.load (global.get $A)))
    (local.set $fy (f32.load offset=8 (global.get $A)))
    ;; 1 and 0 from memory-independent arithmetic the compiler cannot fold away
    (local.set $one (f64.convert_i32_u (i32.add (i32.eqz (local.get $len)) (i32.const 1))))
    (local.set $zero (f64.sub (local.get $one) (local.get $one)))
    (local.set $n (i32.load (i32.const 0)))
    (i32.store (i32.const 0) (i32.add (local.get $n) (i32.const 1)))
    (local.set $out (i32.add (i32.const 0x100) (i32.mul (i32.rem_u (local.get $n) (i32.const 32)) (i32.const 0x200))))
    ;; x+y
    (i64.store offset=0 (local.get $out) (i64.reinterpret_f64 (f64.add (local.get $x) (local.get $y))))
    ;; x-y
    (i64.store offset=8 (local.get $out) (i64.reinterpret_f64 (f64.sub (local.get $x) (local.get $y))))
    ;; x*y
    (i64.store offset=16 (local.get $out) (i64.reinterpret_f64 (f64.mul (local.get $x) (local.get $y))))
    ;; x/y
    (i64.store offset=24 (local.get $out) (i64.reinterpret_f64 (f64.div (local.get $x) (local.get $y))))
    ;; sqrt x
    (i64.store offset=32 (local.get $out) (i64.reinterpret_f64 (f64.sqrt (local.get $x))))
    ;; min
    (i64.store offset=40 (local.get $out) (i64.reinterpret_f64 (f64.min (local.get $x) (local.get $y))))
    ;; max
    (i64.store offset=48 (local.get $out) (i64.reinterpret_f64 (f64.max (local.get $x) (local.get $y))))
    ;; (x-x)/(y-y)
    (i64.store offset=56 (local.get $out) (i64.reinterpret_f64 (f64.div (f64.sub (local.get $x) (local.get $x)) (f64.sub (local.get $y) (local.get $y)))))
    ;; inf-inf
    (i64.store offset=64 (local.get $out) (i64.reinterpret_f64 (f64.sub (f64.div (local.get $one) (local.get $zero)) (f64.div (local.get $one) (local.get $zero)))))
    ;; sqrt -|x|-1
    (i64.store offset=72 (local.get $out) (i64.reinterpret_f64 (f64.sqrt (f64.sub (f64.neg (f64.abs (local.get $x))) (local.get $one)))))
    ;; promote fx
    (i64.store offset=80 (local.get $out) (i64.reinterpret_f64 (f64.promote_f32 (local.get $fx))))
    ;; nearest
    (i64.store offset=88 (local.get $out) (i64.reinterpret_f64 (f64.nearest (local.get $x))))
    ;; floor
    (i64.store offset=96 (local.get $out) (i64.reinterpret_f64 (f64.floor (local.get $x))))
    ;; ceil
    (i64.store offset=104 (local.get $out) (i64.reinterpret_f64 (f64.ceil (local.get $x))))
    ;; trunc
    (i64.store offset=112 (local.get $out) (i64.reinterpret_f64 (f64.trunc (local.get $x))))
    ;; copysign
    (i64.store offset=120 (local.get $out) (i64.reinterpret_f64 (f64.copysign (local.get $x) (local.get $y))))
    ;; neg
    (i64.store offset=128 (local.get $out) (i64.reinterpret_f64 (f64.neg (local.get $x))))
    ;; abs
    (i64.store offset=136 (local.get $out) (i64.reinterpret_f64 (f64.abs (local.get $x))))
    ;; x*y+x
    (i64.store offset=144 (local.get $out) (i64.reinterpret_f64 (f64.add (f64.mul (local.get $x) (local.get $y)) (local.get $x))))
    ;; convert trunc_sat
    (i64.store offset=152 (local.get $out) (i64.reinterpret_f64 (f64.convert_i64_s (i64.trunc_sat_f64_s (local.get $x)))))
    ;; fx+fy
    (i64.store offset=160 (local.get $out) (i64.extend_i32_u (i32.reinterpret_f32 (f32.add (local.get $fx) (local.get $fy)))))
    ;; fx*fy
    (i64.store offset=168 (local.get $out) (i64.extend_i32_u (i32.reinterpret_f32 (f32.mul (local.get $fx) (local.get $fy)))))
    ;; fx/fy
    (i64.store offset=176 (local.get $out) (i64.extend_i32_u (i32.reinterpret_f32 (f32.div (local.get $fx) (local.get $fy)))))
    ;; sqrt fx
    (i64.store offset=184 (local.get $out) (i64.extend_i32_u (i32.reinterpret_f32 (f32.sqrt (local.get $fx)))))
    ;; min32
    (i64.store offset=192 (local.get $out) (i64.extend_i32_u (i32.reinterpret_f32 (f32.min (local.get $fx) (local.get $fy)))))
    ;; max32
    (i64.store offset=200 (local.get $out) (i64.extend_i32_u (i32.reinterpret_f32 (f32.max (local.get $fx) (local.get $fy)))))
    ;; demote x
    (i64.store offset=208 (local.get $out) (i64.extend_i32_u (i32.reinterpret_f32 (f32.demote_f64 (local.get $x)))))
    ;; 0/0 f32
    (i64.store offset=216 (local.get $out) (i64.extend_i32_u (i32.reinterpret_f32 (f32.div (f32.sub (local.get $fx) (local.get $fx)) (f32.sub (local.get $fy) (local.get $fy))))))
    ;; neg32
    (i64.store offset=224 (local.get $out) (i64.extend_i32_u (i32.reinterpret_f32 (f32.neg (local.get $fx)))))
    ;; copysign32
    (i64.store offset=232 (local.get $out) (i64.extend_i32_u (i32.reinterpret_f32 (f32.copysign (local.get $fx) (local.get $fy)))))
    ;; convert i32
    (i64.store offset=240 (local.get $out) (i64.extend_i32_u (i32.reinterpret_f32 (f32.convert_i32_s (i32.trunc_sat_f32_s (local.get $fx))))))
    ;; nearest32
    (i64.store offset=248 (local.get $out) (i64.extend_i32_u (i32.reinterpret_f32 (f32.nearest (local.get $fx)))))
    (global.set $gd (f64.div (local.get $x) (local.get $y)))
    (global.set $gs (f32.div (local.get $fx) (local.get $fy)))
    (memory.copy (global.get $A) (local.get $out) (i32.const 256))
    (i32.const 256))

  (func (export "globals") (param $len i32) (result i32)
    (i64.store (global.get $A) (i64.reinterpret_f64 (global.get $gd)))
    (i64.store offset=8 (global.get $A) (i64.extend_i32_u (i32.reinterpret_f32 (global.get $gs))))
    (i32.const 16))
)
