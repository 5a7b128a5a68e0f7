package engine

import (
	"bytes"
	"errors"
	"log/slog"
	"os"
	"regexp"
	"testing"
	"unsafe"

	"github.com/wasmstate/wasmstate/engine/dirty"
	"github.com/wasmstate/wasmstate/merkle"
)

// TestWasmtimeVersion: the version compiled code is cached for is the one
// go.mod builds with, so an upgrade cannot reuse stale compiled code.
func TestWasmtimeVersion(t *testing.T) {
	mod, err := os.ReadFile("../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^\s*` + regexp.QuoteMeta(wasmtimeModule) + `\s+(\S+)`).FindSubmatch(mod)
	if m == nil {
		t.Fatalf("go.mod does not require %s", wasmtimeModule)
	}
	if WasmtimeVersion != string(m[1]) {
		t.Fatalf("WasmtimeVersion %q, go.mod requires %q", WasmtimeVersion, m[1])
	}
	e := testEngine(t, auto)
	if got := e.Info().WasmtimeVersion; got != WasmtimeVersion {
		t.Fatalf("Info().WasmtimeVersion %q", got)
	}
	if tr := e.Info().Tracker; tr != "uffd-wp" && tr != "compare" {
		t.Fatalf("Info().Tracker %q: want uffd-wp or compare", tr)
	}
}

// TestTrackerFallbackOnce: when uffd-wp fails for one memory, the engine
// moves that memory to compare once, not at every frame end.
func TestTrackerFallbackOnce(t *testing.T) {
	if err := dirty.UnavailableReason(dirty.UffdWP); err != nil {
		if os.Getenv("WASMSTATE_REQUIRE_UFFD") != "" {
			t.Fatalf("uffd-wp required (WASMSTATE_REQUIRE_UFFD) but unavailable: %v", err)
		}
		t.Skipf("uffd-wp unavailable here (%v): the fallback path cannot be reached", err)
	}
	calls := map[dirty.Kind]int{}
	failing := func(k dirty.Kind, base unsafe.Pointer, n uint64) (dirty.Tracker, error) {
		calls[k]++
		if k == dirty.UffdWP {
			return nil, errors.New("injected: uffd-wp refused")
		}
		return dirty.New(k, base, n)
	}
	newDirtyTracker, newSparseTracker = failing, failing
	defer func() { newDirtyTracker, newSparseTracker = dirty.New, dirty.NewSparse }()

	var logged bytes.Buffer
	o := auto.options()
	o.Logger = slog.New(slog.NewTextHandler(&logged, nil))
	e, err := OpenInMemory(o)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	id, r := pageWriter(t, e, 32) // 2 MiB: above the compare-below size
	clear(calls)
	logged.Reset()
	s := newSession(t, e, r)
	for i := range 10 {
		writePages(t, s, id, 3, 5, uint32(i))
	}
	if calls[dirty.UffdWP] != 1 || calls[dirty.Compare] != 1 {
		t.Fatalf("tracker creations over 10 calls: %v; want one uffd-wp attempt and one compare", calls)
	}
	if n := bytes.Count(logged.Bytes(), []byte("uffd-wp unavailable")); n != 1 {
		t.Fatalf("%d fallback warnings, want 1", n)
	}
	// The fallback tracks correctly: the same writes on an engine whose
	// uffd-wp works give the same root.
	newDirtyTracker, newSparseTracker = dirty.New, dirty.NewSparse
	e2 := testEngine(t, mode{tracker: dirty.UffdWP, load: "eager"})
	id2, r2 := pageWriter(t, e2, 32)
	if id2 != id || r2 != r {
		t.Fatal("fixtures differ")
	}
	s2 := newSession(t, e2, r2)
	for i := range 10 {
		writePages(t, s2, id, 3, 5, uint32(i))
	}
	if a, b := root(t, s), root(t, s2); a != b || a == merkle.EmptyState() {
		t.Fatalf("roots differ: fallback %s, uffd-wp %s", a, b)
	}
}
