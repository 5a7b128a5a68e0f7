package merkle

import (
	"bytes"
	"fmt"
	"sort"
)

// Multiproofs (SPEC.md §7.6) prove many facts under one root at once: the
// leaves or absences of a set of contracts and any pages of their memories.
// Every node shared by the paths of the facts is sent once, so a proof of k
// pages of one contract costs at most the union of their paths.

// StateMultiProof proves the leaf or the absence of each of a set of
// contract ids under one state root; every node shared by their paths is
// sent once.
type StateMultiProof struct {
	IDs   []ContractID     // distinct, ascending by state key H_key(id)
	Nodes []StateProofNode // the pruned state tree, pre-order (SPEC.md §7.6)
}

// StateNodeKind is the tag of a node of a StateMultiProof.
type StateNodeKind uint8

// The state multiproof node tags, as encoded.
const (
	StateEmpty StateNodeKind = 0 // an empty subtree, Z
	StateLeaf  StateNodeKind = 1 // a contract leaf, explored
	StateInner StateNodeKind = 2 // an inner node, explored: its left, then its right child follow
	StateHash  StateNodeKind = 3 // a non-empty subtree no id leads into, known by its hash
)

// StateProofNode is one node of a StateMultiProof. Leaf is set for
// StateLeaf, Hash for StateHash.
type StateProofNode struct {
	Kind StateNodeKind
	Leaf ContractLeaf
	Hash Hash
}

// MemoryMultiProof proves a set of pages of one memory tree (SPEC.md §4,
// §7.6), any indices below MaxPages. Pages past a memory's length are
// allowed: they are zero there, and checking lengths is the caller's job.
type MemoryMultiProof struct {
	Pages []uint64 // strictly ascending page indices
	// Data holds, per page, its PageSize bytes, or nil for an all-zero page.
	Data [][]byte
	// Siblings are the memory-tree siblings in slot order (SPEC.md §7.6);
	// an empty subtree's sibling is EmptyMemory(h).
	Siblings []Hash

	// pageHashes and nodes cache the page hashes and the non-empty inner
	// nodes Root computed, so that Expand hashes nothing again.
	pageHashes []Hash
	nodes      []memNode
}

// memNode is a memory-tree inner node: its hash and children.
type memNode struct{ h, l, r Hash }

// nodeList is a Sink that keeps the memory nodes handed to it.
type nodeList struct{ nodes []memNode }

func (n *nodeList) PutMemoryNode(h, l, r Hash)      { n.nodes = append(n.nodes, memNode{h, l, r}) }
func (n *nodeList) PutStateNode(h Hash, enc []byte) {}

// sortedIDs returns ids without duplicates, ascending by state key, with
// their keys.
func sortedIDs(ids []ContractID) ([]ContractID, []Hash, error) {
	type kv struct {
		key Hash
		id  ContractID
	}
	all := make([]kv, len(ids))
	for i, id := range ids {
		all[i] = kv{StateKey(id), id}
	}
	sort.Slice(all, func(a, b int) bool { return bytes.Compare(all[a].key[:], all[b].key[:]) < 0 })
	outIDs := make([]ContractID, 0, len(all))
	keys := make([]Hash, 0, len(all))
	for i, e := range all {
		if i > 0 && e.key == all[i-1].key {
			if e.id != all[i-1].id {
				return nil, nil, fmt.Errorf("merkle: state key collision between %s and %s", e.id, all[i-1].id)
			}
			continue
		}
		outIDs, keys = append(outIDs, e.id), append(keys, e.key)
	}
	return outIDs, keys, nil
}

// ProveStates proves the leaf or the absence of each of ids (in any order;
// duplicates are merged) under st's root.
func ProveStates(st *StateTree, ids []ContractID) (*StateMultiProof, error) {
	sorted, keys, err := sortedIDs(ids)
	if err != nil {
		return nil, err
	}
	if len(sorted) > MaxMultiIDs {
		return nil, fmt.Errorf("%w: %d contract ids in one multiproof (at most %d)", ErrOutOfRange, len(sorted), MaxMultiIDs)
	}
	st.Root()
	p := &StateMultiProof{IDs: sorted}
	if err := st.proveMulti(st.root, 0, keys, &p.Nodes); err != nil {
		return nil, err
	}
	return p, nil
}

