package merkle

import (
	"errors"
	"fmt"
)

// MemTree is the Merkle tree over one contract's memory: a complete binary
// tree of height MemoryTreeHeight whose leaf i is the hash of page i.
//
// It loads nodes from its Source lazily, keeps the nodes it touched in
// memory, and rehashes on Root only the union of the paths of pages set
// since the last Root: every such node once. Empty subtrees are not stored
// and not allocated; their hashes come from EmptyMemory.
//
// A MemTree is not safe for concurrent use.
type MemTree struct {
	root *mnode
	src  Source
	err  error // first resolution error; sticky, since the tree is then incomplete
}

// mnode is a node of a MemTree. A nil child is an empty subtree. A node
// with resolved == false stands for a stored subtree known only by hash.
type mnode struct {
	hash        Hash
	left, right *mnode
	resolved    bool
	dirty       bool // hash is stale: a page below was set since the last Root
	unsaved     bool // hash not yet handed to a Sink
	// shared: the node belongs to a frozen tree (Freeze) that other trees
	// link to; it is fully resolved and never changed (SetPage copies it).
	shared bool
	// base, on a node not resolved yet, is the node of a frozen tree at the
	// same position (see Rebase): children with the same hash as base's
	// are linked to base's instead of being loaded.
	base *mnode
}

// NewMemTree returns the memory tree with the given root, reading nodes from
// src as needed. EmptyMemoryRoot() gives an empty tree; src may then be nil.
func NewMemTree(root Hash, src Source) *MemTree {
	return &MemTree{root: &mnode{hash: root, resolved: root == emptyMemory[MemoryTreeHeight]}, src: src}
}

// resolve loads the children of n, an inner node at height h.
func (t *MemTree) resolve(n *mnode, h int) error {
	if n.resolved {
		return nil
	}
	if n.hash == emptyMemory[h] {
		n.resolved = true
		return nil
	}
	if t.src == nil {
		return &MissingNodeError{Hash: n.hash}
	}
	l, r, err := t.src.MemoryNode(n.hash)
	if err != nil {
		return &MissingNodeError{Hash: n.hash, Err: err}
	}
	// Both children in one allocation: a path resolved in a fresh tree
	// (the first write of a page in a cold session) makes one per level.
	kids := new([2]mnode)
	n.left = t.child(&kids[0], l, h-1, n.base, true)
	n.right = t.child(&kids[1], r, h-1, n.base, false)
	n.resolved, n.base = true, nil
	return nil
}

// child returns the node for a child of hash c at height h, kept in k: nil
// for an empty subtree, the frozen base's node when it has the same hash
// (shared, nothing loaded below it), else k, which remembers base's node
// at its position for its own resolution.
func (t *MemTree) child(k *mnode, c Hash, h int, base *mnode, left bool) *mnode {
	if c == emptyMemory[h] {
		return nil
	}
	var b *mnode
	if base != nil {
		if b = base.right; left {
			b = base.left
		}
		if b != nil && b.hash == c {
			return b
		}
	}
	*k = mnode{hash: c, resolved: h == 0, base: b}
	return k
}

func checkPage(index uint64) error {
	if index >= MaxPages {
		return fmt.Errorf("%w: page %d (a memory tree has %d pages)", ErrOutOfRange, index, MaxPages)
	}
	return nil
}

// Page returns the hash of page index (EmptyPageHash for a zero page).
func (t *MemTree) Page(index uint64) (Hash, error) {
	if err := checkPage(index); err != nil {
		return Hash{}, err
	}
	n := t.root
	for h := MemoryTreeHeight; h > 0; h-- {
		if err := t.resolve(n, h); err != nil {
			return Hash{}, err
		}
		if index>>(h-1)&1 == 0 {
			n = n.left
		} else {
			n = n.right
		}
		if n == nil {
			return emptyMemory[0], nil
		}
	}
	return n.hash, nil
}

