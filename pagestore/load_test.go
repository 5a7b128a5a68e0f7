package pagestore

import (
	"context"
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/wasmstate/wasmstate/merkle"
)

// postOrder lists the objects reachable from root in src, each once,
// children before parents, read with ReadObject and walked with
// AppendChildren: what a bulk load writes, in an order it may write it.
func postOrder(t *testing.T, src *Store, root merkle.Hash) ([]Ref, [][]byte) {
	t.Helper()
	var refs []Ref
	var vals [][]byte
	seen := map[Ref]bool{}
	var visit func(r Ref)
	visit = func(r Ref) {
		if r.Implicit() || seen[r] {
			return
		}
		seen[r] = true
		v, err := src.ReadObject(r.Kind, r.Hash)
		if err != nil {
			t.Fatalf("%s %s: %v", r.Kind, r.Hash, err)
		}
		kids, err := AppendChildren(nil, r, v)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range kids {
			visit(c)
		}
		refs, vals = append(refs, r), append(vals, v)
	}
	visit(Ref{Kind: KindStateNode, Hash: root})
	return refs, vals
}

// TestLoader copies a committed state into an empty store with a Loader
// (small batches), then commits its record and head: the copy holds the
// same state and passes Fsck.
func TestLoader(t *testing.T) {
	src := newMemStore(t, nil)
	r := rand.New(rand.NewPCG(7, 7))
	w := newWorld(src, merkle.EmptyState())
	b := NewBatch()
	for i := 0; i < 5; i++ {
		w.deploy(b, cid(i), []byte("code"), []byte{byte(i)})
		for p := uint64(0); p < 20; p += 3 {
			if err := w.writePage(b, cid(i), p*uint64(i+1)%testPages, sparsePage(r)); err != nil {
				t.Fatal(err)
			}
		}
	}
	root := w.commit(t, src, b, 1)
	refs, vals := postOrder(t, src, root)

	dst := newMemStore(t, nil)
	if held, err := dst.HoldsObjects(); err != nil || held {
		t.Fatalf("a new store holds objects: %v %v", held, err)
	}
	l := dst.NewLoader(1 << 10)
	l.Put(Ref{Kind: KindPage, Hash: merkle.EmptyPageHash()}, make([]byte, merkle.PageSize)) // implicit: ignored
	if l.Len() != 0 {
		t.Fatal("an implicit object was staged")
	}
	for i, ref := range refs {
		l.Put(ref, vals[i])
		if l.Bytes() >= 8<<10 {
			if err := l.Write(); err != nil {
				t.Fatal(err)
			}
			if l.Len() != 0 || l.Bytes() != 0 {
				t.Fatal("a write left objects staged")
			}
		}
	}
	if err := l.Write(); err != nil {
		t.Fatal(err)
	}
	if held, err := dst.HoldsObjects(); err != nil || !held {
		t.Fatalf("after the load: %v %v", held, err)
	}
	rec, err := src.CommitRecord(root)
	if err != nil {
		t.Fatal(err)
	}
	fin := NewBatch()
	fin.SetCommit(rec)
	fin.SetHead(root)
	if _, err := dst.Commit(fin); err != nil {
		t.Fatal(err)
	}
	checkRoot(t, dst, root, w.snapshot())
	if p, err := dst.Fsck(context.Background(), nil); err != nil || len(p) > 0 {
		t.Fatalf("fsck: %v %v", err, p)
	}
}

