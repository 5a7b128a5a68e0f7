package dirty

import (
	"fmt"
	"testing"
	"unsafe"

	"github.com/bytecodealliance/wasmtime-go/v39"

	"github.com/wasmstate/wasmstate/engine/dirty/internal/wtconfig"
)

// wasmWAT returns a module exporting its memory, "store" (one byte at an
// address), "fill" (memory.fill) and "grow" (memory.grow), with a data
// segment so that wasmtime maps a copy-on-write memory image when allowed.
func wasmWAT(mem64 bool, pages uint64) string {
	a, idx, data := "i32", "", ""
	if mem64 {
		a, idx = "i64", "i64 "
	}
	if pages > 0 {
		data = fmt.Sprintf(`(data (%s.const 4096) "wasmstate dirty-page tracking test data segment")`, a)
	}
	return fmt.Sprintf(`(module
  (memory (export "memory") %[2]s%[3]d)
  %[4]s
  (func (export "store") (param %[1]s i32) (i32.store8 (local.get 0) (local.get 1)))
  (func (export "fill") (param %[1]s i32 %[1]s) (memory.fill (local.get 0) (local.get 1) (local.get 2)))
  (func (export "grow") (param %[1]s) (result %[1]s) (memory.grow (local.get 0))))`, a, idx, pages, data)
}

type wasmOpts struct {
	mem64   bool
	pages   uint64 // initial size in 64 KiB wasm pages
	cow     bool   // copy-on-write memory image
	moving  bool   // small reservation: every memory.grow moves the memory
	maxSize uint64
}

type wasmMem struct {
	t                       testing.TB
	opts                    wasmOpts
	store                   *wasmtime.Store
	mem                     *wasmtime.Memory
	storeFn, fillFn, growFn *wasmtime.Func
}

func newWasmMem(t testing.TB, o wasmOpts) *wasmMem {
	t.Helper()
	cfg := wasmtime.NewConfig()
	cfg.SetWasmMemory64(o.mem64)
	cfg.SetMemoryInitCOWSet(o.cow)
	if o.moving {
		// No room to grow in place: each grow maps a new region and copies.
		wtconfig.Memory(cfg, 0, 0, 0, true)
	}
	engine := wasmtime.NewEngineWithConfig(cfg)
	wasm, err := wasmtime.Wat2Wasm(wasmWAT(o.mem64, o.pages))
	if err != nil {
		t.Fatal(err)
	}
	module, err := wasmtime.NewModule(engine, wasm)
	if err != nil {
		t.Fatal(err)
	}
	store := wasmtime.NewStore(engine)
	inst, err := wasmtime.NewInstance(store, module, nil)
	if err != nil {
		t.Fatal(err)
	}
	m := &wasmMem{
		t: t, opts: o, store: store,
		mem:     inst.GetExport(store, "memory").Memory(),
		storeFn: inst.GetFunc(store, "store"),
		fillFn:  inst.GetFunc(store, "fill"),
		growFn:  inst.GetFunc(store, "grow"),
	}
	t.Cleanup(func() { m.store.Close() })
	return m
}

func (m *wasmMem) name() string {
	n := "wasm32"
	if m.opts.mem64 {
		n = "wasm64"
	}
	if m.opts.cow {
		n += "-cow"
	}
	if m.opts.moving {
		n += "-moving"
	}
	return n
}

func (m *wasmMem) base() unsafe.Pointer { return m.mem.Data(m.store) }
func (m *wasmMem) size() uint64         { return uint64(m.mem.DataSize(m.store)) }
func (m *wasmMem) data() []byte         { return m.mem.UnsafeData(m.store) }

func (m *wasmMem) addr(off uint64) any {
	if m.opts.mem64 {
		return int64(off)
	}
	return int32(uint32(off))
}

func (m *wasmMem) wasmWrite(off uint64, v byte) {
	if _, err := m.storeFn.Call(m.store, m.addr(off), int32(v)); err != nil {
		m.t.Fatal(err)
	}
}

func (m *wasmMem) fill(off, n uint64, v byte) {
	if _, err := m.fillFn.Call(m.store, m.addr(off), int32(v), m.addr(n)); err != nil {
		m.t.Fatal(err)
	}
}

// grow runs memory.grow from wasm; delta is in bytes (a multiple of 64 KiB).
func (m *wasmMem) grow(delta uint64) bool {
	if m.opts.maxSize > 0 && m.size()+delta > m.opts.maxSize {
		return false
	}
	r, err := m.growFn.Call(m.store, m.addr(delta>>16))
	if err != nil {
		m.t.Fatal(err)
	}
	switch r := r.(type) {
	case int32:
		return r >= 0
	case int64:
		return r >= 0
	}
	m.t.Fatalf("grow returned %T", r)
	return false
}

func wasmFactories() []memFactory {
	var fs []memFactory
	for _, mem64 := range []bool{false, true} {
		for _, o := range []wasmOpts{
			{mem64: mem64, pages: 1, cow: true, maxSize: 8 << 20},
			{mem64: mem64, pages: 1, cow: false, maxSize: 8 << 20},
			{mem64: mem64, pages: 1, cow: true, moving: true, maxSize: 8 << 20},
		} {
			fs = append(fs, memFactory{(&wasmMem{opts: o}).name(), func(t testing.TB) testMem { return newWasmMem(t, o) }})
		}
	}
	return fs
}
