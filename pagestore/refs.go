package pagestore

import (
	"fmt"

	"github.com/wasmstate/wasmstate/merkle"
)

// Ref names a content-addressed object: its kind, its hash and, for the
// objects of a memory tree, its height (0 for a page, 1 to
// merkle.MemoryTreeHeight for an inner node). Walkers that cross the
// store (state sync, the HTTP API's packs) carry Refs because a memory
// node's children are pages or nodes depending on its height.
type Ref struct {
	Kind   Kind
	Hash   merkle.Hash
	Height int
}

// Implicit reports whether r names a value that is never stored: the zero
// page, an all-zero memory subtree of r's height, or the empty state.
func (r Ref) Implicit() bool {
	switch r.Kind {
	case KindStateNode:
		return r.Hash == merkle.EmptyState()
	case KindPage, KindMemoryNode:
		return r.Height >= 0 && r.Height <= merkle.MemoryTreeHeight && r.Hash == merkle.EmptyMemory(r.Height)
	}
	return false
}

// AppendChildren appends to dst the objects that object r, whose value is
// v, references, in this order (SPEC.md §16.2, packs): a memory node's
// left then right child; a state node's left then right child; a contract
// leaf's code, owner, memory root (at height merkle.MemoryTreeHeight) and
// globals, the order of the leaf's fields. Pages, code, owners and globals
// reference nothing. Implicit children are included (Implicit tells them).
// v must have been checked (CheckObject); a malformed value gives an error
// matching ErrInvalid.
func AppendChildren(dst []Ref, r Ref, v []byte) ([]Ref, error) {
	switch r.Kind {
	case KindMemoryNode:
		if len(v) != 2*merkle.HashSize || r.Height < 1 || r.Height > merkle.MemoryTreeHeight {
			return dst, fmt.Errorf("pagestore: children of %s %s: %w: %d bytes at height %d", r.Kind, r.Hash, ErrInvalid, len(v), r.Height)
		}
		ck := KindMemoryNode
		if r.Height == 1 {
			ck = KindPage
		}
		return append(dst,
			Ref{Kind: ck, Hash: merkle.Hash(v[:32]), Height: r.Height - 1},
			Ref{Kind: ck, Hash: merkle.Hash(v[32:]), Height: r.Height - 1}), nil
	case KindStateNode:
		if len(v) == 2*merkle.HashSize {
			return append(dst,
				Ref{Kind: KindStateNode, Hash: merkle.Hash(v[:32])},
				Ref{Kind: KindStateNode, Hash: merkle.Hash(v[32:])}), nil
		}
		leaf, err := merkle.DecodeContractLeaf(v)
		if err != nil {
			return dst, fmt.Errorf("pagestore: children of %s %s: %w: %v", r.Kind, r.Hash, ErrInvalid, err)
		}
		return append(dst,
			Ref{Kind: KindCode, Hash: leaf.CodeHash},
			Ref{Kind: KindOwner, Hash: leaf.OwnerHash},
			Ref{Kind: KindMemoryNode, Hash: leaf.MemoryRoot, Height: merkle.MemoryTreeHeight},
			Ref{Kind: KindGlobals, Hash: leaf.GlobalsHash}), nil
	}
	return dst, nil
}

// CheckObject reports whether v is a well-formed value of kind k that
// hashes to h (a contract leaf must also decode): the check a reader
// makes of a value it did not store itself, such as one a peer sent. The
// error is a *CorruptionError naming what is wrong.
func CheckObject(k Kind, h merkle.Hash, v []byte) error {
	if cerr := verify(k, h, v); cerr != nil {
		return cerr
	}
	if k == KindStateNode && len(v) == merkle.ContractLeafSize {
		if _, err := merkle.DecodeContractLeaf(v); err != nil {
			return &CorruptionError{Kind: k, Key: h, Reason: fmt.Sprintf("malformed contract leaf: %v", err)}
		}
	}
	return nil
}

// ReadObject returns the verified value of the object of kind k stored
// under h, for readers that serve rather than compute: proofs and the HTTP
// API's packs. A cached value is returned without refreshing its place in
// the cache (cheaper, and a burst of reads does not reorder what sessions
// use). Of the values not cached, tree nodes are added (they are small,
// and what proofs read); pages, code, owners and globals are not, so that
// one pass over a whole state does not flush the cache. The value may be
// shared with the cache: the caller must not modify it. Implicit values
// are not stored and give an error matching ErrNotFound.
func (s *Store) ReadObject(k Kind, h merkle.Hash) ([]byte, error) {
	if !isObjectKind(k) {
		return nil, fmt.Errorf("pagestore: read %s %s: %w: not an object kind", k, h, ErrInvalid)
	}
	key := makeKey(k, h)
	if v, ok := s.cache.peek(key); ok {
		return v, nil
	}
	if k == KindMemoryNode || k == KindStateNode {
		return s.get(k, h)
	}
	return s.read(key)
}
