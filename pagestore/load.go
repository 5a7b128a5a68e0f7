package pagestore

import (
	"errors"
	"fmt"

	"github.com/wasmstate/wasmstate/merkle"
)

// Bulk loading: state sync writes a whole state into a store, every
// object checked against its hash on receipt and written only after
// everything it references. Commit's per-object work (a presence lookup,
// a second hash, reference checks) is what such a load can skip.

// errStop ends an iteration early.
var errStop = errors.New("stop")

// HoldsObjects reports whether the store holds any content-addressed
// object (a new store, or one whose every object was collected, holds
// none).
func (s *Store) HoldsObjects() (bool, error) {
	for _, k := range objectKinds {
		found := false
		err := s.kv.Iterate([]byte{byte(k)}, func(_, _ []byte) error {
			found = true
			return errStop
		})
		if err != nil && !errors.Is(err, errStop) {
			return false, fmt.Errorf("pagestore: holds objects: %w", err)
		}
		if found {
			return true, nil
		}
	}
	return false, nil
}

// Loader writes objects in bulk (state sync) straight into backend
// batches, for a caller that has checked every object against its hash
// and puts each only after (in an earlier write, or earlier in the same
// one) everything it references. Unlike a Batch and Commit it keeps no
// index, does not rehash, does not look up which objects are stored
// already (they are written again, unchanged) and does not check
// references; commit records and the head still go through Commit, which
// checks that the root they name is stored. A Loader is not safe for
// concurrent use.
type Loader struct {
	s     *Store
	wb    WriteBatch
	n     int
	bytes int
	// scratch holds a page being compressed (see encodePage).
	scratch []byte
}

// NewLoader returns an empty Loader whose batches start with room for
// about size bytes.
func (s *Store) NewLoader(size int) *Loader {
	return &Loader{s: s, wb: newBatchSized(s.kv, size/512, size)}
}

// Put stages object r with value v (copied). Implicit values are never
// stored and are ignored.
func (l *Loader) Put(r Ref, v []byte) {
	if r.Implicit() {
		return
	}
	key := makeKey(r.Kind, r.Hash)
	if r.Kind == KindPage && len(v) == merkle.PageSize && compressPages(l.s.kv) {
		v, l.scratch = encodePage(l.scratch, v)
	}
	l.wb.Put(key[:], v)
	l.n++
	l.bytes += len(v)
}

// Len is the number of objects staged since the last Write.
func (l *Loader) Len() int { return l.n }

// Bytes is the size of the values staged since the last Write.
func (l *Loader) Bytes() int { return l.bytes }

// Write writes the staged objects as one synced backend batch and empties
// the Loader (a failed write leaves them staged). Every write is synced:
// a write left to the OS could be lost in a crash of the machine while a
// later synced one survives (goleveldb syncs only its current journal, not
// the one a memtable switch left behind), which would leave stored objects
// whose children are gone. Synced in order, the store holds only complete
// subtrees whenever it stops.
func (l *Loader) Write() error {
	if l.n == 0 {
		return nil
	}
	l.s.mu.Lock()
	defer l.s.mu.Unlock()
	if l.s.gcPending != nil {
		return fmt.Errorf("pagestore: load: %w: %v", ErrGCPending, l.s.gcPending)
	}
	if err := l.s.kv.Write(l.wb, true); err != nil {
		return fmt.Errorf("pagestore: load: %w", err)
	}
	l.wb.Reset()
	l.n, l.bytes = 0, 0
	return nil
}
