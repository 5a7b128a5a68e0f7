package merkle

// Tree returns the memory tree of root with the nodes on the proven
// pages' paths, and their siblings, in memory already, as if each page
// had been read once from src: reading or setting those pages loads no
// node (a stateless replay does both for every page it touches). Other
// nodes are read from src when needed. It uses the hashes Root computed:
// without a Root of this proof that gave root, it returns NewMemTree(root,
// src).
func (p *MemoryMultiProof) Tree(root Hash, src Source) *MemTree {
	lazy := NewMemTree(root, src)
	if p == nil || len(p.pageHashes) != len(p.Pages) || len(p.Pages) == 0 {
		return lazy
	}
	type entry struct {
		j uint64
		h Hash
		n *mnode // nil: an empty subtree
	}
	// Every node in one allocation: a node per page, sibling and parent
	// at most.
	slab := make([]mnode, 0, len(p.Pages)+len(p.Siblings)+len(p.nodes))
	node := func(n mnode) *mnode {
		slab = append(slab, n) // within its capacity: no pointer moves
		return &slab[len(slab)-1]
	}
	level := make([]entry, len(p.Pages))
	for i, j := range p.Pages {
		level[i] = entry{j: j, h: p.pageHashes[i]}
		if level[i].h != emptyMemory[0] {
			level[i].n = node(mnode{hash: level[i].h, resolved: true})
		}
	}
	sib, nodes := p.Siblings, p.nodes
	for h := 0; h < MemoryTreeHeight; h++ {
		next := level[:0]
		for i := 0; i < len(level); {
			j := level[i].j
			var l, r entry
			if j&1 == 0 && i+1 < len(level) && level[i+1].j == j+1 {
				l, r = level[i], level[i+1]
				i += 2
			} else {
				if len(sib) == 0 {
					return lazy
				}
				s := entry{h: sib[0]}
				if s.h != emptyMemory[h] {
					s.n = node(mnode{hash: s.h, resolved: h == 0})
				}
				sib = sib[1:]
				if j&1 == 0 {
					l, r = level[i], s
				} else {
					l, r = s, level[i]
				}
				i++
			}
			// Root handed on every parent but those of two empty subtrees,
			// in this order.
			parent := entry{j: j >> 1, h: emptyMemory[h+1]}
			if l.n != nil || r.n != nil {
				if len(nodes) == 0 || nodes[0].l != l.h || nodes[0].r != r.h {
					return lazy
				}
				parent.h = nodes[0].h
				nodes = nodes[1:]
				parent.n = node(mnode{hash: parent.h, left: l.n, right: r.n, resolved: true})
			}
			next = append(next, parent)
		}
		level = next
	}
	if len(sib) != 0 || len(nodes) != 0 || level[0].h != root || level[0].n == nil {
		return lazy
	}
	return &MemTree{root: level[0].n, src: src}
}
