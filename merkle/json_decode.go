package merkle

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"strconv"
)

// Strict decoding of the JSON form (SPEC.md §7.5). encoding/json alone is
// too lenient for a canonical format: it matches keys case-insensitively,
// ignores unknown keys, keeps the last of duplicate keys, reads null as
// "absent" and accepts 1e0 for 1. So objects are read key by key and every
// value is checked against its raw bytes.

// jsonObject is one JSON object, its keys mapped to their raw values.
type jsonObject map[string]json.RawMessage

func jsonMalformed(format string, args ...any) error {
	return malformed("JSON proof", -1, format, args...)
}

// readObject reads raw as one object with distinct keys.
func readObject(raw []byte, what string) (jsonObject, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, jsonMalformed("%s: want an object", what)
	}
	obj := jsonObject{}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, jsonMalformed("%s: %v", what, err)
		}
		key, ok := t.(string)
		if !ok {
			return nil, jsonMalformed("%s: want a key", what)
		}
		if _, dup := obj[key]; dup {
			return nil, jsonMalformed("%s: key %q given twice", what, key)
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, jsonMalformed("%s: key %q: %v", what, key, err)
		}
		obj[key] = v
	}
	if t, err := dec.Token(); err != nil || t != json.Delim('}') {
		return nil, jsonMalformed("%s: unterminated object", what)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, jsonMalformed("%s: data after the object", what)
	}
	return obj, nil
}

// checkKeys requires exactly the keys want (plus those of optional that
// are present), spelled exactly so.
func (o jsonObject) checkKeys(what string, want []string, optional ...string) error {
	allowed := map[string]bool{}
	for _, k := range want {
		if _, ok := o[k]; !ok {
			return jsonMalformed("%s: missing key %q", what, k)
		}
		allowed[k] = true
	}
	for _, k := range optional {
		allowed[k] = true
	}
	for k := range o {
		if !allowed[k] {
			return jsonMalformed("%s: unexpected key %q", what, k)
		}
	}
	return nil
}

// lowerHex reads a JSON string of exactly n lower-case hex digits, with no
// escape.
func lowerHex(raw []byte, n int, what string) ([]byte, error) {
	if len(raw) != n+2 || raw[0] != '"' || raw[n+1] != '"' {
		return nil, jsonMalformed("%s: want a string of %d lower-case hex digits", what, n)
	}
	for _, c := range raw[1 : n+1] {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return nil, jsonMalformed("%s: want lower-case hex digits, got %q", what, c)
		}
	}
	out := make([]byte, n/2)
	hex.Decode(out, raw[1:n+1])
	return out, nil
}

func jsonHash(raw []byte, what string) (Hash, error) {
	b, err := lowerHex(raw, 2*HashSize, what)
	if err != nil {
		return Hash{}, err
	}
	return Hash(b), nil
}

// jsonHashOrNull reads a hash that is null when it equals empty; the
// empty value written as hex is not canonical.
func jsonHashOrNull(raw []byte, empty Hash, what string) (Hash, error) {
	if string(raw) == "null" {
		return empty, nil
	}
	h, err := jsonHash(raw, what)
	if err == nil && h == empty {
		return h, jsonMalformed("%s: the empty value is written null, not as hex", what)
	}
	return h, err
}

// jsonUint reads a JSON number written as a plain decimal u64: no sign,
// fraction, exponent or leading zero.
func jsonUint(raw []byte, what string) (uint64, error) {
	s := string(raw)
	if s == "" || (len(s) > 1 && s[0] == '0') {
		return 0, jsonMalformed("%s: want a decimal integer without leading zeros", what)
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, jsonMalformed("%s: want a decimal integer, got %.20s", what, s)
		}
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, jsonMalformed("%s: %.30s does not fit in 64 bits", what, s)
	}
	return v, nil
}

// jsonArray reads a JSON array (not null) into its raw elements.
func jsonArray(raw []byte, what string) ([]json.RawMessage, error) {
	if len(raw) == 0 || raw[0] != '[' {
		return nil, jsonMalformed("%s: want an array", what)
	}
	var out []json.RawMessage
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, jsonMalformed("%s: %v", what, err)
	}
	return out, nil
}

// jsonHashes reads an array of hashes or nulls; empty(i) is the value a
// null stands for at position i.
func jsonHashes(raw []byte, what string, empty func(i int) Hash) ([]Hash, error) {
	items, err := jsonArray(raw, what)
	if err != nil {
		return nil, err
	}
	out := make([]Hash, len(items))
	for i, it := range items {
		if out[i], err = jsonHashOrNull(it, empty(i), what+"["+strconv.Itoa(i)+"]"); err != nil {
			return nil, err
		}
	}
	return out, nil
}

var leafKeys = []string{"id", "code_hash", "owner_hash", "memory_kind", "memory_len", "memory_root", "globals_hash"}

func jsonLeafValue(raw []byte) (ContractLeaf, error) {
	var l ContractLeaf
	o, err := readObject(raw, "leaf")
	if err != nil {
		return l, err
	}
	if err := o.checkKeys("leaf", leafKeys); err != nil {
		return l, err
	}
	var id Hash
	for _, f := range []struct {
		key string
		dst *Hash
	}{{"id", &id}, {"code_hash", &l.CodeHash}, {"owner_hash", &l.OwnerHash}, {"memory_root", &l.MemoryRoot}, {"globals_hash", &l.GlobalsHash}} {
		if *f.dst, err = jsonHash(o[f.key], "leaf."+f.key); err != nil {
			return l, err
		}
	}
	l.ID = ContractID(id)
	switch string(o["memory_kind"]) {
	case `"wasm32"`:
		l.Kind = Memory32
	case `"wasm64"`:
		l.Kind = Memory64
	default:
		return l, jsonMalformed("leaf.memory_kind %.20s: want \"wasm32\" or \"wasm64\"", o["memory_kind"])
	}
	if l.MemoryLen, err = jsonUint(o["memory_len"], "leaf.memory_len"); err != nil {
		return l, err
	}
	return l, l.Validate()
}

