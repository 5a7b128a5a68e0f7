package engine

import (
	"context"
	"fmt"
	"slices"

	"github.com/bytecodealliance/wasmtime-go/v39"

	"github.com/wasmstate/wasmstate/engine/internal/wtcall"
	"github.com/wasmstate/wasmstate/merkle"
	"github.com/wasmstate/wasmstate/pagestore"
)

// Session is a fork of the state at a stored root. It deploys and calls
// contracts, and either commits (one atomic, durable write) or is closed
// (nothing written). A Session is used by one goroutine at a time.
type Session struct {
	e      *Engine
	base   merkle.Hash
	state  *merkle.StateTree
	wstore *wasmtime.Store // created at the first contract load, or taken from a warm set
	owner  *storeOwner     // wstore's data

	contracts map[merkle.ContractID]*contract
	meta      map[string][]byte
	eph       map[string][]byte
	ephBytes  int
	debug     bool
	debugLog  []DebugMessage

	// Per top-level call.
	ctx     context.Context // the running call's
	frames  []frame
	journal []undo
	events  []Event
	// eventBytes counts the topic and data bytes of events, for
	// MaxEventBytes.
	eventBytes uint64
	feed       func([]byte) error
	hostErr    error
	touched    []*contract
	// hostPanic is a Go panic a host function recovered (hostfns.Define),
	// raised again once the wasm call under it returns.
	hostPanic any
	// The direct path (directcall.go): the epoch deadline the top frame
	// sets, the fuel left while no wasm runs (fuelKnown; fuelDirty: not
	// given to the store yet), and a frame record per call depth.
	ticks     uint64
	fuelLeft  uint64
	fuelKnown bool
	fuelDirty bool
	wframes   []*wtcall.Frame
	outBuf    []byte // a nested frame's result, for its caller to copy
	topOut    []byte // where the top frame's result goes (receiptAlloc)

	pagePool [][]byte // recycled page buffers, see pageBuf
	gscratch []uint64

	instances int // instances created in wstore, live and dead (recycle.go)
	reloads   int // contract reloads in the current top-level call

	closed bool
	broken error // set after an internal error: the session refuses work

	rec    *recorder // witness recording (witness.go), nil when off
	replay *replayer // stateless replay (replay.go), nil when off
}

// SessionOptions configure a session.
type SessionOptions struct {
	// Metadata are the key-value pairs contracts read with "hd" (e.g.
	// block_height). Values must not be empty.
	Metadata map[string][]byte
	// Debug collects the contracts' debug messages (DebugMessages).
	Debug bool
	// RecordWitness makes the session record its witness (Witness): what
	// it read of the state and what its operations returned. Recording
	// loads every contract afresh (no warm set) from an image of exactly
	// the base root; it needs Linux memory images and uffd-wp
	// (ErrWitnessUnsupported otherwise).
	RecordWitness bool
}

// DebugMessage is a message a contract sent with "hdebug".
type DebugMessage struct {
	Contract merkle.ContractID
	Message  string
}

// Session limits.
const (
	MaxMetadataKey   = 256
	MaxMetadataValue = 65536
)

// NewSession forks a session from root (merkle.EmptyState() for an empty
// state). It is O(1): contracts and pages load when used.
func (e *Engine) NewSession(root merkle.Hash, o SessionOptions) (*Session, error) {
	for k, v := range o.Metadata {
		if err := checkMeta(k, v); err != nil {
			return nil, err
		}
	}
	if o.RecordWitness {
		if err := e.witnessSupport(); err != nil {
			return nil, err
		}
	}
	if err := e.pinKnown(root); err != nil {
		return nil, err
	}
	s := &Session{e: e, base: root, state: merkle.NewStateTree(root, e.store),
		contracts: map[merkle.ContractID]*contract{}, meta: map[string][]byte{}, eph: map[string][]byte{}, debug: o.Debug}
	for k, v := range o.Metadata {
		s.meta[k] = slices.Clone(v)
	}
	if o.RecordWitness {
		// The pre-root stays pinned while the session lives, whatever it
		// commits: the witness proves against it.
		if err := e.pinKnown(root); err != nil {
			e.unpin(root)
			return nil, err
		}
		s.rec = newRecorder(root, o.Metadata)
	} else if ws := e.warm.take(root); ws != nil {
		s.adopt(ws)
	}
	return s, nil
}

