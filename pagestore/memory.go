package pagestore

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"sync"
)

// MemoryBackend is an in-memory Backend for tests and ephemeral stores. It
// keeps no data across processes. Its zero value is not usable; call
// NewMemoryBackend.
//
// Keys of objects and commit records (a prefix byte and a hash) are found
// through an objIndex over an array of entries, so storing one allocates
// no key and costs one or two cache misses (a Go map of 33-byte keys cost
// several); other keys (head, version, blobs) key a map of strings.
type MemoryBackend struct {
	mu     sync.RWMutex
	index  objIndex
	chunks [][]memEntry // entry i is chunks[i/chunkLen][i%chunkLen]; entry 0 is unused
	n      int32        // entries allocated
	free   []int32      // entries deleted, for reuse
	hashes []uint64     // scratch of Write
	sink   uint64       // where Write's touches go
	other  map[string][]byte
	closed bool
}

// Entries live in chunks so that a growing store never copies them (but
// for the first chunk, while it grows to chunkLen from firstChunkLen).
const (
	chunkLen      = 4096
	firstChunkLen = 256
)

type memEntry struct {
	key  objKey
	live bool
	val  []byte
}

// NewMemoryBackend returns an empty in-memory backend.
func NewMemoryBackend() *MemoryBackend {
	b := &MemoryBackend{n: 1, other: make(map[string][]byte)}
	b.index = newObjIndex(func(i int32) *objKey { return &b.entry(i).key })
	return b
}

func (b *MemoryBackend) entry(i int32) *memEntry { return &b.chunks[i/chunkLen][i%chunkLen] }

// alloc returns a free entry. The first chunk starts small and doubles
// up to chunkLen (a store of a few hundred objects, such as a replay's,
// does not clear a whole chunk); later chunks are whole.
func (b *MemoryBackend) alloc() int32 {
	if n := len(b.free); n > 0 {
		i := b.free[n-1]
		b.free = b.free[:n-1]
		return i
	}
	switch c := int(b.n / chunkLen); {
	case c == len(b.chunks) && c == 0:
		b.chunks = append(b.chunks, make([]memEntry, firstChunkLen))
	case c == len(b.chunks):
		b.chunks = append(b.chunks, make([]memEntry, chunkLen))
	case c == 0 && int(b.n) == len(b.chunks[0]):
		b.chunks[0] = append(b.chunks[0], make([]memEntry, len(b.chunks[0]))...)
	}
	b.n++
	return b.n - 1
}

func (b *MemoryBackend) memoryResident() {}

func (b *MemoryBackend) lookup(key []byte) ([]byte, bool) {
	if len(key) == keyLen {
		if i := b.index.get((*objKey)(key)); i != 0 {
			return b.entry(i).val, true
		}
		return nil, false
	}
	v, ok := b.other[string(key)]
	return v, ok
}

// getShared returns the stored value of an object key itself (a partial
// store's read, partial.go): the caller must not modify it.
func (b *MemoryBackend) getShared(key objKey) ([]byte, bool) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	if b.closed {
		return nil, false
	}
	if i := b.index.get(&key); i != 0 {
		return b.entry(i).val, true
	}
	return nil, false
}

// Get implements Backend.
func (b *MemoryBackend) Get(key []byte) ([]byte, error) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	if b.closed {
		return nil, fmt.Errorf("pagestore: memory backend: get %x: %w", key, ErrClosed)
	}
	v, ok := b.lookup(key)
	if !ok {
		return nil, fmt.Errorf("pagestore: memory backend: get %x: %w", key, ErrNotFound)
	}
	return slices.Clone(v), nil
}

// Has implements Backend.
func (b *MemoryBackend) Has(key []byte) (bool, error) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	if b.closed {
		return false, fmt.Errorf("pagestore: memory backend: has %x: %w", key, ErrClosed)
	}
	_, ok := b.lookup(key)
	return ok, nil
}

type memOp struct {
	fixed  bool   // key is in fk, else in key
	fk     objKey // a keyLen-byte key
	key    string
	value  []byte // owned by the batch, then by the backend: never modified
	delete bool
}

type memBatch struct {
	ops  []memOp
	size int
}

func (m *memBatch) op(key, value []byte, del bool) {
	o := memOp{value: value, delete: del}
	if len(key) == keyLen {
		o.fixed, o.fk = true, objKey(key)
	} else {
		o.key = string(key)
	}
	m.ops = append(m.ops, o)
	m.size += len(key) + len(value)
}

