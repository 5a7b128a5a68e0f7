package merkle

import (
	"fmt"
	"sort"
)

// ByteRange names Length bytes at Offset of contract ID's memory.
type ByteRange struct {
	ID     ContractID
	Offset uint64
	Length uint64
}

// MultiProof (kind 4, SPEC.md §7.6) proves, under one state root, the leaf
// or the absence of each of a set of contracts and any byte ranges of
// their memories, every node shared by their paths sent once.
type MultiProof struct {
	State StateMultiProof
	// Ranges are sorted by (position of ID in State.IDs, Offset, Length)
	// and distinct; each ID is in State.IDs.
	Ranges []ByteRange
	// Memories holds one memory part per distinct ID of Ranges, in
	// State.IDs order; its pages are the union of the pages its ranges
	// cover, ascending.
	Memories []MemoryMultiProof
}

// MultiClaim is what a client asks a multiproof to prove: the leaf or
// absence of each of IDs, and the bytes of each of Ranges (whose contracts
// must exist). Order and duplicates do not matter; a range's contract need
// not be listed in IDs.
type MultiClaim struct {
	IDs    []ContractID
	Ranges []ByteRange
}

// MultiProven is what a verified multiproof establishes.
type MultiProven struct {
	// IDs are the contracts the proof is about, ascending by state key;
	// Leaves[i] is the leaf of IDs[i], or nil when it is absent.
	IDs    []ContractID
	Leaves []*ContractLeaf
	// Ranges are the proven byte ranges in proof order, with their bytes.
	Ranges []ProvenRange
}

// ProvenRange is a proven byte range and its bytes.
type ProvenRange struct {
	ByteRange
	Data []byte
}

// Leaf returns the proven leaf of id; present is false when the proof
// shows id absent, and known false when the proof is not about id.
func (m *MultiProven) Leaf(id ContractID) (leaf *ContractLeaf, known bool) {
	for i, x := range m.IDs {
		if x == id {
			return m.Leaves[i], true
		}
	}
	return nil, false
}

// Bytes returns the proven bytes of r, or false when the proof does not
// prove exactly that range.
func (m *MultiProven) Bytes(r ByteRange) ([]byte, bool) {
	for _, x := range m.Ranges {
		if x.ByteRange == r {
			return x.Data, true
		}
	}
	return nil, false
}

// Kind implements Proof.
func (*MultiProof) Kind() ProofKind { return KindMulti }

// normalizeClaim returns the claim's id set (claim ids and range ids,
// ascending by state key, distinct) and its ranges in proof order,
// distinct.
func normalizeClaim(c MultiClaim) ([]ContractID, []ByteRange, error) {
	all := append([]ContractID(nil), c.IDs...)
	for _, r := range c.Ranges {
		all = append(all, r.ID)
	}
	ids, _, err := sortedIDs(all)
	if err != nil {
		return nil, nil, err
	}
	pos := idPositions(ids)
	ranges := append([]ByteRange(nil), c.Ranges...)
	sort.Slice(ranges, func(a, b int) bool { return rangeLess(pos, &ranges[a], &ranges[b]) })
	out := ranges[:0]
	for i, r := range ranges {
		if i == 0 || r != ranges[i-1] {
			out = append(out, r)
		}
	}
	return ids, out, nil
}

func idPositions(ids []ContractID) map[ContractID]int {
	pos := make(map[ContractID]int, len(ids))
	for i, id := range ids {
		pos[id] = i
	}
	return pos
}

func rangeLess(pos map[ContractID]int, a, b *ByteRange) bool {
	if pa, pb := pos[a.ID], pos[b.ID]; pa != pb {
		return pa < pb
	}
	if a.Offset != b.Offset {
		return a.Offset < b.Offset
	}
	return a.Length < b.Length
}

// rangeBounded reports whether a range is one a multiproof may carry:
// 1..MaxProofRange bytes, ending at or below MaxMemoryBytes.
func rangeBounded(r ByteRange) bool {
	return r.Length != 0 && r.Length <= MaxProofRange && r.Offset <= MaxMemoryBytes-r.Length
}