// pinKnown pins root if a session can be based on it, atomically with the
// check so no deletion slips in between.
func (e *Engine) pinKnown(root merkle.Hash) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return ErrClosed
	}
	if e.deleting[root] {
		return fmt.Errorf("%w: %s (being deleted)", ErrUnknownRoot, root)
	}
	if root != merkle.EmptyState() && e.pins[root] == 0 {
		ok, err := e.store.HasRoot(root)
		if err != nil {
			return fmt.Errorf("engine: open session at %s: %w", root, err)
		}
		if !ok {
			return fmt.Errorf("%w: %s", ErrUnknownRoot, root)
		}
	}
	e.pins[root]++
	return nil
}

func checkMeta(k string, v []byte) error {
	if k == "" || len(k) > MaxMetadataKey {
		return badInput("metadata key %q: want 1..%d bytes", k, MaxMetadataKey)
	}
	if len(v) == 0 {
		return badInput("metadata %q: empty value (hd returns 0 only for absent keys)", k)
	}
	if len(v) > MaxMetadataValue {
		return badInput("metadata %q: value of %d bytes exceeds %d", k, len(v), MaxMetadataValue)
	}
	return nil
}

// SetMetadata sets (or with a nil value, removes) a metadata value.
func (s *Session) SetMetadata(key string, value []byte) error {
	if err := s.usable(); err != nil {
		return err
	}
	if value == nil {
		delete(s.meta, key)
		s.recordMetadata(key, nil)
		return nil
	}
	if err := checkMeta(key, value); err != nil {
		return err
	}
	s.meta[key] = slices.Clone(value)
	s.recordMetadata(key, value)
	return nil
}

// Metadata returns a copy of the session metadata.
func (s *Session) Metadata() map[string][]byte {
	m := make(map[string][]byte, len(s.meta))
	for k, v := range s.meta {
		m[k] = slices.Clone(v) // values too: contracts read them with "hd"
	}
	return m
}

// Base returns the root the session is based on: the root it was opened
// at, or the last root it committed.
func (s *Session) Base() merkle.Hash { return s.base }

// DebugMessages returns the debug messages collected so far.
func (s *Session) DebugMessages() []DebugMessage { return slices.Clone(s.debugLog) }

func (s *Session) usable() error {
	if s.closed {
		return fmt.Errorf("engine: session: %w", ErrClosed)
	}
	s.e.mu.Lock()
	engineClosed := s.e.closed
	s.e.mu.Unlock()
	if engineClosed {
		return fmt.Errorf("engine: session of a closed engine: %w", ErrClosed)
	}
	if s.broken != nil {
		return s.broken
	}
	return nil
}

// Close drops the session: nothing it did that was not committed is kept.
// Its loaded contracts, put back to the state of its base root, stay warm
// for the next session opened at that root (Options.WarmSets).
func (s *Session) Close() {
	if s.closed {
		return
	}
	s.closed = true
	s.releasePages()
	if !s.handOff() {
		for _, c := range s.contracts {
			c.close()
		}
		if s.wstore != nil {
			s.wstore.Close()
		}
	}
	s.contracts, s.wstore, s.owner, s.state = nil, nil, nil, nil
	s.eph = nil
	s.e.unpin(s.base)
	if s.rec != nil {
		s.e.unpin(s.rec.pre)
		s.rec = nil
	}
}

