package merkle

import (
	"encoding/hex"
	"encoding/json"
	"strconv"
)

// JSON form of a multiproof (SPEC.md §7.6):
//
//	{"version": 1, "kind": "multi",
//	 "ids": [hex32, ...],
//	 "state_nodes": [null | "inner" | hex32 | leaf, ...],
//	 "ranges": [{"id": hex32, "offset": uint, "length": uint}, ...],
//	 "memories": [{"pages": [hex4096 | null, ...], "memory_siblings": [hex32 | null, ...]}, ...]}
//
// A state node is null for Z (tag 0), a leaf object (tag 1), the string
// "inner" (tag 2) or the hash of an opaque subtree (tag 3). Like the other
// kinds it is canonical: the decoder takes exactly one spelling.

type jsonMultiRange struct {
	ID     string `json:"id"`
	Offset uint64 `json:"offset"`
	Length uint64 `json:"length"`
}

type jsonMultiMemory struct {
	Pages          []*string `json:"pages"`
	MemorySiblings []*string `json:"memory_siblings"`
}

type jsonMulti struct {
	Version    int               `json:"version"`
	Kind       string            `json:"kind"`
	IDs        []string          `json:"ids"`
	StateNodes []any             `json:"state_nodes"`
	Ranges     []jsonMultiRange  `json:"ranges"`
	Memories   []jsonMultiMemory `json:"memories"`
}

// MarshalJSON encodes the proof as JSON.
func (p *MultiProof) MarshalJSON() ([]byte, error) {
	sets, err := p.structure()
	if err != nil {
		return nil, err
	}
	j := jsonMulti{Version: ProofVersion, Kind: "multi", IDs: make([]string, len(p.State.IDs)),
		StateNodes: make([]any, len(p.State.Nodes)), Ranges: make([]jsonMultiRange, len(p.Ranges)),
		Memories: make([]jsonMultiMemory, len(p.Memories))}
	for i, id := range p.State.IDs {
		j.IDs[i] = id.String()
	}
	for i := range p.State.Nodes {
		n := &p.State.Nodes[i]
		switch n.Kind {
		case StateLeaf:
			j.StateNodes[i] = leafToJSON(&n.Leaf)
		case StateInner:
			j.StateNodes[i] = "inner"
		case StateHash:
			j.StateNodes[i] = n.Hash.String()
		}
	}
	for i, r := range p.Ranges {
		j.Ranges[i] = jsonMultiRange{ID: r.ID.String(), Offset: r.Offset, Length: r.Length}
	}
	for k := range p.Memories {
		m := &p.Memories[k]
		slots := multiSlotHeights(sets[k])
		pages := make([]*string, len(m.Data))
		for i, pg := range m.Data {
			if pg != nil && !isZero(pg) {
				s := hex.EncodeToString(pg)
				pages[i] = &s
			}
		}
		j.Memories[k] = jsonMultiMemory{Pages: pages,
			MemorySiblings: hashesToJSON(m.Siblings, emptyMemoryAt(slots))}
	}
	return json.Marshal(j)
}

