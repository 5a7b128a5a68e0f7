package merkle

import (
	"math/rand/v2"
	"sync"
	"testing"
)

// countingSource counts the memory nodes read through it.
type countingSource struct {
	*MapSource
	mu    sync.Mutex
	reads int
}

func (c *countingSource) MemoryNode(h Hash) (Hash, Hash, error) {
	c.mu.Lock()
	c.reads++
	c.mu.Unlock()
	return c.MapSource.MemoryNode(h)
}

// TestMemTreeRebase checks trees rebased on a frozen one: they read the
// same pages, roots and committed nodes as plain trees, load only the
// nodes where they differ from it, and never change it, also when several
// change their copies at once.
func TestMemTreeRebase(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	src := NewMapSource()
	const n = 4096
	pages := map[uint64]Hash{}
	a := NewMemTree(EmptyMemoryRoot(), src)
	for i := uint64(0); i < n; i++ {
		if r.IntN(8) == 0 {
			continue // holes
		}
		pages[i] = HashPage(randPage(r))
		if err := a.SetPage(i, pages[i]); err != nil {
			t.Fatal(err)
		}
	}
	rootA, err := a.Commit(src)
	if err != nil {
		t.Fatal(err)
	}
	// rootB: 12 pages changed (two of them cleared, one past the end).
	b := NewMemTree(rootA, src)
	pagesB := map[uint64]Hash{}
	for i, h := range pages {
		pagesB[i] = h
	}
	changed := []uint64{3, 17, 18, 700, 701, 1500, 2047, 2048, 3000, 4095, 4096 + 77}
	for k, i := range changed {
		h := HashPage(randPage(r))
		if k%5 == 1 {
			h = EmptyPageHash()
		}
		pagesB[i] = h
		if err := b.SetPage(i, h); err != nil {
			t.Fatal(err)
		}
	}
	rootB, err := b.Commit(src)
	if err != nil {
		t.Fatal(err)
	}

	frozen := NewMemTree(rootA, src)
	if err := frozen.Freeze(); err != nil {
		t.Fatal(err)
	}
	check := func(name string, tree *MemTree, want map[uint64]Hash) {
		t.Helper()
		for i := uint64(0); i < n+100; i++ {
			h, err := tree.Page(i)
			if err != nil {
				t.Fatal(err)
			}
			w, ok := want[i]
			if !ok {
				w = EmptyPageHash()
			}
			if h != w {
				t.Fatalf("%s: page %d differs", name, i)
			}
		}
	}
	cs := &countingSource{MapSource: src}
	same := NewMemTree(rootA, cs)
	same.Rebase(frozen)
	check("rebased at the frozen root", same, pages)
	if cs.reads != 0 {
		t.Fatalf("a tree at the frozen root loaded %d nodes", cs.reads)
	}
	near := NewMemTree(rootB, cs)
	near.Rebase(frozen)
	check("rebased at a root near it", near, pagesB)
	// Only the paths of the changed pages: at most 30 nodes each.
	if cs.reads == 0 || cs.reads > len(changed)*MemoryTreeHeight {
		t.Fatalf("a tree %d pages from the frozen root loaded %d nodes", len(changed), cs.reads)
	}
	if near.Root() != rootB || same.Root() != rootA {
		t.Fatal("rebased trees changed their roots")
	}

	// The same writes through plain and rebased trees, concurrently:
	// same roots, same committed nodes; the frozen tree is untouched.
	var wg sync.WaitGroup
	for g := range 4 {
		seed := uint64(g)
		wg.Add(1)
		go func() {
			defer wg.Done()
			start := rootA
			if seed%2 == 1 {
				start = rootB
			}
			plain, rebased := NewMemTree(start, src), NewMemTree(start, src)
			rebased.Rebase(frozen)
			sinkP, sinkR := NewMapSource(), NewMapSource()
			rr := rand.New(rand.NewPCG(seed, 9))
			for round := range 5 {
				for range 20 {
					i := rr.Uint64N(n + 64)
					h := HashPage(randPage(rr))
					if err := plain.SetPage(i, h); err != nil {
						t.Error(err)
						return
					}
					if err := rebased.SetPage(i, h); err != nil {
						t.Error(err)
						return
					}
				}
				rp, _ := plain.Commit(sinkP)
				rb, _ := rebased.Commit(sinkR)
				if rp != rb {
					t.Errorf("goroutine %d round %d: rebased root differs", seed, round)
					return
				}
			}
			if len(sinkP.Memory) != len(sinkR.Memory) {
				t.Errorf("goroutine %d: %d nodes committed by the plain tree, %d by the rebased", seed, len(sinkP.Memory), len(sinkR.Memory))
			}
			for h := range sinkP.Memory {
				if _, ok := sinkR.Memory[h]; !ok {
					t.Errorf("goroutine %d: node %s not committed by the rebased tree", seed, h)
					return
				}
			}
		}()
	}
	wg.Wait()
	if frozen.Root() != rootA {
		t.Fatal("the frozen tree's root changed")
	}
	check("frozen after use", frozen, pages)

	// Rebase does nothing on a used tree or onto a tree not frozen.
	used := NewMemTree(rootB, src)
	if _, err := used.Page(0); err != nil {
		t.Fatal(err)
	}
	used.Rebase(frozen)
	check("rebase of a used tree", used, pagesB)
	plain := NewMemTree(rootA, src)
	other := NewMemTree(rootA, src)
	other.Rebase(plain)
	if other.root == plain.root {
		t.Fatal("rebased onto a tree that is not frozen")
	}
	// A tree with uncommitted pages cannot be frozen.
	dirty := NewMemTree(rootA, src)
	dirty.SetPage(1, Hash{1})
	if err := dirty.Freeze(); err == nil {
		t.Fatal("froze a tree with uncommitted pages")
	}
}
