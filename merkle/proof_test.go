package merkle

import (
	"bytes"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"testing"
)

// fixture is a small state: contracts with memories, committed to a
// MapSource, with the page contents kept for proving.
type fixture struct {
	src    *MapSource
	pages  map[Hash][]byte
	mems   map[ContractID]map[uint64][]byte
	leaves map[ContractID]ContractLeaf
	state  *StateTree
	root   Hash
}

func newFixture(t testing.TB, seed uint64, contracts int) *fixture {
	r := rand.New(rand.NewPCG(seed, seed+1))
	f := &fixture{src: NewMapSource(), pages: map[Hash][]byte{}, mems: map[ContractID]map[uint64][]byte{},
		leaves: map[ContractID]ContractLeaf{}, state: NewStateTree(EmptyState(), nil)}
	for c := 0; c < contracts; c++ {
		id := randID(r)
		mem := map[uint64][]byte{}
		mt := NewMemTree(EmptyMemoryRoot(), f.src)
		npages := uint64(32 + r.IntN(64)) // up to 96 pages = 6 wasm pages
		for k := 0; k < 10; k++ {
			i := r.Uint64N(npages)
			p := randPage(r)
			mem[i] = p
			f.pages[HashPage(p)] = p
			mt.SetPage(i, HashPage(p))
		}
		root, err := mt.Commit(f.src)
		if err != nil {
			t.Fatal(err)
		}
		l := randLeaf(r, id)
		l.MemoryRoot, l.Kind, l.MemoryLen = root, Memory32, (npages*PageSize+WasmPageSize-1)/WasmPageSize*WasmPageSize
		f.mems[id], f.leaves[id] = mem, l
		if err := f.state.Update(l); err != nil {
			t.Fatal(err)
		}
	}
	f.root = f.state.Commit(f.src)
	f.state = NewStateTree(f.root, f.src)
	return f
}

func (f *fixture) readPage(h Hash) ([]byte, error) {
	p, ok := f.pages[h]
	if !ok {
		return nil, errors.New("no such page")
	}
	return p, nil
}

func (f *fixture) anyID() ContractID {
	for id := range f.leaves {
		return id
	}
	return ContractID{}
}

func (f *fixture) memBytes(id ContractID, off, n uint64) []byte {
	out := make([]byte, n)
	for i := range out {
		a := off + uint64(i)
		if p, ok := f.mems[id][a/PageSize]; ok {
			out[i] = p[a%PageSize]
		}
	}
	return out
}

