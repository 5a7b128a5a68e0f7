package engine

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/wasmstate/wasmstate/merkle"
)

// counterGrowerRoots commits a counter and a grower (r1), then adds 5 to
// the counter and grows the grower by a page (r2).
func counterGrowerRoots(t *testing.T) (e *Engine, ctr, gr merkle.ContractID, r1, r2 merkle.Hash) {
	e = testEngine(t, auto)
	s := newSession(t, e, merkle.EmptyState())
	ctr = deploy(t, s, "counter", DeployOptions{})
	gr = deploy(t, s, "grower", DeployOptions{})
	r1 = commit(t, s)
	call(t, s, ctr, "add", u64(5))
	call(t, s, gr, "grow", u32(1))
	r2 = commit(t, s)
	return e, ctr, gr, r1, r2
}

// ReadMemory returns exactly what a range proof proves, at old and new
// roots, across page boundaries and through zero pages, and refuses ranges
// outside the memory.
func TestReadMemory(t *testing.T) {
	e, ctr, gr, r1, r2 := counterGrowerRoots(t)
	for _, c := range []struct {
		root        merkle.Hash
		id          merkle.ContractID
		off, length uint64
	}{{r1, ctr, 0, 8}, {r2, ctr, 0, 8}, {r2, ctr, 4090, 20}, {r2, ctr, 0, 3 * merkle.PageSize}, {r2, gr, 65536 - 10, 30}, {r2, ctr, 65536 - 1, 1}} {
		got, err := e.ReadMemory(c.root, c.id, c.off, c.length)
		if err != nil {
			t.Fatalf("read %d+%d: %v", c.off, c.length, err)
		}
		p, err := e.ProveRange(context.Background(), c.root, c.id, c.off, c.length)
		if err != nil {
			t.Fatal(err)
		}
		want, err := merkle.VerifyRange(c.root, c.id, c.off, c.length, p)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("read %d+%d at %s differs from the proven bytes (%v)", c.off, c.length, c.root, err)
		}
	}
	if b, _ := e.ReadMemory(r2, ctr, 0, 8); readU64(t, b) != 0xfc+5 {
		t.Fatalf("counter at r2: %x", b)
	}
	info, _ := e.Inspect(context.Background(), r2, ctr)
	for _, bad := range [][2]uint64{{0, 0}, {info.Leaf.MemoryLen, 1}, {info.Leaf.MemoryLen - 1, 2}, {1 << 63, 1 << 63}, {0, MaxReadLength + 1}} {
		if _, err := e.ReadMemory(r2, ctr, bad[0], bad[1]); !errors.Is(err, merkle.ErrOutOfRange) {
			t.Errorf("read %d+%d: %v", bad[0], bad[1], err)
		}
	}
	if _, err := e.ReadMemory(merkle.Hash{1}, ctr, 0, 1); !errors.Is(err, ErrUnknownRoot) {
		t.Errorf("unknown root: %v", err)
	}
	if _, err := e.ReadMemory(r2, merkle.ContractID{9}, 0, 1); !errors.Is(err, ErrNoContract) {
		t.Errorf("unknown contract: %v", err)
	}
}

func TestExports(t *testing.T) {
	e := testEngine(t, auto)
	s := newSession(t, e, merkle.EmptyState())
	ctr := deploy(t, s, "counter", DeployOptions{})
	ini := deploy(t, s, "initializer", DeployOptions{InitArg: u64(7)})
	r := commit(t, s)
	got, err := e.Exports(r, ctr)
	if err != nil || !slices.IsSorted(got) || !slices.Contains(got, "add") || !slices.Contains(got, "read_value") || slices.Contains(got, "memory") {
		t.Fatalf("counter exports: %v %v", got, err)
	}
	for _, fn := range got {
		if _, err := s.Call(context.Background(), ctr, fn, u64(1), 1_000_000); errors.Is(err, ErrNoFunction) {
			t.Errorf("listed export %q is not callable: %v", fn, err)
		}
	}
	got, err = e.Exports(r, ini)
	if err != nil || slices.Contains(got, "init") {
		t.Fatalf("initializer exports list init: %v %v", got, err)
	}
	info, err := e.Inspect(context.Background(), r, ctr)
	if err != nil || !slices.Equal(info.Exports, mustExports(t, e, r, ctr)) {
		t.Fatalf("Inspect exports: %v %v", info.Exports, err)
	}
	if _, err := e.Exports(r, merkle.ContractID{9}); !errors.Is(err, ErrNoContract) {
		t.Errorf("unknown contract: %v", err)
	}
	if h := ExportsHint([]string{"a", "b"}); h != "exports: a, b" {
		t.Errorf("hint %q", h)
	}
}

func mustExports(t *testing.T, e *Engine, r merkle.Hash, id merkle.ContractID) []string {
	got, err := e.Exports(r, id)
	if err != nil {
		t.Fatal(err)
	}
	return got
}
