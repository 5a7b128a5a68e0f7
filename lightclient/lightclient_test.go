package lightclient

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/wasmstate/wasmstate/merkle"
)

// world is a small committed state built with merkle's in-memory trees.
type world struct {
	src    *merkle.MapSource
	pages  map[merkle.Hash][]byte
	state  *merkle.StateTree
	mems   map[merkle.ContractID]*merkle.MemTree
	leaves map[merkle.ContractID]merkle.ContractLeaf
}

func newWorld() *world {
	return &world{src: merkle.NewMapSource(), pages: map[merkle.Hash][]byte{},
		state: merkle.NewStateTree(merkle.EmptyState(), nil),
		mems:  map[merkle.ContractID]*merkle.MemTree{}, leaves: map[merkle.ContractID]merkle.ContractLeaf{}}
}

// setPage sets page index of contract id to a page starting with data.
func (w *world) setPage(t *testing.T, id merkle.ContractID, index uint64, data []byte) {
	t.Helper()
	mt, ok := w.mems[id]
	if !ok {
		mt = merkle.NewMemTree(merkle.EmptyMemoryRoot(), w.src)
		w.mems[id] = mt
		w.leaves[id] = merkle.ContractLeaf{ID: id, CodeHash: merkle.HashCode([]byte{1}), OwnerHash: merkle.HashOwner(nil),
			Kind: merkle.Memory32, MemoryLen: 2 * merkle.WasmPageSize, GlobalsHash: merkle.DomainGlobals.Sum([]byte{0, 0, 0, 0})}
	}
	page := make([]byte, merkle.PageSize)
	copy(page, data)
	h := merkle.HashPage(page)
	w.pages[h] = page
	if err := mt.SetPage(index, h); err != nil {
		t.Fatal(err)
	}
}

func (w *world) commit(t *testing.T) merkle.Hash {
	t.Helper()
	for id, mt := range w.mems {
		l := w.leaves[id]
		var err error
		if l.MemoryRoot, err = mt.Commit(w.src); err != nil {
			t.Fatal(err)
		}
		w.leaves[id] = l
		if err := w.state.Update(l); err != nil {
			t.Fatal(err)
		}
	}
	return w.state.Commit(w.src)
}

func (w *world) prove(t *testing.T, root merkle.Hash, id merkle.ContractID, off, n uint64) *merkle.RangeProof {
	t.Helper()
	st := merkle.NewStateTree(root, w.src)
	leaf, ok, err := st.Get(id)
	if err != nil || !ok {
		t.Fatalf("contract %s at %s: %v %v", id, root, ok, err)
	}
	p, err := merkle.ProveRange(st, leaf, merkle.NewMemTree(leaf.MemoryRoot, w.src),
		func(h merkle.Hash) ([]byte, error) { return w.pages[h], nil }, off, n)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func bin(t *testing.T, p merkle.Proof) []byte {
	t.Helper()
	b, err := p.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var (
	idA = merkle.ContractID{0xa}
	idB = merkle.ContractID{0xb}
)

func TestVerifyPageEncodings(t *testing.T) {
	w := newWorld()
	w.setPage(t, idA, 3, []byte("three"))
	w.setPage(t, idB, 3, []byte("bee"))
	root := w.commit(t)
	p := w.prove(t, root, idA, 3*merkle.PageSize, merkle.PageSize)
	js, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	indented, _ := json.MarshalIndent(p, "  ", "  ")
	for name, enc := range map[string][]byte{"binary": bin(t, p), "json": js, "indented json": append([]byte("\n "), indented...)} {
		page, err := VerifyPage(root, idA, 3, enc)
		if err != nil || !bytes.HasPrefix(page, []byte("three")) {
			t.Errorf("%s: %q %v", name, page[:5], err)
		}
		var le *Error
		if _, err := VerifyPage(root, idB, 3, enc); !errors.Is(err, ErrInvalid) || !errors.As(err, &le) || le.Step != -1 {
			t.Errorf("%s: proof of A accepted for B: %v", name, err)
		}
		if _, err := VerifyPage(root, idA, 2, enc); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: proof of page 3 accepted for page 2: %v", name, err)
		}
		if _, err := VerifyPage(merkle.Hash{1}, idA, 3, enc); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: accepted under another root: %v", name, err)
		}
		if err := VerifyAbsence(root, idA, enc); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: range proof accepted as absence: %v", name, err)
		}
		if _, err := VerifyContract(root, idA, enc); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: range proof accepted as contract proof: %v", name, err)
		}
	}
	if _, err := VerifyPage(root, idA, 1<<40, bin(t, p)); !errors.Is(err, ErrInvalid) {
		t.Errorf("page outside every memory: %v", err)
	}
}

