package merkle

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"testing"

	"github.com/zeebo/blake3"
)

var update = flag.Bool("update", false, "rewrite testdata/vectors.json")

// The test vectors (testdata/vectors.json) let an implementation in another
// language check itself: domain keys, empty-subtree hashes, page hashes,
// leaf hashes, memory and state roots of small states, and proofs, good
// and bad, with what each must prove or why it must fail.

type vectorFile struct {
	Comment     string            `json:"comment"`
	DomainKeys  map[string]string `json:"domain_keys"`
	EmptyMemory []string          `json:"empty_memory"`
	Pages       []pageVector      `json:"pages"`
	Leaves      []leafVector      `json:"leaves"`
	Memories    []memoryVector    `json:"memories"`
	States      []stateVector     `json:"states"`
	Proofs      []proofVector     `json:"proofs"`
}

type pageVector struct {
	Fill    string `json:"fill"` // how the page is made, see fillPage
	HashHex string `json:"hash"`
}

type leafVector struct {
	Encoding string `json:"encoding"`
	StateKey string `json:"state_key"`
	Hash     string `json:"hash"`
}

type memoryVector struct {
	Pages map[uint64]string `json:"pages"` // index -> fill
	Root  string            `json:"root"`
}

type stateVector struct {
	Leaves []string `json:"leaves"` // encodings
	Root   string   `json:"root"`
}

type proofVector struct {
	Name   string `json:"name"`
	Root   string `json:"root"`
	Proof  string `json:"proof"` // binary, hex
	Kind   string `json:"kind"`
	ID     string `json:"id,omitempty"`
	Offset uint64 `json:"offset,omitempty"`
	Length uint64 `json:"length,omitempty"`
	Data   string `json:"data,omitempty"` // proven bytes, hex
	// Error is "" for a valid proof, else "malformed" (rejected by the
	// decoder) or "invalid" (decodes, does not prove the claim).
	Error string `json:"error,omitempty"`
	// A multi claim (kind "multi", SPEC.md §7.6): the ids and ranges asked
	// about. For a valid proof, Leaves holds per claim id its leaf
	// encoding ("" when absent) and each range its proven bytes.
	IDs    []string      `json:"ids,omitempty"`
	Ranges []rangeVector `json:"ranges,omitempty"`
	Leaves []string      `json:"leaves,omitempty"`
}

type rangeVector struct {
	ID     string `json:"id"`
	Offset uint64 `json:"offset"`
	Length uint64 `json:"length"`
	Data   string `json:"data,omitempty"` // proven bytes, hex
}

// fillPage builds a page from a short description: "zero", "byte:XX" (every
// byte XX), "iota" (byte i is i mod 251), "at:N:XX" (zero but byte N = XX).
// Any other description is a broken vectors file: it panics, failing the
// test, rather than read as a zero page.
func fillPage(desc string) []byte {
	p := make([]byte, PageSize)
	switch {
	case desc == "zero":
	case desc == "iota":
		for i := range p {
			p[i] = byte(i % 251)
		}
	case len(desc) == 7 && desc[:5] == "byte:":
		b, err := hex.DecodeString(desc[5:])
		if err != nil {
			panic(fmt.Sprintf("page description %q: %v", desc, err))
		}
		for i := range p {
			p[i] = b[0]
		}
	default:
		var n int
		var x byte
		if _, err := fmtSscanf(desc, "at:%d:%02x", &n, &x); err != nil || n < 0 || n >= PageSize {
			panic(fmt.Sprintf("page description %q: %v", desc, err))
		}
		p[n] = x
	}
	return p
}

// vectorGlobals are valid globals encodings (§5.1): none (count 0), and one
// i32 global holding 7 and one i64 holding 2^40.
var vectorGlobals = [][]byte{
	{0, 0, 0, 0},
	{2, 0, 0, 0, 0x7F, 7, 0, 0, 0, 0, 0, 0, 0, 0x7E, 0, 0, 0, 0, 1, 0, 0, 0},
}

