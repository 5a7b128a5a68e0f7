package merkle

import (
	"encoding/hex"
	"encoding/json"
)

// JSON form of proofs (SPEC.md §7.2). Hashes, ids and pages are lower-case
// hex strings; an empty sibling or a zero page is null. Decoding goes
// through the binary decoder, so JSON accepts exactly what binary accepts.

type jsonLeaf struct {
	ID          string `json:"id"`
	CodeHash    string `json:"code_hash"`
	OwnerHash   string `json:"owner_hash"`
	MemoryKind  string `json:"memory_kind"`
	MemoryLen   uint64 `json:"memory_len"`
	MemoryRoot  string `json:"memory_root"`
	GlobalsHash string `json:"globals_hash"`
}

type jsonProof struct {
	Version        int       `json:"version"`
	Kind           string    `json:"kind"`
	ID             string    `json:"id,omitempty"`
	Leaf           *jsonLeaf `json:"leaf,omitempty"`
	StatePath      []*string `json:"state_path"`
	Offset         *uint64   `json:"offset,omitempty"`
	Length         *uint64   `json:"length,omitempty"`
	Pages          []*string `json:"pages,omitempty"`
	MemorySiblings []*string `json:"memory_siblings,omitempty"`
}

func leafToJSON(l *ContractLeaf) *jsonLeaf {
	if l == nil {
		return nil
	}
	return &jsonLeaf{
		ID: l.ID.String(), CodeHash: l.CodeHash.String(), OwnerHash: l.OwnerHash.String(),
		MemoryKind: l.Kind.String(), MemoryLen: l.MemoryLen,
		MemoryRoot: l.MemoryRoot.String(), GlobalsHash: l.GlobalsHash.String(),
	}
}

func (j *jsonLeaf) leaf() (ContractLeaf, error) {
	var l ContractLeaf
	var err error
	set := func(dst *Hash, s string) {
		if err == nil {
			*dst, err = ParseHash(s)
		}
	}
	var id Hash
	set(&id, j.ID)
	l.ID = ContractID(id)
	set(&l.CodeHash, j.CodeHash)
	set(&l.OwnerHash, j.OwnerHash)
	set(&l.MemoryRoot, j.MemoryRoot)
	set(&l.GlobalsHash, j.GlobalsHash)
	if err != nil {
		return l, err
	}
	switch j.MemoryKind {
	case "wasm32":
		l.Kind = Memory32
	case "wasm64":
		l.Kind = Memory64
	default:
		return l, malformed("JSON proof", -1, "memory_kind %q", j.MemoryKind)
	}
	l.MemoryLen = j.MemoryLen
	return l, l.Validate()
}

func hashesToJSON(hs []Hash, empty func(i int) Hash) []*string {
	out := make([]*string, len(hs))
	for i, h := range hs {
		if h != empty(i) {
			s := h.String()
			out[i] = &s
		}
	}
	return out
}

func hashesFromJSON(ss []*string, empty func(i int) Hash) ([]Hash, error) {
	out := make([]Hash, len(ss))
	for i, s := range ss {
		if s == nil {
			out[i] = empty(i)
			continue
		}
		h, err := ParseHash(*s)
		if err != nil {
			return nil, err
		}
		out[i] = h
	}
	return out, nil
}

func emptyState(int) Hash { return EmptyState }

// MarshalJSON encodes the proof as JSON.
func (p *ContractProof) MarshalJSON() ([]byte, error) {
	return json.Marshal(jsonProof{Version: ProofVersion, Kind: "contract", Leaf: leafToJSON(&p.Leaf),
		StatePath: hashesToJSON(p.Path.Siblings, emptyState)})
}

// MarshalJSON encodes the proof as JSON.
func (p *AbsenceProof) MarshalJSON() ([]byte, error) {
	return json.Marshal(jsonProof{Version: ProofVersion, Kind: "absence", ID: p.ID.String(), Leaf: leafToJSON(p.Other),
		StatePath: hashesToJSON(p.Path.Siblings, emptyState)})
}