func TestDecodeRejects(t *testing.T) {
	w := newWorld()
	w.setPage(t, idA, 0, []byte("x"))
	root := w.commit(t)
	good := bin(t, w.prove(t, root, idA, 0, 10))
	for name, b := range map[string][]byte{
		"empty":          nil,
		"trailing byte":  append(bytes.Clone(good), 0),
		"truncated":      good[:len(good)-1],
		"version 2":      append([]byte{2}, good[1:]...),
		"bad json":       []byte(`{"version": 1, "kind": "range"`),
		"json kind":      []byte(`{"version": 1, "kind": "page", "state_path": []}`),
		"whitespace":     []byte("   "),
		"binary garbage": {1, 9, 9},
	} {
		_, err := Decode(b)
		var le *Error
		if !errors.Is(err, ErrMalformed) || !errors.As(err, &le) {
			t.Errorf("%s: %v", name, err)
		}
		if _, err := VerifyRange(root, idA, 0, 10, b); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: VerifyRange: %v", name, err)
		}
	}
	if d, err := VerifyRange(root, idA, 0, 10, good); err != nil || string(d[:1]) != "x" {
		t.Fatalf("good proof: %q %v", d, err)
	}
	if _, err := VerifyRange(root, idA, 0, 11, good); !errors.Is(err, ErrInvalid) {
		t.Errorf("longer claim: %v", err)
	}
}

// Every single-bit flip of a page proof is rejected.
func TestBitFlips(t *testing.T) {
	w := newWorld()
	w.setPage(t, idA, 0, []byte("payload"))
	w.setPage(t, idB, 0, []byte("other"))
	root := w.commit(t)
	good := bin(t, w.prove(t, root, idA, 0, merkle.PageSize))
	for i := range good {
		bad := bytes.Clone(good)
		bad[i] ^= 1 << (i % 8)
		if _, err := VerifyPage(root, idA, 0, bad); err == nil {
			t.Fatalf("flip of byte %d accepted", i)
		} else if !errors.Is(err, ErrInvalid) && !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrOutOfRange) {
			t.Fatalf("flip of byte %d: untyped error %v", i, err)
		}
	}
}

func TestContractAndAbsence(t *testing.T) {
	w := newWorld()
	w.setPage(t, idA, 0, []byte("a"))
	root := w.commit(t)
	cp, err := merkle.ProveContract(merkle.NewStateTree(root, w.src), idA)
	if err != nil {
		t.Fatal(err)
	}
	ap, err := merkle.ProveContract(merkle.NewStateTree(root, w.src), idB)
	if err != nil {
		t.Fatal(err)
	}
	if leaf, err := VerifyContract(root, idA, bin(t, cp)); err != nil || leaf != w.leaves[idA] {
		t.Errorf("contract: %v", err)
	}
	if err := VerifyAbsence(root, idB, bin(t, ap)); err != nil {
		t.Errorf("absence: %v", err)
	}
	if err := VerifyAbsence(root, idA, bin(t, ap)); !errors.Is(err, ErrInvalid) {
		t.Errorf("absence of B accepted for A: %v", err)
	}
	if _, err := VerifyContract(root, idB, bin(t, cp)); !errors.Is(err, ErrInvalid) {
		t.Errorf("leaf of A accepted for B: %v", err)
	}
	r, err := VerifyAny(root, bin(t, ap))
	if err != nil || r.Kind != merkle.KindAbsence || r.ID != idB || r.Present {
		t.Errorf("Verify: %+v %v", r, err)
	}
}

// chain builds four commits of a state where page 1 of A changes at
// commits 1 and 3 while B changes at every commit.
func chain(t *testing.T) (*world, []Step) {
	w := newWorld()
	var steps []Step
	for i, v := range []string{"v0", "v1", "v1", "v2"} {
		w.setPage(t, idA, 1, []byte(v))
		w.setPage(t, idB, 0, []byte{byte(i + 1)})
		root := w.commit(t)
		steps = append(steps, Step{Height: uint64(10 * (i + 1)), Root: root,
			Proof: bin(t, w.prove(t, root, idA, merkle.PageSize, merkle.PageSize))})
	}
	return w, steps
}

