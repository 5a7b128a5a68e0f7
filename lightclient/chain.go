package lightclient

import (
	"bytes"
	"fmt"

	"github.com/wasmstate/wasmstate/merkle"
)

// Step is one trusted state root of a chain a light client follows, with
// the proof of the page it watches under that root.
type Step struct {
	// Height orders the steps: any sequence number the client trusts
	// together with the root, such as a block height. It must strictly
	// increase along a chain. State roots carry no order of their own, so
	// without it an old root replayed after a newer one would go unnoticed.
	Height uint64
	// Root is the trusted state root.
	Root merkle.Hash
	// Proof is a page proof (binary or JSON) of the watched page under
	// Root.
	Proof []byte
}

// PageVersion is the watched page as proven at one step of a chain.
type PageVersion struct {
	// Height and Root are the step's.
	Height uint64
	Root   merkle.Hash
	// Leaf is the contract's leaf under Root, as the proof established it.
	Leaf merkle.ContractLeaf
	// Page holds the page's PageSize bytes.
	Page []byte
	// Changed reports that Page differs from the previous step's; it is
	// false for the first step.
	Changed bool
}

// VerifyChain follows page index of contract id along steps, oldest first:
// it verifies every step's proof against its root with VerifyPage and
// returns the page as of each step, marking the steps that changed it.
//
// It rejects an empty chain, steps whose heights do not strictly increase
// (ErrOutOfOrder), and any step whose proof is not a valid proof of that
// very page of that very contract under the step's root (ErrMalformed,
// ErrInvalid, ErrOutOfRange). The error is an *Error naming the step.
func VerifyChain(id merkle.ContractID, index uint64, steps []Step) ([]PageVersion, error) {
	if len(steps) == 0 {
		return nil, &Error{Op: "chain of page " + fmt.Sprint(index) + " of " + short(id), Step: -1,
			Err: &merkle.VerifyError{Reason: "empty chain"}}
	}
	out := make([]PageVersion, 0, len(steps))
	for i, s := range steps {
		op := fmt.Sprintf("height %d, root %s", s.Height, s.Root.String()[:16]+"…")
		if i > 0 && s.Height <= steps[i-1].Height {
			return nil, &Error{Op: op, Step: i,
				Err: fmt.Errorf("%w: height %d after %d", ErrOutOfOrder, s.Height, steps[i-1].Height)}
		}
		p, err := Decode(s.Proof)
		if err != nil {
			return nil, &Error{Op: op, Step: i, Err: err.(*Error).Err}
		}
		page, err := merkle.VerifyPage(s.Root, id, index, p)
		if err != nil {
			return nil, &Error{Op: op, Step: i, Err: err}
		}
		v := PageVersion{Height: s.Height, Root: s.Root, Leaf: p.(*merkle.RangeProof).Leaf, Page: page}
		if i > 0 {
			v.Changed = !bytes.Equal(page, out[i-1].Page)
		}
		out = append(out, v)
	}
	return out, nil
}

// Changes returns the indices of the steps of a verified chain at which
// the page changed.
func Changes(versions []PageVersion) []int {
	var out []int
	for i, v := range versions {
		if v.Changed {
			out = append(out, i)
		}
	}
	return out
}
