package merkle

import (
	"errors"
	"fmt"
)

// Sentinel errors; every error this package returns matches one of them
// with errors.Is.
var (
	// ErrMalformed is returned for bytes that are not a valid encoding (proof, leaf, node).
	ErrMalformed = errors.New("merkle: malformed encoding")
	// ErrProofInvalid is returned for a well-formed proof that does not prove its claim
	// against the given root.
	ErrProofInvalid = errors.New("merkle: proof does not verify")
	// ErrMissingNode is returned when a node the tree needed is not found in its source.
	ErrMissingNode = errors.New("merkle: missing node")
	// ErrOutOfRange is returned for a page index, offset or length outside what the tree
	// or the contract's memory covers.
	ErrOutOfRange = errors.New("merkle: out of range")
)

// FormatError reports a malformed encoding. It matches ErrMalformed.
type FormatError struct {
	What   string // what was being decoded, e.g. "range proof"
	Offset int    // byte offset of the fault, -1 when not applicable
	Reason string
}

func (e *FormatError) Error() string {
	if e.Offset >= 0 {
		return fmt.Sprintf("merkle: malformed %s at byte %d: %s", e.What, e.Offset, e.Reason)
	}
	return fmt.Sprintf("merkle: malformed %s: %s", e.What, e.Reason)
}

// Is makes FormatError match ErrMalformed.
func (e *FormatError) Is(target error) bool { return target == ErrMalformed }

// VerifyError reports why a proof failed to verify. It matches ErrProofInvalid.
type VerifyError struct {
	Reason string
}

func (e *VerifyError) Error() string { return "merkle: proof does not verify: " + e.Reason }

// Is makes VerifyError match ErrProofInvalid.
func (e *VerifyError) Is(target error) bool { return target == ErrProofInvalid }

// MissingNodeError names a node a tree could not resolve. It matches
// ErrMissingNode and wraps the source's error, if any.
type MissingNodeError struct {
	Hash Hash
	Err  error
}

func (e *MissingNodeError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("merkle: node %s: %v", e.Hash, e.Err)
	}
	return fmt.Sprintf("merkle: missing node %s", e.Hash)
}

// Is makes MissingNodeError match ErrMissingNode.
func (e *MissingNodeError) Is(target error) bool { return target == ErrMissingNode }

// Unwrap returns the source's error.
func (e *MissingNodeError) Unwrap() error { return e.Err }

func malformed(what string, off int, format string, args ...any) error {
	return &FormatError{What: what, Offset: off, Reason: fmt.Sprintf(format, args...)}
}

func invalid(format string, args ...any) error {
	return &VerifyError{Reason: fmt.Sprintf(format, args...)}
}