// SetPage sets the hash of page index. Setting EmptyPageHash clears it.
// The new root is computed by the next Root.
func (t *MemTree) SetPage(index uint64, page Hash) error {
	if err := checkPage(index); err != nil {
		return err
	}
	if t.err != nil {
		return t.err
	}
	if t.root.shared {
		t.root = t.root.private()
	}
	n := t.root
	for h := MemoryTreeHeight; h > 0; h-- {
		if err := t.resolve(n, h); err != nil {
			t.err = err
			return err
		}
		n.dirty, n.unsaved = true, true
		next := &n.left
		if index>>(h-1)&1 == 1 {
			next = &n.right
		}
		if *next == nil {
			*next = &mnode{hash: emptyMemory[h-1], resolved: true}
		} else if (*next).shared {
			*next = (*next).private()
		}
		n = *next
	}
	n.hash, n.unsaved = page, true
	return nil
}

// private returns a copy of shared node n that this tree may change; its
// children stay shared.
func (n *mnode) private() *mnode {
	c := *n
	c.shared = false
	return &c
}

// Freeze resolves every node of t and makes them shared: read-only, so
// that trees rebased on t (Rebase) can link to them from any goroutine.
// Those trees copy a shared node before changing it; t itself must not be
// changed once others may rebase on it. The cost is one walk of the tree,
// nothing more than marking when ForEachPage resolved it already.
func (t *MemTree) Freeze() error {
	if t.err != nil {
		return t.err
	}
	if t.root.unsaved {
		return errors.New("merkle: Freeze of a memory tree with uncommitted pages")
	}
	t.Root()
	return t.freeze(t.root, MemoryTreeHeight)
}

func (t *MemTree) freeze(n *mnode, h int) error {
	if n == nil || n.shared {
		return nil
	}
	if h > 0 {
		if err := t.resolve(n, h); err != nil {
			return err
		}
		if err := t.freeze(n.left, h-1); err != nil {
			return err
		}
		if err := t.freeze(n.right, h-1); err != nil {
			return err
		}
	}
	n.dirty, n.unsaved, n.base, n.shared = false, false, nil, true
	return nil
}

// Rebase lets t, a tree not used yet, link to the nodes of frozen (a
// frozen tree, see Freeze) wherever its own have the same hash at the same
// position, instead of loading them from its Source: a tree at a root
// close to frozen's then loads only the nodes where the two differ, and
// a tree at frozen's root loads none. It does nothing once t has resolved
// its root or when frozen is not frozen.
func (t *MemTree) Rebase(frozen *MemTree) {
	if frozen == nil || !frozen.root.shared || t.root.resolved || t.root.dirty || t.err != nil {
		return
	}
	if t.root.hash == frozen.root.hash {
		t.root = frozen.root
		return
	}
	t.root.base = frozen.root
}

// Root returns the root hash, rehashing the paths of pages set since the
// previous call.
func (t *MemTree) Root() Hash {
	return rehashMemory(t.root, MemoryTreeHeight)
}

func rehashMemory(n *mnode, h int) Hash {
	if n == nil {
		return emptyMemory[h]
	}
	if !n.dirty {
		return n.hash
	}
	n.hash = DomainMemoryNode.Sum2(rehashMemory(n.left, h-1), rehashMemory(n.right, h-1))
	n.dirty = false
	return n.hash
}

// Commit computes the root and hands every inner node created since the
// previous Commit to sink (empty subtrees excepted), then returns the root.
// Pages themselves are the caller's to store.
func (t *MemTree) Commit(sink Sink) (Hash, error) {
	if t.err != nil {
		return Hash{}, t.err
	}
	root := t.Root()
	commitMemory(t.root, MemoryTreeHeight, sink)
	return root, nil
}

func commitMemory(n *mnode, h int, sink Sink) {
	if n == nil || !n.unsaved {
		return
	}
	n.unsaved = false
	if h == 0 {
		return
	}
	commitMemory(n.left, h-1, sink)
	commitMemory(n.right, h-1, sink)
	if n.hash != emptyMemory[h] {
		sink.PutMemoryNode(n.hash, childHash(n.left, h-1), childHash(n.right, h-1))
	}
}

func childHash(n *mnode, h int) Hash {
	if n == nil {
		return emptyMemory[h]
	}
	return n.hash
}

