package dirty

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
	"unsafe"
)

var (
	seedFlag = flag.Uint64("dirty.seed", 0, "seed of the randomized tests (0: from the clock)")
	opsFlag  = flag.Int("dirty.ops", 0, "operations per randomized test (0: 3000, or 300 under the race detector, which slows each operation twentyfold)")
)

// testMem is a linear memory under test: a wasmtime memory or a region the
// test mmap'd itself.
type testMem interface {
	name() string
	base() unsafe.Pointer
	size() uint64
	data() []byte                 // the accessible bytes, for writes from Go
	wasmWrite(off uint64, v byte) // one byte, written by wasm code (plain: by Go)
	fill(off, n uint64, v byte)   // memory.fill (plain: a Go loop)
	grow(delta uint64) bool       // memory.grow by delta bytes (multiple of 64 KiB)
}

type memFactory struct {
	name string
	new  func(testing.TB) testMem
}

func factories() []memFactory { return append(plainFactories(), wasmFactories()...) }

// forEach runs f for every kind available here and every kind of memory.
func forEach(t *testing.T, f func(t *testing.T, kind Kind, mf memFactory)) {
	for _, kind := range Available() {
		t.Run(kind.String(), func(t *testing.T) {
			for _, mf := range factories() {
				t.Run(mf.name, func(t *testing.T) { f(t, kind, mf) })
			}
		})
	}
}

func thpAlways() bool {
	b, _ := os.ReadFile("/sys/kernel/mm/transparent_hugepage/enabled")
	return strings.Contains(string(b), "[always]")
}

// harness drives a memory and a tracker and keeps the ground truth.
type harness struct {
	t    testing.TB
	m    testMem
	kind Kind
	tr   Tracker

	model    []byte          // what the memory must hold
	view     []byte          // model at the last Collect
	written  map[uint64]bool // pages written since the last Collect
	grownAt  uint64          // memory length at the last Collect
	moved    bool            // the base moved since the last Collect
	told     unsafe.Pointer  // base last given to the tracker
	toldLen  uint64          // length last given to the tracker
	strict   bool            // uffd-wp: no over-reporting of grown pages allowed
	buf      []uint64
	extra    int // pages over-reported (uffd-wp)
	moves    int // grows that moved the memory
	aba      int // Resize calls with the old base after a move
	collects int
}

func newHarness(t testing.TB, kind Kind, m testMem) *harness {
	t.Helper()
	tr, err := New(kind, m.base(), m.size())
	if err != nil {
		t.Fatal(err)
	}
	if kind != Auto && tr.Name() != kind.String() {
		t.Fatalf("New(%v) returned a %q tracker", kind, tr.Name())
	}
	t.Cleanup(func() { tr.Close() })
	h := &harness{
		t: t, m: m, kind: kind, tr: tr,
		model:   bytes.Clone(m.data()),
		written: map[uint64]bool{},
		grownAt: m.size(),
		told:    m.base(), toldLen: m.size(),
		strict: !thpAlways(),
		buf:    make([]uint64, 0, 1<<16),
	}
	h.view = bytes.Clone(h.model)
	return h
}

func (h *harness) write(off uint64, v byte, fromGo bool) {
	if fromGo {
		h.m.data()[off] = v
	} else {
		h.m.wasmWrite(off, v)
	}
	h.model[off] = v
	h.written[off/PageSize] = true
}

func (h *harness) fill(off, n uint64, v byte) {
	h.m.fill(off, n, v)
	for i := off; i < off+n; i++ {
		h.model[i] = v
		h.written[i/PageSize] = true
	}
}

func (h *harness) grow(delta uint64, resizeNow bool) bool {
	before := h.m.base()
	if !h.m.grow(delta) {
		return false
	}
	if h.m.base() != before {
		// Moved, maybe back to the base the tracker knows (A→B→A), which
		// Resize cannot see: the tracker must cope with that too.
		h.moves++
		h.moved = true
	}
	h.model = append(h.model, make([]byte, delta)...)
	if resizeNow {
		h.sync()
	}
	return true
}

// sync tells the tracker about a new size or base, as the engine does after
// a call that grew the memory.
func (h *harness) sync() {
	b, n := h.m.base(), h.m.size()
	if b == h.told && n == h.toldLen {
		return
	}
	if b == h.told && h.moved {
		h.aba++
	}
	if err := h.tr.Resize(b, n); err != nil {
		h.t.Fatal(err)
	}
	h.told, h.toldLen = b, n
}