func vectorLeaf(i byte, root Hash, memLen uint64) ContractLeaf {
	return ContractLeaf{ID: ContractID{i}, CodeHash: HashCode([]byte{i}), OwnerHash: HashOwner([]byte("owner")),
		Kind: Memory32, MemoryLen: memLen, MemoryRoot: root, GlobalsHash: DomainGlobals.Sum(vectorGlobals[0])}
}

func buildVectors(t *testing.T) *vectorFile {
	v := &vectorFile{Comment: "wasmstate v1 test vectors; see SPEC.md §9. All hashes and bytes are lower-case hex.",
		DomainKeys: map[string]string{}}
	for d := Domain(0); d < numDomains; d++ {
		k := d.Key()
		v.DomainKeys[d.String()] = hex.EncodeToString(k[:])
	}
	for h := 0; h <= MemoryTreeHeight; h++ {
		v.EmptyMemory = append(v.EmptyMemory, EmptyMemory(h).String())
	}
	for _, f := range []string{"zero", "byte:01", "byte:ff", "iota", "at:4095:80"} {
		v.Pages = append(v.Pages, pageVector{Fill: f, HashHex: HashPage(fillPage(f)).String()})
	}
	memories := []map[uint64]string{
		{},
		{0: "iota"},
		{0: "byte:01", 1: "zero", 15: "at:7:07"},
		{1<<30 - 1: "byte:ff", 1 << 20: "iota"},
	}
	var roots []Hash
	src := NewMapSource()
	for _, m := range memories {
		mt := NewMemTree(EmptyMemoryRoot(), src)
		for i, f := range m {
			mt.SetPage(i, HashPage(fillPage(f)))
		}
		root, err := mt.Commit(src)
		if err != nil {
			t.Fatal(err)
		}
		roots = append(roots, root)
		v.Memories = append(v.Memories, memoryVector{Pages: m, Root: root.String()})
	}
	leaves := []ContractLeaf{vectorLeaf(1, roots[1], WasmPageSize), vectorLeaf(2, roots[2], 2*WasmPageSize),
		vectorLeaf(3, roots[0], WasmPageSize), vectorLeaf(4, roots[3], 1<<32)}
	leaves[3].Kind = Memory64
	leaves[3].MemoryLen = 1 << 42
	leaves[2].GlobalsHash = DomainGlobals.Sum(vectorGlobals[1])
	for _, l := range leaves {
		k := StateKey(l.ID)
		v.Leaves = append(v.Leaves, leafVector{Encoding: hex.EncodeToString(l.Encode()), StateKey: k.String(), Hash: l.Hash().String()})
	}
	st := NewStateTree(EmptyState(), src)
	v.States = append(v.States, stateVector{Leaves: []string{}, Root: EmptyState().String()})
	for n, l := range leaves {
		st.Update(l)
		sv := stateVector{Root: st.Root().String()}
		for _, l := range leaves[:n+1] {
			sv.Leaves = append(sv.Leaves, hex.EncodeToString(l.Encode()))
		}
		v.States = append(v.States, sv)
	}
	root := st.Commit(src)
	pages := func(h Hash) ([]byte, error) {
		for _, f := range []string{"byte:01", "iota", "at:7:07", "byte:ff"} {
			if HashPage(fillPage(f)) == h {
				return fillPage(f), nil
			}
		}
		return nil, errors.New("unknown page")
	}
	add := func(name string, p Proof, claimKind string, id ContractID, off, n uint64, errKind string, mutate func([]byte)) {
		bin, err := p.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		if mutate != nil {
			mutate(bin)
		}
		pv := proofVector{Name: name, Root: root.String(), Proof: hex.EncodeToString(bin), Kind: claimKind, ID: id.String(),
			Offset: off, Length: n, Error: errKind}
		if errKind == "" && claimKind == "range" {
			data, err := VerifyRange(root, id, off, n, p)
			if err != nil {
				t.Fatalf("vector %s: %v", name, err)
			}
			pv.Data = hex.EncodeToString(data)
		}
		v.Proofs = append(v.Proofs, pv)
	}
	rng := func(l ContractLeaf, off, n uint64) *RangeProof {
		p, err := ProveRange(st, l, NewMemTree(l.MemoryRoot, src), pages, off, n)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	cp, err := ProveContract(st, leaves[1].ID)
	if err != nil {
		t.Fatal(err)
	}
	ap, err := ProveContract(st, ContractID{9})
	if err != nil {
		t.Fatal(err)
	}
	page0 := rng(leaves[0], 0, PageSize)
	add("page 0 of contract 01", page0, "range", leaves[0].ID, 0, PageSize, "", nil)
	add("range across pages 0..15 of contract 02", rng(leaves[1], 4000, 15*PageSize+100), "range", leaves[1].ID, 4000, 15*PageSize+100, "", nil)
	add("last page of a 4 TiB memory", rng(leaves[3], 1<<42-PageSize, PageSize), "range", leaves[3].ID, 1<<42-PageSize, PageSize, "", nil)
	add("contract 02", cp, "contract", leaves[1].ID, 0, 0, "", nil)
	add("absence of 09", ap, "absence", ContractID{9}, 0, 0, "", nil)
	add("page proof with a flipped page byte", page0, "range", leaves[0].ID, 0, PageSize, "invalid", func(b []byte) { b[len(b)-200] ^= 1 })
	add("page proof checked for another page", page0, "range", leaves[0].ID, PageSize, PageSize, "invalid", nil)
	add("contract proof with a trailing byte", cp, "contract", leaves[1].ID, 0, 0, "malformed", nil)
	v.Proofs[len(v.Proofs)-1].Proof += "00"
	add("absence claimed for a present contract", cp, "absence", leaves[1].ID, 0, 0, "invalid", nil)
	add("contract proof with version 2", cp, "contract", leaves[1].ID, 0, 0, "malformed", func(b []byte) { b[0] = 2 })
	add("absence proof with a flipped sibling bit", ap, "absence", ContractID{9}, 0, 0, "invalid", func(b []byte) { b[len(b)-2] ^= 0x10 })
	addMultiVectors(t, v, st, src, pages, root, leaves)
	return v
}

// addMultiVectors adds the multiproof vectors (SPEC.md §7.6).
func addMultiVectors(t *testing.T, v *vectorFile, st *StateTree, src *MapSource, pages PageReader, root Hash, leaves []ContractLeaf) {
	add := func(name string, bin []byte, c MultiClaim, errKind string) {
		pv := proofVector{Name: name, Root: root.String(), Proof: hex.EncodeToString(bin), Kind: "multi", Error: errKind}
		for _, id := range c.IDs {
			pv.IDs = append(pv.IDs, id.String())
		}
		for _, r := range c.Ranges {
			pv.Ranges = append(pv.Ranges, rangeVector{ID: r.ID.String(), Offset: r.Offset, Length: r.Length})
		}
		if errKind == "" {
			p, err := DecodeProof(bin)
			if err != nil {
				t.Fatalf("vector %s: %v", name, err)
			}
			m, err := VerifyMulti(root, p, c)
			if err != nil {
				t.Fatalf("vector %s: %v", name, err)
			}
			for _, id := range c.IDs {
				l, _ := m.Leaf(id)
				if l == nil {
					pv.Leaves = append(pv.Leaves, "")
				} else {
					pv.Leaves = append(pv.Leaves, hex.EncodeToString(l.Encode()))
				}
			}
			for i, r := range c.Ranges {
				d, _ := m.Bytes(r)
				pv.Ranges[i].Data = hex.EncodeToString(d)
			}
		}
		v.Proofs = append(v.Proofs, pv)
	}
	prove := func(c MultiClaim) *MultiProof {
		p, err := ProveMulti(st, src, pages, c)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	enc := func(p *MultiProof) []byte {
		bin, err := p.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		return bin
	}
	l0, l1, l2, l3 := leaves[0].ID, leaves[1].ID, leaves[2].ID, leaves[3].ID
	big := MultiClaim{IDs: []ContractID{l1, {9}, l2},
		Ranges: []ByteRange{{l0, 0, PageSize}, {l1, 4000, 100}, {l1, 15 * PageSize, 10}, {l1, 4000, 5000},
			{l3, 1<<42 - PageSize, PageSize}, {l3, 1 << 32, 8}}}
	bigP := prove(big)
	add("multi: leaves, absences and overlapping ranges of three contracts", enc(bigP), big, "")
	ids := MultiClaim{IDs: []ContractID{l0, {9}, {10}}}
	idsP := prove(ids)
	add("multi: leaves and absences only", enc(idsP), ids, "")
	add("multi: empty claim", enc(prove(MultiClaim{})), MultiClaim{}, "")
	add("multi: claim with one more id", enc(idsP), MultiClaim{IDs: append([]ContractID{l3}, ids.IDs...)}, "invalid")
	add("multi: claim with one range less", enc(bigP), MultiClaim{IDs: big.IDs, Ranges: big.Ranges[1:]}, "invalid")
	flipped := enc(bigP)
	for k, d := range bigP.Memories[0].Data {
		if d != nil {
			at := bytes.Index(flipped, d) + 1000
			flipped[at] ^= 1
			_ = k
			break
		}
	}
	add("multi: flipped page byte", flipped, big, "invalid")
	// Hand-built: bytes past a memory's end; bytes of an absent contract.
	handBuilt := func(sid ContractID, r ByteRange, mem ContractLeaf) []byte {
		sp, err := ProveStates(st, []ContractID{sid})
		if err != nil {
			t.Fatal(err)
		}
		first, last := pageSpan(r.Offset, r.Length)
		var set []uint64
		for i := first; i <= last; i++ {
			set = append(set, i)
		}
		mp, err := ProveMemoryPages(NewMemTree(mem.MemoryRoot, src), pages, set)
		if err != nil {
			t.Fatal(err)
		}
		return enc(&MultiProof{State: *sp, Ranges: []ByteRange{r}, Memories: []MemoryMultiProof{*mp}})
	}
	past := ByteRange{l0, WasmPageSize - 10, 20}
	add("multi: range past the memory's end", handBuilt(l0, past, leaves[0]), MultiClaim{Ranges: []ByteRange{past}}, "out of range")
	absentR := ByteRange{ContractID{9}, 0, 1}
	add("multi: bytes of an absent contract", handBuilt(ContractID{9}, absentR, leaves[0]), MultiClaim{Ranges: []ByteRange{absentR}}, "invalid")
	add("multi: trailing byte", append(enc(idsP), 0), ids, "malformed")
	// An opaque node written with the empty hash: not canonical.
	zeroed := &StateMultiProof{IDs: idsP.State.IDs, Nodes: append([]StateProofNode(nil), idsP.State.Nodes...)}
	for i, n := range zeroed.Nodes {
		if n.Kind == StateHash {
			zeroed.Nodes[i].Hash = Hash{}
			break
		}
	}
	add("multi: opaque node with the empty hash", append(zeroed.AppendBinary([]byte{ProofVersion, byte(KindMulti)}), 0, 0, 0, 0), ids, "malformed")
}

// vectorClaim reads the claim of a multi vector.
func vectorClaim(pv proofVector) (MultiClaim, error) {
	var c MultiClaim
	for _, s := range pv.IDs {
		id, err := ParseContractID(s)
		if err != nil {
			return c, err
		}
		c.IDs = append(c.IDs, id)
	}
	for _, r := range pv.Ranges {
		id, err := ParseContractID(r.ID)
		if err != nil {
			return c, err
		}
		c.Ranges = append(c.Ranges, ByteRange{id, r.Offset, r.Length})
	}
	return c, nil
}

// wantData is what a valid vector proves, as checkVector returns it: the
// bytes of a range, nothing for a contract or absence, and for a multi
// claim the summary of refmulti_test.go (per id 0, or 1 and the leaf; then
// each range's bytes).
func wantData(t *testing.T, pv proofVector) string {
	if pv.Kind != "multi" {
		return pv.Data
	}
	var out []byte
	for _, l := range pv.Leaves {
		if l == "" {
			out = append(out, 0)
		} else {
			out = append(append(out, 1), mustHex(t, pv.Name, l)...)
		}
	}
	for _, r := range pv.Ranges {
		out = append(out, mustHex(t, pv.Name, r.Data)...)
	}
	return hex.EncodeToString(out)
}

// checkVector verifies one proof vector the way a client would.
func checkVector(pv proofVector) ([]byte, error) {
	root, err := ParseHash(pv.Root)
	if err != nil {
		return nil, fmt.Errorf("vector %s: root: %w", pv.Name, err)
	}
	var id ContractID
	var c MultiClaim
	if pv.Kind == "multi" {
		c, err = vectorClaim(pv)
	} else {
		id, err = ParseContractID(pv.ID)
	}
	if err != nil {
		return nil, fmt.Errorf("vector %s: claim: %w", pv.Name, err)
	}
	bin, err := hex.DecodeString(pv.Proof)
	if err != nil {
		return nil, fmt.Errorf("vector %s: proof hex: %w", pv.Name, err)
	}
	p, err := DecodeProof(bin)
	if err != nil {
		return nil, err
	}
	switch pv.Kind {
	case "multi":
		m, err := VerifyMulti(root, p, c)
		if err != nil {
			return nil, err
		}
		return multiSummary(m, c.IDs, c.Ranges), nil
	case "range":
		return VerifyRange(root, id, pv.Offset, pv.Length, p)
	case "contract":
		_, err := VerifyContract(root, id, p)
		return nil, err
	default:
		return nil, VerifyAbsence(root, id, p)
	}
}

func TestVectors(t *testing.T) {
	built := buildVectors(t)
	want, err := json.MarshalIndent(built, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	want = append(want, '\n')
	if *update {
		if err := os.WriteFile("testdata/vectors.json", want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile("testdata/vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("testdata/vectors.json differs from what the implementation computes; the format changed (run go test -run TestVectors -update and update SPEC.md)")
	}
	var v vectorFile
	dec := json.NewDecoder(bytes.NewReader(got))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		t.Fatal(err)
	}
	checkVectorsWithReference(t, &v)
	// And with the package: what a client of it gets.
	for _, pv := range v.Proofs {
		data, err := checkVector(pv)
		switch pv.Error {
		case "":
			if err != nil || hex.EncodeToString(data) != wantData(t, pv) {
				t.Fatalf("%s: %v", pv.Name, err)
			}
		case "malformed":
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("%s: want malformed, got %v", pv.Name, err)
			}
		case "invalid":
			if !errors.Is(err, ErrProofInvalid) {
				t.Fatalf("%s: want invalid, got %v", pv.Name, err)
			}
		case "out of range":
			if !errors.Is(err, ErrOutOfRange) {
				t.Fatalf("%s: want out of range, got %v", pv.Name, err)
			}
		default:
			t.Fatalf("%s: unknown error class %q", pv.Name, pv.Error)
		}
	}
}

// refCheckVector verifies a vector's claim with proof bytes proof, using
// the reference alone.
func refCheckVector(t *testing.T, pv proofVector, proof []byte) ([]byte, error) {
	root := Hash(mustHex(t, pv.Name, pv.Root))
	if pv.Kind != "multi" {
		return refVerify(root, proof, pv.Kind, [32]byte(mustHex(t, pv.Name, pv.ID)), pv.Offset, pv.Length)
	}
	var ids [][32]byte
	for _, s := range pv.IDs {
		ids = append(ids, [32]byte(mustHex(t, pv.Name, s)))
	}
	var ranges []refRange
	for _, r := range pv.Ranges {
		ranges = append(ranges, refRange{[32]byte(mustHex(t, pv.Name, r.ID)), r.Offset, r.Length})
	}
	res, err := refVerifyMulti(root, proof, true, ids, ranges)
	if err != nil {
		return nil, err
	}
	return res.summary(ids, ranges), nil
}

// mustHex decodes a hex string of the vectors file.
func mustHex(t *testing.T, what, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return b
}

// checkVectorsWithReference checks every entry of the file with the
// from-scratch reference (reference_test.go, refproof_test.go), which
// shares no code with the package but BLAKE3.
func checkVectorsWithReference(t *testing.T, v *vectorFile) {
	t.Helper()
	if len(v.DomainKeys) != 8 {
		t.Fatalf("%d domain keys, want 8", len(v.DomainKeys))
	}
	for name, k := range v.DomainKeys {
		var want [32]byte
		blake3.DeriveKey("wasmstate v1 "+name, nil, want[:])
		if k != hex.EncodeToString(want[:]) {
			t.Fatalf("domain key %q", name)
		}
	}
	if len(v.EmptyMemory) != 31 {
		t.Fatalf("%d empty-memory hashes, want 31", len(v.EmptyMemory))
	}
	for h, e := range v.EmptyMemory {
		if refEmpty(h).String() != e {
			t.Fatalf("E[%d]", h)
		}
	}
	for _, pg := range v.Pages {
		if h := refKeyed("page", fillPage(pg.Fill)); h.String() != pg.HashHex {
			t.Fatalf("page %s", pg.Fill)
		}
	}
	for _, m := range v.Memories {
		pages := map[uint64][]byte{}
		for i, f := range m.Pages {
			pages[i] = fillPage(f)
		}
		if refMemoryRoot(pages).String() != m.Root {
			t.Fatalf("memory root %s", m.Root)
		}
	}
	globals := map[Hash]bool{}
	for _, g := range vectorGlobals {
		globals[refKeyed("globals", g)] = true
	}
	for _, lv := range v.Leaves {
		enc := mustHex(t, "leaf", lv.Encoding)
		l, err := refDecodeLeaf(enc)
		if err != nil {
			t.Fatalf("leaf %s: %v", lv.Encoding, err)
		}
		if !bytes.Equal(l.encode(), enc) {
			t.Fatalf("leaf %s does not re-encode", lv.Encoding)
		}
		if refKeyed("state key", l.id[:]).String() != lv.StateKey || l.hash().String() != lv.Hash {
			t.Fatalf("leaf %s: state key or hash", lv.Encoding)
		}
		if !globals[l.globals] {
			t.Fatalf("leaf %s: globals hash of no valid globals encoding (§5.1)", lv.Encoding)
		}
	}
	for _, sv := range v.States {
		var encs [][]byte
		for _, e := range sv.Leaves {
			encs = append(encs, mustHex(t, "state leaf", e))
		}
		root, err := refStateRootOf(encs)
		if err != nil || root.String() != sv.Root {
			t.Fatalf("state root %s: %v", sv.Root, err)
		}
	}
	classes := map[string]error{"": nil, "malformed": refMalformed, "invalid": refInvalid, "out of range": refOutOfRange}
	for _, pv := range v.Proofs {
		want, ok := classes[pv.Error]
		if !ok {
			t.Fatalf("%s: unknown error class %q", pv.Name, pv.Error)
		}
		data, err := refCheckVector(t, pv, mustHex(t, pv.Name, pv.Proof))
		if err != want {
			t.Fatalf("%s: reference says %v, the file %q", pv.Name, err, pv.Error)
		}
		if want == nil && hex.EncodeToString(data) != wantData(t, pv) {
			t.Fatalf("%s: reference proves other bytes", pv.Name)
		}
	}
}
