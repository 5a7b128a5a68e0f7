package merkle

import "fmt"

// StateTree is the sparse Merkle tree of all contracts, keyed by
// StateKey(id): a binary tree of height StateTreeHeight in which a subtree
// holding a single contract is replaced by that contract's leaf, and an
// empty subtree hashes to EmptyState(). Its shape, and so its root, depends
// only on the set of contract leaves, never on the order of updates.
//
// Nodes load lazily from the Source. A StateTree is not safe for concurrent
// use.
type StateTree struct {
	root *snode
	src  Source
}

type snodeKind uint8

const (
	sEmpty snodeKind = iota
	sLeaf
	sInner
	sStub // stored, known only by hash
)

type snode struct {
	kind        snodeKind
	hash        Hash // valid unless dirty
	leaf        ContractLeaf
	key         Hash // StateKey(leaf.ID), for leaves
	left, right *snode
	dirty       bool
	unsaved     bool
}

var emptySNode = &snode{kind: sEmpty}

// NewStateTree returns the state tree with the given root (EmptyState() for
// an empty state), reading nodes from src as needed.
func NewStateTree(root Hash, src Source) *StateTree {
	if root == EmptyState() {
		return &StateTree{root: emptySNode, src: src}
	}
	return &StateTree{root: &snode{kind: sStub, hash: root}, src: src}
}

func keyBit(key *Hash, depth int) int {
	return int(key[depth>>3]>>(7-depth&7)) & 1
}

func (t *StateTree) resolve(n *snode) error {
	if n.kind != sStub {
		return nil
	}
	if t.src == nil {
		return &MissingNodeError{Hash: n.hash}
	}
	enc, err := t.src.StateNode(n.hash)
	if err != nil {
		return &MissingNodeError{Hash: n.hash, Err: err}
	}
	switch len(enc) {
	case 2 * HashSize:
		var l, r Hash
		copy(l[:], enc[:HashSize])
		copy(r[:], enc[HashSize:])
		n.left, n.right = stub(l), stub(r)
		n.kind = sInner
	case ContractLeafSize:
		leaf, err := DecodeContractLeaf(enc)
		if err != nil {
			return &MissingNodeError{Hash: n.hash, Err: err}
		}
		n.leaf, n.key, n.kind = leaf, StateKey(leaf.ID), sLeaf
	default:
		return &MissingNodeError{Hash: n.hash, Err: malformed("state node", -1, "length %d", len(enc))}
	}
	return nil
}

func stub(h Hash) *snode {
	if h == EmptyState() {
		return emptySNode
	}
	return &snode{kind: sStub, hash: h}
}

// Get returns the leaf of contract id, and whether it exists.
func (t *StateTree) Get(id ContractID) (ContractLeaf, bool, error) {
	key := StateKey(id)
	n := t.root
	for depth := 0; ; depth++ {
		if err := t.resolve(n); err != nil {
			return ContractLeaf{}, false, err
		}
		switch n.kind {
		case sEmpty:
			return ContractLeaf{}, false, nil
		case sLeaf:
			if n.leaf.ID == id {
				return n.leaf, true, nil
			}
			return ContractLeaf{}, false, nil
		}
		if keyBit(&key, depth) == 0 {
			n = n.left
		} else {
			n = n.right
		}
	}
}

// Update inserts or replaces the leaf of leaf.ID.
func (t *StateTree) Update(leaf ContractLeaf) error {
	if err := leaf.Validate(); err != nil {
		return err
	}
	key := StateKey(leaf.ID)
	n, err := t.insert(t.root, 0, &key, &leaf)
	if err != nil {
		return err
	}
	t.root = n
	return nil
}

func newLeaf(leaf *ContractLeaf, key *Hash) *snode {
	return &snode{kind: sLeaf, leaf: *leaf, key: *key, dirty: true, unsaved: true}
}

func (t *StateTree) insert(n *snode, depth int, key *Hash, leaf *ContractLeaf) (*snode, error) {
	if err := t.resolve(n); err != nil {
		return nil, err
	}
	switch n.kind {
	case sEmpty:
		return newLeaf(leaf, key), nil
	case sLeaf:
		if n.leaf.ID == leaf.ID {
			return newLeaf(leaf, key), nil
		}
		return split(n, newLeaf(leaf, key), depth)
	}
	var err error
	if keyBit(key, depth) == 0 {
		n.left, err = t.insert(n.left, depth+1, key, leaf)
	} else {
		n.right, err = t.insert(n.right, depth+1, key, leaf)
	}
	n.dirty, n.unsaved = true, true
	return n, err
}

