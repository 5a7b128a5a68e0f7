#include <string.h>
#include "wtcall.h"

// globals_bits stores each global's value as its 64-bit pattern (i32
// zero-extended, floats as their IEEE bits), as the engine keeps them.
static void globals_bits(wasmtime_context_t *cx, const wst_global *globals, size_t n, uint64_t *vals) {
	for (size_t i = 0; i < n; i++) {
		wst_val v;
		memset(&v, 0, sizeof v);
		wasmtime_global_get(cx, &globals[i], &v);
		uint64_t bits = 0;
		switch (v.kind) {
		case 0: bits = (uint64_t)(uint32_t)v.of.i32; break;
		case 1: bits = (uint64_t)v.of.i64; break;
		case 2: { uint32_t b; memcpy(&b, &v.of.f32, 4); bits = b; break; }
		default: memcpy(&bits, &v.of.f64, 8); break;
		}
		vals[i] = bits;
	}
}

int wst_call(wasmtime_context_t *cx, wst_frame *f, const wst_global *globals, size_t nglobals, uint64_t *vals) {
	f->fault = NULL;
	f->code = -1;
	f->result = 0;
	wasmtime_error_t *err = wasmtime_context_set_fuel(cx, f->fuel);
	if (err != NULL) {
		f->fault = err;
		return f->status = WST_NO_FUEL;
	}
	if (f->ticks != 0)
		wasmtime_context_set_epoch_deadline(cx, f->ticks);
	wst_val arg, res;
	memset(&arg, 0, sizeof arg);
	memset(&res, 0, sizeof res);
	arg.kind = 0;
	arg.of.i32 = f->arg;
	wasm_trap_t *trap = NULL;
	err = wasmtime_func_call(cx, &f->func, &arg, 1, &res, 1, &trap);
	if (err != NULL) {
		f->fault = err;
		f->status = WST_ERROR;
	} else if (trap != NULL) {
		wasmtime_trap_code_t code;
		if (wasmtime_trap_code(trap, &code))
			f->code = code;
		f->fault = trap;
		f->status = WST_TRAP;
	} else if (res.kind != 0) {
		f->status = WST_BAD_RESULT;
	} else {
		f->result = res.of.i32;
		f->status = WST_OK;
	}
	uint64_t fuel = 0;
	err = wasmtime_context_get_fuel(cx, &fuel);
	if (err != NULL) // cannot happen with fuel on: set_fuel succeeded
		wasmtime_error_delete(err);
	f->fuel = fuel;
	f->data = wasmtime_memory_data(cx, &f->mem);
	f->size = wasmtime_memory_data_size(cx, &f->mem);
	globals_bits(cx, globals, nglobals, vals);
	return f->status;
}

void wst_read_globals(wasmtime_context_t *cx, const wst_global *globals, size_t n, uint64_t *vals) {
	globals_bits(cx, globals, n, vals);
}

void wst_memory_data(wasmtime_context_t *cx, const wst_memory *mem, uint8_t **data, size_t *size) {
	*data = wasmtime_memory_data(cx, mem);
	*size = wasmtime_memory_data_size(cx, mem);
}

int wst_charge(wasmtime_context_t *cx, uint64_t gas, uint64_t *left) {
	uint64_t fuel = 0;
	wasmtime_error_t *err = wasmtime_context_get_fuel(cx, &fuel);
	if (err != NULL) {
		wasmtime_error_delete(err);
		return -1;
	}
	int ok = fuel >= gas;
	fuel = ok ? fuel - gas : 0;
	err = wasmtime_context_set_fuel(cx, fuel);
	if (err != NULL) {
		wasmtime_error_delete(err);
		return -1;
	}
	*left = fuel;
	return ok;
}

size_t wst_fault_message(void *fault, int status, wst_bytes *out) {
	out->size = 0;
	out->data = NULL;
	if (status == WST_TRAP) {
		wasm_trap_message((const wasm_trap_t *)fault, out);
		// The message ends with a NUL, which is not part of it.
		return out->size > 0 ? out->size - 1 : 0;
	}
	wasmtime_error_message((const wasmtime_error_t *)fault, out);
	return out->size;
}

void wst_fault_free(void *fault, int status) {
	if (fault == NULL)
		return;
	if (status == WST_TRAP)
		wasm_trap_delete((wasm_trap_t *)fault);
	else
		wasmtime_error_delete((wasmtime_error_t *)fault);
}
