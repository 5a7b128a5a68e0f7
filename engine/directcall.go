package engine

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"

	"github.com/bytecodealliance/wasmtime-go/v39"

	"github.com/wasmstate/wasmstate/engine/internal/wtcall"
)

// Calls into wasm go one of two ways (Info.CallPath):
//
//   - "direct" (the default): engine/internal/wtcall calls wasmtime's C API
//     itself. A frame sets the fuel and the epoch deadline, calls the
//     export, and reads back the fuel left, the memory's extent and the
//     contract's mutable globals in one cgo crossing; fuel reads and
//     charges in host functions cost one crossing each, and none between
//     wasm runs (the fuel left is known then).
//   - "wasmtime-go": every step through wasmtime-go's API (twenty-odd
//     crossings per call). It is the fallback when the direct path's
//     checks fail (another wasmtime-go version, a handle layout that
//     changed, a self-test that disagrees), and can be chosen with
//     WASMSTATE_CALL_PATH=wasmtime-go (tests run the suite both ways).
//
// Both paths report the same results, gas and error classes.

// Call paths (Info.CallPath).
const (
	CallPathDirect     = "direct"
	CallPathWasmtimeGo = "wasmtime-go"
)

// callPathEnv names the environment variable that forces the wasmtime-go
// path.
const callPathEnv = "WASMSTATE_CALL_PATH"

var (
	directOnce sync.Once
	directErr  error
)

// directCalls reports why the direct path cannot run here (nil: it can).
// The checks run once per process.
func directCalls() error {
	directOnce.Do(func() { directErr = directSelfTest() })
	return directErr
}

// directSelfTest checks that wtcall reads wasmtime-go's handles as they
// are: the pinned wasmtime-go version, the handles' sizes, and calls of a
// small module made both ways agreeing on results, fuel, memory, globals
// and trap codes.
func directSelfTest() error {
	if WasmtimeVersion != wasmtimeGoMod {
		return fmt.Errorf("wasmtime-go %s, the direct path is checked against %s", WasmtimeVersion, wasmtimeGoMod)
	}
	if err := wtcall.Check(); err != nil {
		return err
	}
	bin, err := wasmtime.Wat2Wasm(selfTestWat)
	if err != nil {
		return err
	}
	eng := wasmtime.NewEngineWithConfig(wasmConfig())
	defer eng.Close()
	mod, err := wasmtime.NewModule(eng, bin)
	if err != nil {
		return err
	}
	defer mod.Close()
	run := func(direct bool) ([]uint64, error) {
		st := wasmtime.NewStore(eng)
		defer st.Close()
		st.SetEpochDeadline(1 << 40)
		inst, err := wasmtime.NewInstance(st, mod, nil)
		if err != nil {
			return nil, err
		}
		mem := inst.GetExport(st, "memory").Memory()
		globals := []*wasmtime.Global{inst.GetExport(st, "g").Global(), inst.GetExport(st, "h").Global(), inst.GetExport(st, "f").Global(), inst.GetExport(st, "e").Global()}
		cx := wtcall.ContextOf(st)
		var wg []wtcall.Global
		for _, g := range globals {
			wg = append(wg, wtcall.GlobalOf(g))
		}
		var out []uint64
		var fr wtcall.Frame
		vals := make([]uint64, len(globals))
		for _, c := range []struct {
			fn   string
			arg  int32
			fuel uint64
		}{{"add", 5, 10_000}, {"add", -9, 10_000}, {"grow", 1, 10_000}, {"trap", 0, 10_000}, {"add", 1, 3}} {
			f := inst.GetFunc(st, c.fn)
			var res int32
			code := int32(-1)
			var fuel uint64
			var size uint64
			if direct {
				s := cx.Call(&fr, wtcall.FuncOf(f), wtcall.MemoryOf(mem), c.fuel, 0, c.arg, wg, vals)
				res, fuel, size = fr.Result(), fr.Fuel(), fr.MemorySize()
				if tc, ok := fr.Code(); ok {
					code = int32(tc)
				}
				if s != wtcall.OK {
					fr.Fault().Free()
				}
			} else {
				st.SetFuel(c.fuel)
				r, err := f.Call(st, c.arg)
				res, _ = r.(int32)
				var trap *wasmtime.Trap
				if errors.As(err, &trap) && trap.Code() != nil {
					code = int32(*trap.Code())
				}
				fuel, _ = st.GetFuel()
				size = uint64(mem.DataSize(st))
				for i, g := range globals {
					vals[i] = valBits(g.Get(st))
				}
			}
			out = append(out, uint64(uint32(res)), uint64(uint32(code)), fuel, size)
			out = append(out, vals...)
			out = append(out, uint64(mem.UnsafeData(st)[16]))
		}
		return out, nil
	}
	a, err := run(false)
	if err != nil {
		return err
	}
	b, err := run(true)
	if err != nil {
		return err
	}
	if fmt.Sprint(a) != fmt.Sprint(b) {
		return fmt.Errorf("self-test: wasmtime-go says %v, direct %v", a, b)
	}
	return nil
}

