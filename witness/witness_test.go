package witness_test

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/wasmstate/wasmstate/merkle"
	"github.com/wasmstate/wasmstate/witness"
)

var update = flag.Bool("update", false, "rewrite testdata/vectors.json")

// fixture is a small state built with merkle alone: three contracts with a
// few pages each, and a fourth id that is absent.
type fixture struct {
	src    *merkle.MapSource
	pages  map[merkle.Hash][]byte
	root   merkle.Hash
	leaves []merkle.ContractLeaf
	absent merkle.ContractID
}

func page(seed byte) []byte {
	p := make([]byte, merkle.PageSize)
	for i := range p {
		p[i] = seed + byte(i%251)
	}
	return p
}

func globalsEnc(v byte) []byte { return []byte{1, 0, 0, 0, 0x7e, v, 0, 0, 0, 0, 0, 0, 0} }

func newFixture(t testing.TB) *fixture {
	f := &fixture{src: merkle.NewMapSource(), pages: map[merkle.Hash][]byte{}}
	st := merkle.NewStateTree(merkle.EmptyState(), f.src)
	for c := byte(1); c <= 3; c++ {
		mt := merkle.NewMemTree(merkle.EmptyMemoryRoot(), f.src)
		for _, i := range []uint64{0, 3, 17} {
			p := page(c*10 + byte(i))
			h := merkle.HashPage(p)
			f.pages[h] = p
			if err := mt.SetPage(i, h); err != nil {
				t.Fatal(err)
			}
		}
		root, err := mt.Commit(f.src)
		if err != nil {
			t.Fatal(err)
		}
		var id merkle.ContractID
		id[0] = c
		leaf := merkle.ContractLeaf{ID: id, CodeHash: merkle.HashCode([]byte{c}), OwnerHash: merkle.HashOwner([]byte("owner")),
			Kind: merkle.Memory32, MemoryLen: 2 * merkle.WasmPageSize, MemoryRoot: root, GlobalsHash: merkle.DomainGlobals.Sum(globalsEnc(c))}
		if err := st.Update(leaf); err != nil {
			t.Fatal(err)
		}
		f.leaves = append(f.leaves, leaf)
	}
	f.root = st.Commit(f.src)
	f.absent[0] = 0xAB
	return f
}

func (f *fixture) reader(h merkle.Hash) ([]byte, error) {
	if p, ok := f.pages[h]; ok {
		return p, nil
	}
	return nil, fmt.Errorf("no page %s", h)
}

// build returns a witness of contracts 1 and 2 (pages 0, 3 and 5 of the
// first, page 17 of the second; 5 is a zero page) and the absent id.
func (f *fixture) build(t testing.TB) *witness.Witness {
	st := merkle.NewStateTree(f.root, f.src)
	sp, err := merkle.ProveStates(st, []merkle.ContractID{f.leaves[0].ID, f.leaves[1].ID, f.absent})
	if err != nil {
		t.Fatal(err)
	}
	w := &witness.Witness{PreRoot: f.root, PostRoot: f.root, State: *sp, Contracts: map[merkle.ContractID]*witness.Contract{},
		Metadata: []witness.Meta{{Key: "block_height", Value: []byte{7, 0, 0, 0, 0, 0, 0, 0}}}}
	for i, idx := range [][]uint64{{0, 3, 5}, {17}} {
		l := f.leaves[i]
		mp, err := merkle.ProveMemoryPages(merkle.NewMemTree(l.MemoryRoot, f.src), f.reader, idx)
		if err != nil {
			t.Fatal(err)
		}
		w.Contracts[l.ID] = &witness.Contract{Globals: globalsEnc(byte(i + 1)), Owner: []byte("owner"), Memory: *mp}
	}
	d := witness.NewDigest()
	d.Event(f.leaves[0].ID, "topic", []byte("data"), false)
	w.Ops = []witness.Op{
		{Kind: witness.OpCall, Contract: f.leaves[0].ID, Function: "add", Arg: []byte{1}, GasLimit: 1000, Status: witness.StatusOK, GasSpent: 10, Output: []byte{2}, Digest: d.Sum()},
		{Kind: witness.OpMetadata, Key: "block_height", Value: []byte{8}},
		{Kind: witness.OpCommit},
		{Kind: witness.OpCall, Contract: f.absent, Function: "x", Arg: []byte{}, GasLimit: 5, Status: witness.StatusRejected, Output: []byte{}, Digest: witness.EmptyDigest()},
		{Kind: witness.OpDeploy, CodeHash: merkle.HashCode([]byte{9}), Owner: []byte{}, Arg: []byte{}, Nonce: 3, GasLimit: 0, Contract: f.absent,
			Status: witness.StatusFailed, GasSpent: 4, Output: []byte{}, Digest: witness.EmptyDigest()},
	}
	w.Code = map[merkle.Hash][]byte{merkle.HashCode([]byte{1}): {1}, merkle.HashCode([]byte{9}): {9}}
	return w
}

