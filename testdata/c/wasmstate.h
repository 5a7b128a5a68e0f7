/*
 * wasmstate.h - the piecrust contract ABI for freestanding C on wasm32.
 *
 * A contract is one C file that includes this header once and is built
 * with clang for wasm32 without libc (see build.sh):
 *
 *   clang --target=wasm32 -O2 -ffreestanding -nostdlib -mbulk-memory \
 *         -Wl,--no-entry -Wl,--export=A -Wl,--stack-first -Wl,--strip-all
 *
 * Module shape this produces:
 *  - one memory, exported as "memory" (wasm-ld's default);
 *  - the argument buffer: 65,536 bytes in the module's static data, named
 *    A_buf in C and "A" as a linker symbol. Exporting a *data* symbol with
 *    wasm-ld (-Wl,--export=A) emits an immutable i32 wasm global holding
 *    the symbol's address and exports it under the symbol's name, which is
 *    exactly the constant global "A" the ABI asks for (rustc/piecrust-uplink
 *    contracts get theirs the same way from a #[no_mangle] static);
 *  - exported functions of type (i32) -> (i32), declared with WS_EXPORT;
 *  - imports only from module "env", only the ABI's names, and only those
 *    the contract actually calls (wasm-ld drops unused declarations).
 *
 * Pointers are 32-bit on wasm32, so the pointer parameters below are the
 * i32 pointers of the ABI. Lengths and counts are i32, gas values i64.
 */
#ifndef WASMSTATE_H
#define WASMSTATE_H

#if !defined(__wasm32__)
#error "wasmstate.h targets wasm32: build with clang --target=wasm32"
#endif

typedef unsigned char uint8_t;
typedef unsigned int uint32_t;
typedef int int32_t;
typedef unsigned long long uint64_t;
typedef long long int64_t;
typedef __SIZE_TYPE__ size_t;

_Static_assert(sizeof(void *) == 4, "wasm32 pointers are 32-bit");
_Static_assert(sizeof(uint64_t) == 8, "uint64_t");

/* ---- the argument buffer ------------------------------------------------ */

#define WS_ARGBUF_LEN 65536u

/* Defined here: a contract is a single translation unit. The asm label
 * makes the linker symbol (and so the exported global) "A". */
uint8_t A_buf[WS_ARGBUF_LEN] __asm__("A") __attribute__((aligned(16)));

/* ---- host imports (module "env") ---------------------------------------- */

#define WS_IMPORT(name) __attribute__((import_module("env"), import_name(#name)))

/* Call contract callee_id (32 bytes) function name[0..name_len] with argument
 * A_buf[0..arg_len]. Returns the result length (result in A_buf) or a
 * negative code: -1 callee panicked (A_buf: u32 LE length + message), -2 out
 * of gas, -3 no such contract, INT32_MIN anything else. */
WS_IMPORT(c) int32_t ws_call(const uint8_t *callee_id, const char *name, uint32_t name_len,
                             uint32_t arg_len, uint64_t gas_limit);
/* Host query name(A_buf[0..arg_len]); result in A_buf, returns its length. */
WS_IMPORT(hq) uint32_t ws_hq(const char *name, uint32_t name_len, uint32_t arg_len);
/* Session metadata value under name into A_buf; returns its length, 0 = absent. */
WS_IMPORT(hd) uint32_t ws_hd(const char *name, uint32_t name_len);
/* Event with topic[0..topic_len] and data A_buf[0..arg_len]. */
WS_IMPORT(emit) void ws_emit(const char *topic, uint32_t topic_len, uint32_t arg_len);
/* Stream A_buf[0..arg_len] to the host (feeder calls only). */
WS_IMPORT(feed) void ws_feed(uint32_t arg_len);
/* 1 and the immediate caller's id in A_buf[0..32], or 0 when the host called. */
WS_IMPORT(caller) int32_t ws_caller(void);
/* All callers' ids in A_buf (immediate caller first); returns the count. */
WS_IMPORT(callstack) uint32_t ws_callstack(void);
/* Gas limit of the current frame / gas spent so far in it. */
WS_IMPORT(limit) uint64_t ws_limit(void);
WS_IMPORT(spent) uint64_t ws_spent(void);
/* Fail the call with the UTF-8 message A_buf[0..msg_len]. Does not return. */
WS_IMPORT(panic) void ws_panic(uint32_t msg_len);
/* Owner of the contract id at id_ptr (NULL = self) into A_buf; returns its
 * length, 0 when no such contract. */
WS_IMPORT(owner) uint32_t ws_owner(const uint8_t *id);
/* Own 32-byte id into A_buf[0..32]. */
WS_IMPORT(self_id) void ws_self_id(void);
/* Debug message A_buf[0..msg_len]. */
WS_IMPORT(hdebug) void ws_hdebug(uint32_t msg_len);

/* ---- exports ------------------------------------------------------------- */

/* WS_EXPORT(transfer) { ... } defines the export "transfer" of type
 * (i32) -> (i32): it receives the argument length (argument in A_buf) and
 * returns the result length (result in A_buf). */
#define WS_EXPORT(name) \
    __attribute__((export_name(#name))) uint32_t name(uint32_t arg_len); \
    uint32_t name(uint32_t arg_len)

/* ---- helpers ------------------------------------------------------------- */

/* With -mbulk-memory these are memory.copy / memory.fill instructions, so
 * no memcpy/memset symbols are needed. */
#if !defined(__wasm_bulk_memory__)
#error "build with -mbulk-memory (memcpy/memset become memory.copy/memory.fill)"
#endif
#define ws_memcpy(d, s, n) __builtin_memcpy((d), (s), (n))
#define ws_memset(d, v, n) __builtin_memset((d), (v), (n))

static inline size_t ws_strlen(const char *s) {
    size_t n = 0;
    while (s[n]) n++;
    return n;
}

static inline int ws_eq32(const uint8_t *a, const uint8_t *b) {
    uint8_t d = 0;
    for (int i = 0; i < 32; i++) d |= (uint8_t)(a[i] ^ b[i]);
    return d == 0;
}

/* Little-endian u64, as rkyv archives it (wasm is little-endian). */
static inline uint64_t ws_get_u64(const uint8_t *p) {
    uint64_t v;
    __builtin_memcpy(&v, p, 8);
    return v;
}

static inline void ws_put_u64(uint8_t *p, uint64_t v) { __builtin_memcpy(p, &v, 8); }

/* Fail the call with a message. */
__attribute__((noreturn)) static inline void ws_panic_str(const char *msg) {
    uint32_t n = (uint32_t)ws_strlen(msg);
    ws_memcpy(A_buf, msg, n);
    ws_panic(n);
    __builtin_unreachable(); /* traps if the host ever returned */
}

/* Event with a NUL-terminated topic and data A_buf[0..data_len]. */
static inline void ws_emit_str(const char *topic, uint32_t data_len) {
    ws_emit(topic, (uint32_t)ws_strlen(topic), data_len);
}

/* Debug message (NUL-terminated). */
static inline void ws_debug_str(const char *msg) {
    uint32_t n = (uint32_t)ws_strlen(msg);
    ws_memcpy(A_buf, msg, n);
    ws_hdebug(n);
}

#endif /* WASMSTATE_H */
