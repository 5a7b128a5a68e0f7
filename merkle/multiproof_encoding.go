package merkle

import (
	"bytes"
	"encoding/binary"
)

// Binary encoding of the multiproof parts (SPEC.md §7.6); integers
// little-endian:
//
//	statepart = nids:u32 id:32 × nids node…          (ids ascending by H_key)
//	node      = tag:u8 (0 = Z, 1 = leaf:169, 2 = inner: left node, right node, 3 = hash:32)
//	mempart   = [count:u32 index:u32 × count]        (only when the indices are encoded)
//	            pagebits:⌈n/8⌉ page:4096 × popcount(pagebits)
//	            membits:⌈m/8⌉  hash:32 × popcount(membits)
//
// The nodes are the pruned state tree in pre-order: a node some id leads to
// is explored (tag 0, 1 or 2); the other child of an explored inner node is
// tag 0 if empty, else tag 3 with its hash. m is the number of sibling
// slots of the page set (multiSlots). Like the other proofs, each part has
// exactly one encoding.

func (e *encoder) u32(v uint32) { e.b = binary.LittleEndian.AppendUint32(e.b, v) }

func (d *decoder) u32() uint32 {
	if v := d.take(4); v != nil {
		return binary.LittleEndian.Uint32(v)
	}
	return 0
}

// AppendBinary appends the state part's encoding to b. A proof Verify
// rejects as malformed encodes to bytes the decoder rejects.
func (p *StateMultiProof) AppendBinary(b []byte) []byte {
	e := &encoder{b: b}
	e.u32(uint32(len(p.IDs)))
	for _, id := range p.IDs {
		e.raw(id[:])
	}
	for i := range p.Nodes {
		n := &p.Nodes[i]
		e.u8(uint8(n.Kind))
		switch n.Kind {
		case StateLeaf:
			e.raw(n.Leaf.Encode())
		case StateHash:
			e.raw(n.Hash[:])
		}
	}
	return e.b
}

// DecodeStateMultiProof decodes a state part from the front of b and
// returns it with the bytes after it. It accepts exactly the canonical
// encoding; every error matches ErrMalformed.
func DecodeStateMultiProof(b []byte) (p *StateMultiProof, rest []byte, err error) {
	d := &decoder{b: b, what: "state multiproof"}
	p = d.stateMulti()
	if d.err != nil {
		return nil, nil, d.err
	}
	return p, b[d.off:], nil
}

func (d *decoder) stateMulti() *StateMultiProof {
	n := d.u32()
	if d.err != nil {
		return nil
	}
	if n > MaxMultiIDs {
		d.off -= 4
		d.fail("%d ids (at most %d)", n, MaxMultiIDs)
		return nil
	}
	if int(n) > (len(d.b)-d.off)/32 {
		d.fail("truncated: %d ids announced", n)
		return nil
	}
	p := &StateMultiProof{IDs: make([]ContractID, n)}
	keys := make([]Hash, n)
	for i := range p.IDs {
		copy(p.IDs[i][:], d.take(32))
		keys[i] = StateKey(p.IDs[i])
		if i > 0 && bytes.Compare(keys[i-1][:], keys[i][:]) >= 0 {
			d.off -= 32
			d.fail("ids not strictly ascending by state key at %d", i)
			return nil
		}
	}
	// A few nodes per id to start with, within the bytes left (appends
	// grow it past that): a node is some 230 bytes, and zeroing room for
	// nodes a proof does not have cost more than its decoding.
	p.Nodes = make([]StateProofNode, 0, min(len(d.b)-d.off, 4*len(p.IDs)+8))
	tagAt := 0
	w := &stateWalk{ids: p.IDs, keys: keys,
		next: func() (*StateProofNode, error) {
			tagAt = d.off
			p.Nodes = append(p.Nodes, StateProofNode{Kind: StateNodeKind(d.u8())})
			n := &p.Nodes[len(p.Nodes)-1]
			switch n.Kind {
			case StateLeaf:
				n.Leaf = d.leaf()
			case StateHash:
				n.Hash = d.hash()
			}
			if d.err != nil {
				return nil, d.err
			}
			return n, nil
		},
		malformed: func(format string, args ...any) error {
			d.off = tagAt
			d.fail(format, args...)
			return d.err
		},
	}
	if _, _, err := w.node(0, 0, len(p.IDs)); err != nil {
		d.err = err
		return nil
	}
	return p
}

// AppendBinary appends the memory part's encoding to b; withIndices puts
// the page index list first (count:u32, index:u32 each). Without it the
// decoder must be handed the indices (a multiproof derives them from its
// byte ranges). A proof Root rejects may encode to bytes the decoder
// rejects or reads as another proof.
func (p *MemoryMultiProof) AppendBinary(b []byte, withIndices bool) []byte {
	e := &encoder{b: b}
	if withIndices {
		e.u32(uint32(len(p.Pages)))
		for _, i := range p.Pages {
			e.u32(uint32(i))
		}
	}
	zero := func(i int) bool { return i >= len(p.Data) || p.Data[i] == nil || isZero(p.Data[i]) }
	e.bitmap(len(p.Pages), func(i int) bool { return !zero(i) })
	for i := range p.Pages {
		if !zero(i) {
			e.raw(p.Data[i])
		}
	}
	slots := multiSlotHeights(p.Pages)
	empty := func(i int) bool { return i < len(slots) && p.Siblings[i] == emptyMemory[slots[i]] }
	e.bitmap(len(p.Siblings), func(i int) bool { return !empty(i) })
	for i, s := range p.Siblings {
		if !empty(i) {
			e.raw(s[:])
		}
	}
	return e.b
}

