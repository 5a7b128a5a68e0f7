package engine

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/wasmstate/wasmstate/merkle"
)

// Inspection of committed state: a contract's description, the contracts
// under a root, the difference between two roots, and a contract's exports.

// ContractInfo describes a committed contract.
type ContractInfo struct {
	Leaf    merkle.ContractLeaf
	Owner   []byte
	Pages   uint64   // non-zero pages stored
	Globals []uint64 // persisted mutable globals, in index order
	Code    []byte
	// Exports are the functions callers may call, sorted (Exports).
	Exports []string
}

// Inspect describes contract id under root.
func (e *Engine) Inspect(ctx context.Context, root merkle.Hash, id merkle.ContractID) (*ContractInfo, error) {
	if err := ctxErr(ctx); err != nil {
		return nil, err
	}
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
	info.Exports = callable(mod.info.Exports)
	err = merkle.NewMemTree(leaf.MemoryRoot, e.store).ForEachPage(func(uint64, merkle.Hash) error {
		info.Pages++
		return nil
	})
	return info, err
}

// Contracts lists the leaves of every contract under root, in state-key
// order.
func (e *Engine) Contracts(ctx context.Context, root merkle.Hash) ([]merkle.ContractLeaf, error) {
	if err := ctxErr(ctx); err != nil {
		return nil, err
	}
	st, err := e.stateAt(root)
	if err != nil {
		return nil, err
	}
	var out []merkle.ContractLeaf
	err = st.ForEach(func(l merkle.ContractLeaf) error {
		if len(out)%1024 == 1023 {
			if err := ctxErr(ctx); err != nil {
				return err
			}
		}
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
func (e *Engine) Diff(ctx context.Context, a, b merkle.Hash) ([]ContractDiff, error) {
	la, err := e.Contracts(ctx, a)
	if err != nil {
		return nil, err
	}
	lb, err := e.Contracts(ctx, b)
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
			pages, err := e.diffPages(ctx, o.MemoryRoot, l.MemoryRoot)
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

// diffPages lists the pages whose hashes differ between two memory
// trees, checking ctx every 1,024 pages.
func (e *Engine) diffPages(ctx context.Context, a, b merkle.Hash) ([]uint64, error) {
	var out []uint64
	err := merkle.DiffMemory(e.store, a, b, func(i uint64, _ merkle.Hash) error {
		if len(out)%1024 == 1023 {
			if err := ctxErr(ctx); err != nil {
				return err
			}
		}
		out = append(out, i)
		return nil
	})
	return out, err
}

// Exports lists the functions of contract id under root that Call accepts,
// sorted: its exported functions but init, which runs only at deploy. It
// reads and parses the code; nothing is compiled or run.
func (e *Engine) Exports(root merkle.Hash, id merkle.ContractID) ([]string, error) {
	_, leaf, err := e.leafAt(root, id)
	if err != nil {
		return nil, err
	}
	code, err := e.store.Code(leaf.CodeHash)
	if err != nil {
		return nil, err
	}
	info, err := validate(code)
	if err != nil {
		// Committed code passed validation at deploy: failing now means the
		// validator changed under it.
		return nil, fmt.Errorf("%w: code of %s no longer validates: %w", ErrInternal, short(id), err)
	}
	return callable(info.Exports), nil
}

// callable drops init from a sorted list of exported functions.
func callable(exports []string) []string {
	out := make([]string, 0, len(exports))
	for _, n := range exports {
		if n != "init" {
			out = append(out, n)
		}
	}
	return out
}

// ExportsHint renders a contract's exports for a "no such function"
// message: "exports: a, b, c" (at most 20 names, then "and N more"), or
// "no callable exports".
func ExportsHint(exports []string) string {
	if len(exports) == 0 {
		return "no callable exports"
	}
	const most = 20
	if len(exports) > most {
		return fmt.Sprintf("exports: %s and %d more", strings.Join(exports[:most], ", "), len(exports)-most)
	}
	return "exports: " + strings.Join(exports, ", ")
}
