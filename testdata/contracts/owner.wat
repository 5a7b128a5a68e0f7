;; owner.wat - contract owners through `owner`, debug messages through `hdebug`.
;;
;; Serves: the owner bytes given at deploy (committed in the contract leaf),
;; the owner of another contract, a missing contract (0 bytes), pointer 0
;; meaning "self"; hdebug recording messages only when the session enables
;; debugging.
;;
;; Memory map (2 pages):
;;   0x0100 .. 0x0120   scratch: the id to look up (never at address 0,
;;                      which `owner` reads as "self")
;;   0x10000 .. 0x20000 argument buffer A
;;
;; Exports:
;;   owner_of  id (32 bytes) -> that contract's owner bytes (0 bytes if no
;;                              such contract)
;;             ()            -> this contract's owner bytes (owner(0))
;;   debug     msg bytes     -> ()   hdebug(msg)
;; Any other argument length traps (unreachable).
(module
  (import "env" "owner" (func $owner (param i32) (result i32)))
  (import "env" "hdebug" (func $hdebug (param i32)))

  (memory (export "memory") 2)
  (global $A (export "A") i32 (i32.const 65536))

  (global $ID i32 (i32.const 0x100))

  (func (export "owner_of") (param $len i32) (result i32)
    (if (i32.eqz (local.get $len))
      (then (return (call $owner (i32.const 0)))))   ;; 0 = self
    (if (i32.ne (local.get $len) (i32.const 32))
      (then unreachable))
    ;; owner writes into A, so the id must be read from elsewhere
    (memory.copy (global.get $ID) (global.get $A) (i32.const 32))
    (call $owner (global.get $ID)))

  (func (export "debug") (param $len i32) (result i32)
    (call $hdebug (local.get $len))
    (i32.const 0))
)
