// Package driver runs Dusk data drivers: small wasm modules, one per
// contract, that turn a function's JSON arguments into the rkyv bytes the
// contract reads, and its rkyv results and events back into JSON. Dusk ships
// one beside each contract built with its SDK (rusk's data-drivers/), so
// that wallets and explorers need not know each contract's types.
//
// A driver is untrusted code. It runs in its own wasmtime engine and store
// with no imports at all (it can compute, nothing else), a fuel budget per
// call and a cap on its memory; a driver that traps, loops, exhausts its
// memory or returns nonsense yields an error, never a crash or a hang.
//
// # ABI
//
// As implemented by dusk-data-driver (rusk data-drivers/data-driver,
// src/wasm.rs and src/mem.rs) and loaded by w3sper.js and its Rust reader;
// SPEC.md §13 restates it. wasm32; every pointer and size is an i32:
//
//	memory                                   the linear memory
//	init()                                   called once after instantiation
//	alloc(size) -> ptr                       a buffer for the host to fill
//	dealloc(ptr, size)                       frees it
//	encode_input_fn(fn, fn_len, json, json_len, out, out_size) -> code
//	decode_output_fn(fn, fn_len, rkyv, rkyv_len, out, out_size) -> code
//	decode_input_fn(...), decode_event(event, event_len, ...)  (optional)
//	get_schema(out, out_size) -> code, get_version(out, out_size) -> code  (optional)
//	get_last_error(out, out_size) -> code    the message of the last failure
//
// A call writes its result at out as a u32 little-endian length followed by
// that many bytes, and returns 0; a non-zero code (1 invalid input, 2
// operation failed, 3 not initialised, 4 output buffer too small) means
// failure, explained by get_last_error. The host retries code 4 with a
// larger buffer, up to Options.MaxOutputBytes.
package driver

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/bytecodealliance/wasmtime-go/v39"
)

// Sentinel errors. Every error of the package matches one of them.
var (
	// ErrInvalidDriver is returned when the module is not a data driver (not wasm, has
	// imports, lacks a required export or has one of the wrong type), or
	// its init failed.
	ErrInvalidDriver = errors.New("driver: not a valid data driver")
	// ErrDriverFailed is returned when the driver refused the input or failed (its error
	// code and message are in a *DriverError).
	ErrDriverFailed = errors.New("driver: driver reported an error")
	// ErrLimit is returned when the driver ran out of fuel or memory, trapped, or returned
	// output outside its memory or over MaxOutputBytes.
	ErrLimit = errors.New("driver: driver exceeded its limits or misbehaved")
	// ErrClosed is returned after the driver was closed.
	ErrClosed = errors.New("driver: closed")
)

// DriverError is a failure the driver reported. It matches
// ErrDriverFailed.
type DriverError struct {
	Op      string // the export called, e.g. "encode_input_fn"
	Name    string // the function or event name
	Code    int32  // the driver's error code (1..4, or another non-zero)
	Message string // from get_last_error
}

func (e *DriverError) Error() string {
	return fmt.Sprintf("driver: %s(%q) failed with code %d (%s): %s", e.Op, e.Name, e.Code, codeName(e.Code), e.Message)
}

// Is makes DriverError match ErrDriverFailed.
func (e *DriverError) Is(target error) bool { return target == ErrDriverFailed }

func codeName(c int32) string {
	switch c {
	case 1:
		return "invalid input"
	case 2:
		return "operation error"
	case 3:
		return "driver not initialized"
	case 4:
		return "buffer too small"
	}
	return "unknown code"
}

// Options bound a driver. The zero value gives the defaults.
type Options struct {
	// Fuel is the wasmtime fuel of one call (0: DefaultFuel).
	Fuel uint64
	// MaxMemoryBytes caps the driver's linear memory (0: DefaultMaxMemory).
	MaxMemoryBytes int64
	// MaxOutputBytes caps one result (0: DefaultMaxOutput).
	MaxOutputBytes int
}

// Defaults of Options.
const (
	DefaultFuel      = 1_000_000_000
	DefaultMaxMemory = 64 << 20
	DefaultMaxOutput = 4 << 20
	// firstOutput is the first output buffer offered, as Dusk's loaders do.
	firstOutput = 64 << 10
	errorOutput = 4 << 10
)

// Driver is a loaded data driver. Its methods are safe for concurrent use
// (calls are serialised: a driver instance is single-threaded).
type Driver struct {
	mu     sync.Mutex
	closed bool
	opts   Options
	engine *wasmtime.Engine
	store  *wasmtime.Store
	mem    *wasmtime.Memory
	funcs  map[string]*wasmtime.Func
}

// exports lists the ABI: name, parameter count (all i32), whether it
// returns an i32, whether it is required.
var exports = []struct {
	name     string
	params   int
	result   bool
	required bool
}{
	{"init", 0, false, true},
	{"alloc", 1, true, true},
	{"dealloc", 2, false, true},
	{"get_last_error", 2, true, true},
	{"encode_input_fn", 6, true, true},
	{"decode_output_fn", 6, true, true},
	{"decode_input_fn", 6, true, false},
	{"decode_event", 6, true, false},
	{"get_schema", 2, true, false},
	{"get_version", 2, true, false},
}