func (f *fixture) proveRange(t testing.TB, id ContractID, off, n uint64) *RangeProof {
	l := f.leaves[id]
	p, err := ProveRange(f.state, l, NewMemTree(l.MemoryRoot, f.src), f.readPage, off, n)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestProofsVerify(t *testing.T) {
	f := newFixture(t, 11, 40)
	r := rand.New(rand.NewPCG(12, 13))
	for id, l := range f.leaves {
		// Contract proof.
		p, err := ProveContract(f.state, id)
		if err != nil {
			t.Fatal(err)
		}
		got, err := VerifyContract(f.root, id, p)
		if err != nil || got != l {
			t.Fatalf("contract proof: %v", err)
		}
		// Page proofs, including zero pages and the last page.
		for _, pg := range []uint64{0, l.MemoryLen/PageSize - 1, r.Uint64N(l.MemoryLen / PageSize)} {
			rp := f.proveRange(t, id, pg*PageSize, PageSize)
			data, err := VerifyPage(f.root, id, pg, roundTrip(t, rp))
			if err != nil || !bytes.Equal(data, f.memBytes(id, pg*PageSize, PageSize)) {
				t.Fatalf("page %d: %v", pg, err)
			}
		}
		// Ranges of every shape: inside a page, across pages, 10 KiB.
		for _, rg := range [][2]uint64{{5, 1}, {4090, 20}, {100, 10 << 10}, {0, l.MemoryLen}, {l.MemoryLen - 3, 3}} {
			rp := f.proveRange(t, id, rg[0], rg[1])
			data, err := VerifyRange(f.root, id, rg[0], rg[1], roundTrip(t, rp))
			if err != nil || !bytes.Equal(data, f.memBytes(id, rg[0], rg[1])) {
				t.Fatalf("range %v: %v", rg, err)
			}
		}
	}
	// Absence proofs, ending at an empty subtree and at another leaf.
	ends := map[bool]int{}
	for i := 0; i < 200; i++ {
		id := randID(r)
		p, err := ProveContract(f.state, id)
		if err != nil {
			t.Fatal(err)
		}
		ap := roundTrip(t, p).(*AbsenceProof)
		ends[ap.Other != nil]++
		if err := VerifyAbsence(f.root, id, ap); err != nil {
			t.Fatalf("absence: %v", err)
		}
	}
	if ends[true] == 0 || ends[false] == 0 {
		t.Fatalf("absence proofs did not cover both ends: %v", ends)
	}
	// Empty state: every id is absent.
	p, _ := ProveContract(NewStateTree(EmptyState(), nil), ContractID{1})
	if err := VerifyAbsence(EmptyState(), ContractID{1}, p); err != nil {
		t.Fatal(err)
	}
}

func roundTrip(t testing.TB, p Proof) Proof {
	bin, err := p.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	q, err := DecodeProof(bin)
	if err != nil {
		t.Fatal(err)
	}
	bin2, _ := q.MarshalBinary()
	if !bytes.Equal(bin, bin2) {
		t.Fatal("binary encoding is not stable")
	}
	js, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	j, err := DecodeProofJSON(js)
	if err != nil {
		t.Fatal(err)
	}
	bin3, _ := j.MarshalBinary()
	if !bytes.Equal(bin, bin3) {
		t.Fatal("JSON round trip changed the proof")
	}
	return q
}

// TestProofBitFlips flips every bit of encoded proofs and of the root:
// nothing verifies but the original.
func TestProofBitFlips(t *testing.T) {
	f := newFixture(t, 21, 30)
	id := f.anyID()
	l := f.leaves[id]
	absent, _ := ProveContract(f.state, ContractID{0xAA})
	contract, _ := ProveContract(f.state, id)
	// Each proof with the claim a client would check it against.
	checks := map[string]struct {
		p     Proof
		check func(root Hash, p Proof) error
	}{
		"page": {f.proveRange(t, id, PageSize, PageSize), func(root Hash, p Proof) error {
			_, err := VerifyPage(root, id, 1, p)
			return err
		}},
		"range": {f.proveRange(t, id, 4000, 5000), func(root Hash, p Proof) error {
			_, err := VerifyRange(root, id, 4000, 5000, p)
			return err
		}},
		"contract": {contract, func(root Hash, p Proof) error {
			got, err := VerifyContract(root, id, p)
			if err == nil && got != l {
				t.Fatal("contract proof verified with another leaf")
			}
			return err
		}},
		"absence": {absent, func(root Hash, p Proof) error { return VerifyAbsence(root, ContractID{0xAA}, p) }},
	}
	verifyBytes := func(check func(Hash, Proof) error, root Hash, bin []byte) error {
		p, err := DecodeProof(bin)
		if err != nil {
			return err
		}
		return check(root, p)
	}
	for name, c := range checks {
		bin, _ := c.p.MarshalBinary()
		if err := verifyBytes(c.check, f.root, bin); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for i := 0; i < len(bin)*8; i++ {
			bad := bytes.Clone(bin)
			bad[i/8] ^= 1 << (i % 8)
			err := verifyBytes(c.check, f.root, bad)
			if err == nil {
				t.Fatalf("%s: flipping bit %d still verifies", name, i)
			}
			if !errors.Is(err, ErrProofInvalid) && !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrOutOfRange) {
				t.Fatalf("%s: untyped error %v", name, err)
			}
		}
		for i := 0; i < HashSize*8; i++ {
			root := f.root
			root[i/8] ^= 1 << (i % 8)
			if err := verifyBytes(c.check, root, bin); !errors.Is(err, ErrProofInvalid) {
				t.Fatalf("%s: verifies against a root with bit %d flipped: %v", name, i, err)
			}
		}
		// Truncations and extensions are malformed.
		for n := 0; n < len(bin); n += 1 + n/8 {
			if _, err := DecodeProof(bin[:n]); !errors.Is(err, ErrMalformed) {
				t.Fatalf("%s: truncated to %d: %v", name, n, err)
			}
		}
		if _, err := DecodeProof(append(bytes.Clone(bin), 0)); !errors.Is(err, ErrMalformed) {
			t.Fatalf("%s: trailing byte accepted", name)
		}
	}
}

