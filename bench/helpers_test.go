package bench

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/bytecodealliance/wasmtime-go/v39"

	"github.com/wasmstate/wasmstate/engine"
	"github.com/wasmstate/wasmstate/engine/dirty"
	"github.com/wasmstate/wasmstate/merkle"
)

// Shared helpers of the engine-level benchmarks. Expensive fixtures (big
// states, stores with many commits) are built lazily, once per process, in
// a temporary directory that TestMain removes.

// bigGas is the gas limit of calls that are not about gas.
const bigGas = 10_000_000_000

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func TestMain(m *testing.M) {
	code := m.Run()
	writeCSVs()
	if fixtures.dir != "" {
		os.RemoveAll(fixtures.dir)
	}
	os.Exit(code)
}

var watCache sync.Map

// wasmCode compiles the WAT contract name: bench/testdata/<name>.wat, or
// else testdata/contracts/<name>.wat.
func wasmCode(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := compileWAT(name)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func compileWAT(name string) ([]byte, error) {
	if b, ok := watCache.Load(name); ok {
		return b.([]byte), nil
	}
	path := filepath.Join("testdata", name+".wat")
	if _, err := os.Stat(path); err != nil {
		path = filepath.Join("..", "testdata", "contracts", name+".wat")
	}
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	b, err := wasmtime.Wat2Wasm(string(src))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	watCache.Store(name, b)
	return b, nil
}

// openEngine opens an engine on dir, or in memory when dir is "".
func openEngine(tb testing.TB, dir string, kind dirty.Kind) *engine.Engine {
	tb.Helper()
	o := engine.Options{Tracker: kind, Logger: quiet}
	open := func() (*engine.Engine, error) { return engine.Open(context.Background(), dir, o) }
	if dir == "" {
		open = func() (*engine.Engine, error) { return engine.OpenInMemory(o) }
	}
	e, err := open()
	if err != nil {
		tb.Fatal(err)
	}
	return e
}

func newSession(tb testing.TB, e *engine.Engine, root merkle.Hash) *engine.Session {
	tb.Helper()
	s, err := e.NewSession(root, engine.SessionOptions{})
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

func deploy(tb testing.TB, s *engine.Session, code []byte, o engine.DeployOptions) merkle.ContractID {
	tb.Helper()
	id, err := s.Deploy(context.Background(), code, o)
	if err != nil {
		tb.Fatalf("deploy: %v", err)
	}
	return id
}

func call(tb testing.TB, s *engine.Session, id merkle.ContractID, fn string, arg []byte) []byte {
	tb.Helper()
	r, err := s.Call(context.Background(), id, fn, arg, bigGas)
	if err != nil {
		tb.Fatalf("call %s: %v", fn, err)
	}
	return r.Data
}

func commit(tb testing.TB, s *engine.Session) merkle.Hash {
	tb.Helper()
	root, err := s.Commit(context.Background())
	if err != nil {
		tb.Fatalf("commit: %v", err)
	}
	return root
}

// u32s encodes little-endian u32s.
func u32s(vals ...uint32) []byte {
	b := make([]byte, 0, 4*len(vals))
	for _, v := range vals {
		b = binary.LittleEndian.AppendUint32(b, v)
	}
	return b
}

// trackers are the dirty-tracker kinds that run on this machine.
func trackers() []dirty.Kind { return dirty.Available() }

// lap accumulates the wall time and the process CPU time of the parts of
// a benchmark iteration that are measured, so that setup inside the loop
// (which b.StopTimer would make slow: it reads memory statistics) stays
// out of the figures. nsPerOp replaces ns/op with the measured part and
// reports its CPU time as cpu-ns/op.
//
// With thread set (the benchmark goroutine locked to its OS thread), it
// also reports the thread's CPU time as thread-cpu-ns/op: the engine's own
// work, without what other goroutines (goleveldb's background compaction,
// the GC's workers) spend meanwhile.
type lap struct {
	wall, cpu, tcpu time.Duration
	t0              time.Time
	c0, tc0         time.Duration
	thread          bool
	// faults: also count the thread's minor page faults (minflt/op).
	faults  bool
	flt, f0 int64
}

func (l *lap) start() {
	if l.faults {
		l.f0 = threadMinflt()
	}
	if l.thread {
		l.tc0 = threadCPUTime()
	}
	l.c0 = cpuTime()
	l.t0 = time.Now()
}

func (l *lap) stop() {
	l.wall += time.Since(l.t0)
	l.cpu += cpuTime() - l.c0
	if l.thread {
		l.tcpu += threadCPUTime() - l.tc0
	}
	if l.faults {
		l.flt += threadMinflt() - l.f0
	}
}

// nsPerOp reports the measured wall time as ns/op and CPU time as
// cpu-ns/op, and returns both.
func (l *lap) nsPerOp(b *testing.B) (wall, cpu float64) {
	wall = float64(l.wall.Nanoseconds()) / float64(b.N)
	cpu = float64(l.cpu.Nanoseconds()) / float64(b.N)
	b.ReportMetric(wall, "ns/op")
	b.ReportMetric(cpu, "cpu-ns/op")
	if l.thread {
		b.ReportMetric(float64(l.tcpu.Nanoseconds())/float64(b.N), "thread-cpu-ns/op")
	}
	if l.faults {
		b.ReportMetric(float64(l.flt)/float64(b.N), "minflt/op")
	}
	return wall, cpu
}

// cpuMeter reports the process CPU time per op of a benchmark loop as
// cpu-ns/op: start it just before the loop, call report just after.
type cpuMeter time.Duration

func startCPU() cpuMeter { return cpuMeter(cpuTime()) }

func (c cpuMeter) report(b *testing.B) float64 {
	ns := float64((cpuTime() - time.Duration(c)).Nanoseconds()) / float64(b.N)
	b.ReportMetric(ns, "cpu-ns/op")
	return ns
}

// fixtures is the process-wide directory of lazily built stores.
var fixtures struct {
	once sync.Once
	dir  string
	err  error
}

// fixtureDir returns a subdirectory of the fixture directory, and whether
// it existed already.
func fixtureDir(tb testing.TB, name string) (string, bool) {
	tb.Helper()
	fixtures.once.Do(func() {
		fixtures.dir, fixtures.err = os.MkdirTemp(os.Getenv("WASMSTATE_BENCH_TMP"), "wasmstate-bench-")
	})
	if fixtures.err != nil {
		tb.Fatal(fixtures.err)
	}
	d := filepath.Join(fixtures.dir, name)
	if _, err := os.Stat(d); err == nil {
		return d, true
	}
	return d, false
}
