// Package lightclient verifies wasmstate proofs for a client that holds
// nothing but trusted state roots: no page store, no wasm runtime, no cgo.
// It imports only the standard library and package merkle (which itself
// needs only github.com/zeebo/blake3), so it builds for any Go target.
//
// Every function takes the claim the client wants answered (the root, the
// contract id and the page or byte range) together with the encoded proof,
// in either of the encodings of SPEC.md §7.3 (binary) and §7.5 (JSON), and
// returns the proven data or an *Error. A proof that is valid but about
// something else (another contract, page, range or kind) is rejected: a
// proof can only confirm the exact statement the caller expects.
// VerifyMulti does the same for a multiproof (SPEC.md §7.6), whose claim is
// a set of contracts and byte ranges answered at once.
//
// Client does the same over the network: given a server's base URL
// (SPEC.md §16) and a root it trusts (a TrustedRoots hook may decide), it
// fetches the proof of the exact claim and returns only verified data; a
// server that lies, stalls or cuts an answer short gives an error, never
// data. It uses only net/http, so it runs in a browser (GOOS=js) too.
//
// Errors match, with errors.Is, one of ErrMalformed (the bytes are not a
// proof), ErrInvalid (the proof does not prove the claim under the root),
// ErrOutOfRange (the claim lies outside the contract's memory) or, for
// VerifyChain, ErrOutOfOrder.
package lightclient

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/wasmstate/wasmstate/merkle"
)

// Sentinel errors. The first three are merkle's own sentinels, re-exported
// so a light client needs to import only this package to classify errors.
var (
	// ErrMalformed is returned when the proof bytes are not a canonical binary or JSON
	// proof encoding.
	ErrMalformed = merkle.ErrMalformed
	// ErrInvalid is returned for a well-formed proof that does not prove the claim against
	// the root (wrong root, tampered data, a proof about something else).
	ErrInvalid = merkle.ErrProofInvalid
	// ErrOutOfRange is returned for a page index, offset or length outside what a memory
	// can hold or what the contract's memory holds.
	ErrOutOfRange = merkle.ErrOutOfRange
	// ErrOutOfOrder is returned when the steps of a chain are not in strictly increasing
	// height order.
	ErrOutOfOrder = errors.New("lightclient: chain steps out of order")
)

// Error is the error every function of the package returns. Err is the
// cause and matches one of the package's sentinels.
type Error struct {
	// Op describes what was being verified, e.g. "page 3 of 0100…".
	Op string
	// Step is the index of the failing step in a VerifyChain sequence, or
	// -1 outside a chain.
	Step int
	// Err is the cause.
	Err error
}

// Error implements error.
func (e *Error) Error() string {
	if e.Step >= 0 {
		return fmt.Sprintf("lightclient: chain step %d: %s: %v", e.Step, e.Op, e.Err)
	}
	return fmt.Sprintf("lightclient: %s: %v", e.Op, e.Err)
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

func wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	return &Error{Op: op, Step: -1, Err: err}
}

// IsJSON reports whether proof is in the JSON encoding. A binary proof
// starts with its version byte (1), a JSON one with '{' (after optional
// white space), so the two never overlap.
func IsJSON(proof []byte) bool {
	t := bytes.TrimLeft(proof, " \t\r\n")
	return len(t) > 0 && t[0] == '{'
}

// Decode decodes a proof in either encoding. It accepts exactly the
// canonical proofs merkle.DecodeProof accepts (JSON proofs are checked
// through their binary form).
func Decode(proof []byte) (merkle.Proof, error) {
	if len(proof) == 0 {
		return nil, wrap("decode", &merkle.FormatError{What: "proof", Offset: -1, Reason: "empty input"})
	}
	var p merkle.Proof
	var err error
	if IsJSON(proof) {
		p, err = merkle.DecodeProofJSON(proof)
	} else {
		p, err = merkle.DecodeProof(proof)
	}
	if err != nil {
		return nil, wrap("decode", err)
	}
	return p, nil
}

// VerifyAny checks an encoded proof (binary or JSON) against root and
// returns whatever it proves, without a claim to compare it with. It is
// for tools that display a proof; a light client that asked a question
// uses VerifyPage, VerifyRange, VerifyContract or VerifyAbsence.
func VerifyAny(root merkle.Hash, proof []byte) (*merkle.Proven, error) {
	p, err := Decode(proof)
	if err != nil {
		return nil, err
	}
	r, err := merkle.VerifyAny(root, p)
	return r, wrap("verify", err)
}

func short(id merkle.ContractID) string { return id.String()[:16] + "…" }

// VerifyPage checks that proof proves page index of contract id's memory
// under root, and returns the page's PageSize bytes.
func VerifyPage(root merkle.Hash, id merkle.ContractID, index uint64, proof []byte) ([]byte, error) {
	op := fmt.Sprintf("page %d of %s", index, short(id))
	p, err := Decode(proof)
	if err != nil {
		return nil, wrap(op, errors.Unwrap(err))
	}
	page, err := merkle.VerifyPage(root, id, index, p)
	return page, wrap(op, err)
}

// VerifyRange checks that proof proves the length bytes at offset of
// contract id's memory under root, and returns them.
func VerifyRange(root merkle.Hash, id merkle.ContractID, offset, length uint64, proof []byte) ([]byte, error) {
	op := fmt.Sprintf("bytes %d+%d of %s", offset, length, short(id))
	p, err := Decode(proof)
	if err != nil {
		return nil, wrap(op, errors.Unwrap(err))
	}
	data, err := merkle.VerifyRange(root, id, offset, length, p)
	return data, wrap(op, err)
}

// VerifyContract checks that proof proves contract id's leaf under root
// (its code hash, owner hash, memory kind, length and root, globals hash),
// and returns the leaf.
func VerifyContract(root merkle.Hash, id merkle.ContractID, proof []byte) (merkle.ContractLeaf, error) {
	op := "contract " + short(id)
	p, err := Decode(proof)
	if err != nil {
		return merkle.ContractLeaf{}, wrap(op, errors.Unwrap(err))
	}
	leaf, err := merkle.VerifyContract(root, id, p)
	return leaf, wrap(op, err)
}

// VerifyAbsence checks that proof proves no contract has the id id under
// root.
func VerifyAbsence(root merkle.Hash, id merkle.ContractID, proof []byte) error {
	op := "absence of " + short(id)
	p, err := Decode(proof)
	if err != nil {
		return wrap(op, errors.Unwrap(err))
	}
	return wrap(op, merkle.VerifyAbsence(root, id, p))
}
