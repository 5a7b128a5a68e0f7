// Package wtcall calls wasmtime's C API directly for the engine's hot
// path: a call of a contract export, with its fuel, epoch deadline, the
// memory's extent and the mutable globals read back, costs one cgo
// crossing instead of the twenty-odd wasmtime-go spends on the same steps
// (type introspection, a crossing per getter, the store context fetched
// again for each).
//
// It works on the handles wasmtime-go hands out (Store, Func, Memory,
// Global) by reading their C contents: wasmtime-go keeps each handle's C
// struct as its only field. That is an implementation detail of the
// wasmtime-go version the module pins, so Check compares the layouts and
// the engine runs a self-test (call the same exports both ways) before it
// uses this package, and falls back to wasmtime-go otherwise.
//
// Host functions keep going through wasmtime-go's trampolines; a Go panic
// in one must be recovered before it reaches them (wasmtime-go would keep
// it in the store's data and re-raise it only from its own Func.Call).
package wtcall

/*
#cgo noescape wasmtime_context_get_fuel
#cgo nocallback wasmtime_context_get_fuel
#cgo noescape wst_charge
#cgo nocallback wst_charge
#cgo noescape wst_memory_data
#cgo nocallback wst_memory_data
#cgo noescape wst_read_globals
#cgo nocallback wst_read_globals
#cgo noescape wst_fault_message
#cgo nocallback wst_fault_message
#cgo noescape wasm_byte_vec_delete
#cgo nocallback wasm_byte_vec_delete
#cgo nocallback wasmtime_context_set_fuel
#cgo nocallback wst_fault_free
#include "wtcall.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"runtime"
	"unsafe"

	"github.com/bytecodealliance/wasmtime-go/v39"
)

// Func is a function handle of a store, as wasmtime's C API takes it.
type Func struct{ v C.wst_func }

// Memory is a memory handle of a store.
type Memory struct{ v C.wst_memory }

// Global is a global handle of a store.
type Global struct{ v C.wst_global }

// Check reports whether wasmtime-go's handles have the layout this package
// reads: one C struct of wasmtime's size each.
func Check() error {
	switch {
	case unsafe.Sizeof(wasmtime.Func{}) != unsafe.Sizeof(C.wst_func{}):
		return fmt.Errorf("wtcall: wasmtime.Func is %d bytes, wasmtime_func_t %d", unsafe.Sizeof(wasmtime.Func{}), unsafe.Sizeof(C.wst_func{}))
	case unsafe.Sizeof(wasmtime.Memory{}) != unsafe.Sizeof(C.wst_memory{}):
		return fmt.Errorf("wtcall: wasmtime.Memory is %d bytes, wasmtime_memory_t %d", unsafe.Sizeof(wasmtime.Memory{}), unsafe.Sizeof(C.wst_memory{}))
	case unsafe.Sizeof(wasmtime.Global{}) != unsafe.Sizeof(C.wst_global{}):
		return fmt.Errorf("wtcall: wasmtime.Global is %d bytes, wasmtime_global_t %d", unsafe.Sizeof(wasmtime.Global{}), unsafe.Sizeof(C.wst_global{}))
	}
	return nil
}

// FuncOf returns the C handle of f (see Check). A zero store id, which no
// live function has, means nil.
func FuncOf(f *wasmtime.Func) Func {
	if f == nil {
		return Func{}
	}
	return Func{*(*C.wst_func)(unsafe.Pointer(f))}
}

// Valid reports whether f is a function handle.
func (f Func) Valid() bool { return f.v.store_id != 0 }

// MemoryOf returns the C handle of m.
func MemoryOf(m *wasmtime.Memory) Memory { return Memory{*(*C.wst_memory)(unsafe.Pointer(m))} }

// GlobalOf returns the C handle of g.
func GlobalOf(g *wasmtime.Global) Global { return Global{*(*C.wst_global)(unsafe.Pointer(g))} }

// Context is a store's context, valid as long as the store is open.
type Context struct{ p *C.wasmtime_context_t }

// ContextOf returns the context of st. The caller keeps st alive (and
// open) while it uses the context.
func ContextOf(st *wasmtime.Store) Context {
	cx := Context{(*C.wasmtime_context_t)(unsafe.Pointer(st.Context()))}
	runtime.KeepAlive(st)
	return cx
}

// Status is how a call ended.
type Status int

// Statuses of Call.
const (
	OK        Status = C.WST_OK         // returned an i32
	Trap      Status = C.WST_TRAP       // trapped: see Frame.Fault, Frame.Code
	Error     Status = C.WST_ERROR      // failed with an error that is not a trap (e.g. from a host function)
	NoFuel    Status = C.WST_NO_FUEL    // the fuel could not be set (fuel off): nothing ran
	BadResult Status = C.WST_BAD_RESULT // the export did not return one i32
)

// Frame holds one call's inputs and outputs. Keep it in a long-lived
// place: its address is handed to C, which makes it escape.
type Frame struct{ f C.wst_frame }

// Call sets the store's fuel to fuel and, when ticks > 0, its epoch
// deadline to ticks from now; calls fn (an export (i32) -> i32) with arg;
// and reads back the fuel left, the extent of mem and the values of
// globals into vals (len(vals) >= len(globals)), as 64-bit patterns (i32
// zero-extended, floats as their bits). One cgo crossing.
func (cx Context) Call(fr *Frame, fn Func, mem Memory, fuel, ticks uint64, arg int32, globals []Global, vals []uint64) Status {
	fr.f._func = fn.v
	fr.f.mem = mem.v
	fr.f.fuel = C.uint64_t(fuel)
	fr.f.ticks = C.uint64_t(ticks)
	fr.f.arg = C.int32_t(arg)
	var gp *C.wst_global
	var vp *C.uint64_t
	if len(globals) > 0 {
		_ = vals[len(globals)-1]
		gp = &globals[0].v
		vp = (*C.uint64_t)(unsafe.Pointer(&vals[0]))
	}
	return Status(C.wst_call(cx.p, &fr.f, gp, C.size_t(len(globals)), vp))
}

// Result is the i32 the export returned (Status OK).
func (fr *Frame) Result() int32 { return int32(fr.f.result) }

// Fuel is the fuel left after the call.
func (fr *Frame) Fuel() uint64 { return uint64(fr.f.fuel) }

// Memory is the memory after the call: valid until wasm runs again.
func (fr *Frame) Memory() []byte {
	if fr.f.data == nil {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(fr.f.data)), int(fr.f.size))
}

// MemoryBase and MemorySize describe the memory after the call without
// making a slice.
func (fr *Frame) MemoryBase() unsafe.Pointer { return unsafe.Pointer(fr.f.data) }

// MemorySize is the memory's length in bytes after the call.
func (fr *Frame) MemorySize() uint64 { return uint64(fr.f.size) }

// Code is the trap code of a trap that has one.
func (fr *Frame) Code() (wasmtime.TrapCode, bool) {
	if fr.f.code < 0 {
		return 0, false
	}
	return wasmtime.TrapCode(fr.f.code), true
}

// Fault takes the trap or error of a failed call: the caller must Free it.
func (fr *Frame) Fault() Fault {
	f := Fault{p: fr.f.fault, status: fr.f.status}
	fr.f.fault = nil
	return f
}

// Fault is a failed call's trap or wasmtime error.
type Fault struct {
	p      unsafe.Pointer
	status C.int32_t
}

// Message is the trap's or error's message, as wasmtime-go's Trap.Message
// or Error.Error formats it.
func (f Fault) Message() string {
	if f.p == nil {
		return ""
	}
	var b C.wst_bytes
	n := C.wst_fault_message(f.p, C.int(f.status), &b)
	msg := C.GoStringN(b.data, C.int(n))
	C.wasm_byte_vec_delete(&b)
	return msg
}

// Free releases the fault.
func (f Fault) Free() { C.wst_fault_free(f.p, C.int(f.status)) }

// errFuel: the store's fuel cannot be read or set (fuel consumption off).
var errFuel = errors.New("wtcall: fuel unavailable in this store")

// Fuel returns the store's fuel. One crossing.
func (cx Context) Fuel() (uint64, error) {
	var f C.uint64_t
	if err := C.wasmtime_context_get_fuel(cx.p, &f); err != nil {
		C.wasmtime_error_delete(err)
		return 0, errFuel
	}
	return uint64(f), nil
}

// SetFuel sets the store's fuel. One crossing.
func (cx Context) SetFuel(f uint64) error {
	if err := C.wasmtime_context_set_fuel(cx.p, C.uint64_t(f)); err != nil {
		C.wasmtime_error_delete(err)
		return errFuel
	}
	return nil
}

// Charge takes gas from the store's fuel, or sets it to 0 and reports
// false when less is left. One crossing.
func (cx Context) Charge(gas uint64) (left uint64, ok bool, err error) {
	var l C.uint64_t
	switch C.wst_charge(cx.p, C.uint64_t(gas), &l) {
	case 1:
		return uint64(l), true, nil
	case 0:
		return 0, false, nil
	}
	return 0, false, errFuel
}

// MemoryData returns mem's contents as they are now. One crossing.
func (cx Context) MemoryData(mem *Memory) []byte {
	var data *C.uint8_t
	var size C.size_t
	C.wst_memory_data(cx.p, &mem.v, &data, &size)
	if data == nil {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(data)), int(size))
}

// ReadGlobals reads the values of globals into vals, as Call does. One
// crossing.
func (cx Context) ReadGlobals(globals []Global, vals []uint64) {
	if len(globals) == 0 {
		return
	}
	_ = vals[len(globals)-1]
	C.wst_read_globals(cx.p, &globals[0].v, C.size_t(len(globals)), (*C.uint64_t)(unsafe.Pointer(&vals[0])))
}
