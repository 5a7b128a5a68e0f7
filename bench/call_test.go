package bench

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/bytecodealliance/wasmtime-go/v39"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/wasmstate/wasmstate/engine"
	"github.com/wasmstate/wasmstate/engine/dirty"
	"github.com/wasmstate/wasmstate/merkle"
)

// Contract-call latency in an open session, side by side with the same
// export of the same module called directly through wasmtime-go (same
// wasmtime configuration: fuel on) and through wazero (compiler mode; wazero
// has no fuel metering), in the same process.
//
// Each raw call does what a host minimally does per call: (wasmtime) set
// the fuel, call the export with the argument length, and copy the result
// (read_value: 8 bytes) out of the argument buffer; (wazero) call with a
// reused stack and copy the result out.
//
// Sub-benchmarks:
//
//	<fn>/wasmstate, <fn>/wasmtime, <fn>/wazero: one call per op.
//	<fn>/paired: per op, 16 calls of each, interleaved on one OS thread,
//	  so the ratios are measured under the same machine load. It reports
//	  x-wasmtime and x-wazero (wasmstate's wall time per call divided by the
//	  raw one), cpu-x-wasmtime and cpu-x-wazero (the same on the thread's
//	  CPU time), and the per-call times (wasmstate-ns, wasmstate-cpu-ns, ...).
//
// cgo-calls/op counts Go→C crossings (runtime.NumCgoCall) per call;
// cpu-ns/op is the process's CPU time per call.
func BenchmarkCall(b *testing.B) {
	for _, fn := range []string{"read_value", "increment"} {
		b.Run(fn, func(b *testing.B) {
			b.Run("wasmstate", func(b *testing.B) {
				ws := newWSCounter(b, dirty.Auto)
				defer ws.close()
				benchCalls(b, ws.callFn(b, fn))
			})
			b.Run("wasmtime", func(b *testing.B) {
				wt := newWTCounter(b)
				defer wt.close()
				benchCalls(b, wt.callFn(b, fn))
			})
			b.Run("wazero", func(b *testing.B) {
				wz := newWZCounter(b)
				defer wz.close()
				benchCalls(b, wz.callFn(b, fn))
			})
			b.Run("paired", func(b *testing.B) {
				ws := newWSCounter(b, dirty.Auto)
				defer ws.close()
				wt := newWTCounter(b)
				defer wt.close()
				wz := newWZCounter(b)
				defer wz.close()
				benchPaired(b, []string{"wasmstate", "wasmtime", "wazero"},
					[]func(){ws.callFn(b, fn), wt.callFn(b, fn), wz.callFn(b, fn)})
			})
		})
	}
}

// BenchmarkCallTracker is BenchmarkCall's wasmstate case per dirty tracker.
func BenchmarkCallTracker(b *testing.B) {
	for _, kind := range trackers() {
		for _, fn := range []string{"read_value", "increment"} {
			b.Run(kind.String()+"/"+fn, func(b *testing.B) {
				ws := newWSCounter(b, kind)
				defer ws.close()
				benchCalls(b, ws.callFn(b, fn))
			})
		}
	}
}

// BenchmarkInterContractCall: callcenter → counter → return, as one
// top-level call (query_counter: the callee runs read_value;
// increment_counter: the callee runs increment), with direct, the same
// callee export called from the host, for reference.
func BenchmarkInterContractCall(b *testing.B) {
	e := openEngine(b, "", dirty.Auto)
	defer e.Close()
	s := newSession(b, e, merkle.EmptyState())
	counter := deploy(b, s, wasmCode(b, "counter"), engine.DeployOptions{})
	center := deploy(b, s, wasmCode(b, "callcenter"), engine.DeployOptions{})
	root := commit(b, s)
	s.Close()
	s = newSession(b, e, root)
	defer s.Close()
	for _, c := range []struct{ name, fn, callee string }{
		{"query_counter", "query_counter", "read_value"},
		{"increment_counter", "increment_counter", "increment"},
	} {
		b.Run(c.name, func(b *testing.B) {
			call(b, s, center, c.fn, counter[:]) // loads both contracts
			benchCalls(b, func() {
				if _, err := s.Call(context.Background(), center, c.fn, counter[:], bigGas); err != nil {
					b.Fatal(err)
				}
			})
		})
		b.Run(c.name+"/direct", func(b *testing.B) {
			benchCalls(b, func() {
				if _, err := s.Call(context.Background(), counter, c.callee, nil, bigGas); err != nil {
					b.Fatal(err)
				}
			})
		})
	}
}

// benchCalls times f per op, and reports the process CPU time per op
// (cpu-ns/op) and the cgo crossings per op.
func benchCalls(b *testing.B, f func()) (wall, cpu float64) {
	f() // warm: the first call loads the contract
	cgo0 := runtime.NumCgoCall()
	b.ReportAllocs()
	b.ResetTimer()
	c := startCPU()
	for range b.N {
		f()
	}
	b.StopTimer()
	b.ReportMetric(float64(runtime.NumCgoCall()-cgo0)/float64(b.N), "cgo-calls/op")
	return float64(b.Elapsed().Nanoseconds()) / float64(b.N), c.report(b)
}

