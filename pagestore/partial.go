package pagestore

import "fmt"

// OpenPartial returns a store held in memory with exactly the objects and
// the commit record staged in b (which it empties), written as they are: no hash is checked
// and no reference followed. It is the store of a stateless replay: the
// objects come from a witness the caller has verified against its root,
// and its trees stop where the witness stops, so a read of anything the
// witness does not hold fails with ErrNotFound (merkle.ErrMissingNode for
// tree nodes). Unlike a store built by commits, subtrees may be incomplete:
// never sync, collect or fsck one. Later commits to it go through Commit's
// usual checks.
func OpenPartial(b *Batch, o *Options) (*Store, error) {
	kv := NewMemoryBackend()
	s, err := NewStore(kv, o)
	if err != nil {
		return nil, err
	}
	// The batch's values are its own copies: the backend takes them over
	// (a replay's pages would otherwise be copied twice more).
	kv.mu.Lock()
	defer kv.mu.Unlock()
	if kv.closed {
		return nil, fmt.Errorf("pagestore: open partial store: %w", ErrClosed)
	}
	for _, obj := range b.objs {
		kv.m[string(obj.key[:])] = obj.value
	}
	if r := b.record; r != nil {
		key := makeKey(KindCommit, r.Root)
		kv.m[string(key[:])] = r.encode()
	}
	if b.head != nil {
		kv.m[string([]byte{byte(KindHead)})] = encodeHead(*b.head)
	}
	b.objs, b.index, b.bytes, b.record, b.head = nil, nil, 0, nil, nil
	return s, nil
}