// TestRoundTrip: the encoding round-trips, is canonical, and Check accepts
// the witness and returns the leaves and absences.
func TestRoundTrip(t *testing.T) {
	f := newFixture(t)
	w := f.build(t)
	enc, err := w.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	w2, err := witness.Decode(enc)
	if err != nil {
		t.Fatal(err)
	}
	enc2, err := w2.MarshalBinary()
	if err != nil || !bytes.Equal(enc, enc2) {
		t.Fatalf("re-encoding differs (%v)", err)
	}
	ck, err := w2.Check()
	if err != nil {
		t.Fatal(err)
	}
	if len(ck.Leaves) != 2 || !ck.Absent[f.absent] || ck.Leaves[f.leaves[1].ID] != f.leaves[1] {
		t.Fatalf("checked: %+v", ck)
	}
	if w2.PageCount() != 4 || witness.OpsDigest(w2.Ops) != witness.OpsDigest(w.Ops) {
		t.Fatal("page count or operations digest changed")
	}
}

// TestCheckRejects: each kind of lie about the pre-root is invalid.
func TestCheckRejects(t *testing.T) {
	f := newFixture(t)
	for _, c := range []struct {
		name string
		mut  func(w *witness.Witness)
	}{
		{"pre-root", func(w *witness.Witness) { w.PreRoot[0] ^= 1 }},
		{"page byte", func(w *witness.Witness) { w.Contracts[f.leaves[0].ID].Memory.Data[0][9] ^= 1 }},
		{"sibling", func(w *witness.Witness) { w.Contracts[f.leaves[1].ID].Memory.Siblings[0][0] ^= 1 }},
		{"globals", func(w *witness.Witness) { w.Contracts[f.leaves[0].ID].Globals[5]++ }},
		{"owner", func(w *witness.Witness) { w.Contracts[f.leaves[0].ID].Owner = []byte("other") }},
		{"unused code", func(w *witness.Witness) { w.Code[merkle.HashCode([]byte{5})] = []byte{5} }},
		{"page past the memory", func(w *witness.Witness) {
			l := f.leaves[0]
			mp, err := merkle.ProveMemoryPages(merkle.NewMemTree(l.MemoryRoot, f.src), f.reader, []uint64{0, 40})
			if err != nil {
				t.Fatal(err)
			}
			mp.Data[1] = page(1) // claims a non-zero page at 160 KiB of a 128 KiB memory
			w.Contracts[l.ID].Memory = *mp
		}},
	} {
		w := f.build(t)
		c.mut(w)
		if _, err := w.Check(); !errors.Is(err, witness.ErrInvalid) {
			t.Errorf("%s: %v", c.name, err)
		}
	}
}

// vector is one entry of testdata/vectors.json: a witness encoding and
// the verdict of Decode then Check.
type vector struct {
	Name    string `json:"name"`
	Witness string `json:"witness"`
	PreRoot string `json:"pre_root"`
	Verdict string `json:"verdict"` // "ok", "malformed" or "invalid"
	Pages   int    `json:"pages,omitempty"`
}

