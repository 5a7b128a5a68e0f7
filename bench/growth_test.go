package bench

import (
	"context"
	"runtime"
	"testing"

	"github.com/wasmstate/wasmstate/engine"
	"github.com/wasmstate/wasmstate/merkle"
)

// BenchmarkGrowth grows a wasm64 memory (grower64, which writes one byte at
// the new end) by 1 GiB, 64 GiB and 1 TiB in one call, then commits: the
// cost must follow the pages written, not the address space (target ≤ 1 ms
// per GiB, and the 1 TiB case ≤ 1 s with its reload and proof, see
// engine's TestHugeSparseMemory). ns/op is the call and the commit; per-GiB
// divides by the growth.
func BenchmarkGrowth(b *testing.B) {
	ctx := context.Background()
	e, err := engine.OpenInMemory(engine.Options{Logger: quiet, MaxMemoryBytes: 2 << 40})
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	code := wasmCode(b, "grower64")
	for _, g := range []struct {
		name  string
		pages uint32 // wasm pages added
	}{{"1GiB", 1 << 14}, {"64GiB", 1 << 20}, {"1TiB", 1<<24 - 2}} {
		b.Run(g.name, func(b *testing.B) {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			l := lap{thread: true}
			for i := 0; b.Loop(); i++ {
				s := newSession(b, e, merkle.EmptyState())
				id := deploy(b, s, code, engine.DeployOptions{Nonce: uint64(i)})
				l.start()
				if _, err := s.Call(ctx, id, "grow", u32s(g.pages), 1<<45); err != nil {
					b.Fatal(err)
				}
				if _, err := s.Commit(ctx); err != nil {
					b.Fatal(err)
				}
				l.stop()
				s.Close()
			}
			wall, _ := l.nsPerOp(b)
			gib := float64(g.pages) * 65536 / (1 << 30)
			b.ReportMetric(wall/gib, "ns-per-GiB")
		})
	}
}
