package merkle

import (
	"bytes"
	"fmt"
)

// stateWalk walks the pre-order nodes of a state multiproof, routing the
// ids down the tree (SPEC.md §7.6). The decoder uses it for the structure
// alone; Verify and Expand also hash, run the checks of verification and
// collect what the proof shows.
type stateWalk struct {
	ids  []ContractID
	keys []Hash // StateKey of each id, ascending
	// next returns the next node in pre-order, or a malformed error; the
	// node is only read until the next call.
	next func() (*StateProofNode, error)
	// malformed builds the error for a node that breaks the structure.
	malformed func(format string, args ...any) error
	eval      bool            // hash and check
	sink      Sink            // if set (eval), explored nodes go to it
	leaves    []*ContractLeaf // per id (eval): its leaf, or nil when absent
	badShape  error           // the first shape-rule violation (eval)
	bad       error           // the first other invalid finding (eval)
}

func (w *stateWalk) invalid(format string, args ...any) {
	if w.bad == nil {
		w.bad = invalid(format, args...)
	}
}

// node reads the subtree at depth into which ids lo..hi-1 lead and returns
// its hash (when eval) and its tag.
func (w *stateWalk) node(depth, lo, hi int) (Hash, StateNodeKind, error) {
	n, err := w.next()
	if err != nil {
		return Hash{}, 0, err
	}
	explored := lo < hi
	switch n.Kind {
	case StateEmpty:
		// The ids routed here are absent: their leaves stay nil.
		return EmptyState(), StateEmpty, nil
	case StateHash:
		if explored {
			return Hash{}, 0, w.malformed("an id leads into an opaque subtree at depth %d", depth)
		}
		if n.Hash == EmptyState() {
			return Hash{}, 0, w.malformed("opaque subtree with the empty hash (write tag 0)")
		}
		return n.Hash, StateHash, nil
	case StateLeaf:
		if !explored {
			return Hash{}, 0, w.malformed("leaf at depth %d where no id leads", depth)
		}
		if !w.eval {
			return Hash{}, StateLeaf, nil
		}
		if err := n.Leaf.Validate(); err != nil {
			return Hash{}, 0, err
		}
		lk := StateKey(n.Leaf.ID)
		if !samePrefix(&lk, &w.keys[lo], depth) {
			w.invalid("leaf %s at depth %d does not lie on the path of %s", n.Leaf.ID, depth, w.ids[lo])
		}
		for i := lo; i < hi; i++ {
			if w.ids[i] == n.Leaf.ID {
				l := n.Leaf
				w.leaves[i] = &l
			}
		}
		enc := n.Leaf.Encode()
		h := DomainContract.Sum(enc)
		if w.sink != nil {
			w.sink.PutStateNode(h, enc)
		}
		return h, StateLeaf, nil
	case StateInner:
		if !explored {
			return Hash{}, 0, w.malformed("inner node at depth %d where no id leads", depth)
		}
		if depth >= StateTreeHeight {
			return Hash{}, 0, w.malformed("inner node at depth %d", depth)
		}
		mid := lo + splitKeys(w.keys[lo:hi], depth)
		l, lk, err := w.node(depth+1, lo, mid)
		if err != nil {
			return Hash{}, 0, err
		}
		r, rk, err := w.node(depth+1, mid, hi)
		if err != nil {
			return Hash{}, 0, err
		}
		if !w.eval {
			return Hash{}, StateInner, nil
		}
		// A leaf or Z beside Z would have moved up (SPEC.md §6).
		if lk == StateEmpty && (rk == StateEmpty || rk == StateLeaf) || rk == StateEmpty && lk == StateLeaf {
			if w.badShape == nil {
				w.badShape = invalid("inner node at depth %d with children (%s, %s) is not canonical", depth, lk, rk)
			}
		}
		h := DomainStateNode.Sum2(l, r)
		if w.sink != nil {
			var enc [2 * HashSize]byte
			copy(enc[:HashSize], l[:])
			copy(enc[HashSize:], r[:])
			w.sink.PutStateNode(h, enc[:])
		}
		return h, StateInner, nil
	}
	return Hash{}, 0, w.malformed("unknown node tag %d", n.Kind)
}