// Root returns the root the session would commit now. It rehashes only the
// pages written since the previous Root.
func (s *Session) Root() (merkle.Hash, error) {
	if err := s.usable(); err != nil {
		return merkle.Hash{}, err
	}
	for _, id := range s.changedIDs(func(c *contract) bool { return c.changed }) {
		if err := s.contracts[id].updateLeaf(); err != nil {
			return merkle.Hash{}, err
		}
	}
	return s.state.Root(), nil
}

// changedIDs returns, sorted, the ids of the loaded contracts that match.
func (s *Session) changedIDs(match func(*contract) bool) []merkle.ContractID {
	var ids []merkle.ContractID
	for id, c := range s.contracts {
		if match(c) {
			ids = append(ids, id)
		}
	}
	slices.SortFunc(ids, func(a, b merkle.ContractID) int { return slices.Compare(a[:], b[:]) })
	return ids
}

// clearEphemeral drops the ephemeral data, as a commit does.
func (s *Session) clearEphemeral() {
	clear(s.eph)
	s.ephBytes = 0
	s.recordCommit()
}

// Commit writes everything the session changed in one atomic, synced batch
// and returns the new root, which becomes the session's base. Ephemeral
// data is cleared. A ctx done before the batch is written stops the commit
// with ErrInterrupted and changes nothing; once the batch is being written
// the commit completes.
func (s *Session) Commit(ctx context.Context) (merkle.Hash, error) {
	if err := s.usable(); err != nil {
		return merkle.Hash{}, err
	}
	if err := ctxErr(ctx); err != nil {
		return merkle.Hash{}, err
	}
	touched := s.changedIDs(func(c *contract) bool { return c.changed || c.uncommitted })
	for _, id := range touched {
		s.noteWritten(s.contracts[id]) // the commit forgets them
	}
	root, err := s.Root()
	if err != nil {
		return merkle.Hash{}, err
	}
	// The record names the contracts whose leaves really differ: a call
	// that changed nothing in the end (or was reverted) does not count.
	var changed []merkle.ContractID
	for _, id := range touched {
		if c := s.contracts[id]; c.isNew || c.leaf != c.baseLeaf {
			changed = append(changed, id)
		}
	}
	if root == s.base {
		// Nothing to write: the state is the base's (or both are empty).
		// Committing it keeps it: a deletion of it waiting for this
		// session to close is cancelled.
		s.e.keep(root)
		for _, id := range touched {
			s.contracts[id].committed()
		}
		s.clearEphemeral()
		return root, nil
	}
	if err := ctxErr(ctx); err != nil { // the trees are hashed, nothing written
		return merkle.Hash{}, err
	}
	b := pagestore.NewHashedBatch()
	for _, id := range touched {
		if err := s.contracts[id].stage(b); err != nil {
			return merkle.Hash{}, s.fail(fmt.Errorf("engine: commit: %w", err))
		}
	}
	s.state.Commit(b)
	b.SetCommit(pagestore.CommitRecord{Root: root, Parent: s.base, Time: s.e.opts.Now().UnixNano(), Changed: changed})
	b.SetHead(root)
	s.e.delMu.Lock()
	if err := s.e.pin(root); err != nil {
		s.e.delMu.Unlock()
		return merkle.Hash{}, err
	}
	_, err = s.e.store.Commit(b)
	if err == nil {
		// The root may exist already, with a deletion pending until its
		// sessions close: this commit acknowledges it, so it stays.
		s.e.keep(root)
	}
	s.e.delMu.Unlock()
	if err != nil {
		s.e.unpin(root)
		// The trees handed their new nodes to the lost batch and would not
		// hand them again: the session cannot commit any more.
		return merkle.Hash{}, s.fail(fmt.Errorf("engine: commit %s: %w", root, err))
	}
	for _, id := range touched {
		s.contracts[id].committed()
	}
	s.e.unpin(s.base)
	s.base = root
	s.clearEphemeral()
	return root, nil
}
