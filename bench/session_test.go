package bench

import (
	"context"
	"fmt"
	"runtime"
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
				if _, err := s.Call(context.Background(), id, "read_value", nil, bigGas); err != nil {
					b.Fatal(err)
				}
				s.Close()
			}
			cpu.report(b)
		})
	}
}

// BenchmarkFirstCall measures the first call into a stored contract in a
// fresh session, over memory sizes of 64 KiB to 1 GiB (pagewriter, every
// 4 KiB page non-zero and distinct; on-disk store, default cache):
//   - warm: the session takes over the warm set the previous op's session
//     left at the root (the node's case);
//   - cold: warm sets off; the memory maps the contract's image (images are
//     built once per process, before the timed loop);
//   - cold-old: the same at a root 32 blocks older (8 pages changed per
//     block): the load overlays the pages where it differs from the image;
//   - eager: warm sets and images off: every stored page is copied in (how
//     every load worked before images).
//
// Calls: read (a few instructions, touches the argument buffer and page 0)
// and write16 (changes 16 pages spread over the memory). ns/op is the call
// alone; opening and closing the session are not timed. minflt/op: the
// page faults the calling thread took in the call. The sweep is also
// written to bench/out/firstcall.csv.
func BenchmarkFirstCall(b *testing.B) {
	f := memSizesStore(b)
	for _, m := range memSizes {
		id := f.ids[m.name]
		b.Run(m.name, func(b *testing.B) {
			for _, load := range []string{"warm", "cold", "cold-old", "eager"} {
				o := engine.Options{Logger: quiet}
				root := f.root
				switch load {
				case "cold":
					o.WarmSets = -1
				case "cold-old":
					o.WarmSets, root = -1, f.old
				case "eager":
					o.WarmSets, o.ImageBytes = -1, -1
				}
				if load == "eager" && m.pages > 1024 {
					continue // seconds per op: the point is made at 64 MiB
				}
				b.Run(load, func(b *testing.B) {
					e, err := engine.Open(context.Background(), f.dir, o)
					if err != nil {
						b.Fatal(err)
					}
					defer e.Close()
					stride := max(1, m.pages*16/16)
					calls := []struct {
						name  string
						fn    string
						arg   []byte
						pages int
					}{{"read", "read", u32s(0), 2}, {"write16", "write", u32s(16, stride, 0), 16}}
					for _, c := range calls {
						// Once untimed: compile, first image build.
						s := newSession(b, e, root)
						call(b, s, id, c.fn, c.arg)
						s.Close()
						b.Run(c.name, func(b *testing.B) {
							runtime.LockOSThread()
							defer runtime.UnlockOSThread()
							l := lap{thread: true, faults: true}
							for b.Loop() {
								s := newSession(b, e, root)
								l.start()
								_, err := s.Call(context.Background(), id, c.fn, c.arg, bigGas)
								l.stop()
								if err != nil {
									b.Fatal(err)
								}
								s.Close()
							}
							wall, cpu := l.nsPerOp(b)
							csvRow("firstcall", fmt.Sprintf("%d,%s,%s,%d,%.0f,%.0f", uint64(m.pages)*65536, load, c.name, c.pages, wall, cpu))
						})
					}
				})
			}
		})
	}
}