// multiPages derives the page sets of a multiproof's memory parts from its
// ranges (bounded and in proof order): per distinct range id, the union of
// the pages its ranges cover, ascending. It fails, before allocating them,
// when they number more than MaxMultiPages in all.
func multiPages(ranges []ByteRange) ([][]uint64, error) {
	type span struct{ first, last uint64 }
	var groups [][]span
	total := uint64(0)
	for i, r := range ranges {
		first, last := pageSpan(r.Offset, r.Length)
		if i == 0 || r.ID != ranges[i-1].ID {
			groups = append(groups, []span{{first, last}})
			total += last - first + 1
		} else {
			g := groups[len(groups)-1]
			cur := &g[len(g)-1]
			switch {
			case first > cur.last+1:
				groups[len(groups)-1] = append(g, span{first, last})
				total += last - first + 1
			case last > cur.last:
				total += last - cur.last
				cur.last = last
			}
		}
		if total > MaxMultiPages {
			return nil, fmt.Errorf("the ranges cover more than %d pages", MaxMultiPages)
		}
	}
	out := make([][]uint64, len(groups))
	for k, g := range groups {
		for _, s := range g {
			for p := s.first; p <= s.last; p++ {
				out[k] = append(out[k], p)
			}
		}
	}
	return out, nil
}

// ProveMulti proves claim under st's root: the leaf or absence of every
// contract the claim names, and the bytes of each of its ranges. Memory
// trees are read from src and page contents through pages. Ranges must lie
// inside their contracts' memories (else ErrOutOfRange) and within the
// limits of SPEC.md §12.
func ProveMulti(st *StateTree, src Source, pages PageReader, claim MultiClaim) (*MultiProof, error) {
	for _, r := range claim.Ranges {
		if !rangeBounded(r) {
			return nil, fmt.Errorf("%w: range %d+%d of %s (1..%d bytes, within %d)", ErrOutOfRange, r.Offset, r.Length, r.ID, MaxProofRange, uint64(MaxMemoryBytes))
		}
	}
	ids, ranges, err := normalizeClaim(claim)
	if err != nil {
		return nil, err
	}
	if err := multiLimits(len(ids), ranges); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrOutOfRange, err)
	}
	sp, err := ProveStates(st, ids)
	if err != nil {
		return nil, err
	}
	pageSets, err := multiPages(ranges)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrOutOfRange, err)
	}
	p := &MultiProof{State: *sp, Ranges: ranges}
	leaves := map[ContractID]ContractLeaf{}
	if len(ranges) > 0 {
		for i, id := range ids {
			if n := findLeaf(sp, id); n != nil {
				leaves[ids[i]] = *n
			}
		}
	}
	for _, r := range ranges {
		l, ok := leaves[r.ID]
		if !ok {
			return nil, fmt.Errorf("%w: bytes of contract %s, which does not exist", ErrOutOfRange, r.ID)
		}
		if err := checkRange(r.Offset, r.Length, l.MemoryLen); err != nil {
			return nil, fmt.Errorf("contract %s: %w", r.ID, err)
		}
	}
	k := 0
	for i, r := range ranges {
		if i > 0 && r.ID == ranges[i-1].ID {
			continue
		}
		l := leaves[r.ID]
		mp, err := ProveMemoryPages(NewMemTree(l.MemoryRoot, src), pages, pageSets[k])
		if err != nil {
			return nil, fmt.Errorf("merkle: memory of %s: %w", r.ID, err)
		}
		p.Memories = append(p.Memories, *mp)
		k++
	}
	return p, nil
}

// findLeaf returns id's leaf among the explored leaves of a state part.
func findLeaf(sp *StateMultiProof, id ContractID) *ContractLeaf {
	for i := range sp.Nodes {
		if sp.Nodes[i].Kind == StateLeaf && sp.Nodes[i].Leaf.ID == id {
			return &sp.Nodes[i].Leaf
		}
	}
	return nil
}

// multiLimits checks the counts of SPEC.md §12: ids, ranges, and the total
// bytes of the ranges.
func multiLimits(nids int, ranges []ByteRange) error {
	if nids > MaxMultiIDs {
		return fmt.Errorf("%d contract ids (at most %d)", nids, MaxMultiIDs)
	}
	if len(ranges) > MaxMultiRanges {
		return fmt.Errorf("%d ranges (at most %d)", len(ranges), MaxMultiRanges)
	}
	total := uint64(0)
	for _, r := range ranges {
		if total += r.Length; total > MaxMultiBytes {
			return fmt.Errorf("the ranges hold more than %d bytes", MaxMultiBytes)
		}
	}
	return nil
}

