package merkle

import (
	"bytes"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"reflect"
	"testing"
)

// randClaim builds a claim over the fixture: some present contracts with
// ranges (overlapping, across pages, at the memory's end), some ids alone,
// some absent ids.
func (f *fixture) randClaim(r *rand.Rand, ranged, plain, absent int) MultiClaim {
	var c MultiClaim
	for id, l := range f.leaves {
		switch {
		case ranged > 0:
			ranged--
			for k := r.IntN(4); k >= 0; k-- {
				off := r.Uint64N(l.MemoryLen)
				n := 1 + r.Uint64N(min(l.MemoryLen-off, 3*PageSize))
				c.Ranges = append(c.Ranges, ByteRange{id, off, n})
			}
			c.Ranges = append(c.Ranges, ByteRange{id, l.MemoryLen - 1, 1}, c.Ranges[len(c.Ranges)-1])
		case plain > 0:
			plain--
			c.IDs = append(c.IDs, id)
		}
	}
	for ; absent > 0; absent-- {
		c.IDs = append(c.IDs, randID(r))
	}
	r.Shuffle(len(c.IDs), func(i, j int) { c.IDs[i], c.IDs[j] = c.IDs[j], c.IDs[i] })
	r.Shuffle(len(c.Ranges), func(i, j int) { c.Ranges[i], c.Ranges[j] = c.Ranges[j], c.Ranges[i] })
	return c
}

