package statesync

import (
	"fmt"
	"sync"

	"github.com/wasmstate/wasmstate/pagestore"
)

// writer stores batches of checked objects in the background, in order
// and synced (pagestore.Loader.Write), while the syncing goroutine stages
// the next batch in another Loader: the sync does not wait for the disk.
type writer struct {
	st   *pagestore.Store
	in   chan *pagestore.Loader
	free chan *pagestore.Loader
	wg   sync.WaitGroup
	mu   sync.Mutex
	err  error
	once sync.Once
}

func newWriter(st *pagestore.Store) *writer {
	w := &writer{st: st, in: make(chan *pagestore.Loader, 1), free: make(chan *pagestore.Loader, 2)}
	for range 2 {
		w.free <- st.NewLoader(batchBytes + batchBytes/8)
	}
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		for l := range w.in {
			// One failed write stops the rest: children go first.
			if w.failed() == nil {
				if err := l.Write(); err != nil {
					w.mu.Lock()
					w.err = fmt.Errorf("statesync: store: %w", err)
					w.mu.Unlock()
				}
			}
			if l.Len() > 0 {
				l = st.NewLoader(batchBytes + batchBytes/8)
			}
			w.free <- l
		}
	}()
	return w
}

// loader returns an empty Loader to stage into; it waits while both are
// being written.
func (w *writer) loader() *pagestore.Loader { return <-w.free }

// write queues l for writing.
func (w *writer) write(l *pagestore.Loader) { w.in <- l }

// failed returns the error of a failed write, if any.
func (w *writer) failed() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// close waits for the queued writes and returns the first error.
func (w *writer) close() error {
	w.once.Do(func() { close(w.in) })
	w.wg.Wait()
	return w.failed()
}
