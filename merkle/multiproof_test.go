package merkle

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"reflect"
	"sort"
	"testing"
)

// multiIDs picks n ids of the fixture (present) and m random ones
// (absent), shuffled, with one duplicate.
func (f *fixture) multiIDs(r *rand.Rand, n, m int) []ContractID {
	var ids []ContractID
	for id := range f.leaves {
		if len(ids) == n {
			break
		}
		ids = append(ids, id)
	}
	for i := 0; i < m; i++ {
		ids = append(ids, randID(r))
	}
	if len(ids) > 0 {
		ids = append(ids, ids[0])
	}
	r.Shuffle(len(ids), func(i, j int) { ids[i], ids[j] = ids[j], ids[i] })
	return ids
}

// checkStateResult requires leaves to state the truth about ids.
func (f *fixture) checkStateResult(t *testing.T, ids []ContractID, leaves []*ContractLeaf) {
	t.Helper()
	if len(leaves) != len(ids) {
		t.Fatalf("%d results for %d ids", len(leaves), len(ids))
	}
	for i, id := range ids {
		l, present := f.leaves[id]
		switch {
		case present && (leaves[i] == nil || *leaves[i] != l):
			t.Fatalf("id %s: present, proof says %v", id, leaves[i])
		case !present && leaves[i] != nil:
			t.Fatalf("id %s: absent, proof gives a leaf", id)
		}
	}
}

func roundTripState(t *testing.T, p *StateMultiProof) *StateMultiProof {
	t.Helper()
	bin := p.AppendBinary([]byte{0xEE})
	q, rest, err := DecodeStateMultiProof(append(bin[1:], 1, 2))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(rest, []byte{1, 2}) {
		t.Fatalf("rest %x", rest)
	}
	if !reflect.DeepEqual(p.IDs, q.IDs) || len(p.Nodes) != len(q.Nodes) {
		t.Fatal("state part changed in a round trip")
	}
	for i := range p.Nodes {
		if p.Nodes[i] != q.Nodes[i] {
			t.Fatalf("node %d changed in a round trip", i)
		}
	}
	return q
}

func TestStateMultiProof(t *testing.T) {
	f := newFixture(t, 101, 60)
	r := rand.New(rand.NewPCG(102, 103))
	sets := [][]ContractID{nil, f.multiIDs(r, 1, 0), f.multiIDs(r, 0, 1), f.multiIDs(r, 60, 0), f.multiIDs(r, 60, 200)}
	for i := 0; i < 30; i++ {
		sets = append(sets, f.multiIDs(r, r.IntN(10), r.IntN(10)))
	}
	ends := map[StateNodeKind]int{}
	for _, ids := range sets {
		p, err := ProveStates(f.state, ids)
		if err != nil {
			t.Fatal(err)
		}
		want, _, _ := sortedIDs(ids)
		if !reflect.DeepEqual(p.IDs, want) && len(ids) > 0 {
			t.Fatalf("ids %v, want %v", p.IDs, want)
		}
		q := roundTripState(t, p)
		leaves, err := q.Verify(f.root)
		if err != nil {
			t.Fatalf("%d ids: %v", len(ids), err)
		}
		f.checkStateResult(t, q.IDs, leaves)
		for _, n := range q.Nodes {
			ends[n.Kind]++
		}
		// The expanded nodes serve every proven id to a state tree.
		src := NewMapSource()
		q.Expand(src)
		st := NewStateTree(f.root, src)
		for i, id := range q.IDs {
			l, ok, err := st.Get(id)
			if err != nil || ok != (leaves[i] != nil) || ok && l != *leaves[i] {
				t.Fatalf("expanded tree, id %s: %v %v", id, ok, err)
			}
		}
		// The proof does not verify against another root.
		other := f.root
		other[5] ^= 1
		if _, err := q.Verify(other); !errors.Is(err, ErrProofInvalid) {
			t.Fatalf("verifies against another root: %v", err)
		}
	}
	for _, k := range []StateNodeKind{StateEmpty, StateLeaf, StateInner, StateHash} {
		if ends[k] == 0 {
			t.Fatalf("no %s node in any proof: %v", k, ends)
		}
	}
	// Empty state: every id is absent, and no id proves the root alone.
	empty := NewStateTree(EmptyState(), nil)
	for _, ids := range [][]ContractID{nil, {{1}, {2}}} {
		p, err := ProveStates(empty, ids)
		if err != nil {
			t.Fatal(err)
		}
		leaves, err := roundTripState(t, p).Verify(EmptyState())
		if err != nil || len(leaves) != len(ids) || len(ids) > 0 && (leaves[0] != nil || leaves[1] != nil) {
			t.Fatalf("empty state: %v %v", leaves, err)
		}
	}
	// A tree with one contract: its leaf is the root.
	one := NewStateTree(EmptyState(), nil)
	l := f.leaves[f.anyID()]
	one.Update(l)
	p, _ := ProveStates(one, []ContractID{l.ID, {7}})
	got, err := roundTripState(t, p).Verify(one.Root())
	if err != nil || (got[0] == nil) == (got[1] == nil) {
		t.Fatalf("one-contract state: %v", err)
	}
}

