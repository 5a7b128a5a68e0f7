;; metadata.wat - session metadata through `hd`.
;;
;; Serves: metadata set by the embedder when it opens a session (Dusk stores
;; "block_height" as a u64 and "chain_id" as one byte), and absent names
;; (hd returns 0; wasmstate rejects empty metadata values, so 0 always means
;; absent).
;;
;; Memory map (2 pages):
;;   0x0400 .. 0x0500   constant strings
;;   0x1000 .. 0x10000  scratch: a name copied out of A (read_meta)
;;   0x10000 .. 0x20000 argument buffer A
;;
;; Exports:
;;   read_block_height  () -> the bytes stored under "block_height" (8 bytes,
;;                             a u64 LE, for Dusk; 0 bytes when absent)
;;   read_meta          name bytes -> the bytes stored under that name
;;                             (0 bytes when absent); names longer than
;;                             0xF000 bytes panic with "bad argument"
(module
  (import "env" "hd" (func $hd (param i32 i32) (result i32)))
  (import "env" "panic" (func $panic (param i32)))

  (memory (export "memory") 2)
  (global $A (export "A") i32 (i32.const 65536))

  (global $NAME i32 (i32.const 0x1000))
  (global $NAME_MAX i32 (i32.const 0xF000))

  (data (i32.const 0x400) "block_height")   ;; 0x400, 12
  (data (i32.const 0x410) "bad argument")   ;; 0x410, 12

  (func (export "read_block_height") (param $len i32) (result i32)
    ;; hd copies the value into A and returns its length
    (call $hd (i32.const 0x400) (i32.const 12)))

  (func (export "read_meta") (param $len i32) (result i32)
    (if (i32.gt_u (local.get $len) (global.get $NAME_MAX))
      (then
        (memory.copy (global.get $A) (i32.const 0x410) (i32.const 12))
        (call $panic (i32.const 12))
        unreachable))
    ;; the name must not live in A: hd writes the value there
    (memory.copy (global.get $NAME) (global.get $A) (local.get $len))
    (call $hd (global.get $NAME) (local.get $len)))
)
