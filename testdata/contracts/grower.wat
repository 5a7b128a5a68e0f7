;; grower.wat - memory growth (wasm32).
;;
;; Serves: memory.grow inside a call, the grown memory (length and contents)
;; being committed and reloaded, a failed call's growth being reverted
;; (memory length back to the old size, marker gone), and the memory length
;; in the call tree / state commitment.
;;
;; Memory map (starts at 2 pages, grows):
;;   0x0400 .. 0x0500   constant strings
;;   0x10000 .. 0x20000 argument buffer A
;;   0x20000 ..         grown pages; after a grow the last byte of memory
;;                      holds the marker 0xAB
;;
;; Exports (integers little-endian):
;;   grow            u32 pages -> u64 new size in pages. memory.grow(pages);
;;                                if pages > 0, writes 0xAB at the last byte
;;                                of the grown memory. Panics with
;;                                "memory.grow failed" if the grow is refused.
;;   grow_and_panic  u32 pages -> never: grows (and writes the marker) like
;;                                grow, then panics with "grow and panic"
;;   size            ()  -> u64 memory size in pages
;;   read_at         u64 address -> u8 the byte at that address (traps when
;;                                out of bounds)
;;   grow_loop       (u32 n, u32 pages) -> u32 failures. n times
;;                                memory.grow(pages), no marker; returns how
;;                                many were refused (pages 0xFFFFFFFF: all)
(module
  (import "env" "panic" (func $panic (param i32)))

  (memory (export "memory") 2)
  (global $A (export "A") i32 (i32.const 65536))

  (data (i32.const 0x400) "memory.grow failed")   ;; 0x400, 18
  (data (i32.const 0x420) "grow and panic")       ;; 0x420, 14
  (data (i32.const 0x430) "bad argument")         ;; 0x430, 12

  (func $fail (param $ptr i32) (param $len i32)
    (memory.copy (global.get $A) (local.get $ptr) (local.get $len))
    (call $panic (local.get $len))
    unreachable)

  (func $expect_len (param $len i32) (param $want i32)
    (if (i32.ne (local.get $len) (local.get $want))
      (then (call $fail (i32.const 0x430) (i32.const 12)))))

  ;; Grow by the u32 page count in A; write the marker; return the new size.
  (func $grow (param $len i32) (result i32)
    (local $pages i32)
    (call $expect_len (local.get $len) (i32.const 4))
    (local.set $pages (i32.load (global.get $A)))
    (if (i32.eq (memory.grow (local.get $pages)) (i32.const -1))
      (then (call $fail (i32.const 0x400) (i32.const 18))))
    (if (local.get $pages)
      (then
        ;; last byte = size * 65536 - 1 (wraps correctly for a 4 GiB memory)
        (i32.store8
          (i32.sub (i32.mul (memory.size) (i32.const 65536)) (i32.const 1))
          (i32.const 0xAB))))
    (memory.size))

  (func (export "grow") (param $len i32) (result i32)
    (i64.store (global.get $A) (i64.extend_i32_u (call $grow (local.get $len))))
    (i32.const 8))

  (func (export "grow_and_panic") (param $len i32) (result i32)
    (drop (call $grow (local.get $len)))
    (call $fail (i32.const 0x420) (i32.const 14))
    (i32.const 0))

  (func (export "size") (param $len i32) (result i32)
    (i64.store (global.get $A) (i64.extend_i32_u (memory.size)))
    (i32.const 8))

  (func (export "read_at") (param $len i32) (result i32)
    (local $addr i64)
    (call $expect_len (local.get $len) (i32.const 8))
    (local.set $addr (i64.load (global.get $A)))
    ;; an address of 4 GiB or more is out of bounds of any wasm32 memory
    (if (i64.gt_u (local.get $addr) (i64.const 0xFFFFFFFF))
      (then unreachable))
    (i32.store8 (global.get $A) (i32.load8_u (i32.wrap_i64 (local.get $addr))))
    (i32.const 1))
;; n times memory.grow(pages); count the refusals.
  (func (export "grow_loop") (param $len i32) (result i32)
    (local $n i32) (local $pages i32) (local $failed i32)
    (call $expect_len (local.get $len) (i32.const 8))
    (local.set $n (i32.load (global.get $A)))
    (local.set $pages (i32.load offset=4 (global.get $A)))
    (block $done
      (loop $next
        (br_if $done (i32.eqz (local.get $n)))
        (if (i32.eq (memory.grow (local.get $pages)) (i32.const -1))
          (then (local.set $failed (i32.add (local.get $failed) (i32.const 1)))))
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (br $next)))
    (i32.store (global.get $A) (local.get $failed))
    (i32.const 4))
)