// TestProvenBytesAreBound checks that a proof proves exactly its bytes: a
// range proof whose page content is altered anywhere fails.
func TestProvenBytesAreBound(t *testing.T) {
	f := newFixture(t, 31, 5)
	id := f.anyID()
	rp := f.proveRange(t, id, 0, 3*PageSize)
	for i, pg := range rp.Pages {
		if pg == nil {
			continue
		}
		for _, off := range []int{0, 1, 1000, PageSize - 1} {
			bad := *rp
			bad.Pages = append([][]byte(nil), rp.Pages...)
			bad.Pages[i] = bytes.Clone(pg)
			bad.Pages[i][off] ^= 0x80
			if _, err := VerifyRange(f.root, id, 0, 3*PageSize, &bad); !errors.Is(err, ErrProofInvalid) {
				t.Fatalf("altered page %d byte %d: %v", i, off, err)
			}
		}
	}
}

func TestProofRejections(t *testing.T) {
	f := newFixture(t, 41, 3)
	id := f.anyID()
	l := f.leaves[id]
	if _, err := ProveRange(f.state, l, NewMemTree(l.MemoryRoot, f.src), f.readPage, l.MemoryLen, 1); !errors.Is(err, ErrOutOfRange) {
		t.Fatalf("range past the memory: %v", err)
	}
	if _, err := ProveRange(f.state, l, NewMemTree(l.MemoryRoot, f.src), f.readPage, 0, 0); !errors.Is(err, ErrOutOfRange) {
		t.Fatalf("empty range: %v", err)
	}
	// A page proof is not accepted as a proof of a different page.
	rp := f.proveRange(t, id, 0, 2*PageSize)
	if _, err := VerifyPage(f.root, id, 0, rp); !errors.Is(err, ErrProofInvalid) {
		t.Fatalf("two-page range accepted as a page proof: %v", err)
	}
	// An absence proof for a present contract cannot be built from its path.
	cp, _ := ProveContract(f.state, id)
	fake := &AbsenceProof{ID: id, Path: cp.(*ContractProof).Path, Other: &l}
	if err := VerifyAbsence(f.root, id, fake); !errors.Is(err, ErrProofInvalid) {
		t.Fatalf("absence of a present contract: %v", err)
	}
	fake.Other = nil
	if err := VerifyAbsence(f.root, id, fake); !errors.Is(err, ErrProofInvalid) {
		t.Fatalf("absence of a present contract via empty end: %v", err)
	}
	if _, err := DecodeProof(nil); !errors.Is(err, ErrMalformed) {
		t.Fatal("empty input")
	}
	if _, err := VerifyAny(f.root, nil); !errors.Is(err, ErrProofInvalid) {
		t.Fatal("nil proof")
	}
	for _, js := range []string{`{}`, `{"version":1,"kind":"range"}`, `{"version":1,"kind":"absence","id":"zz"}`, `[`, `{"version":2}`} {
		if _, err := DecodeProofJSON([]byte(js)); !errors.Is(err, ErrMalformed) {
			t.Fatalf("JSON %s: %v", js, err)
		}
	}
}

// TestPageProofSize checks the proof-size target: one page of a 64 MiB
// memory in a state of 10,000 contracts costs at most 1.2 KiB beyond the
// page itself.
func TestPageProofSize(t *testing.T) {
	r := rand.New(rand.NewPCG(51, 52))
	src := NewMapSource()
	st := NewStateTree(EmptyState(), nil)
	mt := NewMemTree(EmptyMemoryRoot(), src)
	const pages = 64 << 20 / PageSize
	for i := uint64(0); i < pages; i++ {
		mt.SetPage(i, Hash{byte(i), byte(i >> 8), byte(i >> 16), 1})
	}
	mroot, _ := mt.Commit(src)
	var target ContractLeaf
	for c := 0; c < 10000; c++ {
		l := randLeaf(r, randID(r))
		if c == 0 {
			l.MemoryRoot, l.MemoryLen, l.Kind = mroot, 64<<20, Memory32
			target = l
		}
		st.Update(l)
	}
	st.Root()
	page := randPage(r)
	mt.SetPage(777, HashPage(page))
	target.MemoryRoot, _ = mt.Commit(src)
	st.Update(target)
	root := st.Root()
	p, err := ProveRange(st, target, mt, func(Hash) ([]byte, error) { return page, nil }, 777*PageSize, PageSize)
	if err != nil {
		t.Fatal(err)
	}
	bin, _ := p.MarshalBinary()
	overhead := len(bin) - PageSize
	t.Logf("page proof: %d bytes = page + %d (state depth %d)", len(bin), overhead, p.Path.Depth())
	if overhead > 1229 {
		t.Fatalf("page proof overhead %d bytes exceeds 1.2 KiB", overhead)
	}
	if _, err := VerifyPage(root, target.ID, 777, p); err != nil {
		t.Fatal(err)
	}
}