// structure checks everything the binary decoder checks of a multiproof
// (SPEC.md §7.6) and returns the page sets its ranges derive. Every
// failure matches ErrMalformed.
func (p *MultiProof) structure() ([][]uint64, error) {
	sets, _, err := p.structureKeys()
	return sets, err
}

// structureKeys is structure, also returning the ids' state keys.
func (p *MultiProof) structureKeys() ([][]uint64, []Hash, error) {
	const what = "multiproof"
	keys, err := checkIDs(p.State.IDs, what)
	if err != nil {
		return nil, nil, err
	}
	if err := multiLimits(len(p.State.IDs), p.Ranges); err != nil {
		return nil, nil, malformed(what, -1, "%v", err)
	}
	pos := idPositions(p.State.IDs)
	for i := range p.Ranges {
		r := &p.Ranges[i]
		if _, ok := pos[r.ID]; !ok {
			return nil, nil, malformed(what, -1, "range %d is about %s, not one of the proof's ids", i, r.ID)
		}
		if !rangeBounded(*r) {
			return nil, nil, malformed(what, -1, "range %d+%d out of bounds", r.Offset, r.Length)
		}
		if i > 0 && !rangeLess(pos, &p.Ranges[i-1], r) {
			return nil, nil, malformed(what, -1, "ranges not strictly ascending at %d", i)
		}
	}
	sets, err := multiPages(p.Ranges)
	if err != nil {
		return nil, nil, malformed(what, -1, "%v", err)
	}
	if len(p.Memories) != len(sets) {
		return nil, nil, malformed(what, -1, "%d memory parts for %d ranged contracts", len(p.Memories), len(sets))
	}
	for k, set := range sets {
		m := &p.Memories[k]
		if len(m.Pages) != len(set) || len(m.Data) != len(set) || len(m.Siblings) != len(multiSlotHeights(set)) {
			return nil, nil, malformed(what, -1, "memory part %d: page, data or sibling count does not match its ranges", k)
		}
		for i, pg := range set {
			if m.Pages[i] != pg {
				return nil, nil, malformed(what, -1, "memory part %d: pages are not those its ranges cover", k)
			}
			if d := m.Data[i]; d != nil && len(d) != PageSize {
				return nil, nil, malformed(what, -1, "memory part %d: page %d has %d bytes", k, pg, len(d))
			}
		}
	}
	pos0 := 0
	w := p.State.walker(keys, &pos0)
	w.eval = false
	if _, _, err := w.node(0, 0, len(p.State.IDs)); err != nil {
		return nil, nil, err
	}
	if pos0 != len(p.State.Nodes) {
		return nil, nil, malformed(what, -1, "%d state nodes after the tree", len(p.State.Nodes)-pos0)
	}
	return sets, keys, nil
}

// verify implements Proof: the checks of SPEC.md §7.6 after the claim.
func (p *MultiProof) verify(root Hash) (*Proven, error) {
	_, keys, err := p.structureKeys()
	if err != nil {
		return nil, err
	}
	m, err := p.verifyStructured(root, keys)
	if err != nil {
		return nil, err
	}
	return &Proven{Kind: KindMulti, Multi: m}, nil
}

