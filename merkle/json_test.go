package merkle

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
)

// jsonFixtureProofs returns JSON proofs of every kind, chosen so that the
// mutations below each have something to act on: a range with a zero page,
// a state path with an empty sibling, absences ending at a leaf and at an
// empty subtree.
func jsonFixtureProofs(t *testing.T) (rangeJS, contractJS, absentEmpty, absentLeaf, nullSibling string) {
	f := newFixture(t, 7, 40)
	r := rand.New(rand.NewPCG(3, 4))
	for id := range f.leaves {
		if rangeJS == "" {
			for start := uint64(0); start < 30; start++ {
				if _, ok := f.mems[id][start]; !ok {
					js, _ := json.Marshal(f.proveRange(t, id, start*PageSize, 3*PageSize))
					if strings.Contains(string(js), `"pages":[null`) {
						rangeJS = string(js)
						break
					}
				}
			}
		}
		p, _ := ProveContract(f.state, id)
		js, _ := json.Marshal(p)
		contractJS = string(js)
		if nullSibling == "" && strings.Contains(contractJS, `"state_path":[`) && strings.Contains(contractJS, ",null") {
			nullSibling = contractJS
		}
	}
	for i := 0; i < 500 && (absentEmpty == "" || absentLeaf == ""); i++ {
		p, _ := ProveContract(f.state, randID(r))
		js, _ := json.Marshal(p)
		if p.(*AbsenceProof).Other == nil {
			absentEmpty = string(js)
		} else {
			absentLeaf = string(js)
		}
	}
	if rangeJS == "" || absentEmpty == "" || absentLeaf == "" || nullSibling == "" {
		t.Fatalf("fixture lacks a case: range %v, absence %v/%v, null sibling %v", rangeJS != "", absentEmpty != "", absentLeaf != "", nullSibling != "")
	}
	return
}

