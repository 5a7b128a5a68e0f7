package merkle

import (
	"math/rand/v2"
	"testing"
)

func randPage(r *rand.Rand) []byte {
	p := make([]byte, PageSize)
	for i := 0; i < 8; i++ {
		p[r.IntN(PageSize)] = byte(r.Uint32())
	}
	return p
}

func TestEmptyHashes(t *testing.T) {
	for h := 0; h <= MemoryTreeHeight; h++ {
		if EmptyMemory(h) != refEmpty(h) {
			t.Fatalf("empty hash at height %d differs from the reference", h)
		}
	}
	if NewMemTree(EmptyMemoryRoot(), nil).Root() != refMemoryRoot(nil) {
		t.Fatal("empty tree root")
	}
}

func TestDomainsDiffer(t *testing.T) {
	seen := map[[32]byte]Domain{}
	for d := Domain(0); d < numDomains; d++ {
		if prev, ok := seen[d.Key()]; ok {
			t.Fatalf("domains %v and %v share a key", prev, d)
		}
		seen[d.Key()] = d
	}
	var a, b Hash
	if DomainMemoryNode.Sum2(a, b) == DomainStateNode.Sum2(a, b) {
		t.Fatal("memory and state nodes hash alike")
	}
}

// TestMemTreeMatchesReference applies random writes and clears, with
// commits and reloads in between, and checks every root against the
// from-scratch reference.
func TestMemTreeMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	src := NewMapSource()
	pages := map[uint64][]byte{}
	tree := NewMemTree(EmptyMemoryRoot(), src)
	for round := 0; round < 40; round++ {
		for k := 0; k < 1+r.IntN(20); k++ {
			var idx uint64
			switch r.IntN(4) {
			case 0:
				idx = r.Uint64N(MaxPages) // anywhere in 4 TiB
			case 1:
				idx = MaxPages - 1 - r.Uint64N(4)
			default:
				idx = r.Uint64N(64)
			}
			p := randPage(r)
			if r.IntN(4) == 0 {
				p = make([]byte, PageSize) // a write of zeros clears the page
			}
			pages[idx] = p
			if err := tree.SetPage(idx, HashPage(p)); err != nil {
				t.Fatal(err)
			}
		}
		want := refMemoryRoot(pages)
		if got := tree.Root(); got != want {
			t.Fatalf("round %d: root %s, reference %s", round, got, want)
		}
		if round%3 == 0 {
			root, err := tree.Commit(src)
			if err != nil {
				t.Fatal(err)
			}
			tree = NewMemTree(root, src) // reload lazily from the source
		}
	}
	// Every page reads back through a fresh tree.
	root, _ := tree.Commit(src)
	fresh := NewMemTree(root, src)
	for idx, p := range pages {
		h, err := fresh.Page(idx)
		if err != nil || h != HashPage(p) {
			t.Fatalf("page %d: %v", idx, err)
		}
	}
	var n int
	err := fresh.ForEachPage(func(idx uint64, h Hash) error {
		if h != HashPage(pages[idx]) || h == EmptyPageHash() {
			t.Fatalf("ForEachPage gave page %d wrongly", idx)
		}
		n++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	nonZero := 0
	for _, p := range pages {
		if !isZero(p) {
			nonZero++
		}
	}
	if n != nonZero {
		t.Fatalf("ForEachPage visited %d pages, want %d", n, nonZero)
	}
}

func TestMemTreeWriteOrderIndependent(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	// Distinct indices, so every order of writes leaves the same pages.
	seen := map[uint64]bool{}
	var idx []uint64
	var hs []Hash
	for len(idx) < 50 {
		i := r.Uint64N(1 << 20)
		if seen[i] {
			continue
		}
		seen[i] = true
		idx = append(idx, i)
		hs = append(hs, HashPage(randPage(r)))
	}
	a := NewMemTree(EmptyMemoryRoot(), nil)
	b := NewMemTree(EmptyMemoryRoot(), nil)
	c := NewMemTree(EmptyMemoryRoot(), nil)
	for i := range idx {
		if err := a.SetPage(idx[i], hs[i]); err != nil {
			t.Fatal(err)
		}
		if err := b.SetPage(idx[len(idx)-1-i], hs[len(idx)-1-i]); err != nil {
			t.Fatal(err)
		}
	}
	// c: a random order, with each page first written with other contents
	// and rewritten, and roots taken in between.
	for _, k := range r.Perm(len(idx)) {
		if err := c.SetPage(idx[k], HashPage(randPage(r))); err != nil {
			t.Fatal(err)
		}
		c.Root()
	}
	for _, k := range r.Perm(len(idx)) {
		if err := c.SetPage(idx[k], hs[k]); err != nil {
			t.Fatal(err)
		}
	}
	if a.Root() != b.Root() || a.Root() != c.Root() {
		t.Fatalf("root depends on write order: %s, reversed %s, shuffled %s", a.Root(), b.Root(), c.Root())
	}
	if a.Root() == EmptyMemoryRoot() {
		t.Fatal("50 pages written, root still empty")
	}
}

func TestMemTreeErrors(t *testing.T) {
	tree := NewMemTree(EmptyMemoryRoot(), nil)
	if err := tree.SetPage(MaxPages, Hash{}); err == nil {
		t.Fatal("page past the tree accepted")
	}
	if _, err := tree.Page(MaxPages); err == nil {
		t.Fatal("page past the tree read")
	}
	missing := NewMemTree(Hash{1}, NewMapSource())
	if _, err := missing.Page(0); !isMissing(err) {
		t.Fatalf("missing node: %v", err)
	}
	if err := missing.SetPage(0, Hash{}); !isMissing(err) {
		t.Fatalf("missing node on write: %v", err)
	}
	if _, err := missing.Commit(NewMapSource()); !isMissing(err) {
		t.Fatalf("commit of a broken tree: %v", err)
	}
}

// TestMemTreeIncrementalHashing counts node hashes: a batch of k pages
// rehashes exactly the union of their paths.
func TestMemTreeIncrementalHashing(t *testing.T) {
	tree := NewMemTree(EmptyMemoryRoot(), nil)
	for i := uint64(0); i < 1024; i++ {
		tree.SetPage(i, Hash{byte(i), byte(i >> 8), 1})
	}
	tree.Root()
	tree.SetPage(5, Hash{9})
	tree.SetPage(6, Hash{9})
	dirty := countDirty(tree.root, MemoryTreeHeight)
	// Pages 5 (0b101) and 6 (0b110) share the nodes at heights 2..30; at
	// height 1 their paths split.
	if want := MemoryTreeHeight - 1 + 2; dirty != want {
		t.Fatalf("%d dirty nodes, want %d", dirty, want)
	}
}

func countDirty(n *mnode, h int) int {
	if n == nil || !n.dirty || h == 0 {
		return 0
	}
	return 1 + countDirty(n.left, h-1) + countDirty(n.right, h-1)
}