// Load compiles and instantiates a driver module (wasm bytes) and runs its
// init.
func Load(wasm []byte, o *Options) (*Driver, error) {
	opts := Options{}
	if o != nil {
		opts = *o
	}
	if opts.Fuel == 0 {
		opts.Fuel = DefaultFuel
	}
	if opts.MaxMemoryBytes <= 0 {
		opts.MaxMemoryBytes = DefaultMaxMemory
	}
	if opts.MaxOutputBytes <= 0 {
		opts.MaxOutputBytes = DefaultMaxOutput
	}
	cfg := wasmtime.NewConfig()
	cfg.SetConsumeFuel(true)
	cfg.SetWasmMemory64(false)
	cfg.SetMaxWasmStack(512 << 10)
	engine := wasmtime.NewEngineWithConfig(cfg)
	mod, err := wasmtime.NewModule(engine, wasm)
	if err != nil {
		return nil, fmt.Errorf("%w: %s", ErrInvalidDriver, firstLine(err.Error()))
	}
	if imps := mod.Imports(); len(imps) > 0 {
		var names []string
		for _, im := range imps {
			n := ""
			if im.Name() != nil {
				n = *im.Name()
			}
			names = append(names, im.Module()+"."+n)
		}
		return nil, fmt.Errorf("%w: it imports %s (a driver may import nothing)", ErrInvalidDriver, strings.Join(names, ", "))
	}
	if err := checkExports(mod); err != nil {
		return nil, err
	}
	store := wasmtime.NewStore(engine)
	store.Limiter(opts.MaxMemoryBytes, 100_000, 1, 1, 1)
	d := &Driver{opts: opts, engine: engine, store: store, funcs: map[string]*wasmtime.Func{}}
	if err := store.SetFuel(opts.Fuel); err != nil {
		return nil, fmt.Errorf("%w: set fuel: %v", ErrLimit, err)
	}
	inst, err := wasmtime.NewInstance(store, mod, nil)
	if err != nil {
		store.Close()
		return nil, fmt.Errorf("%w: instantiate: %s", ErrInvalidDriver, firstLine(err.Error()))
	}
	d.mem = inst.GetExport(store, "memory").Memory()
	for _, ex := range exports {
		if f := inst.GetFunc(store, ex.name); f != nil {
			d.funcs[ex.name] = f
		}
	}
	if _, err := d.call("init"); err != nil {
		store.Close()
		return nil, fmt.Errorf("%w: init: %w", ErrInvalidDriver, err)
	}
	return d, nil
}

func checkExports(mod *wasmtime.Module) error {
	have := map[string]*wasmtime.ExternType{}
	for _, ex := range mod.Exports() {
		have[ex.Name()] = ex.Type()
	}
	if t, ok := have["memory"]; !ok || t.MemoryType() == nil {
		return fmt.Errorf("%w: no memory export", ErrInvalidDriver)
	}
	for _, ex := range exports {
		t, ok := have[ex.name]
		if !ok {
			if ex.required {
				return fmt.Errorf("%w: no %s export", ErrInvalidDriver, ex.name)
			}
			continue
		}
		ft := t.FuncType()
		if ft == nil || len(ft.Params()) != ex.params || (len(ft.Results()) == 1) != ex.result || len(ft.Results()) > 1 {
			return fmt.Errorf("%w: %s has the wrong type", ErrInvalidDriver, ex.name)
		}
		for _, p := range append(ft.Params(), ft.Results()...) {
			if p.Kind() != wasmtime.KindI32 {
				return fmt.Errorf("%w: %s has the wrong type (want i32 values)", ErrInvalidDriver, ex.name)
			}
		}
	}
	return nil
}

// Close releases the driver.
func (d *Driver) Close() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.closed {
		d.closed = true
		d.store.Close()
	}
}

// EncodeInput turns fn's JSON arguments into the bytes the contract reads.
func (d *Driver) EncodeInput(fn string, jsonArgs []byte) ([]byte, error) {
	return d.run("encode_input_fn", fn, jsonArgs)
}

// DecodeOutput turns fn's result bytes into JSON.
func (d *Driver) DecodeOutput(fn string, rkyv []byte) (json.RawMessage, error) {
	return d.runJSON("decode_output_fn", fn, rkyv)
}

// DecodeInput turns fn's argument bytes into JSON (an optional export).
func (d *Driver) DecodeInput(fn string, rkyv []byte) (json.RawMessage, error) {
	return d.runJSON("decode_input_fn", fn, rkyv)
}

// DecodeEvent turns the data of an event with the given topic into JSON
// (an optional export).
func (d *Driver) DecodeEvent(topic string, rkyv []byte) (json.RawMessage, error) {
	return d.runJSON("decode_event", topic, rkyv)
}

