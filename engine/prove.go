package engine

import (
	"fmt"
	"slices"

	"github.com/wasmstate/wasmstate/merkle"
)

// Reading committed state: proofs, inspection and diffs work on any
// stored root without a session.

func (e *Engine) stateAt(root merkle.Hash) (*merkle.StateTree, error) {
	if err := e.knownRoot(root); err != nil {
		return nil, err
	}
	return merkle.NewStateTree(root, e.store), nil
}

// leafAt returns the state tree at root and contract id's leaf in it.
func (e *Engine) leafAt(root merkle.Hash, id merkle.ContractID) (*merkle.StateTree, merkle.ContractLeaf, error) {
	st, err := e.stateAt(root)
	if err != nil {
		return nil, merkle.ContractLeaf{}, err
	}
	leaf, ok, err := st.Get(id)
	if err == nil && !ok {
		err = fmt.Errorf("%w: %s at %s", ErrNoContract, id, root)
	}
	return st, leaf, err
}

// ProveContract proves contract id's leaf under root, or its absence.
func (e *Engine) ProveContract(root merkle.Hash, id merkle.ContractID) (merkle.Proof, error) {
	st, err := e.stateAt(root)
	if err != nil {
		return nil, err
	}
	return merkle.ProveContract(st, id)
}

// ProveRange proves length bytes at offset of contract id's memory under
// root. ProvePage is the one-page case.
func (e *Engine) ProveRange(root merkle.Hash, id merkle.ContractID, offset, length uint64) (*merkle.RangeProof, error) {
	st, leaf, err := e.leafAt(root, id)
	if err != nil {
		return nil, err
	}
	return merkle.ProveRange(st, leaf, merkle.NewMemTree(leaf.MemoryRoot, e.store), e.store.Page, offset, length)
}

// ProvePage proves page index of contract id's memory under root.
func (e *Engine) ProvePage(root merkle.Hash, id merkle.ContractID, index uint64) (*merkle.RangeProof, error) {
	if index >= merkle.MaxPages {
		return nil, fmt.Errorf("%w: page %d", merkle.ErrOutOfRange, index)
	}
	return e.ProveRange(root, id, index*merkle.PageSize, merkle.PageSize)
}

// ContractInfo describes a committed contract.
type ContractInfo struct {
	Leaf    merkle.ContractLeaf
	Owner   []byte
	Pages   uint64   // non-zero pages stored
	Globals []uint64 // persisted mutable globals, in index order
	Code    []byte
}

// Inspect describes contract id under root.
func (e *Engine) Inspect(root merkle.Hash, id merkle.ContractID) (*ContractInfo, error) {
	_, leaf, err := e.leafAt(root, id)
	if err != nil {
		return nil, err
	}
	info := &ContractInfo{Leaf: leaf}
	if info.Owner, err = e.store.Owner(leaf.OwnerHash); err != nil {
		return nil, err
	}
	if info.Code, err = e.store.Code(leaf.CodeHash); err != nil {
		return nil, err
	}
	mod, err := e.module(info.Code, leaf.CodeHash)
	if err != nil {
		return nil, err
	}
	enc, err := e.store.Globals(leaf.GlobalsHash)
	if err != nil {
		return nil, err
	}
	if info.Globals, err = decodeGlobals(enc, mod.info.MutableGlobals); err != nil {
		return nil, err
	}
	err = merkle.NewMemTree(leaf.MemoryRoot, e.store).ForEachPage(func(uint64, merkle.Hash) error {
		info.Pages++
		return nil
	})
	return info, err
}

// Contracts lists the leaves of every contract under root, in state-key
// order.
func (e *Engine) Contracts(root merkle.Hash) ([]merkle.ContractLeaf, error) {
	st, err := e.stateAt(root)
	if err != nil {
		return nil, err
	}
	var out []merkle.ContractLeaf
	err = st.ForEach(func(l merkle.ContractLeaf) error {
		out = append(out, l)
		return nil
	})
	return out, err
}

// ContractDiff is how one contract differs between two roots.
type ContractDiff struct {
	ID      merkle.ContractID
	Change  string   // "added", "removed" or "changed"
	Pages   []uint64 // pages whose contents differ (changed contracts)
	OldLeaf *merkle.ContractLeaf
	NewLeaf *merkle.ContractLeaf
}

// Diff lists the contracts added, removed and changed from root a to root
// b, with the pages that changed. Unchanged subtrees are skipped by hash,
// so the cost follows the difference, not the state size.
func (e *Engine) Diff(a, b merkle.Hash) ([]ContractDiff, error) {
	la, err := e.Contracts(a)
	if err != nil {
		return nil, err
	}
	lb, err := e.Contracts(b)
	if err != nil {
		return nil, err
	}
	old := map[merkle.ContractID]merkle.ContractLeaf{}
	for _, l := range la {
		old[l.ID] = l
	}
	var out []ContractDiff
	for _, l := range lb {
		o, ok := old[l.ID]
		delete(old, l.ID)
		switch {
		case !ok:
			nl := l
			out = append(out, ContractDiff{ID: l.ID, Change: "added", NewLeaf: &nl})
		case o != l:
			pages, err := e.diffPages(o.MemoryRoot, l.MemoryRoot)
			if err != nil {
				return nil, err
			}
			ol, nl := o, l
			out = append(out, ContractDiff{ID: l.ID, Change: "changed", Pages: pages, OldLeaf: &ol, NewLeaf: &nl})
		}
	}
	for _, l := range old {
		ol := l
		out = append(out, ContractDiff{ID: l.ID, Change: "removed", OldLeaf: &ol})
	}
	slices.SortFunc(out, func(x, y ContractDiff) int { return slices.Compare(x.ID[:], y.ID[:]) })
	return out, nil
}

// diffPages walks two memory trees together, descending only where their
// hashes differ.
func (e *Engine) diffPages(a, b merkle.Hash) ([]uint64, error) {
	var out []uint64
	var walk func(a, b merkle.Hash, h int, base uint64) error
	walk = func(a, b merkle.Hash, h int, base uint64) error {
		if a == b {
			return nil
		}
		if h == 0 {
			out = append(out, base)
			return nil
		}
		al, ar, err := e.children(a, h)
		if err != nil {
			return err
		}
		bl, br, err := e.children(b, h)
		if err != nil {
			return err
		}
		if err := walk(al, bl, h-1, base); err != nil {
			return err
		}
		return walk(ar, br, h-1, base|1<<(h-1))
	}
	return out, walk(a, b, merkle.MemoryTreeHeight, 0)
}

func (e *Engine) children(n merkle.Hash, h int) (merkle.Hash, merkle.Hash, error) {
	if n == merkle.EmptyMemory(h) {
		return merkle.EmptyMemory(h - 1), merkle.EmptyMemory(h - 1), nil
	}
	return e.store.MemoryNode(n)
}
