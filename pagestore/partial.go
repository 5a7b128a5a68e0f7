package pagestore

import (
	"fmt"

	"github.com/wasmstate/wasmstate/merkle"
)

// Partial collects the objects of a partial store: the store of a
// stateless replay, whose objects come from a witness the caller has
// verified against its root. It stages them as they are given, with no
// hash checked, no copy of pages, globals, owners or code (the caller must
// not modify them while the store is open), and no index of its own: Open
// builds the store's. The zero value is not usable; call NewPartial.
type Partial struct {
	wb   memBatch
	slab []byte // memory nodes' values, allocated 64 bytes at a time from here
	root *merkle.Hash
}

// NewPartial returns an empty Partial with room for about n objects.
func NewPartial(n int) *Partial {
	return &Partial{wb: memBatch{ops: make([]memOp, 0, n+1)}}
}

func (p *Partial) put(k Kind, h merkle.Hash, v []byte) {
	key := makeKey(k, h)
	p.wb.putOwned(key[:], v)
}

// PutMemoryNode stages the memory-tree node h = left || right.
func (p *Partial) PutMemoryNode(h, left, right merkle.Hash) {
	if len(p.slab) < 2*merkle.HashSize {
		p.slab = make([]byte, 256*2*merkle.HashSize)
	}
	v := p.slab[: 2*merkle.HashSize : 2*merkle.HashSize]
	p.slab = p.slab[2*merkle.HashSize:]
	copy(v[:merkle.HashSize], left[:])
	copy(v[merkle.HashSize:], right[:])
	p.put(KindMemoryNode, h, v)
}

// PutStateNode stages a copy of the state-tree node h (an inner node or a
// contract leaf): the merkle walkers reuse their buffers.
func (p *Partial) PutStateNode(h merkle.Hash, enc []byte) {
	if h != merkle.EmptyState() {
		p.put(KindStateNode, h, append([]byte(nil), enc...))
	}
}

// PutPage stages page (merkle.PageSize bytes) under h = merkle.HashPage(page).
func (p *Partial) PutPage(h merkle.Hash, page []byte) {
	if h != merkle.EmptyPageHash() {
		p.put(KindPage, h, page)
	}
}

// PutGlobals stages persisted globals under h = DomainGlobals.Sum(globals).
func (p *Partial) PutGlobals(h merkle.Hash, globals []byte) { p.put(KindGlobals, h, globals) }

// PutOwner stages owner bytes under h = merkle.HashOwner(owner).
func (p *Partial) PutOwner(h merkle.Hash, owner []byte) { p.put(KindOwner, h, owner) }

// PutCode stages wasm bytecode under h = merkle.HashCode(code). Code is
// the one kind a partial store verifies when it is read.
func (p *Partial) PutCode(h merkle.Hash, code []byte) { p.put(KindCode, h, code) }

// SetCommit records root as a committed root of the store.
func (p *Partial) SetCommit(root merkle.Hash) { p.root = &root }

// Open returns a store held in memory with exactly the objects staged in p
// (which must not be used again). Its trees stop where the witness stops,
// so a read of anything the witness does not hold fails with ErrNotFound
// (merkle.ErrMissingNode for tree nodes). Unlike a store built by commits,
// subtrees may be incomplete: never sync, collect or fsck one. Reads other
// than of code are not verified (the caller staged each object under the
// hash it computed) nor cached. Later commits to it go through Commit's
// usual checks.
func (p *Partial) Open(o *Options) (*Store, error) {
	kv := NewMemoryBackend()
	s, err := NewStore(kv, o)
	if err != nil {
		return nil, err
	}
	if p.root != nil {
		key := makeKey(KindCommit, *p.root)
		p.wb.Put(key[:], (&CommitRecord{Root: *p.root}).encode())
	}
	if err := kv.Write(&p.wb, false); err != nil {
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