// selfTestWat exercises what the direct path reads: an i32 result, the
// fuel left, a memory that grows, globals of all four types, and trap codes
// (unreachable, out of fuel).
const selfTestWat = `(module
  (memory (export "memory") 1)
  (global $g (export "g") (mut i32) (i32.const 7))
  (global $h (export "h") (mut i64) (i64.const -2))
  (global $f (export "f") (mut f64) (f64.const 1.5))
  (global $e (export "e") (mut f32) (f32.const -0.25))
  (func (export "add") (param i32) (result i32)
    (global.set $g (i32.add (global.get $g) (local.get 0)))
    (global.set $h (i64.sub (global.get $h) (i64.extend_i32_s (local.get 0))))
    (global.set $f (f64.add (global.get $f) (f64.convert_i32_s (local.get 0))))
    (global.set $e (f32.mul (global.get $e) (f32.convert_i32_s (local.get 0))))
    (i32.store8 (i32.const 16) (global.get $g))
    (global.get $g))
  (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0)))
  (func (export "trap") (param i32) (result i32) unreachable))`

// useDirect decides the engine's call path.
func useDirect(opts Options, log *slog.Logger) bool {
	path := opts.callPath
	if path == "" {
		path = os.Getenv(callPathEnv)
	}
	if path == CallPathWasmtimeGo {
		return false
	}
	if err := directCalls(); err != nil {
		log.Info("direct wasm calls unavailable; calling through wasmtime-go", "err", err)
		return false
	}
	return true
}

// enter runs the export f of c, whose frame is on top of the stack, with
// arg and limit gas, and returns its result, c's memory after it, and the
// frame's error. A Go panic a host function recovered under it is raised
// again here, as wasmtime-go's Func.Call would.
func (s *Session) enter(c *contract, f *export, arg int32, limit uint64) (int32, []byte, error) {
	s.fuelKnown, s.fuelDirty = false, false // wasm spends it now
	c.gvalid = false
	if !s.e.direct {
		if err := s.wstore.SetFuel(limit); err != nil {
			return 0, c.refresh(), fmt.Errorf("%w: set fuel: %w", ErrInternal, err)
		}
		res, callErr := f.f.Call(s.wstore, arg)
		s.raiseHostPanic()
		m, _ := res.(int32)
		return m, c.refresh(), s.frameError(callErr)
	}
	// One record per depth: a frame's record is written by C after the
	// nested frames under it have used theirs.
	d := len(s.frames)
	for len(s.wframes) < d {
		s.wframes = append(s.wframes, new(wtcall.Frame))
	}
	fr := s.wframes[d-1]
	ticks := s.ticks // the top frame sets the call's deadline
	s.ticks = 0
	st := s.owner.cx.Call(fr, f.raw, c.wmem, limit, ticks, arg, c.wglobals, c.gcache)
	s.fuelLeft, s.fuelKnown = fr.Fuel(), true
	c.gvalid = true
	c.data = fr.Memory()
	var err error
	if st == wtcall.OK {
		s.hostErr = nil
	} else {
		err = s.directError(fr, st)
	}
	s.raiseHostPanic()
	return fr.Result(), c.data, err
}

// directError is frameError for a direct call that did not return.
func (s *Session) directError(fr *wtcall.Frame, st wtcall.Status) error {
	fault := fr.Fault()
	defer fault.Free()
	switch st {
	case wtcall.NoFuel:
		s.hostErr = nil
		return fmt.Errorf("%w: set fuel: %s", ErrInternal, fault.Message())
	case wtcall.BadResult:
		// Exports are (i32) -> i32 (wasmbin): as through wasmtime-go, a
		// result that is not an i32 would read as 0.
		s.hostErr = nil
		return nil
	}
	var code *wasmtime.TrapCode
	if c, ok := fr.Code(); ok {
		code = &c
	}
	return s.classify(code, fault.Message)
}

// raiseHostPanic raises again the Go panic a host function recovered
// under the wasm call that just returned (hostEnv.Fail).
func (s *Session) raiseHostPanic() {
	if p := s.hostPanic; p != nil {
		s.hostPanic = nil
		panic(p)
	}
}