// TestStateMultiProofTamper flips every bit of an encoded state part:
// nothing verifies but what is true.
func TestStateMultiProofTamper(t *testing.T) {
	f := newFixture(t, 111, 30)
	r := rand.New(rand.NewPCG(112, 113))
	p, err := ProveStates(f.state, f.multiIDs(r, 3, 3))
	if err != nil {
		t.Fatal(err)
	}
	bin := p.AppendBinary(nil)
	accepted := 0
	for i := 0; i < len(bin)*8; i++ {
		bad := bytes.Clone(bin)
		bad[i/8] ^= 1 << (i % 8)
		q, rest, err := DecodeStateMultiProof(bad)
		if err == nil && len(rest) == 0 {
			var leaves []*ContractLeaf
			if leaves, err = q.Verify(f.root); err == nil {
				// Only a flipped id can still verify, and then with the
				// truth about the new id.
				if reflect.DeepEqual(q.IDs, p.IDs) || i >= 8*(4+32*len(p.IDs)) {
					t.Fatalf("bit %d: tampered proof of the same ids verifies", i)
				}
				f.checkStateResult(t, q.IDs, leaves)
				accepted++
				continue
			}
		} else if err == nil {
			err = malformed("test", -1, "rest")
		}
		if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrProofInvalid) {
			t.Fatalf("bit %d: untyped error %v", i, err)
		}
	}
	// A flipped id routed where the original went proves a true fact
	// about another id: the claim check of VerifyMulti rejects that.
	t.Logf("%d of %d bit flips (all in ids) prove true facts about other ids", accepted, len(bin)*8)
	for n := 0; n < len(bin); n++ {
		if _, _, err := DecodeStateMultiProof(bin[:n]); !errors.Is(err, ErrMalformed) {
			t.Fatalf("truncated to %d: %v", n, err)
		}
	}
}

// TestStateMultiProofRules checks the structural (malformed) and shape
// (invalid) rules of SPEC.md §7.6 on hand-built proofs.
func TestStateMultiProofRules(t *testing.T) {
	f := newFixture(t, 121, 30)
	r := rand.New(rand.NewPCG(122, 123))
	p, err := ProveStates(f.state, f.multiIDs(r, 2, 2))
	if err != nil {
		t.Fatal(err)
	}
	find := func(k StateNodeKind) int {
		for i, n := range p.Nodes {
			if n.Kind == k {
				return i
			}
		}
		t.Fatalf("no %s node", k)
		return -1
	}
	mutate := func(fn func(q *StateMultiProof)) *StateMultiProof {
		q := &StateMultiProof{IDs: append([]ContractID(nil), p.IDs...), Nodes: append([]StateProofNode(nil), p.Nodes...)}
		fn(q)
		return q
	}
	check := func(name string, q *StateMultiProof, want error) {
		t.Helper()
		_, err := q.Verify(f.root)
		if !errors.Is(err, want) {
			t.Fatalf("%s: %v, want %v", name, err, want)
		}
		// The encoding of a malformed proof does not decode.
		if want == ErrMalformed {
			if q2, rest, err := DecodeStateMultiProof(q.AppendBinary(nil)); err == nil && len(rest) == 0 {
				t.Fatalf("%s: encoding decodes to %v", name, q2)
			}
		}
	}
	h := find(StateHash)
	check("opaque Z", mutate(func(q *StateMultiProof) { q.Nodes[h].Hash = Hash{} }), ErrMalformed)
	check("unknown tag", mutate(func(q *StateMultiProof) { q.Nodes[h].Kind = 4 }), ErrMalformed)
	check("opaque root", mutate(func(q *StateMultiProof) { q.Nodes = []StateProofNode{{Kind: StateHash, Hash: f.root}} }), ErrMalformed)
	check("leaf where no id leads", mutate(func(q *StateMultiProof) {
		q.Nodes[h] = StateProofNode{Kind: StateLeaf, Leaf: f.leaves[f.anyID()]}
	}), ErrMalformed)
	check("trailing node", mutate(func(q *StateMultiProof) { q.Nodes = append(q.Nodes, StateProofNode{}) }), ErrMalformed)
	check("missing node", mutate(func(q *StateMultiProof) { q.Nodes = q.Nodes[:len(q.Nodes)-1] }), ErrMalformed)
	check("ids out of order", mutate(func(q *StateMultiProof) { q.IDs[0], q.IDs[1] = q.IDs[1], q.IDs[0] }), ErrMalformed)
	check("invalid leaf", mutate(func(q *StateMultiProof) { q.Nodes[find(StateLeaf)].Leaf.Kind = 9 }), ErrMalformed)
	check("other leaf", mutate(func(q *StateMultiProof) {
		i := find(StateLeaf)
		for id, l := range f.leaves {
			if id != q.Nodes[i].Leaf.ID {
				q.Nodes[i].Leaf = l
				return
			}
		}
	}), ErrProofInvalid)
	check("sibling hash", mutate(func(q *StateMultiProof) { q.Nodes[h].Hash[0] ^= 1 }), ErrProofInvalid)
	// A leaf beside Z: a well-formed tree shape the canonical tree never has.
	one := NewStateTree(EmptyState(), nil)
	l := f.leaves[f.anyID()]
	one.Update(l)
	key := StateKey(l.ID)
	leafFirst := keyBit(&key, 0) == 0
	nodes := []StateProofNode{{Kind: StateInner}, {Kind: StateLeaf, Leaf: l}, {Kind: StateEmpty}}
	if !leafFirst {
		nodes[1], nodes[2] = nodes[2], nodes[1]
	}
	q := &StateMultiProof{IDs: []ContractID{l.ID}, Nodes: nodes}
	hs := nodeHashes(nodes[1:], l)
	if _, err := q.Verify(DomainStateNode.Sum2(hs[0], hs[1])); !errors.Is(err, ErrProofInvalid) {
		t.Fatalf("leaf beside Z: %v", err)
	}
	// Inner nodes all the way down: tag 2 at depth 256 is malformed.
	var deep []StateProofNode
	for d := 0; d < StateTreeHeight; d++ {
		deep = append(deep, StateProofNode{Kind: StateInner})
	}
	deep = append(deep, StateProofNode{Kind: StateInner})
	_, err = (&StateMultiProof{IDs: []ContractID{l.ID}, Nodes: deep}).Verify(f.root)
	if !errors.Is(err, ErrMalformed) {
		t.Fatalf("inner node at depth 256: %v", err)
	}
}

