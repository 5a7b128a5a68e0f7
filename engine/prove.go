package engine

import (
	"context"
	"fmt"

	"github.com/wasmstate/wasmstate/merkle"
)

// Reading committed state: proofs (here), inspection and diffs
// (inspect.go) and memory reads (read.go) work on any stored root without a
// session.

func (e *Engine) stateAt(root merkle.Hash) (*merkle.StateTree, error) {
	if err := e.knownRoot(root); err != nil {
		return nil, err
	}
	return merkle.NewStateTree(root, readNodes{e.store}), nil
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
func (e *Engine) ProveContract(ctx context.Context, root merkle.Hash, id merkle.ContractID) (merkle.Proof, error) {
	if err := ctxErr(ctx); err != nil {
		return nil, err
	}
	st, err := e.stateAt(root)
	if err != nil {
		return nil, err
	}
	return merkle.ProveContract(st, id)
}

// ProveRange proves length bytes at offset of contract id's memory under
// root. ProvePage is the one-page case.
func (e *Engine) ProveRange(ctx context.Context, root merkle.Hash, id merkle.ContractID, offset, length uint64) (*merkle.RangeProof, error) {
	if err := ctxErr(ctx); err != nil {
		return nil, err
	}
	st, leaf, err := e.leafAt(root, id)
	if err != nil {
		return nil, err
	}
	return merkle.ProveRange(st, leaf, merkle.NewMemTree(leaf.MemoryRoot, readNodes{e.store}), e.store.Page, offset, length)
}

// ProvePage proves page index of contract id's memory under root.
func (e *Engine) ProvePage(ctx context.Context, root merkle.Hash, id merkle.ContractID, index uint64) (*merkle.RangeProof, error) {
	if index >= merkle.MaxPages {
		return nil, fmt.Errorf("%w: page %d", merkle.ErrOutOfRange, index)
	}
	return e.ProveRange(ctx, root, id, index*merkle.PageSize, merkle.PageSize)
}