// DecodeMemoryMultiProof decodes a memory part from the front of b and
// returns it with the bytes after it. indices is nil when the part
// encodes its page indices, else the indices it proves (strictly
// ascending). It accepts exactly the canonical encoding; every error
// matches ErrMalformed.
func DecodeMemoryMultiProof(b []byte, indices []uint64) (*MemoryMultiProof, []byte, error) {
	d := &decoder{b: b, what: "memory multiproof"}
	p := d.memoryMulti(indices)
	if d.err != nil {
		return nil, nil, d.err
	}
	return p, b[d.off:], nil
}

func (d *decoder) memoryMulti(indices []uint64) *MemoryMultiProof {
	if indices == nil {
		n := d.u32()
		if d.err != nil {
			return nil
		}
		if n == 0 || n > MaxMultiPages {
			d.off -= 4
			d.fail("%d pages (1..%d)", n, MaxMultiPages)
			return nil
		}
		if int(n) > (len(d.b)-d.off)/4 {
			d.fail("truncated: %d page indices announced", n)
			return nil
		}
		indices = make([]uint64, n)
		for i := range indices {
			indices[i] = uint64(d.u32())
			if indices[i] >= MaxPages || i > 0 && indices[i] <= indices[i-1] {
				d.off -= 4
				d.fail("page index %d: not below %d and strictly ascending", indices[i], MaxPages)
				return nil
			}
		}
	} else {
		if err := checkPageList(indices, d.what); err != nil {
			d.err = err
			return nil
		}
		indices = append([]uint64(nil), indices...)
	}
	p := &MemoryMultiProof{Pages: indices}
	if p.Data = d.pages(len(indices)); d.err != nil {
		return nil
	}
	if p.Siblings = d.memorySiblings(multiSlotHeights(indices)); d.err != nil {
		return nil
	}
	return p
}

// Binary body of a multiproof (kind 4):
//
//	multi = statepart nranges:u32 (idindex:u32 offset:u64 length:u64) × nranges
//	        mempart × (number of distinct idindex), without indices
//
// idindex is the range's contract's position in the state part's ids; the
// memory parts' page sets are derived from the ranges (SPEC.md §7.6).

// MarshalBinary encodes the proof. A proof the decoder would not accept
// (ids or ranges out of order, counts that do not match) is malformed.
func (p *MultiProof) MarshalBinary() ([]byte, error) {
	if _, err := p.structure(); err != nil {
		return nil, err
	}
	size := 2 + 4 + 32*len(p.State.IDs) + 33*len(p.State.Nodes) + 4 + 20*len(p.Ranges)
	for i := range p.Memories {
		size += PageSize*len(p.Memories[i].Data) + 32*len(p.Memories[i].Siblings) + 16
	}
	e := header(KindMulti, size)
	e.b = p.State.AppendBinary(e.b)
	pos := idPositions(p.State.IDs)
	e.u32(uint32(len(p.Ranges)))
	for _, r := range p.Ranges {
		e.u32(uint32(pos[r.ID]))
		e.u64(r.Offset)
		e.u64(r.Length)
	}
	for i := range p.Memories {
		e.b = p.Memories[i].AppendBinary(e.b, false)
	}
	return e.b, nil
}

func (d *decoder) multiProof() *MultiProof {
	sp := d.stateMulti()
	n := d.u32()
	if d.err != nil {
		return nil
	}
	if n > MaxMultiRanges {
		d.off -= 4
		d.fail("%d ranges (at most %d)", n, MaxMultiRanges)
		return nil
	}
	if int(n) > (len(d.b)-d.off)/20 {
		d.fail("truncated: %d ranges announced", n)
		return nil
	}
	p := &MultiProof{State: *sp, Ranges: make([]ByteRange, n)}
	total := uint64(0)
	prev := -1
	for i := range p.Ranges {
		idx := d.u32()
		r := ByteRange{Offset: d.u64(), Length: d.u64()}
		if d.err != nil {
			return nil
		}
		d.off -= 20
		if int64(idx) >= int64(len(sp.IDs)) {
			d.fail("range %d names id %d of %d", i, idx, len(sp.IDs))
			return nil
		}
		r.ID = sp.IDs[idx]
		if !rangeBounded(r) {
			d.fail("range %d+%d out of bounds", r.Offset, r.Length)
			return nil
		}
		if i > 0 {
			q := &p.Ranges[i-1]
			if int(idx) < prev || int(idx) == prev && (r.Offset < q.Offset || r.Offset == q.Offset && r.Length <= q.Length) {
				d.fail("ranges not strictly ascending at %d", i)
				return nil
			}
		}
		if total += r.Length; total > MaxMultiBytes {
			d.fail("the ranges hold more than %d bytes", MaxMultiBytes)
			return nil
		}
		d.off += 20
		prev = int(idx)
		p.Ranges[i] = r
	}
	sets, err := multiPages(p.Ranges)
	if err != nil {
		d.fail("%v", err)
		return nil
	}
	for _, set := range sets {
		m := d.memoryMulti(set)
		if d.err != nil {
			return nil
		}
		p.Memories = append(p.Memories, *m)
	}
	return p
}
