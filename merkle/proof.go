package merkle

import "fmt"

// StatePath is a path from a node of the state tree up to the root: the
// sibling hash at each level, bottom-up. Its depth is len(Siblings).
// An empty sibling is EmptyState().
type StatePath struct {
	Siblings []Hash
}

// Depth is the depth in the state tree of the node the path starts at.
func (p StatePath) Depth() int { return len(p.Siblings) }

// ProofKind tells what a proof proves.
type ProofKind uint8

// Proof kinds, as encoded in the second byte of a binary proof.
const (
	KindRange    ProofKind = 1 // bytes of a contract's memory (a page proof is a one-page range)
	KindContract ProofKind = 2 // a contract leaf
	KindAbsence  ProofKind = 3 // that no contract has a given id
	KindMulti    ProofKind = 4 // leaves, absences and byte ranges of many contracts at once (SPEC.md §7.6)
)

// String returns "range", "contract", "absence" or "multi".
func (k ProofKind) String() string {
	switch k {
	case KindRange:
		return "range"
	case KindContract:
		return "contract"
	case KindAbsence:
		return "absence"
	case KindMulti:
		return "multi"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Proof is a proof about a state root. It is plain data: build one with a
// StateTree and MemTree (or the engine), encode it with MarshalBinary or
// encoding/json, and check it with VerifyAny (or a claim-checking verifier), which needs nothing but the root.
type Proof interface {
	Kind() ProofKind
	MarshalBinary() ([]byte, error)
	// verify checks the proof against root and returns what it proves.
	verify(root Hash) (*Proven, error)
}

// ContractProof proves a contract's leaf.
type ContractProof struct {
	Leaf ContractLeaf
	Path StatePath
}

// AbsenceProof proves that no contract has the id ID. The path ends either
// at an empty subtree (Other == nil) or at the leaf of another contract
// whose state key shares the path's prefix.
type AbsenceProof struct {
	ID    ContractID
	Path  StatePath
	Other *ContractLeaf
}

// RangeProof proves Length bytes of a contract's memory starting at
// Offset: the contract leaf and its state path, every page the range
// touches, whole, and the memory-tree siblings that rebuild the leaf's
// memory root from those pages.
type RangeProof struct {
	Leaf   ContractLeaf
	Path   StatePath
	Offset uint64
	Length uint64
	// Pages holds the covered pages, first to last; a nil entry is a zero
	// page (encoded as one bit).
	Pages [][]byte
	// MemorySiblings are the memory-tree siblings in proof order (SPEC.md
	// §6); an empty subtree's sibling is EmptyMemory(height).
	MemorySiblings []Hash
}

// Kind implements Proof.
func (*ContractProof) Kind() ProofKind { return KindContract }

// Kind implements Proof.
func (*AbsenceProof) Kind() ProofKind { return KindAbsence }

// Kind implements Proof.
func (*RangeProof) Kind() ProofKind { return KindRange }

// pageSpan returns the first and last page a byte range touches.
func pageSpan(offset, length uint64) (first, last uint64) {
	return offset >> PageShift, (offset + length - 1) >> PageShift
}

// checkRange validates a byte range against a memory length.
func checkRange(offset, length, memLen uint64) error {
	if length == 0 || length > MaxProofRange {
		return fmt.Errorf("%w: range length %d (1..%d)", ErrOutOfRange, length, MaxProofRange)
	}
	if offset > memLen || length > memLen-offset {
		return fmt.Errorf("%w: bytes %d..%d of a %d-byte memory", ErrOutOfRange, offset, offset+length, memLen)
	}
	return nil
}

// PageReader returns the bytes of the page with the given hash.
type PageReader func(page Hash) ([]byte, error)

// ProveContract proves the leaf of contract id, or returns an absence
// proof when no contract has that id.
func ProveContract(st *StateTree, id ContractID) (Proof, error) {
	path, end, err := st.Prove(id)
	if err != nil {
		return nil, err
	}
	if end != nil && end.ID == id {
		return &ContractProof{Leaf: *end, Path: path}, nil
	}
	return &AbsenceProof{ID: id, Path: path, Other: end}, nil
}

// ProveRange proves length bytes at offset of the memory of the contract
// whose leaf is leaf; st gives the state path, mt must be the contract's
// memory tree (its root equal to leaf.MemoryRoot), and pages reads page
// contents by hash.
func ProveRange(st *StateTree, leaf ContractLeaf, mt *MemTree, pages PageReader, offset, length uint64) (*RangeProof, error) {
	if err := checkRange(offset, length, leaf.MemoryLen); err != nil {
		return nil, err
	}
	if r := mt.Root(); r != leaf.MemoryRoot {
		return nil, fmt.Errorf("merkle: memory tree root %s does not match the leaf's %s", r, leaf.MemoryRoot)
	}
	path, end, err := st.Prove(leaf.ID)
	if err != nil {
		return nil, err
	}
	if end == nil || *end != leaf {
		return nil, fmt.Errorf("merkle: contract %s is not in the state tree with that leaf", leaf.ID)
	}
	first, last := pageSpan(offset, length)
	p := &RangeProof{Leaf: leaf, Path: path, Offset: offset, Length: length}
	for i := first; i <= last; i++ {
		b, err := proofPage(mt, pages, i)
		if err != nil {
			return nil, err
		}
		p.Pages = append(p.Pages, b)
	}
	if p.MemorySiblings, err = mt.ProveRange(first, last); err != nil {
		return nil, err
	}
	return p, nil
}

// proofPage returns the contents of page i of mt for a proof, or nil for a
// zero page.
func proofPage(mt *MemTree, pages PageReader, i uint64) ([]byte, error) {
	h, err := mt.Page(i)
	if err != nil || h == emptyMemory[0] {
		return nil, err
	}
	b, err := pages(h)
	if err != nil {
		return nil, fmt.Errorf("merkle: page %d (%s): %w", i, h, err)
	}
	if len(b) != PageSize {
		return nil, fmt.Errorf("merkle: page %d (%s) has %d bytes", i, h, len(b))
	}
	return b, nil
}
