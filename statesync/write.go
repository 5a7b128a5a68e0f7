package statesync

import (
	"fmt"
	"sync"

	"github.com/wasmstate/wasmstate/pagestore"
)

// writer stores batches of checked objects in the background, in order,
// while the syncing goroutine goes on staging the next batch. Its writes
// are not synced: the commit that ends a sync is, and it makes them
// durable with it (a process that dies keeps what it wrote; see
// pagestore.Store.WriteObjects for a crash of the machine).
type writer struct {
	st   *pagestore.Store
	in   chan *pagestore.Batch
	wg   sync.WaitGroup
	mu   sync.Mutex
	err  error
	once sync.Once
}

func newWriter(st *pagestore.Store) *writer {
	w := &writer{st: st, in: make(chan *pagestore.Batch, 1)}
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		for b := range w.in {
			if w.failed() != nil {
				continue // one failed write stops the rest: children first
			}
			if _, err := w.st.WriteObjects(b, false); err != nil {
				w.mu.Lock()
				w.err = fmt.Errorf("statesync: store: %w", err)
				w.mu.Unlock()
			}
		}
	}()
	return w
}

// write queues b; it blocks while the previous batch is still waiting.
func (w *writer) write(b *pagestore.Batch) { w.in <- b }

// failed returns the error of a failed write, if any.
func (w *writer) failed() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// close waits for the queued batches and returns the first error.
func (w *writer) close() error {
	w.once.Do(func() { close(w.in) })
	w.wg.Wait()
	return w.failed()
}