func (f *fixture) proveMulti(t testing.TB, c MultiClaim) *MultiProof {
	t.Helper()
	p, err := ProveMulti(f.state, f.src, f.readPage, c)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// checkMulti requires m to state the truth about claim c.
func (f *fixture) checkMulti(t *testing.T, c MultiClaim, m *MultiProven) {
	t.Helper()
	for _, id := range c.IDs {
		l, known := m.Leaf(id)
		want, present := f.leaves[id]
		if !known || present != (l != nil) || present && *l != want {
			t.Fatalf("contract %s: known %v, leaf %v, present %v", id, known, l, present)
		}
	}
	for _, r := range c.Ranges {
		data, ok := m.Bytes(r)
		if !ok || !bytes.Equal(data, f.memBytes(r.ID, r.Offset, r.Length)) {
			t.Fatalf("range %s %d+%d: proven %v, wrong bytes", r.ID, r.Offset, r.Length, ok)
		}
	}
}

func TestMultiProof(t *testing.T) {
	f := newFixture(t, 201, 40)
	r := rand.New(rand.NewPCG(202, 203))
	claims := []MultiClaim{{}, {IDs: []ContractID{f.anyID()}}, {IDs: []ContractID{{1}}}, f.randClaim(r, 1, 0, 0)}
	for i := 0; i < 20; i++ {
		claims = append(claims, f.randClaim(r, r.IntN(5), r.IntN(5), r.IntN(5)))
	}
	for i, c := range claims {
		p := f.proveMulti(t, c)
		q := roundTrip(t, p)
		m, err := VerifyMulti(f.root, q, c)
		if err != nil {
			t.Fatalf("claim %d: %v", i, err)
		}
		f.checkMulti(t, c, m)
		got, err := VerifyAny(f.root, q)
		if err != nil || got.Kind != KindMulti || !reflect.DeepEqual(got.Multi, m) {
			t.Fatalf("claim %d: VerifyAny: %v", i, err)
		}
		// Another root, another claim, another kind: invalid.
		other := f.root
		other[0] ^= 1
		if _, err := VerifyMulti(other, q, c); !errors.Is(err, ErrProofInvalid) {
			t.Fatalf("claim %d: another root: %v", i, err)
		}
		more := MultiClaim{IDs: append(append([]ContractID(nil), c.IDs...), ContractID{0xAB}), Ranges: c.Ranges}
		if _, err := VerifyMulti(f.root, q, more); !errors.Is(err, ErrProofInvalid) {
			t.Fatalf("claim %d: a claim with one more id: %v", i, err)
		}
		if len(c.Ranges) > 0 {
			fewer := MultiClaim{IDs: c.IDs, Ranges: c.Ranges[1:]}
			for _, x := range c.Ranges[1:] {
				if x == c.Ranges[0] {
					fewer.Ranges = append(fewer.Ranges, ByteRange{x.ID, 0, 1}) // keep it different
					break
				}
			}
			if _, err := VerifyMulti(f.root, q, fewer); !errors.Is(err, ErrProofInvalid) {
				t.Fatalf("claim %d: a claim with another range set: %v", i, err)
			}
		}
	}
	single, _ := ProveContract(f.state, f.anyID())
	if _, err := VerifyMulti(f.root, single, MultiClaim{IDs: []ContractID{f.anyID()}}); !errors.Is(err, ErrProofInvalid) {
		t.Fatalf("a contract proof for a multi claim: %v", err)
	}
	if _, err := VerifyContract(f.root, f.anyID(), f.proveMulti(t, MultiClaim{IDs: []ContractID{f.anyID()}})); !errors.Is(err, ErrProofInvalid) {
		t.Fatalf("a multiproof for a contract claim: %v", err)
	}
	if _, err := VerifyMulti(f.root, nil, MultiClaim{}); !errors.Is(err, ErrProofInvalid) {
		t.Fatalf("nil proof: %v", err)
	}
	if _, err := VerifyMulti(f.root, (*MultiProof)(nil), MultiClaim{}); !errors.Is(err, ErrProofInvalid) {
		t.Fatalf("nil multiproof: %v", err)
	}
	if _, err := VerifyMulti(f.root, f.proveMulti(t, MultiClaim{}), MultiClaim{Ranges: []ByteRange{{f.anyID(), 0, 0}}}); !errors.Is(err, ErrProofInvalid) {
		t.Fatalf("an empty range claimed: %v", err)
	}
}

func TestMultiProofErrors(t *testing.T) {
	f := newFixture(t, 211, 20)
	id := f.anyID()
	l := f.leaves[id]
	absent := ContractID{0xCD}
	for name, c := range map[string]MultiClaim{
		"range past the memory": {Ranges: []ByteRange{{id, l.MemoryLen - 10, 11}}},
		"empty range":           {Ranges: []ByteRange{{id, 0, 0}}},
		"range over 16 MiB":     {Ranges: []ByteRange{{id, 0, MaxProofRange + 1}}},
		"range past 2^42":       {Ranges: []ByteRange{{id, MaxMemoryBytes - 1, 2}}},
		"absent contract":       {Ranges: []ByteRange{{absent, 0, 1}}},
	} {
		if _, err := ProveMulti(f.state, f.src, f.readPage, c); !errors.Is(err, ErrOutOfRange) {
			t.Fatalf("%s: %v", name, err)
		}
	}
	// Hand-built: a range past the memory, with pages that are genuinely
	// zero there, is out of range; bytes of an absent contract are invalid.
	build := func(rid ContractID, off, n uint64, mem ContractLeaf) *MultiProof {
		sp, err := ProveStates(f.state, []ContractID{rid})
		if err != nil {
			t.Fatal(err)
		}
		first, last := pageSpan(off, n)
		var set []uint64
		for i := first; i <= last; i++ {
			set = append(set, i)
		}
		mp, err := ProveMemoryPages(NewMemTree(mem.MemoryRoot, f.src), f.readPage, set)
		if err != nil {
			t.Fatal(err)
		}
		return &MultiProof{State: *sp, Ranges: []ByteRange{{rid, off, n}}, Memories: []MemoryMultiProof{*mp}}
	}
	past := build(id, l.MemoryLen-10, 4096, l)
	bin, err := past.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	q, err := DecodeProof(bin)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := VerifyMulti(f.root, q, MultiClaim{Ranges: past.Ranges}); !errors.Is(err, ErrOutOfRange) {
		t.Fatalf("range past the memory: %v", err)
	}
	// The claim is checked before the range: another claim is invalid.
	if _, err := VerifyMulti(f.root, q, MultiClaim{Ranges: []ByteRange{{id, 0, 1}}}); !errors.Is(err, ErrProofInvalid) {
		t.Fatalf("range past the memory, other claim: %v", err)
	}
	if _, err := VerifyMulti(f.root, build(absent, 0, 1, l), MultiClaim{Ranges: []ByteRange{{absent, 0, 1}}}); !errors.Is(err, ErrProofInvalid) {
		t.Fatalf("bytes of an absent contract: %v", err)
	}
	// Structure: what the decoder would reject is malformed.
	good := f.proveMulti(t, MultiClaim{Ranges: []ByteRange{{id, 0, 1}, {id, 3 * PageSize, 10}}})
	for name, mut := range map[string]func(p *MultiProof){
		"ranges out of order": func(p *MultiProof) { p.Ranges[0], p.Ranges[1] = p.Ranges[1], p.Ranges[0] },
		"duplicate range":     func(p *MultiProof) { p.Ranges[1] = p.Ranges[0] },
		"range of another id": func(p *MultiProof) { p.Ranges[0].ID = absent },
		"no memory part":      func(p *MultiProof) { p.Memories = nil },
		"wrong pages":         func(p *MultiProof) { p.Memories[0].Pages = []uint64{0, 4} },
		"short page":          func(p *MultiProof) { p.Memories[0].Data[0] = []byte{1} },
		"state node added":    func(p *MultiProof) { p.State.Nodes = append(p.State.Nodes, StateProofNode{}) },
	} {
		p := cloneMulti(good)
		mut(p)
		if _, err := VerifyMulti(f.root, p, MultiClaim{Ranges: good.Ranges}); !errors.Is(err, ErrMalformed) {
			t.Fatalf("%s: VerifyMulti: %v", name, err)
		}
		if _, err := VerifyAny(f.root, p); !errors.Is(err, ErrMalformed) {
			t.Fatalf("%s: VerifyAny: %v", name, err)
		}
		if _, err := p.MarshalBinary(); !errors.Is(err, ErrMalformed) {
			t.Fatalf("%s: MarshalBinary: %v", name, err)
		}
		if _, err := json.Marshal(p); err == nil {
			t.Fatalf("%s: MarshalJSON accepted it", name)
		}
	}
}

func cloneMulti(p *MultiProof) *MultiProof {
	q := &MultiProof{State: StateMultiProof{IDs: append([]ContractID(nil), p.State.IDs...), Nodes: append([]StateProofNode(nil), p.State.Nodes...)},
		Ranges: append([]ByteRange(nil), p.Ranges...)}
	for _, m := range p.Memories {
		q.Memories = append(q.Memories, MemoryMultiProof{Pages: append([]uint64(nil), m.Pages...), Data: append([][]byte(nil), m.Data...), Siblings: append([]Hash(nil), m.Siblings...)})
	}
	return q
}

// TestMultiProofTamper flips bits of an encoded multiproof: nothing is
// accepted for the claim, and every error is typed.
func TestMultiProofTamper(t *testing.T) {
	f := newFixture(t, 221, 30)
	r := rand.New(rand.NewPCG(222, 223))
	c := f.randClaim(r, 2, 2, 2)
	bin, err := f.proveMulti(t, c).MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	step := 1
	if raceEnabled {
		step = 3
	}
	for i := 0; i < len(bin)*8; i += step {
		if byteInPage(bin, i/8) && i%97 != 0 {
			continue
		}
		bad := bytes.Clone(bin)
		bad[i/8] ^= 1 << (i % 8)
		p, err := DecodeProof(bad)
		if err == nil {
			_, err = VerifyMulti(f.root, p, c)
			if err == nil {
				t.Fatalf("bit %d: tampered proof verifies", i)
			}
		}
		if !errors.Is(err, ErrProofInvalid) && !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrOutOfRange) {
			t.Fatalf("bit %d: untyped error %v", i, err)
		}
	}
	for n := 0; n < len(bin); n += 1 + n/32 {
		if _, err := DecodeProof(bin[:n]); !errors.Is(err, ErrMalformed) {
			t.Fatalf("truncated to %d: %v", n, err)
		}
	}
	if _, err := DecodeProof(append(bytes.Clone(bin), 0)); !errors.Is(err, ErrMalformed) {
		t.Fatal("trailing byte accepted")
	}
}

