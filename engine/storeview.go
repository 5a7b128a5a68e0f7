package engine

import (
	"context"
	"fmt"

	"github.com/wasmstate/wasmstate/merkle"
	"github.com/wasmstate/wasmstate/pagestore"
)

// StoreReader is what an engine lets tools reach of its store: verified
// reads of objects by hash, commit records and the head, and an integrity
// check. Nothing in it writes: state changes go through sessions, and the
// writes tools need (SetHead, GC, DeleteCommit) through the engine, which
// keeps the roots of open sessions alive. A *pagestore.Store satisfies it.
type StoreReader interface {
	merkle.Source
	// Page, Code, Owner and Globals return the object with hash h.
	Page(h merkle.Hash) ([]byte, error)
	Code(h merkle.Hash) ([]byte, error)
	Owner(h merkle.Hash) ([]byte, error)
	Globals(h merkle.Hash) ([]byte, error)
	// Has reports whether an object of kind k is stored under h.
	Has(k pagestore.Kind, h merkle.Hash) (bool, error)
	// HasRoot reports whether root has a commit record (or is empty).
	HasRoot(root merkle.Hash) (bool, error)
	// CommitRecord returns root's commit record.
	CommitRecord(root merkle.Hash) (pagestore.CommitRecord, error)
	// Head returns the head root, and whether one was ever set.
	Head() (merkle.Hash, bool, error)
	// Fsck checks every reachable object, reporting each problem.
	Fsck(ctx context.Context, progress func(done, total int)) ([]pagestore.Problem, error)
}

var _ StoreReader = (*pagestore.Store)(nil)

// Store returns the engine's store, for reading (see StoreReader).
func (e *Engine) Store() StoreReader { return e.store }

// SetHead moves the head to root, which must be the empty state or a
// retained commit.
func (e *Engine) SetHead(root merkle.Hash) error {
	if err := e.knownRoot(root); err != nil {
		return err
	}
	if err := e.store.SetHead(root); err != nil {
		return fmt.Errorf("engine: set head %s: %w", root, err)
	}
	return nil
}

// GCWithOptions is GC with pagestore's options (progress, blob reclaim);
// the roots of open sessions are kept in addition to o.Pinned.
func (e *Engine) GCWithOptions(ctx context.Context, o pagestore.GCOptions) (pagestore.GCStats, error) {
	e.gcMu.Lock()
	defer e.gcMu.Unlock()
	pinned, err := e.livePins()
	if err != nil {
		return pagestore.GCStats{}, fmt.Errorf("engine: gc: %w", err)
	}
	o.Pinned = append(o.Pinned, pinned...)
	return e.store.GCWithOptions(ctx, o)
}
