package engine

import (
	"fmt"

	"github.com/wasmstate/wasmstate/pagestore"
)

// OpenStore returns an engine over a store the caller opened, for the
// pagestore options Open does not expose (a read-only open, waiting for
// another process's lock, refusing to create). The engine owns st from
// then on: Close closes it, also when OpenStore fails. opts.CacheBytes is
// ignored (the store is already open).
func OpenStore(st *pagestore.Store, opts Options) (*Engine, error) {
	if st == nil {
		return nil, badInput("OpenStore: nil store")
	}
	e, err := newEngine(st, opts)
	if err != nil {
		st.Close()
		return nil, fmt.Errorf("engine: open: %w", err)
	}
	return e, nil
}
