package engine

import (
	"fmt"

	"github.com/wasmstate/wasmstate/merkle"
)

// MaxReadLength bounds one ReadMemory call, so a read cannot make the host
// allocate more than this at once.
const MaxReadLength = 64 << 20

// ReadMemory returns length bytes at offset of contract id's linear memory
// as committed under root, read page by page through the memory tree (every
// page rehashed by the store), without building a proof. A range past the
// memory's length, empty or longer than MaxReadLength fails with
// merkle.ErrOutOfRange.
func (e *Engine) ReadMemory(root merkle.Hash, id merkle.ContractID, offset, length uint64) ([]byte, error) {
	_, leaf, err := e.leafAt(root, id)
	if err != nil {
		return nil, err
	}
	if length == 0 || length > MaxReadLength {
		return nil, fmt.Errorf("%w: read length %d (1..%d)", merkle.ErrOutOfRange, length, MaxReadLength)
	}
	if offset > leaf.MemoryLen || length > leaf.MemoryLen-offset {
		return nil, fmt.Errorf("%w: bytes %d..%d of a %d-byte memory", merkle.ErrOutOfRange, offset, offset+length, leaf.MemoryLen)
	}
	out := make([]byte, length)
	tree := merkle.NewMemTree(leaf.MemoryRoot, e.store)
	first, last := offset/merkle.PageSize, (offset+length-1)/merkle.PageSize
	for i := first; i <= last; i++ {
		h, err := tree.Page(i)
		if err != nil {
			return nil, err
		}
		if h == merkle.EmptyPageHash() {
			continue // out is zeroed
		}
		page, err := e.store.Page(h)
		if err != nil {
			return nil, err
		}
		// The part of page i inside [offset, offset+length).
		pStart := i * merkle.PageSize
		from, to := max(offset, pStart), min(offset+length, pStart+merkle.PageSize)
		copy(out[from-offset:to-offset], page[from-pStart:to-pStart])
	}
	return out, nil
}