// TestJSONCanonical: the JSON form has one spelling per proof (SPEC.md
// §7.5), up to whitespace and key order. Every other spelling a lenient
// decoder would take is malformed.
func TestJSONCanonical(t *testing.T) {
	rng, con, absE, absL, nullSib := jsonFixtureProofs(t)
	zeroHash := `"` + strings.Repeat("0", 64) + `"`
	firstHex := func(js, key string) string { // the first 64-hex value after key
		i := strings.Index(js, `"`+key+`":"`) + len(key) + 4
		return js[i : i+64]
	}
	id := firstHex(con, "id")
	// The hex of E[h] for the first memory sibling that is null.
	rp, err := DecodeProofJSON([]byte(rng))
	if err != nil {
		t.Fatal(err)
	}
	first, last := pageSpan(rp.(*RangeProof).Offset, rp.(*RangeProof).Length)
	var generic struct {
		Sibs []*string `json:"memory_siblings"`
	}
	json.Unmarshal([]byte(rng), &generic)
	emptyE := ""
	for i, h := range memorySlotHeights(first, last) {
		if generic.Sibs[i] == nil {
			emptyE = `"` + emptyMemory[h].String() + `"`
			break
		}
	}
	if emptyE == "" {
		t.Fatal("no null memory sibling in the range proof")
	}
	mutants := []struct{ name, js string }{
		{"unknown key", strings.Replace(con, `{"version":1`, `{"version":1,"extra":0`, 1)},
		{"unknown leaf key", strings.Replace(con, `"memory_len"`, `"extra":0,"memory_len"`, 1)},
		{"key in upper case", strings.Replace(con, `"version"`, `"Version"`, 1)},
		{"leaf key in another case", strings.Replace(con, `"code_hash"`, `"Code_Hash"`, 1)},
		{"duplicate key", strings.Replace(con, `{"version":1`, `{"version":1,"version":1`, 1)},
		{"upper-case hex", strings.Replace(con, id, strings.ToUpper(id), 1)},
		{"escaped hex digit", strings.Replace(con, `"id":"`+id[:1], `"id":"\u00`+hexOf(id[0]), 1)},
		{"missing state_path", strings.Replace(con, `"state_path":`, `"state_pathx":`, 1)},
		{"state_path null", replaceArray(con, "state_path", "null")},
		{"empty state sibling as hex", strings.Replace(nullSib, ",null", ","+zeroHash, 1)},
		{"leaf null (absence)", strings.Replace(absE, `{"version":1`, `{"version":1,"leaf":null`, 1)},
		{"leaf null (contract)", replaceObject(con, "leaf", "null")},
		{"id on a contract proof", strings.Replace(con, `{"version":1`, `{"version":1,"id":"`+id+`"`, 1)},
		{"absence without id", strings.Replace(absL, `"id":"`, `"xid":"`, 1)},
		{"zero page as hex", strings.Replace(rng, `"pages":[null`, `"pages":["`+strings.Repeat("00", PageSize)+`"`, 1)},
		{"empty memory sibling as hex", replaceNullIn(rng, "memory_siblings", emptyE)},
		{"version 1.0", strings.Replace(con, `"version":1`, `"version":1.0`, 1)},
		{"version 1e0", strings.Replace(con, `"version":1`, `"version":1e0`, 1)},
		{"version as string", strings.Replace(con, `"version":1`, `"version":"1"`, 1)},
		{"memory_len with leading zero", strings.Replace(con, `"memory_len":`, `"memory_len":0`, 1)},
		{"memory_len negative", strings.Replace(con, `"memory_len":`, `"memory_len":-`, 1)},
		{"offset as float", strings.Replace(rng, `"offset":`, `"offset":0.0+`, 1)},
		{"kind in another case", strings.Replace(rng, `"kind":"range"`, `"kind":"Range"`, 1)},
		{"memory_kind in another case", strings.Replace(con, `"wasm32"`, `"WASM32"`, 1)},
		{"trailing data", con + ` {}`},
		{"array instead of object", `[` + con + `]`},
	}
	for _, m := range mutants {
		if !strings.Contains(m.js, "{") || m.js == con || m.js == rng || m.js == absE || m.js == absL || m.js == nullSib {
			t.Errorf("%s: mutation did not apply", m.name)
			continue
		}
		if _, err := DecodeProofJSON([]byte(m.js)); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: accepted or wrong error: %v", m.name, err)
		}
	}
	// The canonical forms, re-indented and with keys reordered, are accepted
	// and mean the same proof.
	for _, js := range []string{rng, con, absE, absL, nullSib} {
		p, err := DecodeProofJSON([]byte(js))
		if err != nil {
			t.Fatalf("canonical JSON rejected: %v\n%.200s", err, js)
		}
		var generic map[string]any
		json.Unmarshal([]byte(js), &generic)
		reordered, _ := json.MarshalIndent(generic, "", "   ") // sorted keys
		q, err := DecodeProofJSON(reordered)
		if err != nil {
			t.Fatalf("reordered JSON rejected: %v", err)
		}
		a, _ := p.MarshalBinary()
		b, _ := q.MarshalBinary()
		if !bytes.Equal(a, b) {
			t.Fatal("reordering keys changed the proof")
		}
	}
}

// canonicalEqual reports whether two JSON documents are the same value.
func canonicalEqual(a, b []byte) bool {
	var x, y any
	da, db := json.NewDecoder(bytes.NewReader(a)), json.NewDecoder(bytes.NewReader(b))
	da.UseNumber()
	db.UseNumber()
	if da.Decode(&x) != nil || db.Decode(&y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}

func hexOf(c byte) string { return fmt.Sprintf("%02x", c) }

// replaceArray replaces the array value of key.
func replaceArray(js, key, with string) string {
	i := strings.Index(js, `"`+key+`":[`)
	if i < 0 {
		return js
	}
	j := strings.Index(js[i:], "]") + i
	return js[:i] + `"` + key + `":` + with + js[j+1:]
}

// replaceObject replaces the object value of key (no nested objects).
func replaceObject(js, key, with string) string {
	i := strings.Index(js, `"`+key+`":{`)
	if i < 0 {
		return js
	}
	j := strings.Index(js[i:], "}") + i
	return js[:i] + `"` + key + `":` + with + js[j+1:]
}

// replaceNullIn replaces the first null in key's array with v.
func replaceNullIn(js, key, v string) string {
	i := strings.Index(js, `"`+key+`":[`)
	if i < 0 {
		return js
	}
	j := strings.Index(js[i:], "null")
	if j < 0 {
		return js
	}
	return js[:i+j] + v + js[i+j+4:]
}
