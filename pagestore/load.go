package pagestore

import (
	"errors"
	"fmt"
)

// Bulk loading: state sync writes a whole state into a store, every
// object checked against its hash on receipt and written only after
// everything it references. Commit's per-object work (a presence lookup,
// reference checks, a synced write) is what such a load can skip.

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

// WriteObjects writes the objects staged in b as one backend batch, for a
// bulk load whose caller has checked every object against its hash and
// writes each only after (in an earlier call, or earlier in b) everything
// it references. Unlike Commit it does not look up which objects are
// stored already (they are written again, unchanged), does not check
// references, and rehashes only the objects of a batch not made with
// NewHashedBatch. b must hold no commit record and no head: those go
// through Commit, which checks that the root they name is stored.
//
// With sync false the write is not waited for: a process that dies keeps
// it, and the next synced write (such as a Commit) makes it durable with
// itself; until then a crash of the machine may lose it, and the
// backend's journal then keeps the writes made before the lost one
// (goleveldb appends to one file and recovers a prefix of it on a
// filesystem that orders data before size, such as ext4's default), so
// the store still holds only complete subtrees. A successful write empties
// b.
func (s *Store) WriteObjects(b *Batch, sync bool) (CommitStats, error) {
	var st CommitStats
	if b == nil || b.record != nil || b.head != nil {
		return st, fmt.Errorf("pagestore: write objects: %w: want a batch of objects only", ErrInvalid)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.gcPending != nil {
		return st, fmt.Errorf("pagestore: write objects: %w: %v", ErrGCPending, s.gcPending)
	}
	wb := newBatchSized(s.kv, b.bytes+64*len(b.objs))
	for _, o := range b.objs {
		if !b.hashed {
			if cerr := verify(o.key.kind(), o.key.hash(), o.value); cerr != nil {
				return st, fmt.Errorf("pagestore: write objects: staged %s %s: %s: %w", o.key.kind(), o.key.hash(), cerr.Reason, ErrInvalid)
			}
		}
		wb.Put(o.key[:], o.value)
		st.Objects++
		st.Bytes += len(o.value)
	}
	if wb.Len() > 0 {
		if err := s.kv.Write(wb, sync); err != nil {
			return st, fmt.Errorf("pagestore: write objects: %w", err)
		}
	}
	b.objs, b.index, b.bytes = nil, nil, 0
	return st, nil
}