// byteInPage is a rough guess that byte i of an encoded proof is page
// content (a long run away from both ends), to sample those bytes.
func byteInPage(b []byte, i int) bool { return i > 600 && i < len(b)-600 }

// multiSizeState is the size benchmark's setting in small: a state of
// 10,000 contracts, one with a 64 MiB memory whose every page is
// non-zero, and k random pages of it holding real contents.
func multiSizeState(t testing.TB, k int, seed uint64) (st *StateTree, src *MapSource, target ContractLeaf, pages []uint64, read PageReader) {
	r := rand.New(rand.NewPCG(seed, seed+1))
	src = NewMapSource()
	st = NewStateTree(EmptyState(), nil)
	mt := NewMemTree(EmptyMemoryRoot(), src)
	const npages = 64 << 20 / PageSize
	for i := uint64(0); i < npages; i++ {
		mt.SetPage(i, Hash{byte(i), byte(i >> 8), byte(i >> 16), 1})
	}
	contents := map[Hash][]byte{}
	for len(pages) < k {
		i := r.Uint64N(npages)
		pg := randPage(r)
		h := HashPage(pg)
		if _, dup := contents[h]; dup {
			continue
		}
		contents[h] = pg
		mt.SetPage(i, h)
		pages = append(pages, i)
	}
	mroot, err := mt.Commit(src)
	if err != nil {
		t.Fatal(err)
	}
	for c := 0; c < 10000; c++ {
		l := randLeaf(r, randID(r))
		if c == 0 {
			l.MemoryRoot, l.MemoryLen, l.Kind = mroot, 64<<20, Memory32
			target = l
		}
		st.Update(l)
	}
	st.Commit(src)
	read = func(h Hash) ([]byte, error) {
		if pg, ok := contents[h]; ok {
			return pg, nil
		}
		return nil, errors.New("no such page")
	}
	return st, src, target, pages, read
}

