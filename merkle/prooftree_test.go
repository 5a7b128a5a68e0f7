package merkle

import (
	"math/rand/v2"
	"testing"
)

// TestMemoryMultiProofTree: the tree a proof builds reads and sets pages,
// proven or not, exactly as a tree loading its nodes from the store.
func TestMemoryMultiProofTree(t *testing.T) {
	f := newFixture(t, 141, 10)
	r := rand.New(rand.NewPCG(142, 143))
	for _, l := range f.leaves {
		npages := l.MemoryLen / PageSize
		for i := 0; i < 20; i++ {
			var set []uint64
			for k := r.IntN(40); k >= 0; k-- {
				set = append(set, r.Uint64N(npages+3))
			}
			p, err := ProveMemoryPages(NewMemTree(l.MemoryRoot, f.src), f.readPage, set)
			if err != nil {
				t.Fatal(err)
			}
			if got := p.Tree(l.MemoryRoot, f.src); got.root.resolved != (l.MemoryRoot == emptyMemory[MemoryTreeHeight]) {
				t.Fatal("a tree built before Root is not the lazy tree")
			}
			root, err := p.Root()
			if err != nil || root != l.MemoryRoot {
				t.Fatalf("root %s, %v", root, err)
			}
			built, lazy := p.Tree(root, f.src), NewMemTree(root, f.src)
			if !built.root.resolved {
				t.Fatal("the proof's tree has its root unresolved")
			}
			probe := append([]uint64{}, p.Pages...)
			for k := 0; k < 10; k++ {
				probe = append(probe, r.Uint64N(npages+8))
			}
			for _, pg := range probe {
				a, errA := built.Page(pg)
				b, errB := lazy.Page(pg)
				if a != b || (errA == nil) != (errB == nil) {
					t.Fatalf("page %d: built %s (%v), lazy %s (%v)", pg, a, errA, b, errB)
				}
			}
			for k := 0; k < 8; k++ {
				pg := probe[r.IntN(len(probe))]
				var h Hash
				if r.IntN(4) > 0 {
					h = HashPage([]byte{byte(r.Uint32()), byte(k)})
				} else {
					h = EmptyPageHash()
				}
				if err := built.SetPage(pg, h); err != nil {
					t.Fatal(err)
				}
				if err := lazy.SetPage(pg, h); err != nil {
					t.Fatal(err)
				}
			}
			if a, b := built.Root(), lazy.Root(); a != b {
				t.Fatalf("after the same writes: built root %s, lazy root %s", a, b)
			}
		}
	}
	// A proof whose Root gave another root builds no tree of its own.
	for _, l := range f.leaves {
		p, err := ProveMemoryPages(NewMemTree(l.MemoryRoot, f.src), f.readPage, []uint64{0})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.Root(); err != nil {
			t.Fatal(err)
		}
		other := l.MemoryRoot
		other[0] ^= 1
		if p.Tree(other, f.src).root.resolved {
			t.Fatal("a tree for another root")
		}
		break
	}
}
