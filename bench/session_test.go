package bench

import (
	"fmt"
	"testing"

	"github.com/wasmstate/wasmstate/engine"
	"github.com/wasmstate/wasmstate/engine/dirty"
)

// BenchmarkSessionOpen measures NewSession + Close on a stored root of 1,
// 1,000 and 10,000 contracts (one on-disk store holds all three roots).
// It must not depend on the number of contracts (target: <= 20 µs at
// 10,000). open+call adds the first call into one counter (loading it:
// state-tree lookup, code, instantiation, memory, tracker), whose cost
// grows only with the depth of the state tree.
func BenchmarkSessionOpen(b *testing.B) {
	f := states(b)
	e := openEngine(b, f.dir, dirty.Auto)
	defer e.Close()
	for _, n := range []int{1, 1000, 10000} {
		root := f.roots[n]
		b.Run(fmt.Sprintf("contracts=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			cpu := startCPU()
			for b.Loop() {
				s, err := e.NewSession(root, engine.SessionOptions{})
				if err != nil {
					b.Fatal(err)
				}
				s.Close()
			}
			cpu.report(b)
		})
		b.Run(fmt.Sprintf("contracts=%d/open+call", n), func(b *testing.B) {
			id := f.counters[n/2]
			b.ReportAllocs()
			cpu := startCPU()
			for b.Loop() {
				s, err := e.NewSession(root, engine.SessionOptions{})
				if err != nil {
					b.Fatal(err)
				}
				if _, err := s.Call(id, "read_value", nil, bigGas); err != nil {
					b.Fatal(err)
				}
				s.Close()
			}
			cpu.report(b)
		})
	}
}

// BenchmarkFirstCall measures the first call (pagewriter "read", a few
// instructions) into a contract of 64 KiB, 1 MiB, 16 MiB and 64 MiB of
// memory, every 4 KiB page non-zero and distinct, in a new session on the
// committed root: it loads the contract (instantiate, grow, read every page
// from the store, set up the tracker). Per tracker kind; "auto" is the
// engine's default (compare below 256 KiB, uffd-wp above). The store is on
// disk with its default 64 MiB cache, warm after the first op (pages read
// stay cached when they fit). ns/op is the call alone; opening and closing
// the session are not timed.
func BenchmarkFirstCall(b *testing.B) {
	f := memSizesStore(b)
	kinds := append([]dirty.Kind{dirty.Auto}, trackers()...)
	for _, kind := range kinds {
		b.Run(kind.String(), func(b *testing.B) {
			e := openEngine(b, f.dir, kind)
			defer e.Close()
			for _, m := range memSizes {
				id := f.ids[m.name]
				b.Run(m.name, func(b *testing.B) {
					var l lap
					for b.Loop() {
						s := newSession(b, e, f.root)
						l.start()
						_, err := s.Call(id, "read", u32s(0), bigGas)
						l.stop()
						if err != nil {
							b.Fatal(err)
						}
						s.Close()
					}
					l.nsPerOp(b)
				})
			}
		})
	}
}