// collect calls Collect, checks its answer against the ground truth and
// returns it.
func (h *harness) collect() []uint64 {
	h.t.Helper()
	h.sync()
	h.collects++
	data := h.m.data()
	if h.collects%64 == 0 {
		if !bytes.Equal(data, h.model) {
			h.t.Fatal("test bug: memory differs from the model")
		}
	} else {
		for p := range h.written {
			if !bytes.Equal(data[p*PageSize:(p+1)*PageSize], h.model[p*PageSize:(p+1)*PageSize]) {
				h.t.Fatalf("test bug: page %d differs from the model", p)
			}
		}
	}
	// The pages written since the last Collect, ascending. Only they can
	// have changed: everything else is as it was (grown pages: zero).
	written := slices.Sorted(maps.Keys(h.written))
	if len(h.view) < len(h.model) {
		h.view = append(h.view, make([]byte, len(h.model)-len(h.view))...)
	}
	got, err := h.tr.Collect(h.buf[:0])
	if err != nil {
		h.t.Fatal(err)
	}
	n := h.m.size() / PageSize
	for i, p := range got {
		if p >= n || (i > 0 && p <= got[i-1]) {
			h.t.Fatalf("Collect returned %v: not ascending, unique and below %d", short(got), n)
		}
	}
	switch h.tr.Name() {
	case "compare":
		// Exactly the pages whose contents changed (grown pages: from zero).
		var want []uint64
		for _, p := range written {
			if !bytes.Equal(h.model[p*PageSize:(p+1)*PageSize], h.view[p*PageSize:(p+1)*PageSize]) {
				want = append(want, p)
			}
		}
		if !slices.Equal(got, want) {
			h.t.Fatalf("compare: Collect = %v, want %v", short(got), short(want))
		}
	case "uffd-wp":
		// Every written page; extras only in grown memory or after a move.
		reported := make(map[uint64]bool, len(got))
		for _, p := range got {
			reported[p] = true
		}
		for _, p := range written {
			if !reported[p] {
				h.t.Fatalf("uffd-wp: written page %d not reported (got %v)", p, short(got))
			}
		}
		for _, p := range got {
			if h.written[p] {
				continue
			}
			h.extra++
			switch {
			case h.moved:
			case p*PageSize >= h.grownAt && !h.strict:
			default:
				h.t.Fatalf("uffd-wp: page %d reported but not written (grown from page %d, moved %v; got %v)", p, h.grownAt/PageSize, h.moved, short(got))
			}
		}
	default:
		h.t.Fatalf("unknown tracker %q", h.tr.Name())
	}
	for _, p := range written {
		copy(h.view[p*PageSize:(p+1)*PageSize], h.model[p*PageSize:(p+1)*PageSize])
	}
	clear(h.written)
	h.grownAt, h.moved = h.m.size(), false
	return got
}

func (h *harness) expect(want ...uint64) {
	h.t.Helper()
	got := h.collect()
	if want == nil {
		want = []uint64{}
	}
	if got == nil {
		got = []uint64{}
	}
	if !slices.Equal(got, want) {
		h.t.Fatalf("Collect = %v, want %v", short(got), want)
	}
}

func short(s []uint64) string {
	if len(s) > 40 {
		return fmt.Sprint(s[:40]) + fmt.Sprintf("…(%d pages)", len(s))
	}
	return fmt.Sprint(s)
}

func TestAvailable(t *testing.T) {
	av := Available()
	if len(av) == 0 || av[len(av)-1] != Compare {
		t.Fatalf("Available() = %v, want Compare last", av)
	}
	if !slices.Equal(Available(), av) {
		t.Fatal("Available changed between calls")
	}
	t.Logf("available: %v (uffd-wp: %v)", av, UnavailableReason(UffdWP))
	if os.Getenv("WASMSTATE_REQUIRE_UFFD") != "" && av[0] != UffdWP {
		t.Fatalf("uffd-wp required but unavailable: %v", UnavailableReason(UffdWP))
	}
}

func TestAutoPicksFirstAvailable(t *testing.T) {
	for _, mf := range factories()[:1] {
		m := mf.new(t)
		tr, err := New(Auto, m.base(), m.size())
		if err != nil {
			t.Fatal(err)
		}
		defer tr.Close()
		if tr.Name() != Available()[0].String() {
			t.Fatalf("Auto chose %q, Available() = %v", tr.Name(), Available())
		}
		t.Logf("Auto runs %q", tr.Name())
	}
}

