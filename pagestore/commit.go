package pagestore

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/wasmstate/wasmstate/merkle"
)

// CommitRecord describes one committed state root. Its encoding is given in
// the package documentation.
type CommitRecord struct {
	Root    merkle.Hash         // the state root the record is stored under
	Parent  merkle.Hash         // the root it was derived from; may since have been deleted
	Time    int64               // creation time in unix nanoseconds, set by the committer
	Changed []merkle.ContractID // contracts whose leaves changed
}

const (
	recordVersion    = 1
	recordHeaderSize = 1 + 32 + 8 + 4
	headVersion      = 1
	headSize         = 1 + 32 + 4
)

func (r *CommitRecord) encode() []byte {
	key := makeKey(KindCommit, r.Root)
	b := make([]byte, 0, recordHeaderSize+32*len(r.Changed)+4)
	b = append(b, recordVersion)
	b = append(b, r.Parent[:]...)
	b = binary.LittleEndian.AppendUint64(b, uint64(r.Time))
	b = binary.LittleEndian.AppendUint32(b, uint32(len(r.Changed)))
	for _, id := range r.Changed {
		b = append(b, id[:]...)
	}
	return appendCRC(b, key[:])
}

func decodeRecord(root merkle.Hash, v []byte) (CommitRecord, error) {
	key := makeKey(KindCommit, root)
	bad := func(reason string) (CommitRecord, error) {
		return CommitRecord{}, &CorruptionError{Kind: KindCommit, Key: root, Reason: reason}
	}
	body, ok := checkCRC(v, key[:])
	if !ok {
		return bad("checksum mismatch")
	}
	if len(body) < recordHeaderSize {
		return bad(fmt.Sprintf("length %d", len(v)))
	}
	if body[0] != recordVersion {
		return bad(fmt.Sprintf("record version %d, want %d", body[0], recordVersion))
	}
	n := binary.LittleEndian.Uint32(body[41:45])
	if uint64(len(body)) != recordHeaderSize+32*uint64(n) {
		return bad(fmt.Sprintf("length %d for %d contracts", len(v), n))
	}
	r := CommitRecord{
		Root:    root,
		Parent:  merkle.Hash(body[1:33]),
		Time:    int64(binary.LittleEndian.Uint64(body[33:41])),
		Changed: make([]merkle.ContractID, n),
	}
	for i := range r.Changed {
		r.Changed[i] = merkle.ContractID(body[recordHeaderSize+32*i:])
	}
	return r, nil
}

func encodeHead(root merkle.Hash) []byte {
	b := make([]byte, 0, headSize)
	b = append(b, headVersion)
	b = append(b, root[:]...)
	return appendCRC(b, []byte{byte(KindHead)})
}

// CommitRecord returns the record of root. The empty state has no record
// (though it always exists, see HasRoot): asking for it gives ErrNotFound.
func (s *Store) CommitRecord(root merkle.Hash) (CommitRecord, error) {
	key := makeKey(KindCommit, root)
	v, err := s.kv.Get(key[:])
	switch {
	case errors.Is(err, ErrNotFound):
		return CommitRecord{}, &NotFoundError{Kind: KindCommit, Key: root}
	case errors.Is(err, ErrCorrupt):
		return CommitRecord{}, &CorruptionError{Kind: KindCommit, Key: root, Reason: "backend reports damage", Err: err}
	case err != nil:
		return CommitRecord{}, fmt.Errorf("pagestore: commit record %s: %w", root, err)
	}
	return decodeRecord(root, v)
}

// HasRoot reports whether root can be opened: it is the empty state or has
// a commit record.
func (s *Store) HasRoot(root merkle.Hash) (bool, error) {
	if root == merkle.EmptyState() {
		return true, nil
	}
	key := makeKey(KindCommit, root)
	ok, err := s.kv.Has(key[:])
	if err != nil {
		return false, fmt.Errorf("pagestore: has root %s: %w", root, err)
	}
	return ok, nil
}

func (s *Store) requireRoot(root merkle.Hash) error {
	ok, err := s.HasRoot(root)
	if err != nil {
		return err
	}
	if !ok {
		return &NotFoundError{Kind: KindCommit, Key: root}
	}
	return nil
}

