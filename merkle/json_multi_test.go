package merkle

import (
	"bytes"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
)

// TestJSONCanonicalMulti: a multiproof has one JSON spelling (SPEC.md
// §7.6), up to whitespace and key order; every other spelling a lenient
// decoder would take is malformed.
func TestJSONCanonicalMulti(t *testing.T) {
	f := newFixture(t, 231, 40)
	r := rand.New(rand.NewPCG(232, 233))
	var js string
	var p *MultiProof
	// A proof with every kind of state node, a zero page and an empty
	// memory sibling.
	has := func(p *MultiProof) bool {
		kinds := map[StateNodeKind]bool{}
		for _, n := range p.State.Nodes {
			kinds[n.Kind] = true
		}
		zeroPage := false
		for _, d := range p.Memories[0].Data {
			zeroPage = zeroPage || d == nil
		}
		return len(kinds) == 4 && zeroPage
	}
	for i := 0; i < 500 && js == ""; i++ {
		c := f.randClaim(r, 2, 2, 2)
		c.Ranges = append(c.Ranges, ByteRange{c.Ranges[0].ID, 0, f.leaves[c.Ranges[0].ID].MemoryLen})
		p = f.proveMulti(t, c)
		if has(p) {
			b, _ := json.Marshal(p)
			js = string(b)
		}
	}
	if js == "" {
		t.Fatal("no suitable proof")
	}
	sets, _ := p.structure()
	slots := multiSlotHeights(sets[0])
	emptyE := ""
	for i, s := range p.Memories[0].Siblings {
		if s == emptyMemory[slots[i]] {
			emptyE = `"` + s.String() + `"`
			break
		}
	}
	var opaque string
	for _, n := range p.State.Nodes {
		if n.Kind == StateHash {
			opaque = n.Hash.String()
			break
		}
	}
	if emptyE == "" || opaque == "" {
		t.Fatal("fixture lacks an empty memory sibling or an opaque node")
	}
	id0, id1 := p.State.IDs[0].String(), p.State.IDs[1].String()
	zeroHash := `"` + strings.Repeat("0", 64) + `"`
	mutants := []struct{ name, js string }{
		{"unknown key", strings.Replace(js, `{"version":1`, `{"version":1,"extra":0`, 1)},
		{"key in upper case", strings.Replace(js, `"ids"`, `"IDs"`, 1)},
		{"duplicate key", strings.Replace(js, `{"version":1`, `{"version":1,"version":1`, 1)},
		{"kind in another case", strings.Replace(js, `"kind":"multi"`, `"kind":"Multi"`, 1)},
		{"state_path on a multiproof", strings.Replace(js, `{"version":1`, `{"version":1,"state_path":[]`, 1)},
		{"ranges null", replaceArray(js, "ranges", "null")},
		{"missing memories", strings.Replace(js, `"memories":`, `"memoriez":`, 1)},
		{"ids out of order", strings.Replace(strings.Replace(strings.Replace(js, id0, "X", 1), id1, id0, 1), "X", id1, 1)},
		{"id in upper case", strings.Replace(js, `"ids":["`+id0, `"ids":["`+strings.ToUpper(id0), 1)},
		{"inner in another case", strings.Replace(js, `"inner"`, `"Inner"`, 1)},
		{"state node as a number", strings.Replace(js, `"inner"`, `2`, 1)},
		{"empty state node as hex", replaceNullIn(js, "state_nodes", zeroHash)},
		{"unknown key in a range", strings.Replace(js, `"ranges":[{`, `"ranges":[{"x":1,`, 1)},
		{"range offset as float", strings.Replace(js, `"offset":`, `"offset":0.0+`, 1)},
		{"range id not among the ids", strings.Replace(js, `"ranges":[{"id":"`, `"ranges":[{"id":"ff`, 1)},
		{"zero page as hex", replaceNullIn(js, "pages", `"`+strings.Repeat("00", PageSize)+`"`)},
		{"empty memory sibling as hex", replaceNullIn(js, "memory_siblings", emptyE)},
		{"unknown key in a memory", strings.Replace(js, `"memories":[{`, `"memories":[{"id":1,`, 1)},
		{"unknown key in a leaf", strings.Replace(js, `"memory_len"`, `"extra":0,"memory_len"`, 1)},
		{"trailing data", js + ` {}`},
	}
	for _, m := range mutants {
		if m.js == js {
			t.Errorf("%s: mutation did not apply", m.name)
			continue
		}
		if _, err := DecodeProofJSON([]byte(m.js)); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: accepted or wrong error: %v", m.name, err)
		}
	}
	// Another well-formed proof, not another spelling: it decodes and
	// does not verify.
	other, err := DecodeProofJSON([]byte(strings.Replace(js, `"`+opaque+`"`, `null`, 1)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := VerifyAny(f.root, other); !errors.Is(err, ErrProofInvalid) {
		t.Fatalf("an opaque node replaced by Z: %v", err)
	}
	q, err := DecodeProofJSON([]byte(js))
	if err != nil {
		t.Fatalf("canonical JSON rejected: %v", err)
	}
	var generic map[string]any
	json.Unmarshal([]byte(js), &generic)
	reordered, _ := json.MarshalIndent(generic, "", "  ")
	q2, err := DecodeProofJSON(reordered)
	if err != nil {
		t.Fatalf("reordered JSON rejected: %v", err)
	}
	a, _ := q.MarshalBinary()
	b, _ := q2.MarshalBinary()
	c, _ := p.MarshalBinary()
	if !bytes.Equal(a, b) || !bytes.Equal(a, c) {
		t.Fatal("JSON round trip or reordering changed the proof")
	}
}