func (m *memBatch) Put(key, value []byte) { m.op(key, slices.Clone(value), false) }

// putOwned is Put for a value the caller will never modify again (a
// Store's staged object): the backend keeps it without a copy.
func (m *memBatch) putOwned(key, value []byte) { m.op(key, value, false) }

func (m *memBatch) Delete(key []byte) { m.op(key, nil, true) }

func (m *memBatch) Len() int  { return len(m.ops) }
func (m *memBatch) Size() int { return m.size }
func (m *memBatch) Reset()    { clear(m.ops); m.ops, m.size = m.ops[:0], 0 }

// NewBatch implements Backend.
func (b *MemoryBackend) NewBatch() WriteBatch { return &memBatch{} }

func (b *MemoryBackend) newBatchSized(ops, _ int) WriteBatch {
	return &memBatch{ops: make([]memOp, 0, ops+2)}
}

// Write implements Backend; sync has no meaning in memory. The values are
// the batch's own copies, so the backend takes them as they are.
func (b *MemoryBackend) Write(wb WriteBatch, sync bool) error {
	mb, ok := wb.(*memBatch)
	if !ok {
		return fmt.Errorf("pagestore: memory backend: write: batch of type %T: %w", wb, ErrInvalid)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return fmt.Errorf("pagestore: memory backend: write: %w", ErrClosed)
	}
	if int(b.n)-len(b.free)+len(mb.ops) > maxIndexed {
		return fmt.Errorf("pagestore: memory backend: write: %w: more than %d objects", ErrInvalid, maxIndexed)
	}
	// The index cells of the batch's keys first, all at once: their cache
	// misses overlap (objIndex.touch).
	hs := b.hashes[:0]
	var acc uint64
	for i := range mb.ops {
		var h uint64
		if op := &mb.ops[i]; op.fixed {
			h = b.index.hash(&op.fk)
			acc ^= b.index.touch(h)
		}
		hs = append(hs, h)
	}
	b.sink += acc
	for j := range mb.ops {
		op := &mb.ops[j]
		switch {
		case op.fixed && op.delete:
			if i := b.index.delHashed(&op.fk, hs[j]); i != 0 {
				*b.entry(i) = memEntry{}
				b.free = append(b.free, i)
			}
		case op.fixed:
			i, _ := b.index.upsertHashed(&op.fk, hs[j], func() int32 {
				i := b.alloc()
				e := b.entry(i)
				e.key, e.live = op.fk, true
				return i
			})
			b.entry(i).val = op.value
		case op.delete:
			delete(b.other, op.key)
		default:
			b.other[op.key] = op.value
		}
	}
	if cap(hs) <= 1<<16 { // a sweep's huge batch is not kept
		b.hashes = hs[:0]
	}
	return nil
}

// Iterate implements Backend. The snapshot is a copy of the matching
// entries, taken under the lock, so fn may write to the backend.
func (b *MemoryBackend) Iterate(prefix []byte, fn func(key, value []byte) error) error {
	type kv struct {
		k string
		v []byte
	}
	b.mu.RLock()
	if b.closed {
		b.mu.RUnlock()
		return fmt.Errorf("pagestore: memory backend: iterate %x: %w", prefix, ErrClosed)
	}
	var snap []kv
	p := string(prefix)
	for _, c := range b.chunks {
		for i := range c {
			if e := &c[i]; e.live && bytes.HasPrefix(e.key[:], prefix) {
				snap = append(snap, kv{string(e.key[:]), e.val})
			}
		}
	}
	for k, v := range b.other {
		if strings.HasPrefix(k, p) {
			snap = append(snap, kv{k, v})
		}
	}
	b.mu.RUnlock()
	slices.SortFunc(snap, func(a, b kv) int { return strings.Compare(a.k, b.k) })
	for _, e := range snap {
		if err := fn([]byte(e.k), slices.Clone(e.v)); err != nil {
			return err
		}
	}
	return nil
}

// Close implements Backend.
func (b *MemoryBackend) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return fmt.Errorf("pagestore: memory backend: close: %w", ErrClosed)
	}
	b.closed = true
	b.chunks, b.free, b.other = nil, nil, nil
	b.index.reset()
	return nil
}
