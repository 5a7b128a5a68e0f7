// Package wtconfig sets wasmtime configuration knobs that wasmtime-go v39
// does not wrap (memory reservation, guard size, may-move), by calling the
// wasmtime C API on a *wasmtime.Config. The tests of package dirty use it to
// make memory.grow move a memory to a new address, as it does in production
// once a memory outgrows its reservation.
//
// It relies on wasmtime.Config holding the C config pointer as its only field
// (true for wasmtime-go v39); New checks that assumption as far as it can.
package wtconfig

/*
#include <stdbool.h>
#include <stdint.h>
typedef struct wasm_config_t wasm_config_t;
extern void wasmtime_config_memory_reservation_set(wasm_config_t*, uint64_t);
extern void wasmtime_config_memory_reservation_for_growth_set(wasm_config_t*, uint64_t);
extern void wasmtime_config_memory_guard_size_set(wasm_config_t*, uint64_t);
extern void wasmtime_config_memory_may_move_set(wasm_config_t*, bool);
*/
import "C"

import (
	"runtime"
	"unsafe"

	"github.com/bytecodealliance/wasmtime-go/v39"
)

// Memory sets the size of the virtual reservation of each linear memory,
// the extra reservation made when a memory moves, the guard size, and
// whether memories may move when they outgrow their reservation.
func Memory(cfg *wasmtime.Config, reservation, reservationForGrowth, guard uint64, mayMove bool) {
	if unsafe.Sizeof(*cfg) != unsafe.Sizeof(uintptr(0)) {
		panic("wtconfig: unexpected layout of wasmtime.Config")
	}
	p := *(**C.wasm_config_t)(unsafe.Pointer(cfg))
	if p == nil {
		panic("wtconfig: nil wasmtime config")
	}
	C.wasmtime_config_memory_reservation_set(p, C.uint64_t(reservation))
	C.wasmtime_config_memory_reservation_for_growth_set(p, C.uint64_t(reservationForGrowth))
	C.wasmtime_config_memory_guard_size_set(p, C.uint64_t(guard))
	C.wasmtime_config_memory_may_move_set(p, C.bool(mayMove))
	runtime.KeepAlive(cfg)
}