func TestVerifyChain(t *testing.T) {
	w, steps := chain(t)
	vs, err := VerifyChain(idA, 1, steps)
	if err != nil {
		t.Fatal(err)
	}
	if got := Changes(vs); len(got) != 2 || got[0] != 1 || got[1] != 3 {
		t.Errorf("changes at %v, want [1 3]", got)
	}
	for i, want := range []string{"v0", "v1", "v1", "v2"} {
		if string(vs[i].Page[:2]) != want || vs[i].Root != steps[i].Root || vs[i].Height != steps[i].Height {
			t.Errorf("step %d: %q at %d", i, vs[i].Page[:2], vs[i].Height)
		}
	}
	// JSON proofs are accepted in a chain as well.
	p, _ := Decode(steps[2].Proof)
	js, _ := json.Marshal(p)
	mixed := append([]Step(nil), steps...)
	mixed[2].Proof = js
	if _, err := VerifyChain(idA, 1, mixed); err != nil {
		t.Errorf("JSON step: %v", err)
	}

	bad := func(name string, id merkle.ContractID, index uint64, s []Step, step int, target error) {
		t.Helper()
		_, err := VerifyChain(id, index, s)
		var le *Error
		if !errors.Is(err, target) || !errors.As(err, &le) || le.Step != step {
			t.Errorf("%s: got %v, want step %d matching %v", name, err, step, target)
		}
	}
	bad("empty", idA, 1, nil, -1, ErrInvalid)
	bad("other contract", idB, 1, steps, 0, ErrInvalid)
	bad("other page", idA, 0, steps, 0, ErrInvalid)

	swapped := append([]Step(nil), steps...)
	swapped[1], swapped[2] = swapped[2], swapped[1]
	bad("out of order", idA, 1, swapped, 2, ErrOutOfOrder)
	same := append([]Step(nil), steps...)
	same[2].Height = same[1].Height
	bad("repeated height", idA, 1, same, 2, ErrOutOfOrder)

	wrongRoot := append([]Step(nil), steps...)
	wrongRoot[3].Root = steps[2].Root // proof of the newest page under an older root
	bad("proof under another root", idA, 1, wrongRoot, 3, ErrInvalid)

	// A step proving B's page in place of A's.
	otherProof := append([]Step(nil), steps...)
	otherProof[1].Proof = bin(t, w.prove(t, steps[1].Root, idB, 0, merkle.PageSize))
	bad("step about another contract", idA, 1, otherProof, 1, ErrInvalid)

	// A step proving a range that is not the whole page.
	partial := append([]Step(nil), steps...)
	partial[1].Proof = bin(t, w.prove(t, steps[1].Root, idA, merkle.PageSize, 8))
	bad("step proving part of the page", idA, 1, partial, 1, ErrInvalid)

	corrupt := append([]Step(nil), steps...)
	corrupt[2].Proof = bytes.Clone(steps[2].Proof)
	corrupt[2].Proof[len(corrupt[2].Proof)-1] ^= 0xff
	_, err = VerifyChain(idA, 1, corrupt)
	var le *Error
	if err == nil || !errors.As(err, &le) || le.Step != 2 || !(errors.Is(err, ErrInvalid) || errors.Is(err, ErrMalformed)) {
		t.Errorf("corrupt step: %v", err)
	}
}

// TestDemoGolden verifies, with the light client alone, the proof that
// `statectl demo` produced on a fresh store (testdata/demo, regenerated
// by `go test ./cmd/statectl -run TestDemoGolden -update`): proofs made by
// the real engine over the real store verify here.
func TestDemoGolden(t *testing.T) {
	dir := filepath.Join("..", "testdata", "demo")
	var g struct {
		Root     string `json:"root"`
		Contract string `json:"contract"`
		Page     uint64 `json:"page"`
		Counter  uint64 `json:"counter"`
		Height   uint64 `json:"block_height"`
	}
	b, err := os.ReadFile(filepath.Join(dir, "golden.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	root, err := merkle.ParseHash(g.Root)
	if err != nil {
		t.Fatal(err)
	}
	id, err := merkle.ParseContractID(g.Contract)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"page0.proof", "page0.proof.json"} {
		proof, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		page, err := VerifyPage(root, id, g.Page, proof)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if c, h := binary.LittleEndian.Uint64(page[0:]), binary.LittleEndian.Uint64(page[8:]); c != g.Counter || h != g.Height {
			t.Errorf("%s: counter %d height %d, want %d %d (page starts %s)", name, c, h, g.Counter, g.Height, hex.EncodeToString(page[:16]))
		}
		if _, err := VerifyPage(root, id, g.Page+1, proof); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: accepted for another page: %v", name, err)
		}
	}
}
