;; kv.wat - a key-value map of 32-byte keys to 32-byte values: an
;; open-addressing hash table (linear probing) in linear memory (wasm32).
;; For the key-value benchmark against go-ethereum's trie.
;;
;; Memory map (starts at 2 wasm pages, init grows it):
;;   0x00000 .. 0x10000  argument buffer A (A = 0)
;;   0x10000             u32 log2 of the capacity in slots (set by init)
;;   0x10004             u32 number of keys stored
;;   0x20000 ..          the table: capacity slots of 64 bytes, key ++ value;
;;                       a slot whose key is all zero is empty (so the all-zero
;;                       key cannot be stored). A slot never straddles a
;;                       4 KiB page: one page proves 64 slots.
;;
;; Slot of a key: (u64 LE of key[0..8] * 0x9E3779B97F4A7C15) >> (64 - log2cap)
;; (Fibonacci hashing), then linear probing. At most 3/4 of the slots fill.
;;
;; Exports (all (i32 arg_len) -> i32 result_len; integers are u32 LE):
;;   init      u32 log2cap (1..24)      -> (): grows the memory to hold the
;;                                         table (runs once, at deploy)
;;   put_many  u32 n ++ n * (key ++ value) -> u32 keys stored. Inserts or
;;                                         overwrites n pairs (n <= 1023, the
;;                                         argument buffer holds 4 + 64n bytes)
;;   get       key -> value (32 bytes), or () when absent
;;   slot      key -> u32 address of the key's slot, or 0xFFFFFFFF when absent
;;
;; A bad argument length, an all-zero key, a full table or a failed grow trap.
(module
  (memory (export "memory") 2)
  (global $A (export "A") i32 (i32.const 0))
  (global $HDR i32 (i32.const 0x10000))
  (global $TABLE i32 (i32.const 0x20000))

  (func $expect_len (param $len i32) (param $want i32)
    (if (i32.ne (local.get $len) (local.get $want))
      (then unreachable)))

  (func $is_zero (param $p i32) (result i32)
    (i64.eqz (i64.or
      (i64.or (i64.load offset=0 (local.get $p)) (i64.load offset=8 (local.get $p)))
      (i64.or (i64.load offset=16 (local.get $p)) (i64.load offset=24 (local.get $p))))))

  (func $eq32 (param $a i32) (param $b i32) (result i32)
    (i32.and
      (i32.and
        (i64.eq (i64.load offset=0 (local.get $a)) (i64.load offset=0 (local.get $b)))
        (i64.eq (i64.load offset=8 (local.get $a)) (i64.load offset=8 (local.get $b))))
      (i32.and
        (i64.eq (i64.load offset=16 (local.get $a)) (i64.load offset=16 (local.get $b)))
        (i64.eq (i64.load offset=24 (local.get $a)) (i64.load offset=24 (local.get $b))))))

  (func (export "init") (param $len i32) (result i32)
    (local $log i32)
    (call $expect_len (local.get $len) (i32.const 4))
    (local.set $log (i32.load (global.get $A)))
    (if (i32.or (i32.lt_u (local.get $log) (i32.const 1)) (i32.gt_u (local.get $log) (i32.const 24)))
      (then unreachable))
    ;; table bytes = 64 << log; wasm pages = ceil(table bytes / 65536)
    (if (i32.eq
          (memory.grow (i32.shr_u
            (i32.add (i32.shl (i32.const 64) (local.get $log)) (i32.const 65535))
            (i32.const 16)))
          (i32.const -1))
      (then unreachable))
    (i32.store (global.get $HDR) (local.get $log))
    (i32.store offset=4 (global.get $HDR) (i32.const 0))
    (i32.const 0))

  ;; The address of the slot holding key $k, or of the empty slot where it
  ;; would go.
  (func $find (param $k i32) (result i32)
    (local $log i32)
    (local $mask i32)
    (local $i i32)
    (local $s i32)
    (local.set $log (i32.load (global.get $HDR)))
    (local.set $mask (i32.sub (i32.shl (i32.const 1) (local.get $log)) (i32.const 1)))
    (local.set $i (i32.wrap_i64 (i64.shr_u
      (i64.mul (i64.load (local.get $k)) (i64.const 0x9E3779B97F4A7C15))
      (i64.extend_i32_u (i32.sub (i32.const 64) (local.get $log))))))
    (loop $probe (result i32)
      (local.set $s (i32.add (global.get $TABLE) (i32.shl (local.get $i) (i32.const 6))))
      (if (call $is_zero (local.get $s))
        (then (return (local.get $s))))
      (if (call $eq32 (local.get $s) (local.get $k))
        (then (return (local.get $s))))
      (local.set $i (i32.and (i32.add (local.get $i) (i32.const 1)) (local.get $mask)))
      (br $probe)))

  (func $put (param $k i32) (param $v i32)
    (local $s i32)
    (local $count i32)
    (if (call $is_zero (local.get $k))
      (then unreachable))
    (local.set $s (call $find (local.get $k)))
    (if (call $is_zero (local.get $s))
      (then
        ;; a new key: refuse to fill more than 3/4 of the table
        (local.set $count (i32.add (i32.load offset=4 (global.get $HDR)) (i32.const 1)))
        (if (i32.gt_u (i32.shl (local.get $count) (i32.const 2))
                      (i32.mul (i32.shl (i32.const 1) (i32.load (global.get $HDR))) (i32.const 3)))
          (then unreachable))
        (i32.store offset=4 (global.get $HDR) (local.get $count))
        (memory.copy (local.get $s) (local.get $k) (i32.const 32))))
    (memory.copy (i32.add (local.get $s) (i32.const 32)) (local.get $v) (i32.const 32)))

  (func (export "put_many") (param $len i32) (result i32)
    (local $n i32)
    (local $p i32)
    (local $end i32)
    (if (i32.lt_u (local.get $len) (i32.const 4))
      (then unreachable))
    (local.set $n (i32.load (global.get $A)))
    (if (i32.gt_u (local.get $n) (i32.const 1023))
      (then unreachable))
    (call $expect_len (local.get $len) (i32.add (i32.const 4) (i32.shl (local.get $n) (i32.const 6))))
    (local.set $p (i32.add (global.get $A) (i32.const 4)))
    (local.set $end (i32.add (global.get $A) (local.get $len)))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
        (call $put (local.get $p) (i32.add (local.get $p) (i32.const 32)))
        (local.set $p (i32.add (local.get $p) (i32.const 64)))
        (br $next)))
    (i32.store (global.get $A) (i32.load offset=4 (global.get $HDR)))
    (i32.const 4))

  (func (export "get") (param $len i32) (result i32)
    (local $s i32)
    (call $expect_len (local.get $len) (i32.const 32))
    (if (call $is_zero (global.get $A))
      (then (return (i32.const 0))))
    (local.set $s (call $find (global.get $A)))
    (if (call $is_zero (local.get $s))
      (then (return (i32.const 0))))
    (memory.copy (global.get $A) (i32.add (local.get $s) (i32.const 32)) (i32.const 32))
    (i32.const 32))

  (func (export "slot") (param $len i32) (result i32)
    (local $s i32)
    (call $expect_len (local.get $len) (i32.const 32))
    (local.set $s (i32.const -1))
    (if (i32.eqz (call $is_zero (global.get $A)))
      (then
        (local.set $s (call $find (global.get $A)))
        (if (call $is_zero (local.get $s))
          (then (local.set $s (i32.const -1))))))
    (i32.store (global.get $A) (local.get $s))
    (i32.const 4))
)
