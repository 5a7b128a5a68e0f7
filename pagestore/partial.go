package pagestore

import "fmt"

// OpenPartial returns a store held in memory with exactly the objects and
// the commit record staged in b (which must not be used again), written
// as they are: no hash is checked
// and no reference followed. It is the store of a stateless replay: the
// objects come from a witness the caller has verified against its root,
// and its trees stop where the witness stops, so a read of anything the
// witness does not hold fails with ErrNotFound (merkle.ErrMissingNode for
// tree nodes). Unlike a store built by commits, subtrees may be incomplete:
// never sync, collect or fsck one. Later commits to it go through Commit's
// usual checks. Reads other than of code are not verified (the caller
// staged each object under the hash it computed) nor cached.
func OpenPartial(b *Batch, o *Options) (*Store, error) {
	kv := NewMemoryBackend()
	s, err := NewStore(kv, o)
	if err != nil {
		return nil, err
	}
	// The batch's values are its own copies: the backend takes them over
	// (a replay's pages would otherwise be copied again).
	wb := &memBatch{}
	for _, obj := range b.objs {
		wb.putOwned(obj.key[:], obj.value)
	}
	if r := b.record; r != nil {
		key := makeKey(KindCommit, r.Root)
		wb.Put(key[:], r.encode())
	}
	if b.head != nil {
		wb.Put([]byte{byte(KindHead)}, encodeHead(*b.head))
	}
	if err := kv.Write(wb, false); err != nil {
		s.Close()
		return nil, fmt.Errorf("pagestore: open partial store: %w", err)
	}
	s.partial = kv
	return s, nil
}

// partialGet reads an object of a partial store from its backend, with
// no copy, check or cache: the objects were staged under the hashes the
// caller computed from them when it verified them, and the backend is
// memory already. Code, which may come from elsewhere, is read as in any
// store (Store.get).
func (s *Store) partialGet(key objKey) ([]byte, error) {
	if v, ok := s.partial.getShared(key); ok {
		return v, nil
	}
	return nil, &NotFoundError{Kind: key.kind(), Key: key.hash()}
}
