package merkle

import (
	"encoding/hex"
	"encoding/json"
)

// JSON form of proofs (SPEC.md §7.5). Hashes, ids and pages are lower-case
// hex strings; an empty sibling or a zero page is null. The form is
// canonical like the binary one: the decoder (json_decode.go) accepts
// exactly the key set of the proof's kind, in lower case, once each, and
// rejects every other spelling of the same proof.

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

// emptyMemoryAt gives, for the i-th memory sibling of a proof whose
// sibling slots have the heights slots, the empty subtree's hash at that
// height (the JSON form writes such a sibling as null); past the slots,
// the zero hash (a decoder then rejects the sibling count).
func emptyMemoryAt(slots []uint8) func(i int) Hash {
	return func(i int) Hash {
		if i < len(slots) {
			return emptyMemory[slots[i]]
		}
		return Hash{}
	}
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

func emptyState(int) Hash { return EmptyState() }

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
		MemorySiblings: hashesToJSON(p.MemorySiblings, emptyMemoryAt(slots))})
}
