package bench

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
	"testing"

	"github.com/wasmstate/wasmstate/engine"
	"github.com/wasmstate/wasmstate/merkle"
)

// BenchmarkGasCalibration runs adversarial call shapes and reports the time
// one unit of gas buys on each (ns-per-gas, thread CPU) and its ratio to the
// plain loop's (x-plain-loop): gas bounds time only where no shape is much
// slower per gas than the plain loop (issue: hostile contracts; target ≤ 3×).
// The plain loop runs first in the same process, so ratios are paired.
// Shapes: a plain loop; a loop writing many pages; nested calls that
// succeed, that run out of gas, and that are refused at the depth cap; a
// wasm stack overflow; many small events; a 64 KiB event; a memory growth
// that fails (and is reverted); memory.grow refused (its hook's price
// alone) and growth one page at a time.
func BenchmarkGasCalibration(b *testing.B) {
	ctx := context.Background()
	e, err := engine.OpenInMemory(engine.Options{Logger: quiet, CallDepth: 8, Queries: map[string]engine.HostQuery{
		"echo": {Fn: func(arg []byte) ([]byte, error) { return arg, nil }},
	}})
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	s, err := e.NewSession(merkle.EmptyState(), engine.SessionOptions{Metadata: map[string][]byte{"big": make([]byte, 65536)}})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	sp := deploy(b, s, wasmCode(b, "spender"), engine.DeployOptions{})
	ev := deploy(b, s, wasmCode(b, "eventer"), engine.DeployOptions{})
	gr := deploy(b, s, wasmCode(b, "grower"), engine.DeployOptions{})
	hl := deploy(b, s, wasmCode(b, "hostloop"), engine.DeployOptions{})
	loopArg := func(n, size uint32) []byte { return append(u32s(n, size), make([]byte, size)...) }
	pw, err := deployPageWriter(s, 256, 7) // 16 MiB, every page filled
	if err != nil {
		b.Fatal(err)
	}
	commit(b, s)
	self := sp
	shapes := []struct {
		name string
		id   merkle.ContractID
		fn   string
		arg  []byte
		gas  uint64
	}{
		{"plain-loop", sp, "loop_forever", nil, 100_000_000},
		{"page-writes", pw, "write", u32s(1024, 4, 0), bigGas},
		{"nested-ok", sp, "recurse", u32s(7), bigGas},
		{"nested-out-of-gas", sp, "spend_on_callee", append(self[:], le64(500)...), 10_000_000},
		{"refused-at-depth", sp, "recurse", u32s(40), bigGas},
		{"stack-overflow", sp, "deep_stack", nil, bigGas},
		{"events-1000", ev, "emit_events", u32s(1000), bigGas},
		{"event-64KiB", ev, "emit_big", u32s(65536), bigGas},
		{"grow-and-fail", gr, "grow_and_panic", u32s(256), bigGas},
		{"grow-refused", gr, "grow_loop", u32s(10000, 0xFFFFFFFF), bigGas},
		{"grow-by-page", gr, "grow_loop", u32s(1000, 1), bigGas},
		{"query-64KiB", hl, "query", loopArg(100, 65528), bigGas},
		{"metadata-64KiB", hl, "metadata", loopArg(100, 0), bigGas},
		{"eph-64KiB", hl, "eph", loopArg(100, 65528), bigGas},
		{"debug-64KiB", hl, "debug", loopArg(100, 65528), bigGas},
		{"host-call-small", hl, "query", loopArg(10000, 8), bigGas},
	}
	var plain float64
	for _, sh := range shapes {
		b.Run(sh.name, func(b *testing.B) {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			l := lap{thread: true}
			var gas uint64
			for b.Loop() {
				l.start()
				r, err := s.Call(ctx, sh.id, sh.fn, sh.arg, sh.gas)
				l.stop()
				switch {
				case err == nil:
					gas += r.GasSpent
				default:
					var ce *engine.CallError
					if !errors.As(err, &ce) {
						b.Fatal(err)
					}
					gas += ce.GasSpent
				}
			}
			_, _ = l.nsPerOp(b)
			if gas == 0 {
				b.Fatalf("%s spent no gas", sh.name)
			}
			perGas := float64(l.tcpu.Nanoseconds()) / float64(gas)
			b.ReportMetric(float64(gas)/float64(b.N), "gas/op")
			b.ReportMetric(perGas, "ns-per-gas")
			if sh.name == "plain-loop" {
				plain = perGas
			} else if plain > 0 {
				b.ReportMetric(perGas/plain, "x-plain-loop")
			}
			csvRow("gascal", fmt.Sprintf("%s,%.0f,%.3f,%.1f", sh.name, float64(gas)/float64(b.N), perGas, perGas/max(plain, 1e-9)))
		})
	}
}

func le64(v uint64) []byte { return binary.LittleEndian.AppendUint64(nil, v) }
