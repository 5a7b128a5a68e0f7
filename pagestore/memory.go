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
// Keys of objects and commit records (a prefix byte and a hash) key a map
// of fixed-size arrays, so storing one allocates no key and the map holds
// one pointer per entry for the garbage collector to follow; other keys
// (head, version, blobs) key a map of strings.
type MemoryBackend struct {
	mu     sync.RWMutex
	fixed  map[objKey][]byte
	other  map[string][]byte
	closed bool
}

// NewMemoryBackend returns an empty in-memory backend.
func NewMemoryBackend() *MemoryBackend {
	return &MemoryBackend{fixed: make(map[objKey][]byte), other: make(map[string][]byte)}
}

func (b *MemoryBackend) lookup(key []byte) ([]byte, bool) {
	if len(key) == keyLen {
		v, ok := b.fixed[objKey(key)]
		return v, ok
	}
	v, ok := b.other[string(key)]
	return v, ok
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
// the batch's own copies, so the map takes them as they are.
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
	for _, op := range mb.ops {
		switch {
		case op.fixed && op.delete:
			delete(b.fixed, op.fk)
		case op.fixed:
			b.fixed[op.fk] = op.value
		case op.delete:
			delete(b.other, op.key)
		default:
			b.other[op.key] = op.value
		}
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
	for k, v := range b.fixed {
		if bytes.HasPrefix(k[:], prefix) {
			snap = append(snap, kv{string(k[:]), v})
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
	b.fixed, b.other = nil, nil
	return nil
}
