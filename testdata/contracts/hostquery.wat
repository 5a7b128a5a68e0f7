;; hostquery.wat - host queries through `hq`.
;;
;; Serves: the embedder's named host functions (priced by the embedder), the
;; result coming back in A, and an unknown name failing the call.
;;
;; Memory map (2 pages):
;;   0x0400 .. 0x0500   constant strings
;;   0x1000 .. 0x10000  scratch: a query name copied out of A (query)
;;   0x10000 .. 0x20000 argument buffer A
;;
;; Exports (integers little-endian):
;;   hash   bytes -> whatever hq("hash", bytes) returns (the embedder's
;;                   "hash" query, e.g. a 32-byte digest)
;;   query  u32 name_len ++ name ++ arg -> whatever hq(name, arg) returns;
;;                   names up to 0xF000 bytes
;; Malformed arguments panic with "bad argument".
(module
  (import "env" "hq" (func $hq (param i32 i32 i32) (result i32)))
  (import "env" "panic" (func $panic (param i32)))

  (memory (export "memory") 2)
  (global $A (export "A") i32 (i32.const 65536))

  (global $NAME i32 (i32.const 0x1000))
  (global $NAME_MAX i32 (i32.const 0xF000))

  (data (i32.const 0x400) "hash")           ;; 0x400, 4
  (data (i32.const 0x410) "bad argument")   ;; 0x410, 12

  (func $bad_argument
    (memory.copy (global.get $A) (i32.const 0x410) (i32.const 12))
    (call $panic (i32.const 12))
    unreachable)

  (func (export "hash") (param $len i32) (result i32)
    ;; the argument is already in A[..len]
    (call $hq (i32.const 0x400) (i32.const 4) (local.get $len)))

  (func (export "query") (param $len i32) (result i32)
    (local $name_len i32)
    (local $arg_off i32)
    (local $arg_len i32)
    (if (i32.lt_u (local.get $len) (i32.const 4))
      (then (call $bad_argument)))
    (local.set $name_len (i32.load (global.get $A)))
    (if (i32.or (i32.gt_u (local.get $name_len) (i32.sub (local.get $len) (i32.const 4)))
                (i32.gt_u (local.get $name_len) (global.get $NAME_MAX)))
      (then (call $bad_argument)))
    (memory.copy (global.get $NAME) (i32.add (global.get $A) (i32.const 4))
                 (local.get $name_len))
    (local.set $arg_off (i32.add (i32.const 4) (local.get $name_len)))
    (local.set $arg_len (i32.sub (local.get $len) (local.get $arg_off)))
    (memory.copy (global.get $A) (i32.add (global.get $A) (local.get $arg_off))
                 (local.get $arg_len))
    (call $hq (global.get $NAME) (local.get $name_len) (local.get $arg_len)))
)
