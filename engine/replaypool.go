package engine

import (
	"github.com/bytecodealliance/wasmtime-go/v39"

	"github.com/wasmstate/wasmstate/merkle"
)

// A Replayer keeps the wasmtime store of its last accepted replay and the
// instances of the stored contracts it loaded, and the next replay starts
// from them: a contract it loads again keeps its instance, with fresh
// unpopulated memory holding only the new witness's pages, its globals set
// from the witness, and a new tracker. So a verifier checking block after
// block pays what a node keeping warm instances pays, not a cold load per
// contract. Instances are reused as the engine's warm sets reuse them:
// what a contract keeps outside its memory and globals (tables, which
// contracts do not change, SPEC.md §10.1) is not reset.

// replayPool is what a Replayer keeps between replays.
type replayPool struct {
	wstore    *wasmtime.Store
	owner     *storeOwner
	instances int
	contracts map[merkle.ContractID]*contract
}

// drop releases the pool's instances and store.
func (p *replayPool) drop() {
	for _, c := range p.contracts {
		c.close()
	}
	p.wstore.Close()
}

// adoptPool gives s the kept store; its contracts wait in s.replay for
// loads (reuse).
func (rp *Replayer) adoptPool(s *Session) {
	p := rp.pool
	rp.pool = nil
	if p == nil {
		return
	}
	s.wstore, s.owner, s.instances = p.wstore, p.owner, p.instances
	s.owner.s = s
	s.replay.kept = p.contracts
}

// keepPool takes s's store and stored contracts (and those kept and not
// loaded again) for the next replay, if the replay was accepted and the
// store is worth keeping; otherwise the session's Close releases them.
func (rp *Replayer) keepPool(s *Session, accepted bool) {
	kept := s.replay.kept
	s.replay.kept = nil
	if !accepted || s.wstore == nil || s.broken != nil || len(s.frames) > 0 {
		for _, c := range kept {
			c.close()
		}
		return
	}
	// The kept contracts leave the session, so its Close would not give
	// their page copies back for the next replay's (reuse clears them).
	s.releasePages()
	p := &replayPool{wstore: s.wstore, owner: s.owner, instances: s.instances, contracts: kept}
	if p.contracts == nil {
		p.contracts = map[merkle.ContractID]*contract{}
	}
	for id, c := range s.contracts {
		if c.isNew || c.reload || c.tracker == nil || c.inst == nil {
			c.close() // its instance stays in the store, dead
			continue
		}
		p.contracts[id] = c
	}
	s.contracts, s.wstore, s.owner = map[merkle.ContractID]*contract{}, nil, nil
	if p.instances-len(p.contracts) >= recycleDead || len(p.contracts) > warmMaxContracts {
		p.drop()
		return
	}
	rp.pool = p
}

// reuse returns a kept instance of the contract of leaf, set to its state
// at the pre-root, or nil when none fits (not kept, other code, or a
// memory grown past the leaf's length, which wasm cannot shrink).
func (r *replayer) reuse(s *Session, leaf merkle.ContractLeaf) (*contract, error) {
	c := r.kept[leaf.ID]
	if c == nil {
		return nil, nil
	}
	delete(r.kept, leaf.ID)
	if c.mod.codeHash != leaf.CodeHash || c.mod.kind != leaf.Kind || c.memLen > leaf.MemoryLen {
		c.close()
		return nil, nil
	}
	c.s = s
	c.leaf, c.baseLeaf = leaf, leaf
	c.mt = r.memTree(c)
	c.pages, c.hashes, c.pending = map[uint64][]byte{}, map[uint64]merkle.Hash{}, map[uint64]struct{}{}
	c.owner, c.code, c.carry = nil, nil, nil
	c.changed, c.uncommitted, c.isNew, c.reload = false, false, false, false
	c.inCall, c.reverting, c.initPending = false, false, false
	c.active, c.argUsed, c.memLen, c.data = 0, 0, 0, nil
	globals, err := c.storedGlobals()
	if err == nil {
		c.globalVals = globals
		err = c.fill(globals)
	}
	if err != nil {
		c.close()
		return nil, err
	}
	return c, nil
}

// keptCount is the number of kept instances not loaded yet (0 for nil: a
// session that does not replay).
func (r *replayer) keptCount() int {
	if r == nil {
		return 0
	}
	return len(r.kept)
}

// dropKept releases the kept instances not loaded yet, before the store
// holding them goes (Session.recycle).
func (r *replayer) dropKept() {
	if r == nil {
		return
	}
	for _, c := range r.kept {
		c.close()
	}
	r.kept = nil
}