// Commits returns every commit record, sorted by time, then by root.
func (s *Store) Commits() ([]CommitRecord, error) {
	var out []CommitRecord
	err := s.kv.Iterate([]byte{byte(KindCommit)}, func(key, v []byte) error {
		k, ok := parseKey(key)
		if !ok {
			return &CorruptionError{Kind: KindCommit, Reason: fmt.Sprintf("key %x has the wrong length", key)}
		}
		r, err := decodeRecord(k.hash(), v)
		if err != nil {
			return err
		}
		out = append(out, r)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("pagestore: list commits: %w", err)
	}
	slices.SortFunc(out, func(a, b CommitRecord) int {
		if c := cmp.Compare(a.Time, b.Time); c != 0 {
			return c
		}
		return slices.Compare(a.Root[:], b.Root[:])
	})
	return out, nil
}

// Head returns the head root; ok is false when no head is set. A head equal
// to merkle.EmptyState() means the empty state.
func (s *Store) Head() (root merkle.Hash, ok bool, err error) {
	key := []byte{byte(KindHead)}
	v, err := s.kv.Get(key)
	switch {
	case errors.Is(err, ErrNotFound):
		return root, false, nil
	case errors.Is(err, ErrCorrupt):
		return root, false, &CorruptionError{Kind: KindHead, Reason: "backend reports damage", Err: err}
	case err != nil:
		return root, false, fmt.Errorf("pagestore: head: %w", err)
	}
	body, good := checkCRC(v, key)
	if !good || len(body) != headSize-4 || body[0] != headVersion {
		return root, false, &CorruptionError{Kind: KindHead, Reason: fmt.Sprintf("head record %x", v)}
	}
	return merkle.Hash(body[1:]), true, nil
}

// SetHead moves the head to root, which must be the empty state or have a
// commit record. The write is synced.
func (s *Store) SetHead(root merkle.Hash) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.requireRoot(root); err != nil {
		return fmt.Errorf("pagestore: set head: %w", err)
	}
	wb := s.kv.NewBatch()
	wb.Put([]byte{byte(KindHead)}, encodeHead(root))
	if err := s.kv.Write(wb, true); err != nil {
		return fmt.Errorf("pagestore: set head %s: %w", root, err)
	}
	return nil
}

// DeleteCommit removes the record of root, in one synced batch with the
// head move: if root was the head, the head moves to root's parent when that
// still exists, else to the newest remaining commit (by time), and is
// cleared (the empty state) only when no commit remains. Objects are not touched; GC
// reclaims those no other root reaches. Records whose parent is root keep
// naming it.
func (s *Store) DeleteCommit(root merkle.Hash) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, err := s.CommitRecord(root)
	if err != nil {
		return fmt.Errorf("pagestore: delete commit: %w", err)
	}
	wb := s.kv.NewBatch()
	key := makeKey(KindCommit, root)
	wb.Delete(key[:])
	head, ok, err := s.Head()
	if err != nil {
		return fmt.Errorf("pagestore: delete commit %s: %w", root, err)
	}
	if ok && head == root {
		parentOK, err := s.HasRoot(rec.Parent)
		if err != nil {
			return fmt.Errorf("pagestore: delete commit %s: %w", root, err)
		}
		next, found := rec.Parent, parentOK && rec.Parent != root
		if !found {
			// The parent is gone too: rather than leave the head at the
			// empty state beside surviving commits, fall back to the newest
			// of them (SetHead moves it anywhere else).
			recs, err := s.Commits()
			if err != nil {
				return fmt.Errorf("pagestore: delete commit %s: %w", root, err)
			}
			for i := len(recs) - 1; i >= 0 && !found; i-- {
				if recs[i].Root != root {
					next, found = recs[i].Root, true
				}
			}
		}
		if found {
			wb.Put([]byte{byte(KindHead)}, encodeHead(next))
		} else {
			wb.Delete([]byte{byte(KindHead)})
		}
	}
	// Logged first: a crash between the two leaves an extra record, which
	// the open-time check accepts, never a logged commit without one.
	if err := s.clog.append(logDelete, LostCommit{Root: root, Parent: rec.Parent, Time: rec.Time}); err != nil {
		return fmt.Errorf("pagestore: delete commit %s: %w", root, err)
	}
	if err := s.kv.Write(wb, true); err != nil {
		return fmt.Errorf("pagestore: delete commit %s: %w", root, err)
	}
	return nil
}
