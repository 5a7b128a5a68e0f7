package witness

import (
	"fmt"

	"github.com/wasmstate/wasmstate/merkle"
)

// Checked is what a witness proves about its pre-root.
type Checked struct {
	// Leaves holds the leaf of every id of the state proof that is
	// present; ids proven absent are not in it.
	Leaves map[merkle.ContractID]merkle.ContractLeaf
	// Absent holds the ids proven absent.
	Absent map[merkle.ContractID]bool
}

// Check verifies everything the witness says about its pre-root (SPEC.md
// §17.4, in that order): the state proof against PreRoot, then for each
// loaded contract its globals and owner against the leaf's hashes, its
// memory proof against the leaf's memory root, and that pages at or past
// the memory's length are zero; then that every code blob is the code of a
// loaded contract or of a deploy. A failure matches ErrInvalid.
func (w *Witness) Check() (*Checked, error) {
	leaves, err := w.State.Verify(w.PreRoot)
	if err != nil {
		return nil, fmt.Errorf("%w: state proof: %w", ErrInvalid, err)
	}
	ck := &Checked{Leaves: map[merkle.ContractID]merkle.ContractLeaf{}, Absent: map[merkle.ContractID]bool{}}
	for i, id := range w.State.IDs {
		if leaves[i] == nil {
			ck.Absent[id] = true
		} else {
			ck.Leaves[id] = *leaves[i]
		}
	}
	for _, id := range w.State.IDs {
		c := w.Contracts[id]
		if c == nil {
			continue
		}
		leaf, ok := ck.Leaves[id]
		if !ok { // Decode puts entries only under present ids
			return nil, fmt.Errorf("%w: contract %s is absent but has an entry", ErrInvalid, id)
		}
		c.checked = false
		if merkle.DomainGlobals.Sum(c.Globals) != leaf.GlobalsHash {
			return nil, fmt.Errorf("%w: globals of %s do not match its leaf", ErrInvalid, id)
		}
		if merkle.HashOwner(c.Owner) != leaf.OwnerHash {
			return nil, fmt.Errorf("%w: owner of %s does not match its leaf", ErrInvalid, id)
		}
		root, err := c.Memory.Root()
		if err != nil {
			return nil, fmt.Errorf("%w: memory proof of %s: %w", ErrInvalid, id, err)
		}
		if root != leaf.MemoryRoot {
			return nil, fmt.Errorf("%w: memory proof of %s gives root %s, its leaf has %s", ErrInvalid, id, root, leaf.MemoryRoot)
		}
		for i, p := range c.Memory.Pages {
			if p*merkle.PageSize >= leaf.MemoryLen && c.Memory.Data[i] != nil {
				return nil, fmt.Errorf("%w: page %d of %s lies past its %d-byte memory but is not zero", ErrInvalid, p, id, leaf.MemoryLen)
			}
		}
		c.globalsHash, c.ownerHash, c.checked = leaf.GlobalsHash, leaf.OwnerHash, true
	}
	for h := range w.Code {
		if !w.usesCode(ck, h) {
			return nil, fmt.Errorf("%w: code %s is neither a loaded contract's nor a deploy's", ErrInvalid, h)
		}
	}
	return ck, nil
}

func (w *Witness) usesCode(ck *Checked, h merkle.Hash) bool {
	for id := range w.Contracts {
		if ck.Leaves[id].CodeHash == h {
			return true
		}
	}
	for i := range w.Ops {
		if w.Ops[i].Kind == OpDeploy && w.Ops[i].CodeHash == h {
			return true
		}
	}
	return false
}

// Objects is where Expand puts what a checked witness reveals of the
// pre-root's store: tree nodes, pages, and the globals and owner blobs.
type Objects interface {
	merkle.Sink
	PutPage(h merkle.Hash, page []byte)
	PutGlobals(h merkle.Hash, enc []byte)
	PutOwner(h merkle.Hash, owner []byte)
}

// Expand hands dst every object the witness reveals: the state-tree nodes
// on the proven paths, and for each loaded contract the memory-tree nodes
// on its pages' paths, its non-zero pages, its globals and owner. Call it
// only after Check succeeded. A store holding exactly these objects
// answers every read the recorded session made, and nothing else.
func (w *Witness) Expand(dst Objects) {
	w.State.Expand(dst)
	for _, c := range w.Contracts {
		c.Memory.Expand(dst, dst.PutPage)
		gh, oh := c.globalsHash, c.ownerHash // hashed by Check: not again
		if !c.checked {
			gh, oh = merkle.DomainGlobals.Sum(c.Globals), merkle.HashOwner(c.Owner)
		}
		dst.PutGlobals(gh, c.Globals)
		dst.PutOwner(oh, c.Owner)
	}
}