// TestMultiProofSize: a multiproof of k pages of one contract costs no
// more than the union of their paths, sent once each (computed here
// without the package's slot order: the distinct nodes on the root-to-page
// paths of both trees at 32 bytes, the pages, the leaf), and less than the
// k single page proofs.
func TestMultiProofSize(t *testing.T) {
	for _, k := range []int{1, 4, 16, 64} {
		st, src, target, pages, read := multiSizeState(t, k, uint64(300+k))
		root := st.Root()
		var claim MultiClaim
		for _, pg := range pages {
			claim.Ranges = append(claim.Ranges, ByteRange{target.ID, pg * PageSize, PageSize})
		}
		p, err := ProveMulti(st, src, read, claim)
		if err != nil {
			t.Fatal(err)
		}
		bin, err := p.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := VerifyMulti(root, p, claim); err != nil {
			t.Fatal(err)
		}
		// The union of the paths: distinct memory nodes (h, j) on the
		// paths from the pages up to the root (heights 1..30), the state
		// nodes from the root down to the leaf, once each.
		nodes := map[[2]uint64]bool{}
		for _, pg := range pages {
			for h := uint64(1); h <= MemoryTreeHeight; h++ {
				nodes[[2]uint64{h, pg >> h}] = true
			}
		}
		path, _, err := st.Prove(target.ID)
		if err != nil {
			t.Fatal(err)
		}
		union := k*PageSize + ContractLeafSize + HashSize*(len(nodes)+path.Depth())
		singles := 0
		for _, pg := range pages {
			sp, err := ProveRange(st, target, NewMemTree(target.MemoryRoot, src), read, pg*PageSize, PageSize)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := sp.MarshalBinary()
			singles += len(b)
		}
		t.Logf("k=%d: multiproof %d bytes, union of paths %d, %d single page proofs %d (%.3f)", k, len(bin), union, k, singles, float64(len(bin))/float64(singles))
		if len(bin) > union {
			t.Fatalf("k=%d: multiproof of %d bytes exceeds the union of the paths, %d", k, len(bin), union)
		}
		if k > 1 && len(bin) >= singles {
			t.Fatalf("k=%d: multiproof of %d bytes is no smaller than %d single proofs (%d)", k, len(bin), k, singles)
		}
	}
}