func TestErrors(t *testing.T) {
	m0 := factories()[0].new(t)
	if _, err := New(Compare, unsafe.Add(m0.base(), 8), PageSize); !errors.Is(err, ErrAlignment) {
		t.Fatalf("misaligned base: %v", err)
	}
	if _, err := New(Kind(42), nil, 0); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("unknown kind: %v", err)
	}
	for _, kind := range Available() {
		m := factories()[0].new(t)
		tr, err := New(kind, m.base(), m.size())
		if err != nil {
			t.Fatal(err)
		}
		if err := tr.Resize(m.base(), m.size()+1); !errors.Is(err, ErrAlignment) {
			t.Fatalf("%v: misaligned length: %v", kind, err)
		}
		if err := tr.Close(); err != nil {
			t.Fatal(err)
		}
		if err := tr.Close(); err != nil {
			t.Fatalf("%v: second Close: %v", kind, err)
		}
		if _, err := tr.Collect(nil); !errors.Is(err, ErrClosed) {
			t.Fatalf("%v: Collect after Close: %v", kind, err)
		}
		if err := tr.Resize(m.base(), m.size()); !errors.Is(err, ErrClosed) {
			t.Fatalf("%v: Resize after Close: %v", kind, err)
		}
	}
}

// TestScenario walks through the cases one by one with exact expectations.
func TestScenario(t *testing.T) {
	forEach(t, func(t *testing.T, kind Kind, mf memFactory) {
		m := mf.new(t)
		h := newHarness(t, kind, m)
		uffd := h.tr.Name() == "uffd-wp"

		h.expect() // the data segment was written before New
		h.write(0, 1, false)
		h.write(3*PageSize+17, 2, false)
		h.write(15*PageSize+PageSize-1, 3, true)
		h.expect(0, 3, 15)
		h.expect()
		h.expect()

		h.write(3*PageSize, 9, false) // written again after Collect
		h.expect(3)

		// Same bytes: written but not changed.
		h.write(5*PageSize, h.model[5*PageSize], false)
		h.write(6*PageSize, h.model[6*PageSize], true)
		if uffd {
			h.expect(5, 6)
		} else {
			h.expect()
		}
		// Changed and changed back before Collect.
		old := h.model[7*PageSize]
		h.write(7*PageSize, old+1, true)
		h.write(7*PageSize, old, true)
		if uffd {
			h.expect(7)
		} else {
			h.expect()
		}

		// memory.grow by one wasm page (16 pages), writes in the old and
		// the new part, some of them before Resize.
		if !h.grow(64<<10, false) {
			t.Fatal("grow failed")
		}
		h.write(16*PageSize+5, 4, false) // before Resize
		h.sync()
		h.write(1*PageSize, 5, false)
		h.write(20*PageSize, 6, true)
		if h.moved || (uffd && !h.strict) {
			h.collect() // every page, or over-reported grown pages: checked there
		} else {
			h.expect(1, 16, 20)
		}
		h.expect()
		h.write(31*PageSize, 7, false)
		h.write(2*PageSize, 8, false)
		h.expect(2, 31)

		// A fill across pages.
		h.fill(8*PageSize-1, PageSize+2, 0x55)
		h.expect(7, 8, 9)
	})
}

// TestDifferential checks random writes (from wasm and from Go, many with
// the bytes already there), fills and grows against the ground truth.
func TestDifferential(t *testing.T) {
	seed := *seedFlag
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("seed %d (rerun with -dirty.seed=%d)", seed, seed)
	forEach(t, func(t *testing.T, kind Kind, mf memFactory) {
		rng := rand.New(rand.NewPCG(seed, uint64(len(mf.name))))
		m := mf.new(t)
		h := newHarness(t, kind, m)
		grows, writes := 0, 0
		for range randomOps() {
			size := m.size()
			// Concentrate writes on a few pages so that many land on pages
			// already written, and use few values so many are identical.
			page := func() uint64 {
				if rng.IntN(4) == 0 {
					return rng.Uint64N(min(size/PageSize, 8))
				}
				return rng.Uint64N(size / PageSize)
			}
			switch r := rng.IntN(100); {
			case r < 60:
				h.write(page()*PageSize+rng.Uint64N(PageSize), byte(rng.IntN(3)), rng.IntN(2) == 0)
				writes++
			case r < 68:
				off := page()*PageSize + rng.Uint64N(PageSize)
				n := min(rng.Uint64N(3*PageSize), size-off)
				h.fill(off, n, byte(rng.IntN(3)))
				writes++
			case r < 71:
				if h.grow(uint64(1+rng.IntN(4))<<16, rng.IntN(2) == 0) {
					grows++
				}
			default:
				h.collect()
			}
		}
		h.collect()
		h.expect()
		t.Logf("%d writes, %d grows (%d moved, %d back to the previous base), %d collects, final size %d KiB, %d pages over-reported",
			writes, grows, h.moves, h.aba, h.collects, m.size()>>10, h.extra)
	})
}

