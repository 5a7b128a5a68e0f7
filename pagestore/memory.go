package pagestore

import (
	"fmt"
	"slices"
	"strings"
	"sync"
)

// MemoryBackend is an in-memory Backend for tests and ephemeral stores. It
// keeps no data across processes. Its zero value is not usable; call
// NewMemoryBackend.
type MemoryBackend struct {
	mu     sync.RWMutex
	m      map[string][]byte
	closed bool
}

// NewMemoryBackend returns an empty in-memory backend.
func NewMemoryBackend() *MemoryBackend {
	return &MemoryBackend{m: make(map[string][]byte)}
}

// Get implements Backend.
func (b *MemoryBackend) Get(key []byte) ([]byte, error) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	if b.closed {
		return nil, fmt.Errorf("pagestore: memory backend: get %x: %w", key, ErrClosed)
	}
	v, ok := b.m[string(key)]
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
	_, ok := b.m[string(key)]
	return ok, nil
}

type memOp struct {
	key    string
	value  []byte
	delete bool
}

type memBatch struct {
	ops  []memOp
	size int
}

func (m *memBatch) Put(key, value []byte) {
	m.ops = append(m.ops, memOp{key: string(key), value: slices.Clone(value)})
	m.size += len(key) + len(value)
}

func (m *memBatch) Delete(key []byte) {
	m.ops = append(m.ops, memOp{key: string(key), delete: true})
	m.size += len(key)
}

func (m *memBatch) Len() int  { return len(m.ops) }
func (m *memBatch) Size() int { return m.size }
func (m *memBatch) Reset()    { m.ops, m.size = m.ops[:0], 0 }

// NewBatch implements Backend.
func (b *MemoryBackend) NewBatch() WriteBatch { return &memBatch{} }

// Write implements Backend; sync has no meaning in memory.
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
		if op.delete {
			delete(b.m, op.key)
		} else {
			b.m[op.key] = slices.Clone(op.value)
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
	for k, v := range b.m {
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
	b.m = nil
	return nil
}
