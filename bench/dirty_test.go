package bench

import (
	"fmt"
	"testing"
	"time"
	"unsafe"

	"github.com/bytecodealliance/wasmtime-go/v39"

	"github.com/wasmstate/wasmstate/engine/dirty"
)

// dirtyMem is a wasm32 memory of a wasmtime instance.
type dirtyMem struct {
	store *wasmtime.Store
	mem   *wasmtime.Memory
}

// dirtyModule compiles a module exporting a memory of the given number of
// 64 KiB pages, once per benchmark: only instances are created in loops.
type dirtyModule struct {
	engine *wasmtime.Engine
	module *wasmtime.Module
}

func newDirtyModule(b *testing.B, pages uint64) *dirtyModule {
	b.Helper()
	wasm, err := wasmtime.Wat2Wasm(fmt.Sprintf(`(module (memory (export "memory") %d))`, pages))
	if err != nil {
		b.Fatal(err)
	}
	engine := wasmtime.NewEngine()
	module, err := wasmtime.NewModule(engine, wasm)
	if err != nil {
		b.Fatal(err)
	}
	return &dirtyModule{engine, module}
}

func (d *dirtyModule) instance(b *testing.B) *dirtyMem {
	store := wasmtime.NewStore(d.engine)
	inst, err := wasmtime.NewInstance(store, d.module, nil)
	if err != nil {
		b.Fatal(err)
	}
	return &dirtyMem{store: store, mem: inst.GetExport(store, "memory").Memory()}
}

func (m *dirtyMem) base() unsafe.Pointer { return m.mem.Data(m.store) }
func (m *dirtyMem) size() uint64         { return uint64(m.mem.DataSize(m.store)) }
func (m *dirtyMem) data() []byte         { return m.mem.UnsafeData(m.store) }

// BenchmarkDirty measures each tracker available here on wasm memories of
// 64 KiB, 256 KiB and 64 MiB:
//
//	Collect1: write one byte from Go to one page (a different page each
//	          time), then Collect (uffd-wp: includes the write fault)
//	Collect0: Collect with nothing written
//	Resize:   Resize after a memory.grow of 64 KiB (only the Resize is
//	          timed; a Collect follows each Resize, untimed)
//	CollectAfterGrow: the Collect that follows such a Resize, nothing written
//	          (uffd-wp scans and protects the grown part here)
//
// Resize and CollectAfterGrow report the timed part only, as ns/op.
func BenchmarkDirty(b *testing.B) {
	for _, kind := range dirty.Available() {
		for _, sz := range []struct {
			name  string
			pages uint64 // 64 KiB wasm pages
		}{{"64KiB", 1}, {"256KiB", 4}, {"64MiB", 1024}} {
			b.Run(fmt.Sprintf("%s/%s", kind, sz.name), func(b *testing.B) {
				benchDirty(b, kind, sz.pages)
			})
		}
	}
}

func benchDirty(b *testing.B, kind dirty.Kind, pages uint64) {
	mod := newDirtyModule(b, pages)
	b.Run("Collect1", func(b *testing.B) {
		m := mod.instance(b)
		defer m.store.Close()
		tr := newTracker(b, kind, m)
		defer tr.Close()
		buf := make([]uint64, 0, m.size()/dirty.PageSize)
		data := m.data()
		n := uint64(len(data)) / dirty.PageSize
		var err error
		b.ReportAllocs()
		b.ResetTimer()
		for i := range b.N {
			p := uint64(i) % n
			data[p*dirty.PageSize+uint64(i)%dirty.PageSize]++
			buf, err = tr.Collect(buf[:0])
			if err != nil || len(buf) != 1 || buf[0] != p {
				b.Fatalf("Collect = %v, %v; want [%d]", buf, err, p)
			}
		}
	})
	b.Run("Collect0", func(b *testing.B) {
		m := mod.instance(b)
		defer m.store.Close()
		tr := newTracker(b, kind, m)
		defer tr.Close()
		buf := make([]uint64, 0, m.size()/dirty.PageSize)
		var err error
		b.ReportAllocs()
		b.ResetTimer()
		for range b.N {
			buf, err = tr.Collect(buf[:0])
			if err != nil || len(buf) != 0 {
				b.Fatalf("Collect = %v, %v; want []", buf, err)
			}
		}
	})
	// Grow by one wasm page per iteration; start again from the initial size
	// every 16 grows so that the memory stays near its nominal size. Only
	// the Resize (or the Collect after it) is timed, with the clock rather
	// than StopTimer/StartTimer (which stop the world on every call); the
	// timed figure replaces ns/op.
	grow := func(b *testing.B, timeResize bool) {
		var m *dirtyMem
		var tr dirty.Tracker
		var timed time.Duration
		buf := make([]uint64, 0, 1<<16)
		for i := range b.N {
			if i%16 == 0 {
				if m != nil {
					tr.Close()
					m.store.Close()
				}
				m = mod.instance(b)
				tr = newTracker(b, kind, m)
			}
			if _, err := m.mem.Grow(m.store, 1); err != nil {
				b.Fatal(err)
			}
			t0 := time.Now()
			if err := tr.Resize(m.base(), m.size()); err != nil {
				b.Fatal(err)
			}
			t1 := time.Now()
			var err error
			buf, err = tr.Collect(buf[:0])
			t2 := time.Now()
			if err != nil || len(buf) != 0 {
				b.Fatalf("Collect after grow = %d pages, %v", len(buf), err)
			}
			if timeResize {
				timed += t1.Sub(t0)
			} else {
				timed += t2.Sub(t1)
			}
		}
		tr.Close()
		m.store.Close()
		b.ReportMetric(float64(timed.Nanoseconds())/float64(b.N), "ns/op")
	}
	b.Run("Resize", func(b *testing.B) { grow(b, true) })
	b.Run("CollectAfterGrow", func(b *testing.B) { grow(b, false) })
}

func newTracker(b *testing.B, kind dirty.Kind, m *dirtyMem) dirty.Tracker {
	tr, err := dirty.New(kind, m.base(), m.size())
	if err != nil {
		b.Fatal(err)
	}
	return tr
}
