package pagestore

import (
	"errors"
	"fmt"

	"github.com/wasmstate/wasmstate/merkle"
)

// Sentinel errors. Every error the package returns for one of these
// conditions matches the sentinel with errors.Is, and carries the operation
// and the key in its message.
var (
	// ErrNotFound is returned when no value is stored under the key.
	ErrNotFound = errors.New("pagestore: not found")
	// ErrCorrupt is returned when a stored value does not hash to its key, does not decode,
	// or the backend reported it damaged. Corrupt values are never returned
	// as data.
	ErrCorrupt = errors.New("pagestore: corrupt value")
	// ErrInvalid is returned when the caller passes something the store refuses to write,
	// such as a value that does not hash to the hash it is staged under.
	ErrInvalid = errors.New("pagestore: invalid argument")
	// ErrVersion is returned when the database was written in another format version, or is
	// not a pagestore database.
	ErrVersion = errors.New("pagestore: unsupported format version")
	// ErrClosed is returned after the store or backend was closed.
	ErrClosed = errors.New("pagestore: closed")
	// ErrGCPending is returned when a garbage collection was interrupted and could not be
	// completed at open; commits are refused until GC succeeds, because a
	// half-swept subtree must never be deduplicated against.
	ErrGCPending = errors.New("pagestore: interrupted garbage collection not completed")
	// ErrNoStore is returned when the directory is missing or empty and the open was told
	// not to create a store there (Options.NoCreate, Options.ReadOnly).
	ErrNoStore = errors.New("pagestore: no store in directory")
	// ErrNotStore is returned when the directory holds files but no store; Open refuses to
	// create one among someone else's files.
	ErrNotStore = errors.New("pagestore: directory is not a wasmstate store")
	// ErrLocked is returned when another process holds the store's lock (for longer than
	// Options.LockWait).
	ErrLocked = errors.New("pagestore: store is locked by another process")
	// ErrReadOnly is returned for a write to a store opened with Options.ReadOnly.
	ErrReadOnly = errors.New("pagestore: store is open read-only")
)

// NotFoundError names a missing object. It matches ErrNotFound.
type NotFoundError struct {
	Kind Kind
	Key  merkle.Hash
}

// Error describes the fault, naming the kind and key.
func (e *NotFoundError) Error() string {
	return fmt.Sprintf("pagestore: %s %s: not found", e.Kind, e.Key)
}

// Is makes NotFoundError match ErrNotFound.
func (e *NotFoundError) Is(target error) bool { return target == ErrNotFound }

// CorruptionError names a stored object whose value is damaged: it does not
// hash to its key, has the wrong length, does not decode, or the backend
// detected the damage. It matches ErrCorrupt.
type CorruptionError struct {
	Kind   Kind
	Key    merkle.Hash // the object's hash, or the root for commit records
	Reason string
	Err    error // the backend's error, when the backend detected it
}

// Error describes the fault, naming the kind and key.
func (e *CorruptionError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("pagestore: corrupt %s %s: %s: %v", e.Kind, e.Key, e.Reason, e.Err)
	}
	return fmt.Sprintf("pagestore: corrupt %s %s: %s", e.Kind, e.Key, e.Reason)
}

// Is makes CorruptionError match ErrCorrupt.
func (e *CorruptionError) Is(target error) bool { return target == ErrCorrupt }

// Unwrap returns the backend's error, if any.
func (e *CorruptionError) Unwrap() error { return e.Err }

// VersionError reports a database whose format version record is missing or
// is not one this build reads (1 to FormatVersion). It matches ErrVersion.
type VersionError struct {
	Found  uint32 // 0 when the record is missing or unreadable
	Want   uint32
	Reason string
}

// Error describes the version mismatch.
func (e *VersionError) Error() string {
	if e.Reason != "" {
		return fmt.Sprintf("pagestore: format version: %s", e.Reason)
	}
	return fmt.Sprintf("pagestore: format version %d, this build reads %d", e.Found, e.Want)
}

// Is makes VersionError match ErrVersion.
func (e *VersionError) Is(target error) bool { return target == ErrVersion }
