package engine

import "fmt"

// A reverted memory growth re-instantiates the contract, since wasm cannot
// shrink a memory, and a failed deploy leaves its instance behind. Such a
// dead instance stays in the session's wasmtime store, holding its memory
// and address-space reservation (about 4 GiB for a wasm32 memory), until
// the store goes; a contract that makes its callees grow and fail could
// otherwise pile up thousands of them, break the session at wasmtime's
// instance limit (10,000 per store) and exhaust the process's address
// space. So a session moves its contracts into a fresh store once it holds
// recycleDead dead instances (between top-level calls), and one top-level
// call reloads at most maxReloads times; a frame that needs another reload
// fails with ErrMemoryLimit.
const (
	recycleDead = 64
	maxReloads  = 64
)

// recycle moves every loaded contract into a fresh wasmtime store and
// drops the old store with its dead instances, if there are enough of
// them. It runs between top-level calls only.
func (s *Session) recycle() error {
	if s.wstore == nil || len(s.frames) > 0 || s.instances-len(s.contracts)-s.replay.keptCount() < recycleDead {
		return nil
	}
	// A replay's kept instances (replaypool.go) live in the old store:
	// they go with it, and their contracts load anew.
	s.replay.dropKept()
	ids := s.changedIDs(func(*contract) bool { return true })
	for _, id := range ids {
		c := s.contracts[id]
		c.carry = c.readGlobals(make([]uint64, 0, len(c.globals)))
	}
	old := s.wstore
	s.wstore, s.instances = nil, 0
	for i, id := range ids {
		if err := s.contracts[id].materialize(); err != nil {
			for _, rest := range ids[i:] {
				s.contracts[rest].close() // before their memories go
			}
			old.Close()
			return s.fail(fmt.Errorf("%w: move %s to a new store: %w", ErrInternal, id, err))
		}
	}
	old.Close()
	return nil
}

// reloadContract re-instantiates c at its session length after a revert
// shrank its memory, at most maxReloads times per top-level call.
func (s *Session) reloadContract(c *contract) error {
	if s.reloads >= maxReloads {
		return fmt.Errorf("%w: %s needs a reload, and this call made %d already", ErrMemoryLimit, short(c.id), maxReloads)
	}
	s.reloads++
	return c.materialize()
}
