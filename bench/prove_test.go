package bench

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/wasmstate/wasmstate/engine"
	"github.com/wasmstate/wasmstate/engine/dirty"
	"github.com/wasmstate/wasmstate/merkle"
)

// BenchmarkEngineProof proves and verifies, through the engine on a stored
// root of 10,001 contracts (10,000 counters of 128 KiB and one contract of
// 64 MiB whose 16,384 pages are all non-zero; on-disk store, warm cache),
// one page and a 10 KiB range (100 bytes into a page, so it touches 3
// pages) of the 64 MiB contract, and page 0 of a counter.
//
//	prove:  Engine.ProvePage / ProveRange, then MarshalBinary.
//	verify: merkle.DecodeProof, then VerifyPage / VerifyRange (what a
//	        light client runs; target <= 30 µs for a page).
//
// proof-bytes is the encoded size; overhead-bytes is that minus the proven
// pages' bytes (target for a page: <= 1.2 KiB + the page).
func BenchmarkEngineProof(b *testing.B) {
	f := states(b)
	e := openEngine(b, f.dir, dirty.Auto)
	defer e.Close()
	root := f.proveRoot
	for _, c := range []struct {
		name        string
		id          merkle.ContractID
		off, length uint64
	}{
		{"page/64MiB", f.big, 1000 * merkle.PageSize, merkle.PageSize},
		{"range10KiB/64MiB", f.big, 1000*merkle.PageSize + 100, 10 << 10},
		{"page/counter", f.counters[5000], 0, merkle.PageSize},
	} {
		pages := int((c.off+c.length-1)/merkle.PageSize - c.off/merkle.PageSize + 1)
		prove := func() []byte {
			var p *merkle.RangeProof
			var err error
			if c.length == merkle.PageSize && c.off%merkle.PageSize == 0 {
				p, err = e.ProvePage(context.Background(), root, c.id, c.off/merkle.PageSize)
			} else {
				p, err = e.ProveRange(context.Background(), root, c.id, c.off, c.length)
			}
			if err != nil {
				b.Fatal(err)
			}
			bin, err := p.MarshalBinary()
			if err != nil {
				b.Fatal(err)
			}
			return bin
		}
		bin := prove()
		report := func(b *testing.B) {
			b.ReportMetric(float64(len(bin)), "proof-bytes")
			b.ReportMetric(float64(len(bin)-pages*merkle.PageSize), "overhead-bytes")
		}
		b.Run("prove/"+c.name, func(b *testing.B) {
			b.ReportAllocs()
			cpu := startCPU()
			for b.Loop() {
				prove()
			}
			cpu.report(b)
			report(b)
		})
		b.Run("verify/"+c.name, func(b *testing.B) {
			b.ReportAllocs()
			cpu := startCPU()
			for b.Loop() {
				p, err := merkle.DecodeProof(bin)
				if err != nil {
					b.Fatal(err)
				}
				if c.length == merkle.PageSize && c.off%merkle.PageSize == 0 {
					_, err = merkle.VerifyPage(root, c.id, c.off/merkle.PageSize, p)
				} else {
					_, err = merkle.VerifyRange(root, c.id, c.off, c.length, p)
				}
				if err != nil {
					b.Fatal(err)
				}
			}
			cpu.report(b)
			report(b)
		})
	}
}

// BenchmarkStoreOpen measures engine.Open (goleveldb open, format check,
// wasmtime engine and linkers) on a store of 10,000 commits, then
// Engine.Head; Close is not timed. Target: <= 50 ms.
//
//	after-commits: the first open after the process that made the commits
//	               closed the store (its Close settled the goleveldb journal
//	               into a table: close-ns). Each op opens a fresh copy of
//	               that store (the copy is not timed).
//	after-crash:   the same, the store copied while the writer had it open
//	               (as a crash leaves it): goleveldb replays its journal (up
//	               to pagestore's 32 MiB write buffer).
//	reopen:        open again a store that was opened and closed with no
//	               write in between.
func BenchmarkStoreOpen(b *testing.B) {
	f := commitsStore(b)
	open := func(b *testing.B, dir string, l *lap) {
		l.start()
		e, err := engine.Open(context.Background(), dir, engine.Options{Logger: quiet})
		if err != nil {
			b.Fatal(err)
		}
		head, err := e.Head()
		l.stop()
		if err != nil || head != f.head {
			b.Fatalf("head %s, %v; want %s", head, err, f.head)
		}
		e.Close()
	}
	// The first open after the writing process closed the store, and
	// after it crashed (its journal to replay). close-ns is how long the
	// writer's Close took (it settles the journal), measured once when the
	// fixture was built.
	for _, c := range []struct{ name, src string }{{"after-commits", f.pristine}, {"after-crash", f.crashed}} {
		b.Run(c.name, func(b *testing.B) {
			l := lap{}
			for i := 0; b.Loop(); i++ {
				dir := filepath.Join(b.TempDir(), "store")
				if err := copyDir(dir, c.src); err != nil {
					b.Fatal(err)
				}
				open(b, dir, &l)
				os.RemoveAll(dir)
			}
			l.nsPerOp(b)
			if c.name == "after-commits" {
				b.ReportMetric(float64(f.closed.Nanoseconds()), "close-ns")
			}
		})
	}
	b.Run("reopen", func(b *testing.B) {
		var warm lap
		open(b, f.dir, &warm)
		l := lap{}
		for b.Loop() {
			open(b, f.dir, &l)
		}
		l.nsPerOp(b)
	})
}