// String returns "empty", "leaf", "inner" or "hash".
func (k StateNodeKind) String() string {
	switch k {
	case StateEmpty:
		return "empty"
	case StateLeaf:
		return "leaf"
	case StateInner:
		return "inner"
	case StateHash:
		return "hash"
	}
	return fmt.Sprintf("tag(%d)", uint8(k))
}

// samePrefix reports whether a and b agree on their first n bits.
func samePrefix(a, b *Hash, n int) bool {
	if !bytes.Equal(a[:n/8], b[:n/8]) {
		return false
	}
	if n%8 == 0 {
		return true
	}
	mask := byte(0xFF) << (8 - n%8)
	return a[n/8]&mask == b[n/8]&mask
}

// checkIDs validates the id list of a state multiproof and returns the
// state keys; what names the proof in errors.
func checkIDs(ids []ContractID, what string) ([]Hash, error) {
	if len(ids) > MaxMultiIDs {
		return nil, malformed(what, -1, "%d ids (at most %d)", len(ids), MaxMultiIDs)
	}
	keys := make([]Hash, len(ids))
	for i, id := range ids {
		keys[i] = StateKey(id)
		if i > 0 && bytes.Compare(keys[i-1][:], keys[i][:]) >= 0 {
			return nil, malformed(what, -1, "ids not strictly ascending by state key at %d", i)
		}
	}
	return keys, nil
}

// walker returns a walk over p's nodes.
func (p *StateMultiProof) walker(keys []Hash, pos *int) *stateWalk {
	return &stateWalk{
		ids: p.IDs, keys: keys, eval: true, leaves: make([]*ContractLeaf, len(p.IDs)),
		next: func() (*StateProofNode, error) {
			if *pos >= len(p.Nodes) {
				return nil, malformed("state multiproof", -1, "%d nodes: the tree is incomplete", len(p.Nodes))
			}
			*pos++
			return &p.Nodes[*pos-1], nil
		},
		malformed: func(format string, args ...any) error {
			return malformed("state multiproof", -1, "node %d: "+format, append([]any{*pos - 1}, args...)...)
		},
	}
}

// Verify checks p against root and returns, for each p.IDs[i], its leaf,
// or nil when the contract is absent. Every failure matches ErrMalformed
// (p is not something the decoder accepts) or ErrProofInvalid.
func (p *StateMultiProof) Verify(root Hash) ([]*ContractLeaf, error) {
	if p == nil {
		return nil, invalid("no proof")
	}
	keys, err := checkIDs(p.IDs, "state multiproof")
	if err != nil {
		return nil, err
	}
	pos := 0
	w := p.walker(keys, &pos)
	got, _, err := w.node(0, 0, len(p.IDs))
	if err != nil {
		return nil, err
	}
	if pos != len(p.Nodes) {
		return nil, malformed("state multiproof", -1, "%d nodes after the tree", len(p.Nodes)-pos)
	}
	if w.badShape != nil {
		return nil, w.badShape
	}
	if w.bad != nil {
		return nil, w.bad
	}
	if got != root {
		return nil, invalid("state multiproof gives root %s, want %s", got, root)
	}
	return w.leaves, nil
}

// Expand hands sink every state node the proof reveals: the inner nodes on
// the ids' paths as their 64-byte encodings and the leaves as their
// ContractLeafSize-byte encodings, keyed by hash. A StateTree over those
// nodes (NewStateTree(root, sink)) can then read every proven id. Call it
// only after Verify succeeded.
func (p *StateMultiProof) Expand(sink Sink) {
	if p == nil {
		return
	}
	keys, err := checkIDs(p.IDs, "state multiproof")
	if err != nil {
		return
	}
	pos := 0
	w := p.walker(keys, &pos)
	w.sink = sink
	w.node(0, 0, len(p.IDs))
}

// Root rebuilds the memory root from the pages and siblings. It checks the
// proof's shape (page order and count, data lengths, sibling count): a
// failure matches ErrMalformed or ErrProofInvalid. Comparing the root with
// a leaf's, and the pages with the memory's length, is the caller's job.
// Root keeps the page hashes and inner nodes in p for Expand, so it must
// not run concurrently with another call on the same p.
func (p *MemoryMultiProof) Root() (Hash, error) {
	if p == nil {
		return Hash{}, invalid("no proof")
	}
	p.pageHashes, p.nodes = nil, nil
	// A path of MemoryTreeHeight nodes, and about two more per page where
	// the pages' paths have not met yet.
	nl := nodeList{nodes: make([]memNode, 0, MemoryTreeHeight+2*len(p.Pages))}
	root, hs, err := p.root(&nl)
	if err != nil {
		return Hash{}, err
	}
	p.pageHashes, p.nodes = hs, nl.nodes
	return root, nil
}