// benchPaired runs blocks of 16 calls of each function in turn, on one OS
// thread, and reports per call the wall time (<name>-ns) and the thread's
// CPU time (<name>-cpu-ns) of each, and the ratios of the first function's
// figures to the others' (x-<name> on wall time, cpu-x-<name> on CPU
// time). The CPU figures do not count the time other processes hold the
// CPU, so on a shared machine they are the steadier ones.
func benchPaired(b *testing.B, names []string, fns []func()) {
	const block = 16
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	for _, f := range fns {
		f()
	}
	wall := make([]time.Duration, len(fns))
	cpu := make([]time.Duration, len(fns))
	b.ResetTimer()
	for range b.N {
		for i, f := range fns {
			c0 := threadCPUTime()
			t0 := time.Now()
			for range block {
				f()
			}
			wall[i] += time.Since(t0)
			cpu[i] += threadCPUTime() - c0
		}
	}
	b.StopTimer()
	per := func(d []time.Duration, i int) float64 { return float64(d[i].Nanoseconds()) / float64(b.N*block) }
	for i, n := range names {
		b.ReportMetric(per(wall, i), n+"-ns")
		b.ReportMetric(per(cpu, i), n+"-cpu-ns")
		if i > 0 {
			b.ReportMetric(per(wall, 0)/per(wall, i), "x-"+n)
			b.ReportMetric(per(cpu, 0)/per(cpu, i), "cpu-x-"+n)
		}
	}
}

// wsCounter is a counter contract in an open wasmstate session.
type wsCounter struct {
	e  *engine.Engine
	s  *engine.Session
	id merkle.ContractID
}

func newWSCounter(tb testing.TB, kind dirty.Kind) *wsCounter {
	e := openEngine(tb, "", kind)
	s := newSession(tb, e, merkle.EmptyState())
	id := deploy(tb, s, wasmCode(tb, "counter"), engine.DeployOptions{})
	root := commit(tb, s)
	s.Close()
	return &wsCounter{e: e, s: newSession(tb, e, root), id: id}
}

func (w *wsCounter) callFn(tb testing.TB, fn string) func() {
	return func() {
		if _, err := w.s.Call(context.Background(), w.id, fn, nil, bigGas); err != nil {
			tb.Fatal(err)
		}
	}
}

func (w *wsCounter) close() { w.s.Close(); w.e.Close() }

// counterA is the argument buffer of counter.wat.
const counterA = 65536

// wtCounter is counter.wat instantiated directly with wasmtime-go.
type wtCounter struct {
	store *wasmtime.Store
	inst  *wasmtime.Instance
	mem   *wasmtime.Memory
	out   []byte
}

func newWTCounter(tb testing.TB) *wtCounter {
	e := wasmtime.NewEngineWithConfig(engine.WasmtimeConfig())
	m, err := wasmtime.NewModule(e, wasmCode(tb, "counter"))
	if err != nil {
		tb.Fatal(err)
	}
	st := wasmtime.NewStore(e)
	// The engine's configuration has epoch interruption on; this store's
	// deadline is never reached (the engine sets one per call, as cheap).
	st.SetEpochDeadline(1 << 62)
	inst, err := wasmtime.NewInstance(st, m, nil)
	if err != nil {
		tb.Fatal(err)
	}
	return &wtCounter{store: st, inst: inst, mem: inst.GetExport(st, "memory").Memory(), out: make([]byte, 8)}
}

func (w *wtCounter) callFn(tb testing.TB, fn string) func() {
	f := w.inst.GetFunc(w.store, fn)
	return func() {
		if err := w.store.SetFuel(bigGas); err != nil {
			tb.Fatal(err)
		}
		res, err := f.Call(w.store, int32(0))
		if err != nil {
			tb.Fatal(err)
		}
		if n := res.(int32); n > 0 {
			copy(w.out, w.mem.UnsafeData(w.store)[counterA:counterA+n])
		}
	}
}

func (w *wtCounter) close() { w.store.Close() }

// wzCounter is counter.wat instantiated with wazero's compiler.
type wzCounter struct {
	ctx context.Context
	rt  wazero.Runtime
	mod api.Module
	out []byte
}

func newWZCounter(tb testing.TB) *wzCounter {
	ctx := context.Background()
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigCompiler())
	mod, err := rt.Instantiate(ctx, wasmCode(tb, "counter"))
	if err != nil {
		tb.Fatal(err)
	}
	return &wzCounter{ctx: ctx, rt: rt, mod: mod, out: make([]byte, 8)}
}

func (w *wzCounter) callFn(tb testing.TB, fn string) func() {
	f := w.mod.ExportedFunction(fn)
	mem := w.mod.Memory()
	stack := make([]uint64, 1)
	return func() {
		stack[0] = 0
		if err := f.CallWithStack(w.ctx, stack); err != nil {
			tb.Fatal(err)
		}
		if n := uint32(stack[0]); n > 0 {
			b, _ := mem.Read(counterA, n)
			copy(w.out, b)
		}
	}
}

func (w *wzCounter) close() { w.rt.Close(w.ctx) }
