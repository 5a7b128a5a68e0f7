package statesync

import (
	"errors"
	"fmt"

	"github.com/wasmstate/wasmstate/merkle"
	"github.com/wasmstate/wasmstate/pagestore"
)

// Sentinel errors. Every error Sync returns because of the peer matches one
// of them (through an *ObjectError when one object is to blame); nothing of
// a failed sync is committed: no commit record, no head move, and every
// object stored is verified and has its whole subtree stored, so a later
// sync, from this peer or another, resumes where it stopped.
var (
	// ErrBadObject: the peer sent bytes that are not the object asked for
	// (another hash, the wrong length or shape for its kind, too large).
	ErrBadObject = errors.New("statesync: peer sent a bad object")
	// ErrMissing: the peer does not have an object of the state, or the
	// root.
	ErrMissing = errors.New("statesync: peer lacks an object")
	// ErrTransport: the connection failed, timed out or was cut short, or
	// the peer answered with an unexpected status.
	ErrTransport = errors.New("statesync: transport failure")
)

// ObjectError names the object a sync failed on. It matches its Err's
// sentinel.
type ObjectError struct {
	Kind pagestore.Kind
	Hash merkle.Hash
	Err  error
}

// Error implements error.
func (e *ObjectError) Error() string {
	return fmt.Sprintf("statesync: %s %s: %v", e.Kind, e.Hash, e.Err)
}

// Unwrap returns the cause.
func (e *ObjectError) Unwrap() error { return e.Err }