// TestManyRegions makes Collect loop: more separate runs of written pages
// than one PAGEMAP_SCAN call returns.
func TestManyRegions(t *testing.T) {
	for _, kind := range Available() {
		t.Run(kind.String(), func(t *testing.T) {
			m := newWasmMem(t, wasmOpts{pages: 64}) // 4 MiB, 1024 pages
			h := newHarness(t, kind, m)
			var want []uint64
			for p := uint64(0); p < m.size()/PageSize; p += 2 {
				h.write(p*PageSize, 1, p%4 == 0)
				want = append(want, p)
			}
			if len(want) <= scanVecLen {
				t.Fatal("not enough regions")
			}
			h.expect(want...)
			h.expect()
		})
	}
}

// TestZeroLength starts from an empty memory.
func TestZeroLength(t *testing.T) {
	for _, kind := range Available() {
		t.Run(kind.String(), func(t *testing.T) {
			m := newWasmMem(t, wasmOpts{pages: 0})
			h := newHarness(t, kind, m)
			h.expect()
			if !h.grow(64<<10, false) {
				t.Fatal("grow failed")
			}
			h.write(3*PageSize, 1, false)
			h.expect(3)
			h.write(4*PageSize, 1, false)
			h.expect(4)
		})
	}
}

// TestCollectAllocs checks that Collect does not allocate when dst has room.
func TestCollectAllocs(t *testing.T) {
	for _, kind := range Available() {
		m := newWasmMem(t, wasmOpts{pages: 1})
		tr, err := New(kind, m.base(), m.size())
		if err != nil {
			t.Fatal(err)
		}
		defer tr.Close()
		buf := make([]uint64, 0, 16)
		data := m.data()
		var v byte
		allocs := testing.AllocsPerRun(100, func() {
			v++
			data[5*PageSize] = v
			got, err := tr.Collect(buf[:0])
			if err != nil || len(got) != 1 || got[0] != 5 {
				t.Fatalf("Collect = %v, %v", got, err)
			}
		})
		if allocs != 0 {
			t.Errorf("%v: Collect allocates %.1f times per call", kind, allocs)
		}
	}
}

// TestCompareShadow checks that the compare tracker's shadow follows the
// memory: updated for changed pages only, kept across moves, zero-extended on
// grow, truncated on shrink.
func TestCompareShadow(t *testing.T) {
	m := newWasmMem(t, wasmOpts{pages: 1, moving: true})
	tr, err := New(Compare, m.base(), m.size())
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	ct := tr.(*compareTracker)
	if !bytes.Equal(ct.shadow, m.data()) {
		t.Fatal("shadow is not a copy of the memory after New")
	}
	m.wasmWrite(2*PageSize, 1)
	m.data()[9*PageSize+1] = 2
	got, _ := tr.Collect(nil)
	if !slices.Equal(got, []uint64{2, 9}) || !bytes.Equal(ct.shadow, m.data()) {
		t.Fatalf("Collect = %v; shadow equal: %v", got, bytes.Equal(ct.shadow, m.data()))
	}
	oldBase := m.base()
	m.grow(64 << 10)
	if m.base() == oldBase {
		t.Fatal("memory did not move")
	}
	m.wasmWrite(17*PageSize, 3)
	if err := tr.Resize(m.base(), m.size()); err != nil {
		t.Fatal(err)
	}
	if uint64(len(ct.shadow)) != m.size() || !bytes.Equal(ct.shadow[16*PageSize:], make([]byte, 16*PageSize)) {
		t.Fatal("grown shadow is not zero-extended")
	}
	got, _ = tr.Collect(nil)
	if !slices.Equal(got, []uint64{17}) || !bytes.Equal(ct.shadow, m.data()) {
		t.Fatalf("after move: Collect = %v; shadow equal: %v", got, bytes.Equal(ct.shadow, m.data()))
	}
	// Shrink, then grow again: the regrown part is compared against zeros.
	if err := tr.Resize(m.base(), 16*PageSize); err != nil {
		t.Fatal(err)
	}
	if err := tr.Resize(m.base(), m.size()); err != nil {
		t.Fatal(err)
	}
	got, _ = tr.Collect(nil)
	if !slices.Equal(got, []uint64{17}) {
		t.Fatalf("after shrink and regrow: Collect = %v, want [17]", got)
	}
}

// randomOps is the number of operations per randomized test.
func randomOps() int {
	switch {
	case *opsFlag > 0:
		return *opsFlag
	case raceEnabled:
		return 300
	}
	return 3000
}