// verifyStructured runs verification steps 5 to 9 of SPEC.md §7.6 on a
// proof whose structure was checked; keys are its ids' state keys.
func (p *MultiProof) verifyStructured(root Hash, keys []Hash) (*MultiProven, error) {
	pos := 0
	w := p.State.walker(keys, &pos)
	got, _, err := w.node(0, 0, len(p.State.IDs))
	if err != nil {
		return nil, err
	}
	// 5. The state part's shape.
	if w.badShape != nil {
		return nil, w.badShape
	}
	idPos := idPositions(p.State.IDs)
	// 6. Every ranged contract is present.
	for _, r := range p.Ranges {
		if w.leaves[idPos[r.ID]] == nil {
			return nil, invalid("the proof shows contract %s, whose bytes it claims, absent", r.ID)
		}
	}
	// 7. Every range lies inside its contract's memory.
	for _, r := range p.Ranges {
		l := w.leaves[idPos[r.ID]]
		if r.Offset+r.Length > l.MemoryLen {
			return nil, fmt.Errorf("%w: bytes %d..%d of %s's %d-byte memory", ErrOutOfRange, r.Offset, r.Offset+r.Length, r.ID, l.MemoryLen)
		}
	}
	// 8. Every memory part rebuilds its contract's memory root.
	out := &MultiProven{IDs: p.State.IDs, Leaves: w.leaves}
	k := 0
	for i, r := range p.Ranges {
		if i > 0 && r.ID == p.Ranges[i-1].ID {
			continue
		}
		mroot, _, err := p.Memories[k].root(nil)
		if err != nil {
			return nil, err
		}
		if l := w.leaves[idPos[r.ID]]; mroot != l.MemoryRoot {
			return nil, invalid("pages of %s give memory root %s, its leaf has %s", r.ID, mroot, l.MemoryRoot)
		}
		k++
	}
	// 9. The leaves lie on their ids' paths and the tree gives the root.
	if w.bad != nil {
		return nil, w.bad
	}
	if got != root {
		return nil, invalid("multiproof gives state root %s, want %s", got, root)
	}
	k = -1
	for i, r := range p.Ranges {
		if i == 0 || r.ID != p.Ranges[i-1].ID {
			k++
		}
		out.Ranges = append(out.Ranges, ProvenRange{ByteRange: r, Data: p.Memories[k].bytes(r.Offset, r.Length)})
	}
	return out, nil
}

// bytes copies length bytes at offset out of the part's pages, which
// cover them.
func (m *MemoryMultiProof) bytes(offset, length uint64) []byte {
	out := make([]byte, length)
	first, last := pageSpan(offset, length)
	k := sort.Search(len(m.Pages), func(i int) bool { return m.Pages[i] >= first })
	for pg := first; pg <= last; pg, k = pg+1, k+1 {
		data := m.Data[k]
		if data == nil {
			continue
		}
		pStart := pg * PageSize
		from, to := max(offset, pStart), min(offset+length, pStart+PageSize)
		copy(out[from-offset:to-offset], data[from-pStart:to-pStart])
	}
	return out
}

// VerifyMulti checks that p proves exactly claim under root: the same set
// of contract ids (the claim's ids and its ranges' ids) and the same set of
// ranges; a valid proof of anything else is invalid. It returns what the
// proof establishes. Errors match ErrMalformed, ErrProofInvalid or
// ErrOutOfRange, decided by the ordered checks of SPEC.md §7.6.
func VerifyMulti(root Hash, p Proof, claim MultiClaim) (*MultiProven, error) {
	mp, _ := p.(*MultiProof)
	// 1. The proof's structure (what decoding checks).
	var keys []Hash
	if mp != nil {
		var err error
		if _, keys, err = mp.structureKeys(); err != nil {
			return nil, err
		}
	}
	// 2. A claim no multiproof can prove.
	for _, r := range claim.Ranges {
		if !rangeBounded(r) {
			return nil, invalid("claimed range %d+%d of %s is outside every memory or larger than %d bytes", r.Offset, r.Length, r.ID, MaxProofRange)
		}
	}
	// 3. The kind.
	if noProof(p) {
		return nil, invalid("no proof")
	}
	if p.Kind() != KindMulti || mp == nil {
		return nil, invalid("%s proof, want a multi proof", p.Kind())
	}
	// 4. The claim: the same sets of ids and ranges (the proof's are
	// distinct, so equal sizes and inclusion make them equal).
	ids := make(map[ContractID]bool, len(claim.IDs)+len(claim.Ranges))
	for _, id := range claim.IDs {
		ids[id] = true
	}
	ranges := make(map[ByteRange]bool, len(claim.Ranges))
	for _, r := range claim.Ranges {
		ids[r.ID], ranges[r] = true, true
	}
	if len(ids) != len(mp.State.IDs) || len(ranges) != len(mp.Ranges) {
		return nil, invalid("proof is about %d contracts and %d ranges, the claim %d and %d", len(mp.State.IDs), len(mp.Ranges), len(ids), len(ranges))
	}
	for _, id := range mp.State.IDs {
		if !ids[id] {
			return nil, invalid("proof is about contract %s, which the claim does not name", id)
		}
	}
	for _, r := range mp.Ranges {
		if !ranges[r] {
			return nil, invalid("proof is for bytes %d+%d of %s, which the claim does not name", r.Offset, r.Length, r.ID)
		}
	}
	return mp.verifyStructured(root, keys)
}
