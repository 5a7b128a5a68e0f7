package lightclient

import (
	"errors"
	"fmt"

	"github.com/wasmstate/wasmstate/merkle"
)

// VerifyMulti checks that proof, an encoded multiproof (SPEC.md §7.6, binary
// or JSON), proves exactly claim under root: the leaf or absence of each
// contract the claim names and the bytes of each of its ranges. A proof of
// more or fewer facts than the claim is ErrInvalid. The result answers
// every item of the claim (MultiProven.Leaf, MultiProven.Bytes).
func VerifyMulti(root merkle.Hash, claim merkle.MultiClaim, proof []byte) (*merkle.MultiProven, error) {
	op := fmt.Sprintf("multiproof of %d contracts and %d ranges", len(claim.IDs), len(claim.Ranges))
	p, err := Decode(proof)
	if err != nil {
		return nil, wrap(op, errors.Unwrap(err))
	}
	m, err := merkle.VerifyMulti(root, p, claim)
	if err != nil {
		return nil, wrap(op, err)
	}
	return m, nil
}