func nodeHashes(nodes []StateProofNode, l ContractLeaf) []Hash {
	out := make([]Hash, 2)
	for i, n := range nodes {
		if n.Kind == StateLeaf {
			out[i] = l.Hash()
		}
	}
	return out
}

// unionSiblings counts, independently of the package's slot order, the
// memory siblings a set of pages needs: every node beside an ancestor of a
// page that is not itself an ancestor of one.
func unionSiblings(pages []uint64) int {
	anc := map[[2]uint64]bool{}
	for _, p := range pages {
		for h := uint64(0); h <= 30; h++ {
			anc[[2]uint64{h, p >> h}] = true
		}
	}
	n := 0
	for k := range anc {
		if k[0] < 30 && !anc[[2]uint64{k[0], k[1] ^ 1}] {
			n++
		}
	}
	return n
}

func TestMemoryMultiProof(t *testing.T) {
	f := newFixture(t, 131, 10)
	r := rand.New(rand.NewPCG(132, 133))
	for id, l := range f.leaves {
		mt := NewMemTree(l.MemoryRoot, f.src)
		npages := l.MemoryLen / PageSize
		sets := [][]uint64{{0}, {MaxPages - 1}, {0, 1, 2, 3}, {npages - 1, npages, npages + 5, 1 << 29}}
		for i := 0; i < 10; i++ {
			var s []uint64
			for k := r.IntN(20); k >= 0; k-- {
				s = append(s, r.Uint64N(npages+3))
			}
			sets = append(sets, s)
		}
		for _, set := range sets {
			p, err := ProveMemoryPages(mt, f.readPage, set)
			if err != nil {
				t.Fatal(err)
			}
			if len(p.Siblings) != unionSiblings(p.Pages) {
				t.Fatalf("%d siblings, the union of the paths has %d", len(p.Siblings), unionSiblings(p.Pages))
			}
			for _, withIdx := range []bool{true, false} {
				bin := p.AppendBinary(nil, withIdx)
				var idx []uint64
				if !withIdx {
					idx = p.Pages
				}
				q, rest, err := DecodeMemoryMultiProof(append(bin, 9), idx)
				if err != nil || !bytes.Equal(rest, []byte{9}) {
					t.Fatalf("decode: %v, rest %x", err, rest)
				}
				root, err := q.Root()
				if err != nil || root != l.MemoryRoot {
					t.Fatalf("root %s, %v; want %s", root, err, l.MemoryRoot)
				}
				for i, pg := range q.Pages {
					want := f.memBytes(id, pg*PageSize, PageSize)
					if got := q.Data[i]; !bytes.Equal(want, make([]byte, PageSize)) && !bytes.Equal(got, want) || got == nil && !isZero(want) {
						t.Fatalf("page %d: wrong content", pg)
					}
				}
				if again := q.AppendBinary(nil, withIdx); !bytes.Equal(again, bin) {
					t.Fatal("encoding not stable")
				}
				// The expanded nodes serve every proven page to a memory tree.
				src := NewMapSource()
				got := map[Hash][]byte{}
				q.Expand(src, func(h Hash, data []byte) { got[h] = data })
				mt2 := NewMemTree(root, src)
				for i, pg := range q.Pages {
					h, err := mt2.Page(pg)
					if err != nil {
						t.Fatalf("expanded tree, page %d: %v", pg, err)
					}
					if q.Data[i] == nil {
						if h != EmptyPageHash() {
							t.Fatalf("expanded tree, zero page %d has hash %s", pg, h)
						}
						continue
					}
					if h != HashPage(q.Data[i]) || !bytes.Equal(got[h], q.Data[i]) {
						t.Fatalf("expanded tree, page %d", pg)
					}
				}
			}
		}
		// One contiguous range: the slots are exactly §7.2's.
		p, err := ProveMemoryPages(mt, f.readPage, []uint64{7, 5, 6, 8, 9})
		if err != nil {
			t.Fatal(err)
		}
		sib, _ := mt.ProveRange(5, 9)
		if !reflect.DeepEqual(sib, p.Siblings) {
			t.Fatal("a contiguous page set's siblings differ from the range proof's")
		}
	}
}

