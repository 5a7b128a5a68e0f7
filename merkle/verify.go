package merkle

// Proven is what a verified proof establishes about a state root.
type Proven struct {
	Kind ProofKind
	// ID is the contract the proof is about.
	ID ContractID
	// Present is false for an absence proof.
	Present bool
	// Leaf is the contract's leaf (range and contract proofs).
	Leaf ContractLeaf
	// Offset and Data are the proven bytes of memory (range proofs).
	Offset uint64
	Data   []byte
	// Multi is what a multiproof (KindMulti) establishes; the fields
	// above are then unset.
	Multi *MultiProven
}

// VerifyAny checks p against root and returns what it proves, whatever
// that is: for tools that display a proof. A client that expects a
// particular statement uses VerifyContract, VerifyAbsence, VerifyRange or
// VerifyPage, which check the claim too. Every failure is an error
// matching ErrProofInvalid, ErrMalformed or ErrOutOfRange.
func VerifyAny(root Hash, p Proof) (*Proven, error) {
	if noProof(p) {
		return nil, invalid("no proof")
	}
	return p.verify(root)
}

// Claim-checking verifiers. A light client knows what it asked for, so
// these take the claim (contract id, offset, length) as well as the root,
// and a proof about anything else fails: a proof can only ever confirm the
// exact statement the caller expects.

// VerifyContract checks that p proves the leaf of contract id under root
// and returns the leaf.
func VerifyContract(root Hash, id ContractID, p Proof) (ContractLeaf, error) {
	r, err := verifyClaim(root, id, KindContract, p)
	if err != nil {
		return ContractLeaf{}, err
	}
	return r.Leaf, nil
}

// VerifyAbsence checks that p proves no contract has the id id under root.
func VerifyAbsence(root Hash, id ContractID, p Proof) error {
	_, err := verifyClaim(root, id, KindAbsence, p)
	return err
}

// VerifyRange checks that p proves length bytes at offset of contract id's
// memory under root and returns them.
func VerifyRange(root Hash, id ContractID, offset, length uint64, p Proof) ([]byte, error) {
	// The claim first, as SPEC.md §7.4 orders the checks: a proof about
	// another contract or other bytes is invalid for this claim even when
	// its own range is out of its memory (TestReferenceAgrees).
	if rp, ok := p.(*RangeProof); ok && rp != nil {
		if rp.Leaf.ID != id {
			return nil, invalid("proof is about contract %s, want %s", rp.Leaf.ID, id)
		}
		if rp.Offset != offset || rp.Length != length {
			return nil, invalid("proof is for bytes %d+%d, want %d+%d", rp.Offset, rp.Length, offset, length)
		}
	}
	r, err := verifyClaim(root, id, KindRange, p)
	if err != nil {
		return nil, err
	}
	if r.Offset != offset || uint64(len(r.Data)) != length {
		return nil, invalid("proof is for bytes %d+%d, want %d+%d", r.Offset, len(r.Data), offset, length)
	}
	return r.Data, nil
}

// VerifyPage checks that p proves page index of contract id's memory under
// root and returns the page.
func VerifyPage(root Hash, id ContractID, index uint64, p Proof) ([]byte, error) {
	if index >= MaxPages {
		return nil, invalid("page %d is outside every memory", index)
	}
	return VerifyRange(root, id, index*PageSize, PageSize, p)
}

func verifyClaim(root Hash, id ContractID, kind ProofKind, p Proof) (*Proven, error) {
	if noProof(p) {
		return nil, invalid("no proof")
	}
	if p.Kind() != kind {
		return nil, invalid("%s proof, want a %s proof", p.Kind(), kind)
	}
	r, err := p.verify(root)
	if err != nil {
		return nil, err
	}
	if r.ID != id {
		return nil, invalid("proof is about contract %s, want %s", r.ID, id)
	}
	return r, nil
}

// noProof reports a missing proof: a nil interface, or a nil pointer of
// one of the proof types (which would otherwise panic in verify).
func noProof(p Proof) bool {
	switch q := p.(type) {
	case nil:
		return true
	case *ContractProof:
		return q == nil
	case *AbsenceProof:
		return q == nil
	case *RangeProof:
		return q == nil
	case *MultiProof:
		return q == nil
	}
	return false
}

// stateRoot folds a state path over the hash of the node it starts at.
func stateRoot(key *Hash, start Hash, path StatePath) (Hash, error) {
	d := len(path.Siblings)
	if d > StateTreeHeight {
		return Hash{}, invalid("state path depth %d exceeds %d", d, StateTreeHeight)
	}
	h := start
	for i, sib := range path.Siblings {
		if keyBit(key, d-1-i) == 0 {
			h = DomainStateNode.Sum2(h, sib)
		} else {
			h = DomainStateNode.Sum2(sib, h)
		}
	}
	return h, nil
}