// proveMulti appends the pre-order nodes of the subtree n at depth, into
// which the ids with the given keys (ascending) lead.
func (t *StateTree) proveMulti(n *snode, depth int, keys []Hash, out *[]StateProofNode) error {
	if len(keys) == 0 {
		if n.kind == sEmpty {
			*out = append(*out, StateProofNode{Kind: StateEmpty})
		} else {
			*out = append(*out, StateProofNode{Kind: StateHash, Hash: n.hash})
		}
		return nil
	}
	if err := t.resolve(n); err != nil {
		return err
	}
	switch n.kind {
	case sEmpty:
		*out = append(*out, StateProofNode{Kind: StateEmpty})
		return nil
	case sLeaf:
		*out = append(*out, StateProofNode{Kind: StateLeaf, Leaf: n.leaf})
		return nil
	}
	if depth >= StateTreeHeight {
		return fmt.Errorf("merkle: state tree inner node at depth %d", depth)
	}
	*out = append(*out, StateProofNode{Kind: StateInner})
	mid := splitKeys(keys, depth)
	if err := t.proveMulti(n.left, depth+1, keys[:mid], out); err != nil {
		return err
	}
	return t.proveMulti(n.right, depth+1, keys[mid:], out)
}

// splitKeys returns the index of the first key (of keys, ascending and
// sharing their first depth bits) whose bit depth is 1.
func splitKeys(keys []Hash, depth int) int {
	return sort.Search(len(keys), func(i int) bool { return keyBit(&keys[i], depth) == 1 })
}

// normalizePages returns indices sorted, without duplicates, checked
// against the memory tree's size and the multiproof limit.
func normalizePages(indices []uint64) ([]uint64, error) {
	idx := append([]uint64(nil), indices...)
	sort.Slice(idx, func(a, b int) bool { return idx[a] < idx[b] })
	out := idx[:0]
	for i, v := range idx {
		if v >= MaxPages {
			return nil, fmt.Errorf("%w: page %d (a memory tree has %d pages)", ErrOutOfRange, v, MaxPages)
		}
		if i == 0 || v != idx[i-1] {
			out = append(out, v)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: a memory multiproof needs at least one page", ErrOutOfRange)
	}
	if len(out) > MaxMultiPages {
		return nil, fmt.Errorf("%w: %d pages in one multiproof (at most %d)", ErrOutOfRange, len(out), MaxMultiPages)
	}
	return out, nil
}

// ProveMemoryPages proves the pages indices (in any order; duplicates are
// merged) of the memory tree mt; pages reads page contents by hash.
func ProveMemoryPages(mt *MemTree, pages PageReader, indices []uint64) (*MemoryMultiProof, error) {
	idx, err := normalizePages(indices)
	if err != nil {
		return nil, err
	}
	mt.Root()
	p := &MemoryMultiProof{Pages: idx, Data: make([][]byte, len(idx))}
	for k, i := range idx {
		if p.Data[k], err = proofPage(mt, pages, i); err != nil {
			return nil, err
		}
	}
	err = multiSlots(idx, func(h int, j uint64) error {
		s, err := mt.node(h, j)
		p.Siblings = append(p.Siblings, s)
		return err
	})
	if err != nil {
		return nil, err
	}
	return p, nil
}

// multiSlots enumerates the sibling slots of a proof of pages (strictly
// ascending), in slot order (SPEC.md §7.6): per height from 0 up, for each
// known node j ascending whose sibling j^1 is not known, the slot (h, j^1).
// For one contiguous range this is exactly the order of §7.2.
func multiSlots(pages []uint64, fn func(h int, j uint64) error) error {
	known := append([]uint64(nil), pages...)
	for h := 0; h < MemoryTreeHeight; h++ {
		next := known[:0] // written behind the read position
		for i := 0; i < len(known); {
			j := known[i]
			if j&1 == 0 && i+1 < len(known) && known[i+1] == j+1 {
				i += 2
			} else {
				if err := fn(h, j^1); err != nil {
					return err
				}
				i++
			}
			next = append(next, j>>1)
		}
		known = next
	}
	return nil
}

// multiSlotHeights returns the height of each sibling slot of a proof of
// pages, in slot order.
func multiSlotHeights(pages []uint64) []uint8 {
	var hs []uint8
	multiSlots(pages, func(h int, _ uint64) error { hs = append(hs, uint8(h)); return nil })
	return hs
}