func TestMemoryMultiProofTamper(t *testing.T) {
	f := newFixture(t, 141, 3)
	id := f.anyID()
	l := f.leaves[id]
	var set []uint64
	for pg := range f.mems[id] {
		set = append(set, pg)
	}
	sort.Slice(set, func(a, b int) bool { return set[a] < set[b] })
	set = append(set[:3], 1000, 1001, 70000)
	p, err := ProveMemoryPages(NewMemTree(l.MemoryRoot, f.src), f.readPage, set)
	if err != nil {
		t.Fatal(err)
	}
	bin := p.AppendBinary(nil, true)
	for i := 0; i < len(bin)*8; i++ {
		if i >= 8*(4+4*len(set)+1) && i < len(bin)*8-8*32*40 && i%61 != 0 {
			continue // page contents: sampled
		}
		bad := bytes.Clone(bin)
		bad[i/8] ^= 1 << (i % 8)
		q, rest, err := DecodeMemoryMultiProof(bad, nil)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("bit %d: %v", i, err)
			}
			continue
		}
		if root, err := q.Root(); err == nil && root == l.MemoryRoot && len(rest) == 0 && reflect.DeepEqual(q.Pages, p.Pages) {
			t.Fatalf("bit %d: tampered proof gives the same root", i)
		}
	}
	for n := 0; n < len(bin); n += 1 + n/16 {
		if _, _, err := DecodeMemoryMultiProof(bin[:n], nil); !errors.Is(err, ErrMalformed) {
			t.Fatalf("truncated to %d: %v", n, err)
		}
	}
	// Shape errors of hand-built proofs.
	for name, q := range map[string]*MemoryMultiProof{
		"no pages":         {},
		"descending pages": {Pages: []uint64{2, 1}, Data: make([][]byte, 2)},
		"page past 2^30":   {Pages: []uint64{MaxPages}, Data: make([][]byte, 1)},
		"missing data":     {Pages: p.Pages, Data: p.Data[1:], Siblings: p.Siblings},
		"short page":       {Pages: p.Pages[:1], Data: [][]byte{{1}}, Siblings: p.Siblings},
		"few siblings":     {Pages: p.Pages, Data: p.Data, Siblings: p.Siblings[1:]},
		"more siblings":    {Pages: p.Pages, Data: p.Data, Siblings: append(p.Siblings, Hash{})},
	} {
		if _, err := q.Root(); !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrProofInvalid) {
			t.Fatalf("%s: %v", name, err)
		}
	}
	if _, err := ProveMemoryPages(NewMemTree(l.MemoryRoot, f.src), f.readPage, []uint64{MaxPages}); !errors.Is(err, ErrOutOfRange) {
		t.Fatalf("page 2^30: %v", err)
	}
	if _, err := ProveMemoryPages(NewMemTree(l.MemoryRoot, f.src), f.readPage, nil); !errors.Is(err, ErrOutOfRange) {
		t.Fatalf("no pages: %v", err)
	}
}
