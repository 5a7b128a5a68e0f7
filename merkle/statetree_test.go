package merkle

import (
	"math/rand/v2"
	"testing"
)

func randLeaf(r *rand.Rand, id ContractID) ContractLeaf {
	l := ContractLeaf{ID: id, Kind: Memory32, MemoryLen: WasmPageSize * uint64(1+r.IntN(16))}
	for _, h := range []*Hash{&l.CodeHash, &l.OwnerHash, &l.MemoryRoot, &l.GlobalsHash} {
		for i := range h {
			h[i] = byte(r.Uint32())
		}
	}
	if r.IntN(2) == 0 {
		l.Kind = Memory64
	}
	return l
}

func randID(r *rand.Rand) ContractID {
	var id ContractID
	for i := range id {
		id[i] = byte(r.Uint32())
	}
	return id
}

// TestStateTreeMatchesReference inserts, replaces and deletes contracts at
// random, committing and reloading, and checks every root against the
// from-scratch reference.
func TestStateTreeMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	src := NewMapSource()
	tree := NewStateTree(EmptyState(), src)
	leaves := map[ContractID]ContractLeaf{}
	var ids []ContractID
	for round := 0; round < 60; round++ {
		for k := 0; k < 1+r.IntN(30); k++ {
			switch op := r.IntN(10); {
			case op < 5 || len(ids) == 0:
				id := randID(r)
				if r.IntN(3) == 0 {
					id = ContractID{byte(r.IntN(4))} // Dusk-style small ids
				}
				l := randLeaf(r, id)
				if _, ok := leaves[id]; !ok {
					ids = append(ids, id)
				}
				leaves[id] = l
				if err := tree.Update(l); err != nil {
					t.Fatal(err)
				}
			case op < 8:
				id := ids[r.IntN(len(ids))]
				l := randLeaf(r, id)
				leaves[id] = l
				if err := tree.Update(l); err != nil {
					t.Fatal(err)
				}
			default:
				i := r.IntN(len(ids))
				id := ids[i]
				ids = append(ids[:i], ids[i+1:]...)
				delete(leaves, id)
				found, err := tree.Delete(id)
				if err != nil || !found {
					t.Fatalf("delete %s: %v %v", id, found, err)
				}
			}
		}
		if got, want := tree.Root(), refStateRoot(leaves); got != want {
			t.Fatalf("round %d (%d contracts): root %s, reference %s", round, len(leaves), got, want)
		}
		if round%4 == 0 {
			tree = NewStateTree(tree.Commit(src), src)
		}
	}
	// Deleting an absent id changes nothing.
	before := tree.Root()
	if found, err := tree.Delete(randID(r)); err != nil || found {
		t.Fatal("deleted an absent contract")
	}
	if tree.Root() != before {
		t.Fatal("root changed")
	}
	// Get and ForEach agree with the model.
	fresh := NewStateTree(tree.Commit(src), src)
	n := 0
	err := fresh.ForEach(func(l ContractLeaf) error {
		if leaves[l.ID] != l {
			t.Fatalf("ForEach gave a wrong leaf for %s", l.ID)
		}
		n++
		return nil
	})
	if err != nil || n != len(leaves) {
		t.Fatalf("ForEach visited %d of %d: %v", n, len(leaves), err)
	}
	for id, l := range leaves {
		got, ok, err := fresh.Get(id)
		if err != nil || !ok || got != l {
			t.Fatalf("Get %s: %v %v", id, ok, err)
		}
	}
}

func TestStateTreeOrderIndependent(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	var leaves []ContractLeaf
	for i := 0; i < 300; i++ {
		leaves = append(leaves, randLeaf(r, randID(r)))
	}
	var roots []Hash
	for trial := 0; trial < 5; trial++ {
		r.Shuffle(len(leaves), func(i, j int) { leaves[i], leaves[j] = leaves[j], leaves[i] })
		tree := NewStateTree(EmptyState(), nil)
		// Insert some extra contracts and delete them again: history must
		// not show in the root.
		for i := 0; i < trial*10; i++ {
			extra := randLeaf(r, randID(r))
			tree.Update(extra)
			tree.Delete(extra.ID)
		}
		for _, l := range leaves {
			if err := tree.Update(l); err != nil {
				t.Fatal(err)
			}
		}
		roots = append(roots, tree.Root())
	}
	for _, root := range roots[1:] {
		if root != roots[0] {
			t.Fatal("root depends on insertion order or history")
		}
	}
}

func TestStateTreeRejectsBadLeaf(t *testing.T) {
	tree := NewStateTree(EmptyState(), nil)
	if err := tree.Update(ContractLeaf{Kind: 7}); err == nil {
		t.Fatal("invalid memory kind accepted")
	}
	if err := tree.Update(ContractLeaf{Kind: Memory32, MemoryLen: 5}); err == nil {
		t.Fatal("unaligned memory length accepted")
	}
	if err := tree.Update(ContractLeaf{Kind: Memory32, MemoryLen: 1<<32 + WasmPageSize}); err == nil {
		t.Fatal("wasm32 memory over 4 GiB accepted")
	}
	if _, _, err := NewStateTree(Hash{1}, NewMapSource()).Get(ContractID{}); !isMissing(err) {
		t.Fatalf("unknown root: %v", err)
	}
}