func verdict(b []byte) (string, int) {
	w, err := witness.Decode(b)
	if err != nil {
		if !errors.Is(err, witness.ErrMalformed) {
			return "untyped: " + err.Error(), 0
		}
		return "malformed", 0
	}
	if _, err := w.Check(); err != nil {
		if !errors.Is(err, witness.ErrInvalid) {
			return "untyped: " + err.Error(), 0
		}
		return "invalid", 0
	}
	return "ok", w.PageCount()
}

// TestVectors checks testdata/vectors.json (go test -update rewrites it).
func TestVectors(t *testing.T) {
	f := newFixture(t)
	good, err := f.build(t).MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	mut := func(name string, edit func(b []byte) []byte) vector {
		b := edit(append([]byte(nil), good...))
		v, _ := verdict(b)
		return vector{Name: name, Witness: hex.EncodeToString(b), PreRoot: f.root.String(), Verdict: v}
	}
	vs := []vector{{Name: "valid", Witness: hex.EncodeToString(good), PreRoot: f.root.String(), Verdict: "ok", Pages: 4}}
	vs = append(vs,
		mut("bad magic", func(b []byte) []byte { b[0] = 'X'; return b }),
		mut("version 2", func(b []byte) []byte { b[4] = 2; return b }),
		mut("unknown flag", func(b []byte) []byte { b[5] |= 2; return b }),
		mut("truncated", func(b []byte) []byte { return b[:len(b)-1] }),
		mut("trailing byte", func(b []byte) []byte { return append(b, 0) }),
		mut("pre-root changed", func(b []byte) []byte { b[6] ^= 1; return b }),
		mut("page byte changed", func(b []byte) []byte {
			i := bytes.Index(b, page(10)[:64])
			b[i+100] ^= 1
			return b
		}),
	)
	for _, v := range vs {
		b, _ := hex.DecodeString(v.Witness)
		got, pages := verdict(b)
		if got != v.Verdict || (got == "ok" && pages != v.Pages) {
			t.Errorf("%s: verdict %s (%d pages), want %s", v.Name, got, pages, v.Verdict)
		}
	}
	path := filepath.Join("testdata", "vectors.json")
	out, err := json.MarshalIndent(vs, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	out = append(out, '\n')
	if *update {
		if err := os.WriteFile(path, out, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	old, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update ./witness/)", err)
	}
	var want []vector
	if err := json.Unmarshal(old, &want); err != nil {
		t.Fatal(err)
	}
	for _, v := range want {
		b, err := hex.DecodeString(v.Witness)
		if err != nil {
			t.Fatal(err)
		}
		if got, pages := verdict(b); got != v.Verdict || (got == "ok" && pages != v.Pages) {
			t.Errorf("vector %q: verdict %s (%d pages), file says %s (%d)", v.Name, got, pages, v.Verdict, v.Pages)
		}
	}
	if !bytes.Equal(old, out) {
		t.Errorf("testdata/vectors.json is stale: run go test -update ./witness/")
	}
}

// FuzzDecode: Decode never panics, anything it accepts re-encodes to the
// same bytes, and Check on it never panics and gives a typed verdict.
func FuzzDecode(f *testing.F) {
	fx := newFixture(f)
	good, err := fx.build(f).MarshalBinary()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add(good[:len(good)/2])
	f.Add([]byte(witness.Magic + "\x01\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		w, err := witness.Decode(b)
		if err != nil {
			if !errors.Is(err, witness.ErrMalformed) {
				t.Fatalf("untyped decode error: %v", err)
			}
			return
		}
		enc, err := w.MarshalBinary()
		if err != nil {
			t.Fatalf("decoded witness does not encode: %v", err)
		}
		if !bytes.Equal(enc, b) {
			t.Fatalf("not canonical: %d bytes decode, re-encode to %d", len(b), len(enc))
		}
		if _, err := w.Check(); err != nil && !errors.Is(err, witness.ErrInvalid) {
			t.Fatalf("untyped check error: %v", err)
		}
	})
}