// MarshalJSON encodes the proof as JSON.
func (p *RangeProof) MarshalJSON() ([]byte, error) {
	first, last := pageSpan(p.Offset, p.Length)
	if p.Length == 0 || uint64(len(p.Pages)) != last-first+1 || len(p.MemorySiblings) != rangeSlotCount(first, last) {
		return nil, malformed("range proof", -1, "page or sibling count does not match the range")
	}
	slots := memorySlotHeights(first, last)
	pages := make([]*string, len(p.Pages))
	for i, pg := range p.Pages {
		if pg != nil && !isZero(pg) {
			s := hex.EncodeToString(pg)
			pages[i] = &s
		}
	}
	off, n := p.Offset, p.Length
	return json.Marshal(jsonProof{Version: ProofVersion, Kind: "range", Leaf: leafToJSON(&p.Leaf),
		StatePath: hashesToJSON(p.Path.Siblings, emptyState), Offset: &off, Length: &n, Pages: pages,
		MemorySiblings: hashesToJSON(p.MemorySiblings, func(i int) Hash { return emptyMemory[slots[i]] })})
}

// DecodeProofJSON decodes a proof from its JSON form, accepting exactly the
// proofs DecodeProof accepts.
func DecodeProofJSON(b []byte) (Proof, error) {
	var j jsonProof
	if err := json.Unmarshal(b, &j); err != nil {
		return nil, malformed("JSON proof", -1, "%v", err)
	}
	if j.Version != ProofVersion {
		return nil, malformed("JSON proof", -1, "version %d, want %d", j.Version, ProofVersion)
	}
	if len(j.StatePath) > StateTreeHeight {
		return nil, malformed("JSON proof", -1, "state path too deep")
	}
	sibs, err := hashesFromJSON(j.StatePath, emptyState)
	if err != nil {
		return nil, err
	}
	path := StatePath{Siblings: sibs}
	var p Proof
	switch j.Kind {
	case "contract":
		if j.Leaf == nil {
			return nil, malformed("JSON proof", -1, "contract proof without leaf")
		}
		l, err := j.Leaf.leaf()
		if err != nil {
			return nil, err
		}
		p = &ContractProof{Leaf: l, Path: path}
	case "absence":
		id, err := ParseContractID(j.ID)
		if err != nil {
			return nil, err
		}
		ap := &AbsenceProof{ID: id, Path: path}
		if j.Leaf != nil {
			l, err := j.Leaf.leaf()
			if err != nil {
				return nil, err
			}
			ap.Other = &l
		}
		p = ap
	case "range":
		if j.Leaf == nil || j.Offset == nil || j.Length == nil {
			return nil, malformed("JSON proof", -1, "range proof needs leaf, offset and length")
		}
		l, err := j.Leaf.leaf()
		if err != nil {
			return nil, err
		}
		rp := &RangeProof{Leaf: l, Path: path, Offset: *j.Offset, Length: *j.Length}
		if *j.Length == 0 || *j.Length > MaxProofRange || *j.Offset > MaxMemoryBytes-*j.Length {
			return nil, malformed("JSON proof", -1, "range %d+%d out of bounds", *j.Offset, *j.Length)
		}
		first, last := pageSpan(rp.Offset, rp.Length)
		if uint64(len(j.Pages)) != last-first+1 {
			return nil, malformed("JSON proof", -1, "range covers %d pages, proof lists %d", last-first+1, len(j.Pages))
		}
		for _, s := range j.Pages {
			var pg []byte
			if s != nil {
				if pg, err = hex.DecodeString(*s); err != nil || len(pg) != PageSize {
					return nil, malformed("JSON proof", -1, "a page is not %d hex-encoded bytes", PageSize)
				}
			}
			rp.Pages = append(rp.Pages, pg)
		}
		slots := memorySlotHeights(first, last)
		if len(j.MemorySiblings) != len(slots) {
			return nil, malformed("JSON proof", -1, "range needs %d memory siblings, proof lists %d", len(slots), len(j.MemorySiblings))
		}
		if rp.MemorySiblings, err = hashesFromJSON(j.MemorySiblings, func(i int) Hash { return emptyMemory[slots[i]] }); err != nil {
			return nil, err
		}
		p = rp
	default:
		return nil, malformed("JSON proof", -1, "unknown kind %q", j.Kind)
	}
	// Round-trip through the binary form so both accept the same proofs.
	bin, err := p.MarshalBinary()
	if err != nil {
		return nil, err
	}
	return DecodeProof(bin)
}
