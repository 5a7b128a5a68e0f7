package engine

import (
	"context"
	"fmt"

	"github.com/wasmstate/wasmstate/merkle"
)

// ProveMulti proves claim under root in one multiproof (SPEC.md §7.6): the
// leaf or absence of each contract it names and the bytes of each of its
// ranges, every node shared by their paths sent once. A range of a contract
// that does not exist at root is ErrNoContract; a range outside its
// contract's memory, or a claim past the limits of SPEC.md §12, matches
// merkle.ErrOutOfRange.
func (e *Engine) ProveMulti(ctx context.Context, root merkle.Hash, claim merkle.MultiClaim) (*merkle.MultiProof, error) {
	if err := ctxErr(ctx); err != nil {
		return nil, err
	}
	st, err := e.stateAt(root)
	if err != nil {
		return nil, err
	}
	seen := map[merkle.ContractID]bool{}
	for _, r := range claim.Ranges {
		if seen[r.ID] {
			continue
		}
		seen[r.ID] = true
		if _, ok, err := st.Get(r.ID); err != nil {
			return nil, err
		} else if !ok {
			return nil, fmt.Errorf("%w: %s at %s", ErrNoContract, r.ID, root)
		}
	}
	if err := ctxErr(ctx); err != nil {
		return nil, err
	}
	return merkle.ProveMulti(st, e.store, e.store.Page, claim)
}