func TestReadObject(t *testing.T) {
	s := newMemStore(t, nil)
	w := newWorld(s, merkle.EmptyState())
	b := NewBatch()
	w.deploy(b, cid(1), []byte("code"), []byte("owner"))
	if err := w.writePage(b, cid(1), 3, sparsePage(rand.New(rand.NewPCG(1, 1)))); err != nil {
		t.Fatal(err)
	}
	root := w.commit(t, s, b, 1)
	leafBytes, err := s.ReadObject(KindStateNode, root) // one contract: the root is its leaf
	if err != nil {
		t.Fatal(err)
	}
	if err := CheckObject(KindStateNode, root, leafBytes); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		k    Kind
		h    merkle.Hash
		want error
	}{
		{KindPage, merkle.EmptyPageHash(), ErrNotFound},
		{KindStateNode, merkle.Hash{9}, ErrNotFound},
		{KindCommit, root, ErrInvalid},
	} {
		if _, err := s.ReadObject(c.k, c.h); !errors.Is(err, c.want) {
			t.Errorf("%s %s: %v, want %v", c.k, c.h, err, c.want)
		}
	}
	// A damaged value is never returned.
	code := merkle.HashCode([]byte("code"))
	overwrite(t, s.Backend(), KindCode, code, []byte("cod3"))
	if _, err := s.ReadObject(KindCode, code); !errors.Is(err, ErrCorrupt) {
		t.Errorf("damaged code: %v", err)
	}
}

func TestRefs(t *testing.T) {
	for _, c := range []struct {
		r    Ref
		want bool
	}{
		{Ref{Kind: KindPage, Hash: merkle.EmptyPageHash()}, true},
		{Ref{Kind: KindMemoryNode, Hash: merkle.EmptyMemory(7), Height: 7}, true},
		{Ref{Kind: KindMemoryNode, Hash: merkle.EmptyMemory(7), Height: 8}, false},
		{Ref{Kind: KindStateNode, Hash: merkle.EmptyState()}, true},
		{Ref{Kind: KindCode, Hash: merkle.Hash{}}, false},
	} {
		if c.r.Implicit() != c.want {
			t.Errorf("%+v: Implicit %v", c.r, !c.want)
		}
	}
	l, r := merkle.Hash{1}, merkle.Hash{2}
	v := append(l[:], r[:]...)
	kids, err := AppendChildren(nil, Ref{Kind: KindMemoryNode, Height: 1}, v)
	if err != nil || len(kids) != 2 || kids[0] != (Ref{Kind: KindPage, Hash: l}) || kids[1] != (Ref{Kind: KindPage, Hash: r}) {
		t.Errorf("height 1: %v %v", kids, err)
	}
	kids, _ = AppendChildren(nil, Ref{Kind: KindMemoryNode, Height: 5}, v)
	if kids[0] != (Ref{Kind: KindMemoryNode, Hash: l, Height: 4}) {
		t.Errorf("height 5: %v", kids)
	}
	leaf := merkle.ContractLeaf{CodeHash: merkle.Hash{3}, OwnerHash: merkle.Hash{4}, Kind: merkle.Memory32, MemoryRoot: merkle.Hash{5}, GlobalsHash: merkle.Hash{6}}
	kids, err = AppendChildren(nil, Ref{Kind: KindStateNode}, leaf.Encode())
	want := []Ref{{Kind: KindCode, Hash: merkle.Hash{3}}, {Kind: KindOwner, Hash: merkle.Hash{4}},
		{Kind: KindMemoryNode, Hash: merkle.Hash{5}, Height: merkle.MemoryTreeHeight}, {Kind: KindGlobals, Hash: merkle.Hash{6}}}
	if err != nil || len(kids) != 4 || kids[0] != want[0] || kids[1] != want[1] || kids[2] != want[2] || kids[3] != want[3] {
		t.Errorf("leaf: %v %v", kids, err)
	}
	for _, bad := range []struct {
		r Ref
		v []byte
	}{
		{Ref{Kind: KindMemoryNode, Height: 1}, v[:63]},
		{Ref{Kind: KindMemoryNode, Height: 0}, v},
		{Ref{Kind: KindStateNode}, make([]byte, merkle.ContractLeafSize)}, // memory kind 0
	} {
		if _, err := AppendChildren(nil, bad.r, bad.v); !errors.Is(err, ErrInvalid) {
			t.Errorf("%+v: %v", bad.r, err)
		}
	}
	if kids, err := AppendChildren(nil, Ref{Kind: KindPage}, make([]byte, merkle.PageSize)); err != nil || len(kids) != 0 {
		t.Errorf("page: %v %v", kids, err)
	}
}
