;; feeder.wat - streaming results with `feed`.
;;
;; Serves: calls made in "feeder" mode (each feed(len) streams A[..len] to
;; the host, in order), and feed failing outside such a call.
;;
;; Memory map (2 pages):
;;   0x10000 .. 0x20000 argument buffer A
;;
;; Exports:
;;   feed_num  u32 n -> ()   for i = 0 .. n-1: A[0..4] = u32 i (LE),
;;                           feed(4); returns 0 bytes. Traps (unreachable)
;;                           if the argument is not 4 bytes.
(module
  (import "env" "feed" (func $feed (param i32)))

  (memory (export "memory") 2)
  (global $A (export "A") i32 (i32.const 65536))

  (func (export "feed_num") (param $len i32) (result i32)
    (local $n i32)
    (local $i i32)
    (if (i32.ne (local.get $len) (i32.const 4))
      (then unreachable))
    (local.set $n (i32.load (global.get $A)))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (i32.store (global.get $A) (local.get $i))
        (call $feed (i32.const 4))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (i32.const 0))
)
