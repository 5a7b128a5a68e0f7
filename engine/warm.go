package engine

import (
	"container/list"
	"sync"

	"github.com/bytecodealliance/wasmtime-go/v39"

	"github.com/wasmstate/wasmstate/merkle"
)

// Warm sets: a node opens a session per block from the root the previous
// block committed. When a session closes, its wasmtime store and the
// contracts loaded in it hold exactly the state of its base root (a commit
// made them so; uncommitted changes are put back first). Rather than drop
// them, the engine keeps them as a warm set for that root, and the next
// session opened at the same root takes them over: its first call into
// those contracts costs what a call costs in an open session, with no load
// at all. Only one session can own a store, so only the first session at
// a root takes its set; others load cold (from images, see image.go).

// warmSet is a closed session's store and contracts, at root.
type warmSet struct {
	root      merkle.Hash
	wstore    *wasmtime.Store
	owner     *storeOwner
	state     *merkle.StateTree
	contracts map[merkle.ContractID]*contract
	instances int
	bytes     uint64 // linear memory held (the sum of the memories' lengths)
	elem      *list.Element
}

// warmCache holds warm sets by root, least recently used dropped first
// past its bounds.
type warmCache struct {
	mu     sync.Mutex
	byRoot map[merkle.Hash]*warmSet
	lru    list.List
	bytes  uint64
	budget uint64 // memory bytes (0: warm sets off)
	max    int    // sets
	hits   uint64
	closed bool
}

func newWarmCache(budget uint64, max int) *warmCache {
	return &warmCache{byRoot: map[merkle.Hash]*warmSet{}, budget: budget, max: max}
}

// take removes and returns the warm set of root, if any.
func (w *warmCache) take(root merkle.Hash) *warmSet {
	w.mu.Lock()
	defer w.mu.Unlock()
	ws := w.byRoot[root]
	if ws != nil {
		w.removeLocked(ws)
		w.hits++
	}
	return ws
}

// put keeps ws, replacing a set of the same root and dropping the least
// recently used past the bounds. A set that cannot be kept is dropped.
func (w *warmCache) put(ws *warmSet) {
	w.mu.Lock()
	if w.closed || ws.bytes > w.budget || w.max == 0 {
		w.mu.Unlock()
		ws.drop()
		return
	}
	var victims []*warmSet
	if old := w.byRoot[ws.root]; old != nil {
		w.removeLocked(old)
		victims = append(victims, old)
	}
	ws.elem = w.lru.PushFront(ws)
	w.byRoot[ws.root] = ws
	w.bytes += ws.bytes
	for w.bytes > w.budget || w.lru.Len() > w.max {
		v := w.lru.Back().Value.(*warmSet)
		w.removeLocked(v)
		victims = append(victims, v)
	}
	w.mu.Unlock()
	for _, v := range victims {
		v.drop()
	}
}

func (w *warmCache) removeLocked(ws *warmSet) {
	w.lru.Remove(ws.elem)
	delete(w.byRoot, ws.root)
	w.bytes -= ws.bytes
}

// close drops every set and refuses new ones.
func (w *warmCache) close() {
	w.mu.Lock()
	w.closed = true
	var all []*warmSet
	for _, ws := range w.byRoot {
		all = append(all, ws)
	}
	for _, ws := range all {
		w.removeLocked(ws)
	}
	w.mu.Unlock()
	for _, ws := range all {
		ws.drop()
	}
}

func (w *warmCache) stats() (sets int, bytes, hits uint64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.byRoot), w.bytes, w.hits
}

// drop releases the set's instances and memories.
func (ws *warmSet) drop() {
	for _, c := range ws.contracts {
		c.close()
	}
	ws.wstore.Close()
}

// adopt makes the session the owner of ws: its contracts, store and state
// tree become the session's.
func (s *Session) adopt(ws *warmSet) {
	s.wstore, s.owner, s.instances, s.state = ws.wstore, ws.owner, ws.instances, ws.state
	s.owner.s = s
	s.contracts = ws.contracts
	for _, c := range s.contracts {
		c.s = s
	}
}

// warmMaxContracts bounds the contracts a warm set keeps (a variable for
// tests).
var warmMaxContracts = 4096

// handOff gives the session's store and contracts to the engine's warm
// sets, at the session's base root, after putting back what the session
// changed since its last commit. Contracts that cannot be put back (grown,
// deployed and not committed, pending a reload) are left out. It reports
// whether it took the store.
func (s *Session) handOff() bool {
	if s.wstore == nil || s.broken != nil || len(s.frames) > 0 || s.e.warm.max == 0 {
		return false
	}
	ws := &warmSet{root: s.base, wstore: s.wstore, owner: s.owner, contracts: s.contracts, instances: s.instances}
	stateChanged := false
	for id, c := range s.contracts {
		if c.isNew || c.reload || c.tracker == nil || c.memLen != c.baseLeaf.MemoryLen {
			c.close()
			delete(s.contracts, id)
			stateChanged = true
			continue
		}
		if c.uncommitted || c.changed || len(c.pages) > 0 {
			stateChanged = true
			if err := c.putBack(); err != nil {
				s.e.log.Warn("cannot put a contract back to its committed state; dropping it", "contract", id.String(), "err", err)
				c.close()
				delete(s.contracts, id)
				continue
			}
		}
		ws.bytes += c.memLen
	}
	if s.instances-len(s.contracts) >= recycleDead || len(s.contracts) > warmMaxContracts {
		// Dead instances would follow the set around; and a chain of
		// sessions each loading other contracts would pile its instances
		// up in one store, up to wasmtime's limit of instances per store
		// (10,000): start afresh.
		for _, c := range s.contracts {
			c.close()
		}
		return false
	}
	ws.state = s.state
	if stateChanged {
		ws.state = merkle.NewStateTree(s.base, s.e.store)
	}
	s.e.warm.put(ws)
	return true
}

// putBack returns the contract to its state as of the session's last
// commit: pages from the store, globals from the stored encoding.
func (c *contract) putBack() error {
	base := merkle.NewMemTree(c.baseLeaf.MemoryRoot, c.s.e.store)
	mem := c.refresh()
	for i := range c.pages {
		h, err := base.Page(i)
		if err != nil {
			return err
		}
		if err := c.s.e.store.ReadPage(h, mem[i*merkle.PageSize:(i+1)*merkle.PageSize]); err != nil {
			return err
		}
	}
	c.leaf = c.baseLeaf
	vals, err := c.storedGlobals()
	if err != nil {
		return err
	}
	c.setGlobals(vals)
	c.globalVals = vals
	clear(c.pages)
	clear(c.hashes)
	clear(c.pending)
	c.mt = base
	c.changed, c.uncommitted = false, false
	// The writes above are the engine's, not a frame's.
	c.scratch, err = c.tracker.Collect(c.scratch[:0])
	return err
}