// DecodeProofJSON decodes a proof from its JSON form (SPEC.md §7.5). Like
// DecodeProof it is canonical: it accepts exactly one JSON spelling of each
// proof up to whitespace and key order, and every error matches
// ErrMalformed.
func DecodeProofJSON(b []byte) (Proof, error) {
	o, err := readObject(b, "proof")
	if err != nil {
		return nil, err
	}
	if _, ok := o["version"]; !ok {
		return nil, jsonMalformed("missing key \"version\"")
	}
	if v := string(o["version"]); v != strconv.Itoa(ProofVersion) {
		return nil, jsonMalformed("version %.20s, want %d", v, ProofVersion)
	}
	common := []string{"version", "kind", "state_path"}
	var p Proof
	switch string(o["kind"]) {
	case `"contract"`:
		if err := o.checkKeys("contract proof", append(common, "leaf")); err != nil {
			return nil, err
		}
		cp := &ContractProof{}
		if cp.Leaf, err = jsonLeafValue(o["leaf"]); err != nil {
			return nil, err
		}
		p = cp
	case `"absence"`:
		if err := o.checkKeys("absence proof", append(common, "id"), "leaf"); err != nil {
			return nil, err
		}
		id, err := jsonHash(o["id"], "id")
		if err != nil {
			return nil, err
		}
		ap := &AbsenceProof{ID: ContractID(id)}
		if raw, ok := o["leaf"]; ok {
			// An absence proof ending in an empty subtree omits "leaf";
			// null is not another spelling of that.
			l, err := jsonLeafValue(raw)
			if err != nil {
				return nil, err
			}
			ap.Other = &l
		}
		p = ap
	case `"range"`:
		if err := o.checkKeys("range proof", append(common, "leaf", "offset", "length", "pages", "memory_siblings")); err != nil {
			return nil, err
		}
		if p, err = jsonRange(o); err != nil {
			return nil, err
		}
	case `"multi"`:
		mp, err := jsonMultiProof(o)
		if err != nil {
			return nil, err
		}
		// Round-trip through the binary form, so both accept the same proofs.
		bin, err := mp.MarshalBinary()
		if err != nil {
			return nil, err
		}
		return DecodeProof(bin)
	default:
		return nil, jsonMalformed("kind %.30s: want \"range\", \"contract\", \"absence\" or \"multi\"", o["kind"])
	}
	sibs, err := jsonHashes(o["state_path"], "state_path", func(int) Hash { return EmptyState() })
	if err != nil {
		return nil, err
	}
	if len(sibs) > StateTreeHeight {
		return nil, jsonMalformed("state path of %d siblings, at most %d", len(sibs), StateTreeHeight)
	}
	switch q := p.(type) {
	case *ContractProof:
		q.Path.Siblings = sibs
	case *AbsenceProof:
		q.Path.Siblings = sibs
	case *RangeProof:
		q.Path.Siblings = sibs
	}
	// Round-trip through the binary form, so both accept the same proofs.
	bin, err := p.MarshalBinary()
	if err != nil {
		return nil, err
	}
	return DecodeProof(bin)
}

func jsonRange(o jsonObject) (*RangeProof, error) {
	l, err := jsonLeafValue(o["leaf"])
	if err != nil {
		return nil, err
	}
	rp := &RangeProof{Leaf: l}
	if rp.Offset, err = jsonUint(o["offset"], "offset"); err != nil {
		return nil, err
	}
	if rp.Length, err = jsonUint(o["length"], "length"); err != nil {
		return nil, err
	}
	if rp.Length == 0 || rp.Length > MaxProofRange || rp.Offset > MaxMemoryBytes-rp.Length {
		return nil, jsonMalformed("range %d+%d out of bounds", rp.Offset, rp.Length)
	}
	first, last := pageSpan(rp.Offset, rp.Length)
	if rp.Pages, err = jsonPages(o["pages"], "pages", int(last-first+1)); err != nil {
		return nil, err
	}
	slots := memorySlotHeights(first, last)
	sibs, err := jsonHashes(o["memory_siblings"], "memory_siblings", emptyMemoryAt(slots))
	if err != nil {
		return nil, err
	}
	if len(sibs) != len(slots) {
		return nil, jsonMalformed("range needs %d memory siblings, proof lists %d", len(slots), len(sibs))
	}
	rp.MemorySiblings = sibs
	return rp, nil
}

// jsonPages reads an array of n pages, each hex or null (a zero page; the
// zero page written as hex is not canonical).
func jsonPages(raw []byte, what string, n int) ([][]byte, error) {
	pages, err := jsonArray(raw, what)
	if err != nil {
		return nil, err
	}
	if len(pages) != n {
		return nil, jsonMalformed("%s: the range covers %d pages, the proof lists %d", what, n, len(pages))
	}
	out := make([][]byte, n)
	for i, raw := range pages {
		if string(raw) == "null" {
			continue
		}
		w := what + "[" + strconv.Itoa(i) + "]"
		if out[i], err = lowerHex(raw, 2*PageSize, w); err != nil {
			return nil, err
		}
		if isZero(out[i]) {
			return nil, jsonMalformed("%s: a zero page is written null, not as hex", w)
		}
	}
	return out, nil
}