// Schema returns the driver's description of the contract (an optional
// export; Dusk's drivers return JSON).
func (d *Driver) Schema() (string, error) {
	b, err := d.run("get_schema", "", nil)
	return string(b), err
}

// Version returns the driver's version string (an optional export).
func (d *Driver) Version() (string, error) {
	b, err := d.run("get_version", "", nil)
	return string(b), err
}

func (d *Driver) runJSON(op, name string, in []byte) (json.RawMessage, error) {
	b, err := d.run(op, name, in)
	if err != nil {
		return nil, err
	}
	if !json.Valid(b) {
		return nil, fmt.Errorf("%w: %s(%q) returned invalid JSON", ErrLimit, op, name)
	}
	return json.RawMessage(b), nil
}

// run calls op: with (name, in, out) for the six-argument exports, (out)
// for the others, growing the output buffer while the driver says it is too
// small.
func (d *Driver) run(op, name string, in []byte) ([]byte, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil, ErrClosed
	}
	if d.funcs[op] == nil {
		return nil, fmt.Errorf("%w: the driver has no %s export", ErrDriverFailed, op)
	}
	if err := d.store.SetFuel(d.opts.Fuel); err != nil {
		return nil, fmt.Errorf("%w: set fuel: %v", ErrLimit, err)
	}
	var args []any
	if op != "get_schema" && op != "get_version" {
		np, err := d.put([]byte(name))
		if err != nil {
			return nil, err
		}
		defer d.free(np, len(name))
		ip, err := d.put(in)
		if err != nil {
			return nil, err
		}
		defer d.free(ip, len(in))
		args = []any{np, int32(len(name)), ip, int32(len(in))}
	}
	for size := firstOutput; ; size *= 2 {
		size = min(size, d.opts.MaxOutputBytes+4)
		out, code, err := d.callOut(op, args, size)
		if err != nil {
			return nil, err
		}
		switch {
		case code == 0:
			return out, nil
		case code == 4 && size < d.opts.MaxOutputBytes+4:
			continue
		}
		return nil, &DriverError{Op: op, Name: name, Code: code, Message: d.lastError()}
	}
}

// callOut calls op with args and an output buffer of size bytes, and
// returns the output (on code 0) and the code.
func (d *Driver) callOut(op string, args []any, size int) ([]byte, int32, error) {
	op0, err := d.alloc(size)
	if err != nil {
		return nil, 0, err
	}
	defer d.free(op0, size)
	res, err := d.call(op, append(args, op0, int32(size))...)
	if err != nil {
		return nil, 0, err
	}
	code, _ := res.(int32)
	if code != 0 {
		return nil, code, nil
	}
	mem := d.mem.UnsafeData(d.store)
	start := int64(uint32(op0))
	if start+4 > int64(len(mem)) {
		return nil, 0, fmt.Errorf("%w: %s: output buffer outside memory", ErrLimit, op)
	}
	n := int64(binary.LittleEndian.Uint32(mem[start:]))
	if n > int64(size)-4 || start+4+n > int64(len(mem)) {
		return nil, 0, fmt.Errorf("%w: %s: output length %d does not fit its %d-byte buffer", ErrLimit, op, n, size)
	}
	return append([]byte(nil), mem[start+4:start+4+n]...), 0, nil
}

// lastError asks the driver why its last call failed.
func (d *Driver) lastError() string {
	out, code, err := d.callOut("get_last_error", nil, errorOutput)
	if err != nil || code != 0 {
		return "(no message)"
	}
	return strings.ToValidUTF8(string(out), "?")
}

// call calls an export, turning traps (fuel, memory, unreachable) into
// ErrLimit.
func (d *Driver) call(name string, args ...any) (any, error) {
	f := d.funcs[name]
	if f == nil {
		return nil, fmt.Errorf("%w: no %s export", ErrInvalidDriver, name)
	}
	res, err := f.Call(d.store, args...)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %s", ErrLimit, name, firstLine(err.Error()))
	}
	return res, nil
}

func (d *Driver) alloc(n int) (int32, error) {
	res, err := d.call("alloc", int32(n))
	if err != nil {
		return 0, err
	}
	p, _ := res.(int32)
	if p == 0 || int64(uint32(p))+int64(n) > int64(d.mem.DataSize(d.store)) {
		return 0, fmt.Errorf("%w: alloc(%d) returned %#x, outside its memory", ErrLimit, n, uint32(p))
	}
	return p, nil
}

// put copies b into a fresh driver buffer.
func (d *Driver) put(b []byte) (int32, error) {
	p, err := d.alloc(len(b))
	if err != nil {
		return 0, err
	}
	copy(d.mem.UnsafeData(d.store)[uint32(p):], b)
	return p, nil
}

func (d *Driver) free(p int32, n int) { d.call("dealloc", p, int32(n)) }

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}
