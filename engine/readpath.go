package engine

import (
	"sync"

	"github.com/wasmstate/wasmstate/merkle"
	"github.com/wasmstate/wasmstate/pagestore"
)

// The read path of proofs and inspection runs once per request of a
// serving node (package serve): every lookup it saves counts.

// rootCache remembers roots that have a commit record, so that a read at
// a root costs no backend lookup of its record after the first. Records
// only go away through DeleteCommit, which forgets every root after it
// deleted one; gen keeps a lookup that raced with a deletion from caching
// what the deletion removed. The zero value is ready.
type rootCache struct {
	mu    sync.Mutex
	gen   uint64
	known map[merkle.Hash]struct{}
}

// maxKnownRoots bounds the cache; past it, it starts afresh.
const maxKnownRoots = 4096

func (c *rootCache) has(root merkle.Hash) (ok bool, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok = c.known[root]
	return ok, c.gen
}

// add records root as known, unless a deletion happened since gen.
func (c *rootCache) add(root merkle.Hash, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen {
		return
	}
	if c.known == nil || len(c.known) >= maxKnownRoots {
		c.known = make(map[merkle.Hash]struct{})
	}
	c.known[root] = struct{}{}
}

// forget drops every root; DeleteCommit calls it after a deletion.
func (c *rootCache) forget() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	c.known = nil
}

// readNodes is the Source of the trees proofs and inspection read: nodes
// come through Store.ReadObject, which does not refresh their place in the
// cache, and state nodes without the copy Store.StateNode makes for
// callers that may keep the slice (a state tree decodes a node and keeps
// nothing of its bytes).
type readNodes struct{ *pagestore.Store }

// StateNode implements merkle.Source.
func (r readNodes) StateNode(h merkle.Hash) ([]byte, error) {
	return r.ReadObject(pagestore.KindStateNode, h)
}

// MemoryNode implements merkle.Source.
func (r readNodes) MemoryNode(h merkle.Hash) (left, right merkle.Hash, err error) {
	v, err := r.ReadObject(pagestore.KindMemoryNode, h)
	if err != nil {
		return r.Store.MemoryNode(h) // all-zero subtrees, and the error
	}
	return merkle.Hash(v[:32]), merkle.Hash(v[32:]), nil
}
