;; pagewriter.wat - writes chosen 4 KiB pages, for the commit, root, call and
;; first-call benchmarks (wasm32).
;;
;; Memory map (starts at 1 wasm page = 64 KiB, grows):
;;   0x0000 .. 0x10000  argument buffer A (A = 0, the whole first wasm page).
;;                      Arguments and results are at most 12 bytes, so the
;;                      engine zeroes A[0..12] after each call; the bytes this
;;                      contract writes in a 4 KiB page are at offsets
;;                      2048..2056 of the page, never inside A[0..12].
;;   every 4 KiB page p: u32 at p*4096 + 2048 is the page's "id" (set by
;;                      fill), u32 at p*4096 + 2052 its write counter
;;
;; Exports (all (i32 arg_len) -> i32 result_len; integers are u32 LE):
;;   grow   u32 n             -> u32 memory size in 64 KiB pages after
;;                               memory.grow(n); traps if refused
;;   fill   u32 first, u32 n  -> (): id = p + 1 for every 4 KiB page p in
;;                               [first, first+n), so that every page is
;;                               non-zero and distinct from the others
;;   write  u32 n, u32 stride, u32 start -> (): counter += 1 in the 4 KiB
;;                               pages start + i*stride for i in [0, n): n
;;                               pages change (given distinct page numbers),
;;                               each to contents it never had before
;;   read   u32 p             -> u8: the low byte of page p's id
;;
;; A bad argument length or an out-of-bounds page traps.
(module
  (memory (export "memory") 1)
  (global $A (export "A") i32 (i32.const 0))

  (func $expect_len (param $len i32) (param $want i32)
    (if (i32.ne (local.get $len) (local.get $want))
      (then unreachable)))

  (func (export "grow") (param $len i32) (result i32)
    (call $expect_len (local.get $len) (i32.const 4))
    (if (i32.eq (memory.grow (i32.load (global.get $A))) (i32.const -1))
      (then unreachable))
    (i32.store (global.get $A) (memory.size))
    (i32.const 4))

  (func (export "fill") (param $len i32) (result i32)
    (local $p i32)
    (local $end i32)
    (call $expect_len (local.get $len) (i32.const 8))
    (local.set $p (i32.load (global.get $A)))
    (local.set $end (i32.add (local.get $p) (i32.load offset=4 (global.get $A))))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
        (i32.store offset=2048 (i32.shl (local.get $p) (i32.const 12))
          (i32.add (local.get $p) (i32.const 1)))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (br $next)))
    (i32.const 0))

  (func (export "write") (param $len i32) (result i32)
    (local $i i32)
    (local $n i32)
    (local $stride i32)
    (local $addr i32)
    (call $expect_len (local.get $len) (i32.const 12))
    (local.set $n (i32.load (global.get $A)))
    (local.set $stride (i32.load offset=4 (global.get $A)))
    (local.set $addr (i32.shl (i32.load offset=8 (global.get $A)) (i32.const 12)))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (i32.store offset=2052 (local.get $addr)
          (i32.add (i32.load offset=2052 (local.get $addr)) (i32.const 1)))
        (local.set $addr (i32.add (local.get $addr)
          (i32.shl (local.get $stride) (i32.const 12))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (i32.const 0))

  (func (export "read") (param $len i32) (result i32)
    (call $expect_len (local.get $len) (i32.const 4))
    (i32.store8 (global.get $A)
      (i32.load8_u offset=2048 (i32.shl (i32.load (global.get $A)) (i32.const 12))))
    (i32.const 1))
)