func (p *ContractProof) verify(root Hash) (*Proven, error) {
	if err := p.Leaf.Validate(); err != nil {
		return nil, err
	}
	if err := checkLeafPath(p.Path); err != nil {
		return nil, err
	}
	key := StateKey(p.Leaf.ID)
	got, err := stateRoot(&key, p.Leaf.Hash(), p.Path)
	if err != nil {
		return nil, err
	}
	if got != root {
		return nil, invalid("contract %s: path gives root %s, want %s", p.Leaf.ID, got, root)
	}
	return &Proven{Kind: KindContract, ID: p.Leaf.ID, Present: true, Leaf: p.Leaf}, nil
}

// checkLeafPath rejects paths the canonical tree cannot have above a leaf:
// a leaf whose sibling is empty would have moved up.
func checkLeafPath(p StatePath) error {
	if len(p.Siblings) > 0 && p.Siblings[0] == EmptyState() {
		return invalid("leaf with an empty sibling is not canonical")
	}
	return nil
}

func (p *AbsenceProof) verify(root Hash) (*Proven, error) {
	key := StateKey(p.ID)
	d := len(p.Path.Siblings)
	start := EmptyState()
	if p.Other != nil {
		if err := p.Other.Validate(); err != nil {
			return nil, err
		}
		if p.Other.ID == p.ID {
			return nil, invalid("absence proof ends at the leaf of %s itself", p.ID)
		}
		if err := checkLeafPath(p.Path); err != nil {
			return nil, err
		}
		okey := StateKey(p.Other.ID)
		for i := 0; i < d && i < StateTreeHeight; i++ {
			if keyBit(&okey, i) != keyBit(&key, i) {
				return nil, invalid("leaf %s does not lie on the path of %s", p.Other.ID, p.ID)
			}
		}
		start = p.Other.Hash()
	} else if d > 0 && p.Path.Siblings[0] == EmptyState() {
		return nil, invalid("empty subtree with an empty sibling is not canonical")
	}
	got, err := stateRoot(&key, start, p.Path)
	if err != nil {
		return nil, err
	}
	if got != root {
		return nil, invalid("absence of %s: path gives root %s, want %s", p.ID, got, root)
	}
	return &Proven{Kind: KindAbsence, ID: p.ID}, nil
}

// rangeSlotCount is the number of memory siblings a proof of pages
// first..last carries.
func rangeSlotCount(first, last uint64) int {
	n := 0
	rangeSiblingSlots(first, last, func(int, uint64) error { n++; return nil })
	return n
}

func (p *RangeProof) verify(root Hash) (*Proven, error) {
	if err := p.Leaf.Validate(); err != nil {
		return nil, err
	}
	if err := checkRange(p.Offset, p.Length, p.Leaf.MemoryLen); err != nil {
		return nil, err
	}
	first, last := pageSpan(p.Offset, p.Length)
	if uint64(len(p.Pages)) != last-first+1 {
		return nil, invalid("range covers %d pages, proof has %d", last-first+1, len(p.Pages))
	}
	if len(p.MemorySiblings) != rangeSlotCount(first, last) {
		return nil, invalid("range needs %d memory siblings, proof has %d", rangeSlotCount(first, last), len(p.MemorySiblings))
	}
	level := make([]Hash, len(p.Pages), len(p.Pages)+2)
	for i, pg := range p.Pages {
		switch {
		case pg == nil:
			level[i] = emptyMemory[0]
		case len(pg) != PageSize:
			return nil, invalid("page %d has %d bytes", first+uint64(i), len(pg))
		default:
			level[i] = DomainPage.Sum(pg)
		}
	}
	sib := p.MemorySiblings
	lo, hi := first, last
	for h := 0; h < MemoryTreeHeight; h++ {
		if lo&1 == 1 {
			level = append(level, Hash{})
			copy(level[1:], level)
			level[0], sib = sib[0], sib[1:]
			lo--
		}
		if hi&1 == 0 {
			level, sib = append(level, sib[0]), sib[1:]
			hi++
		}
		for i := 0; i < len(level)/2; i++ {
			level[i] = DomainMemoryNode.Sum2(level[2*i], level[2*i+1])
		}
		level = level[:len(level)/2]
		lo, hi = lo>>1, hi>>1
	}
	if level[0] != p.Leaf.MemoryRoot {
		return nil, invalid("pages give memory root %s, leaf has %s", level[0], p.Leaf.MemoryRoot)
	}
	if _, err := (&ContractProof{Leaf: p.Leaf, Path: p.Path}).verify(root); err != nil {
		return nil, err
	}
	data := make([]byte, p.Length)
	start := p.Offset - first*PageSize
	for i, pg := range p.Pages {
		if pg == nil {
			continue
		}
		// Copy the part of page i that lies inside the range.
		pStart := uint64(i) * PageSize
		from, to := max(start, pStart), min(start+p.Length, pStart+PageSize)
		if from < to {
			copy(data[from-start:to-start], pg[from-pStart:to-pStart])
		}
	}
	return &Proven{Kind: KindRange, ID: p.Leaf.ID, Present: true, Leaf: p.Leaf, Offset: p.Offset, Data: data}, nil
}