// root is Root without caching: it returns the page hashes and hands the
// inner nodes to sink if it is set.
func (p *MemoryMultiProof) root(sink Sink) (Hash, []Hash, error) {
	if err := checkPageList(p.Pages, "memory multiproof"); err != nil {
		return Hash{}, nil, err
	}
	if len(p.Data) != len(p.Pages) {
		return Hash{}, nil, invalid("%d pages, %d page contents", len(p.Pages), len(p.Data))
	}
	hs := make([]Hash, len(p.Pages))
	for i, pg := range p.Data {
		switch {
		case pg == nil:
			hs[i] = emptyMemory[0]
		case len(pg) != PageSize:
			return Hash{}, nil, invalid("page %d has %d bytes", p.Pages[i], len(pg))
		default:
			hs[i] = DomainPage.Sum(pg)
		}
	}
	root, err := p.rebuild(hs, sink)
	return root, hs, err
}

// checkPageList requires page indices strictly ascending, below MaxPages,
// at least one and at most MaxMultiPages.
func checkPageList(pages []uint64, what string) error {
	if len(pages) == 0 || len(pages) > MaxMultiPages {
		return malformed(what, -1, "%d pages (1..%d)", len(pages), MaxMultiPages)
	}
	for i, v := range pages {
		if v >= MaxPages {
			return malformed(what, -1, "page %d is outside every memory", v)
		}
		if i > 0 && v <= pages[i-1] {
			return malformed(what, -1, "pages not strictly ascending at %d", i)
		}
	}
	return nil
}

// rebuild hashes the memory tree up from the page hashes hs, taking the
// siblings in slot order, and hands the non-empty inner nodes to sink if
// it is set.
func (p *MemoryMultiProof) rebuild(hs []Hash, sink Sink) (Hash, error) {
	type entry struct {
		j uint64
		h Hash
	}
	level := make([]entry, len(p.Pages))
	for i, j := range p.Pages {
		level[i] = entry{j, hs[i]}
	}
	sib := p.Siblings
	for h := 0; h < MemoryTreeHeight; h++ {
		next := level[:0] // written behind the read position
		for i := 0; i < len(level); {
			j := level[i].j
			var l, r Hash
			if j&1 == 0 && i+1 < len(level) && level[i+1].j == j+1 {
				l, r = level[i].h, level[i+1].h
				i += 2
			} else {
				if len(sib) == 0 {
					return Hash{}, invalid("the pages need more than the %d memory siblings given", len(p.Siblings))
				}
				if j&1 == 0 {
					l, r = level[i].h, sib[0]
				} else {
					l, r = sib[0], level[i].h
				}
				sib = sib[1:]
				i++
			}
			parent := DomainMemoryNode.Sum2(l, r)
			if sink != nil && parent != emptyMemory[h+1] {
				sink.PutMemoryNode(parent, l, r)
			}
			next = append(next, entry{j >> 1, parent})
		}
		level = next
	}
	if len(sib) != 0 {
		return Hash{}, invalid("%d memory siblings more than the pages need", len(sib))
	}
	return level[0].h, nil
}

// Expand hands sink every memory node on the pages' paths (hash ->
// children; empty subtrees excepted) and calls page for each non-zero page
// with its hash, so a MemTree over those nodes reads every proven page.
// Call it only after Root matched: it reuses the page hashes and nodes
// Root computed (and computes them if Root did not run).
func (p *MemoryMultiProof) Expand(sink Sink, page func(h Hash, data []byte)) {
	if p == nil || checkPageList(p.Pages, "") != nil || len(p.Data) != len(p.Pages) {
		return
	}
	hs := p.pageHashes
	if len(hs) != len(p.Pages) {
		var err error
		if _, hs, err = p.root(sink); err != nil {
			return
		}
	} else {
		for _, n := range p.nodes {
			sink.PutMemoryNode(n.h, n.l, n.r)
		}
	}
	if page == nil {
		return
	}
	for i, h := range hs {
		if h != emptyMemory[0] {
			page(h, p.Data[i])
		}
	}
}