// ForEachPage calls fn for every page whose hash is not EmptyPageHash, in
// ascending index order, loading nodes as needed. It stops at the first
// error fn returns.
func (t *MemTree) ForEachPage(fn func(index uint64, page Hash) error) error {
	t.Root()
	return t.walk(t.root, MemoryTreeHeight, 0, fn)
}

func (t *MemTree) walk(n *mnode, h int, base uint64, fn func(uint64, Hash) error) error {
	if n == nil || n.hash == emptyMemory[h] {
		return nil
	}
	if h == 0 {
		return fn(base, n.hash)
	}
	if err := t.resolve(n, h); err != nil {
		return err
	}
	if err := t.walk(n.left, h-1, base, fn); err != nil {
		return err
	}
	return t.walk(n.right, h-1, base|1<<(h-1), fn)
}

// node returns the hash of the node at height h covering index i at that
// level, resolving as needed.
func (t *MemTree) node(h int, i uint64) (Hash, error) {
	n := t.root
	for lvl := MemoryTreeHeight; lvl > h; lvl-- {
		if err := t.resolve(n, lvl); err != nil {
			return Hash{}, err
		}
		if i>>(lvl-1-h)&1 == 0 {
			n = n.left
		} else {
			n = n.right
		}
		if n == nil {
			return emptyMemory[h], nil
		}
	}
	return n.hash, nil
}

// rangeSiblings returns the sibling slots a multi-page proof of pages
// first..last needs, in proof order: bottom-up, and at each level the left
// sibling before the right one. See SPEC.md §6.
func rangeSiblingSlots(first, last uint64, fn func(h int, i uint64) error) error {
	lo, hi := first, last
	for h := 0; h < MemoryTreeHeight; h++ {
		if lo&1 == 1 {
			if err := fn(h, lo-1); err != nil {
				return err
			}
		}
		if hi&1 == 0 {
			if err := fn(h, hi+1); err != nil {
				return err
			}
		}
		lo, hi = lo>>1, hi>>1
	}
	return nil
}

// ProveRange returns the sibling hashes that, with pages first..last,
// rebuild the root, in proof order.
func (t *MemTree) ProveRange(first, last uint64) ([]Hash, error) {
	if first > last || last >= MaxPages {
		return nil, fmt.Errorf("%w: pages %d..%d", ErrOutOfRange, first, last)
	}
	t.Root()
	var sib []Hash
	err := rangeSiblingSlots(first, last, func(h int, i uint64) error {
		s, err := t.node(h, i)
		sib = append(sib, s)
		return err
	})
	return sib, err
}

// DiffMemory calls fn, in ascending page order, for every page whose hash
// differs between the memory trees with roots a and b, passing its hash in
// b (EmptyPageHash for a zero page). It reads only the nodes above those
// pages, so its cost follows the number of differing pages, not the size
// of the memories. It stops at the first error fn returns.
func DiffMemory(src Source, a, b Hash, fn func(index uint64, page Hash) error) error {
	return diffMemory(src, a, b, MemoryTreeHeight, 0, fn)
}

func diffMemory(src Source, a, b Hash, h int, base uint64, fn func(uint64, Hash) error) error {
	if a == b {
		return nil
	}
	if h == 0 {
		return fn(base, b)
	}
	al, ar, err := memoryChildren(src, a, h)
	if err != nil {
		return err
	}
	bl, br, err := memoryChildren(src, b, h)
	if err != nil {
		return err
	}
	if err := diffMemory(src, al, bl, h-1, base, fn); err != nil {
		return err
	}
	return diffMemory(src, ar, br, h-1, base|1<<(h-1), fn)
}

// memoryChildren returns the children of inner node n at height h.
func memoryChildren(src Source, n Hash, h int) (Hash, Hash, error) {
	if n == emptyMemory[h] {
		return emptyMemory[h-1], emptyMemory[h-1], nil
	}
	if src == nil {
		return Hash{}, Hash{}, &MissingNodeError{Hash: n}
	}
	l, r, err := src.MemoryNode(n)
	if err != nil {
		return Hash{}, Hash{}, &MissingNodeError{Hash: n, Err: err}
	}
	return l, r, nil
}
