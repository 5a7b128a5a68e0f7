// wtcall.h: the few functions of wasmtime's C API (v39) that wtcall calls,
// and wtcall's own helpers. The declarations are written here because a
// cgo file cannot find wasmtime-go's headers (they live in the module
// cache); TestHeaderMatchesWasmtime compiles this file after the real
// wasmtime.h, where the prototypes must agree with wasmtime's and the
// static assertions below compare the layouts.
#ifndef WASMSTATE_WTCALL_H
#define WASMSTATE_WTCALL_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

// Layout copies of wasmtime's handle and value types.
typedef struct wst_func { uint64_t store_id; void *priv; } wst_func;
typedef struct wst_memory {
	struct { uint64_t store_id; uint32_t priv1; } id; // padded to 16 bytes, as in wasmtime's
	uint32_t priv2;
} wst_memory;
typedef struct wst_global { uint64_t store_id; uint32_t priv1, priv2, priv3; } wst_global;
typedef struct wst_val {
	uint8_t kind;
	union { int32_t i32; int64_t i64; float f32; double f64; uint64_t words[3]; } of;
} wst_val;
typedef struct wst_bytes { size_t size; char *data; } wst_bytes;

#ifndef WASMTIME_VAL_H
// wasmtime's own names, when its headers are not included.
typedef struct wasmtime_context wasmtime_context_t;
typedef struct wasmtime_error wasmtime_error_t;
typedef struct wasm_trap_t wasm_trap_t;
typedef wst_func wasmtime_func_t;
typedef wst_memory wasmtime_memory_t;
typedef wst_global wasmtime_global_t;
typedef wst_val wasmtime_val_t;
typedef wst_bytes wasm_byte_vec_t;
typedef wst_bytes wasm_name_t;
typedef wst_bytes wasm_message_t;
typedef uint8_t wasmtime_trap_code_t;
#else
_Static_assert(sizeof(wst_func) == sizeof(wasmtime_func_t), "wasmtime_func_t size");
_Static_assert(sizeof(wst_memory) == sizeof(wasmtime_memory_t), "wasmtime_memory_t size");
_Static_assert(offsetof(wst_memory, priv2) == offsetof(wasmtime_memory_t, __private2), "wasmtime_memory_t layout");
_Static_assert(sizeof(wst_global) == sizeof(wasmtime_global_t), "wasmtime_global_t size");
_Static_assert(offsetof(wst_global, priv3) == offsetof(wasmtime_global_t, __private3), "wasmtime_global_t layout");
_Static_assert(offsetof(wst_func, priv) == offsetof(wasmtime_func_t, __private), "wasmtime_func_t layout");
_Static_assert(sizeof(wst_val) == sizeof(wasmtime_val_t), "wasmtime_val_t size");
_Static_assert(offsetof(wst_val, of) == offsetof(wasmtime_val_t, of), "wasmtime_val_t.of offset");
_Static_assert(sizeof(wst_bytes) == sizeof(wasm_byte_vec_t), "wasm_byte_vec_t size");
_Static_assert(offsetof(wst_bytes, data) == offsetof(wasm_byte_vec_t, data), "wasm_byte_vec_t.data offset");
_Static_assert(WASMTIME_I32 == 0 && WASMTIME_I64 == 1 && WASMTIME_F32 == 2 && WASMTIME_F64 == 3, "value kinds");
#endif

// wasmtime's C API, as declared by its headers.
wasmtime_error_t *wasmtime_context_set_fuel(wasmtime_context_t *store, uint64_t fuel);
wasmtime_error_t *wasmtime_context_get_fuel(const wasmtime_context_t *context, uint64_t *fuel);
void wasmtime_context_set_epoch_deadline(wasmtime_context_t *context, uint64_t ticks_beyond_current);
wasmtime_error_t *wasmtime_func_call(wasmtime_context_t *store, const wasmtime_func_t *func,
	const wasmtime_val_t *args, size_t nargs, wasmtime_val_t *results, size_t nresults, wasm_trap_t **trap);
void wasmtime_global_get(wasmtime_context_t *store, const wasmtime_global_t *global, wasmtime_val_t *out);
uint8_t *wasmtime_memory_data(const wasmtime_context_t *store, const wasmtime_memory_t *memory);
size_t wasmtime_memory_data_size(const wasmtime_context_t *store, const wasmtime_memory_t *memory);
bool wasmtime_trap_code(const wasm_trap_t *, wasmtime_trap_code_t *code);
void wasm_trap_message(const wasm_trap_t *, wasm_message_t *out);
void wasm_trap_delete(wasm_trap_t *);
void wasmtime_error_message(const wasmtime_error_t *error, wasm_name_t *message);
void wasmtime_error_delete(wasmtime_error_t *error);
void wasm_byte_vec_delete(wasm_byte_vec_t *);

// What a call ended with (wst_frame.status).
enum {
	WST_OK = 0,      // returned; result is set
	WST_TRAP = 1,    // fault is a wasm_trap_t
	WST_ERROR = 2,   // fault is a wasmtime_error_t
	WST_NO_FUEL = 3, // fuel could not be set (fault is the error)
	WST_BAD_RESULT = 4, // the export did not return one i32
};

// wst_frame is one call of an export (i32) -> i32: what goes in, and what
// comes out, in one crossing.
typedef struct wst_frame {
	wst_func func;
	wst_memory mem;
	uint64_t fuel;   // in: the fuel to set; out: the fuel left
	uint64_t ticks;  // in: the epoch deadline in ticks from now (0: keep)
	uint8_t *data;   // out: the memory's base after the call
	size_t size;     // out: the memory's length after the call
	void *fault;     // out: the trap or error, owned by the caller
	int32_t arg;     // in
	int32_t result;  // out
	int32_t status;  // out: WST_*
	int32_t code;    // out: the trap code, or -1
} wst_frame;

int wst_call(wasmtime_context_t *cx, wst_frame *f, const wst_global *globals, size_t nglobals, uint64_t *vals);
void wst_read_globals(wasmtime_context_t *cx, const wst_global *globals, size_t n, uint64_t *vals);
void wst_memory_data(wasmtime_context_t *cx, const wst_memory *mem, uint8_t **data, size_t *size);
int wst_charge(wasmtime_context_t *cx, uint64_t gas, uint64_t *left);
size_t wst_fault_message(void *fault, int status, wst_bytes *out);
void wst_fault_free(void *fault, int status);

#endif