// split builds the inner nodes that separate two leaves whose keys share
// their first depth bits.
func split(a, b *snode, depth int) (*snode, error) {
	if depth >= StateTreeHeight {
		// Two distinct ids with equal 256-bit state keys: a BLAKE3 collision.
		return nil, fmt.Errorf("merkle: state key collision between %s and %s", a.leaf.ID, b.leaf.ID)
	}
	ba, bb := keyBit(&a.key, depth), keyBit(&b.key, depth)
	n := &snode{kind: sInner, left: emptySNode, right: emptySNode, dirty: true, unsaved: true}
	if ba == bb {
		child, err := split(a, b, depth+1)
		if err != nil {
			return nil, err
		}
		if ba == 0 {
			n.left = child
		} else {
			n.right = child
		}
		return n, nil
	}
	if ba == 0 {
		n.left, n.right = a, b
	} else {
		n.left, n.right = b, a
	}
	return n, nil
}

// Delete removes contract id; it reports whether it was present.
func (t *StateTree) Delete(id ContractID) (bool, error) {
	key := StateKey(id)
	n, found, err := t.remove(t.root, 0, &key, id)
	if err != nil || !found {
		return found, err
	}
	t.root = n
	return true, nil
}

func (t *StateTree) remove(n *snode, depth int, key *Hash, id ContractID) (*snode, bool, error) {
	if err := t.resolve(n); err != nil {
		return nil, false, err
	}
	switch n.kind {
	case sEmpty:
		return n, false, nil
	case sLeaf:
		if n.leaf.ID == id {
			return emptySNode, true, nil
		}
		return n, false, nil
	}
	side, other := &n.left, &n.right
	if keyBit(key, depth) == 1 {
		side, other = &n.right, &n.left
	}
	child, found, err := t.remove(*side, depth+1, key, id)
	if err != nil || !found {
		return n, found, err
	}
	*side = child
	// Keep the tree canonical: an inner node never holds a lone leaf or
	// nothing; the remaining leaf moves up.
	if child.kind == sEmpty || child.kind == sLeaf {
		if err := t.resolve(*other); err != nil {
			return nil, false, err
		}
		o := *other
		if child.kind == sEmpty && (o.kind == sEmpty || o.kind == sLeaf) {
			return o, true, nil
		}
		if child.kind == sLeaf && o.kind == sEmpty {
			return child, true, nil
		}
	}
	n.dirty, n.unsaved = true, true
	return n, true, nil
}

// Root returns the root hash, rehashing only nodes changed since the
// previous call.
func (t *StateTree) Root() Hash { return rehashState(t.root) }

func rehashState(n *snode) Hash {
	if !n.dirty {
		return n.hash
	}
	switch n.kind {
	case sLeaf:
		n.hash = n.leaf.Hash()
	case sInner:
		n.hash = DomainStateNode.Sum2(rehashState(n.left), rehashState(n.right))
	}
	n.dirty = false
	return n.hash
}

// Commit computes the root and hands every node created since the
// previous Commit to sink, then returns the root.
func (t *StateTree) Commit(sink Sink) Hash {
	root := t.Root()
	commitState(t.root, sink)
	return root
}

func commitState(n *snode, sink Sink) {
	if !n.unsaved {
		return
	}
	n.unsaved = false
	switch n.kind {
	case sLeaf:
		sink.PutStateNode(n.hash, n.leaf.Encode())
	case sInner:
		commitState(n.left, sink)
		commitState(n.right, sink)
		var enc [2 * HashSize]byte
		copy(enc[:HashSize], n.left.hash[:])
		copy(enc[HashSize:], n.right.hash[:])
		sink.PutStateNode(n.hash, enc[:])
	}
}

// ForEach calls fn for every contract leaf, in state-key order, loading
// nodes as needed. It stops at the first error fn returns.
func (t *StateTree) ForEach(fn func(leaf ContractLeaf) error) error {
	return t.each(t.root, fn)
}

func (t *StateTree) each(n *snode, fn func(ContractLeaf) error) error {
	if err := t.resolve(n); err != nil {
		return err
	}
	switch n.kind {
	case sLeaf:
		return fn(n.leaf)
	case sInner:
		if err := t.each(n.left, fn); err != nil {
			return err
		}
		return t.each(n.right, fn)
	}
	return nil
}

// Prove returns the path to id: the siblings, bottom-up, and what the path
// ends at — id's leaf (present), another leaf, or an empty subtree (both
// absent).
func (t *StateTree) Prove(id ContractID) (path StatePath, end *ContractLeaf, err error) {
	t.Root()
	key := StateKey(id)
	n := t.root
	var top []Hash
	for depth := 0; ; depth++ {
		if err := t.resolve(n); err != nil {
			return StatePath{}, nil, err
		}
		switch n.kind {
		case sEmpty:
			return reversePath(top), nil, nil
		case sLeaf:
			l := n.leaf
			return reversePath(top), &l, nil
		}
		if keyBit(&key, depth) == 0 {
			top = append(top, n.right.hash)
			n = n.left
		} else {
			top = append(top, n.left.hash)
			n = n.right
		}
	}
}

func reversePath(top []Hash) StatePath {
	s := make([]Hash, len(top))
	for i, h := range top {
		s[len(top)-1-i] = h
	}
	return StatePath{Siblings: s}
}