// jsonMultiProof reads the keys of a multiproof object and returns the
// proof, not yet checked beyond what reading needs.
func jsonMultiProof(o jsonObject) (*MultiProof, error) {
	if err := o.checkKeys("multi proof", []string{"version", "kind", "ids", "state_nodes", "ranges", "memories"}); err != nil {
		return nil, err
	}
	p := &MultiProof{}
	ids, err := jsonArray(o["ids"], "ids")
	if err != nil {
		return nil, err
	}
	if len(ids) > MaxMultiIDs {
		return nil, jsonMalformed("%d ids (at most %d)", len(ids), MaxMultiIDs)
	}
	pos := map[ContractID]int{}
	for i, raw := range ids {
		h, err := jsonHash(raw, "ids["+strconv.Itoa(i)+"]")
		if err != nil {
			return nil, err
		}
		p.State.IDs = append(p.State.IDs, ContractID(h))
		pos[ContractID(h)] = i
	}
	nodes, err := jsonArray(o["state_nodes"], "state_nodes")
	if err != nil {
		return nil, err
	}
	for i, raw := range nodes {
		what := "state_nodes[" + strconv.Itoa(i) + "]"
		var n StateProofNode
		switch {
		case string(raw) == "null":
			n.Kind = StateEmpty
		case string(raw) == `"inner"`:
			n.Kind = StateInner
		case len(raw) > 0 && raw[0] == '"':
			// Z as hex is malformed: the binary decoder rejects tag 3 with Z.
			if n.Hash, err = jsonHash(raw, what); err != nil {
				return nil, err
			}
			n.Kind = StateHash
		case len(raw) > 0 && raw[0] == '{':
			if n.Leaf, err = jsonLeafValue(raw); err != nil {
				return nil, err
			}
			n.Kind = StateLeaf
		default:
			return nil, jsonMalformed("%s: want null, \"inner\", a hash or a leaf", what)
		}
		p.State.Nodes = append(p.State.Nodes, n)
	}
	ranges, err := jsonArray(o["ranges"], "ranges")
	if err != nil {
		return nil, err
	}
	if len(ranges) > MaxMultiRanges {
		return nil, jsonMalformed("%d ranges (at most %d)", len(ranges), MaxMultiRanges)
	}
	for i, raw := range ranges {
		what := "ranges[" + strconv.Itoa(i) + "]"
		ro, err := readObject(raw, what)
		if err != nil {
			return nil, err
		}
		if err := ro.checkKeys(what, []string{"id", "offset", "length"}); err != nil {
			return nil, err
		}
		var r ByteRange
		h, err := jsonHash(ro["id"], what+".id")
		if err != nil {
			return nil, err
		}
		r.ID = ContractID(h)
		if _, ok := pos[r.ID]; !ok {
			return nil, jsonMalformed("%s: contract %s is not one of the ids", what, r.ID)
		}
		if r.Offset, err = jsonUint(ro["offset"], what+".offset"); err != nil {
			return nil, err
		}
		if r.Length, err = jsonUint(ro["length"], what+".length"); err != nil {
			return nil, err
		}
		if !rangeBounded(r) {
			return nil, jsonMalformed("%s: range %d+%d out of bounds", what, r.Offset, r.Length)
		}
		p.Ranges = append(p.Ranges, r)
	}
	if err := multiLimits(len(p.State.IDs), p.Ranges); err != nil {
		return nil, jsonMalformed("%v", err)
	}
	// The slots the memory siblings fill follow from the ranges; ranges
	// out of order are caught by the binary round trip.
	sets, err := multiPages(p.Ranges)
	if err != nil {
		return nil, jsonMalformed("%v", err)
	}
	mems, err := jsonArray(o["memories"], "memories")
	if err != nil {
		return nil, err
	}
	if len(mems) != len(sets) {
		return nil, jsonMalformed("%d memories for %d ranged contracts", len(mems), len(sets))
	}
	for k, raw := range mems {
		m, err := jsonMultiMemoryValue(raw, "memories["+strconv.Itoa(k)+"]", sets[k])
		if err != nil {
			return nil, err
		}
		p.Memories = append(p.Memories, *m)
	}
	return p, nil
}

func jsonMultiMemoryValue(raw []byte, what string, set []uint64) (*MemoryMultiProof, error) {
	mo, err := readObject(raw, what)
	if err != nil {
		return nil, err
	}
	if err := mo.checkKeys(what, []string{"pages", "memory_siblings"}); err != nil {
		return nil, err
	}
	m := &MemoryMultiProof{Pages: set}
	if m.Data, err = jsonPages(mo["pages"], what+".pages", len(set)); err != nil {
		return nil, err
	}
	slots := multiSlotHeights(set)
	sibs, err := jsonHashes(mo["memory_siblings"], what+".memory_siblings", emptyMemoryAt(slots))
	if err != nil {
		return nil, err
	}
	if len(sibs) != len(slots) {
		return nil, jsonMalformed("%s: the pages need %d memory siblings, it lists %d", what, len(slots), len(sibs))
	}
	m.Siblings = sibs
	return m, nil
}
