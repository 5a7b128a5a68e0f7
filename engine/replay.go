package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/wasmstate/wasmstate/merkle"
	"github.com/wasmstate/wasmstate/pagestore"
	"github.com/wasmstate/wasmstate/witness"
)

// Stateless replay (SPEC.md §17.5): a witness is checked against the
// pre-root, its objects become a store held in memory that holds nothing
// else (pagestore.Partial), and the recorded operations run there on a
// fresh engine. Each contract's memory is an image of exactly its witness
// pages; after every operation the pages each memory has populated are
// compared with the witness's, so a read of a page the witness lacks is
// caught even though the image served it as zeros. A lookup of a contract,
// node or code the witness lacks fails in the store. Both are
// witness.ErrIncomplete; a different result is witness.ErrMismatch.

// CodeSource returns module bytes by code hash (witness.ErrIncomplete, or
// any error, when it has none).
type CodeSource func(codeHash merkle.Hash) ([]byte, error)

// MapCode is a CodeSource over a map from code hash to module bytes.
func MapCode(m map[merkle.Hash][]byte) CodeSource {
	return func(h merkle.Hash) ([]byte, error) {
		if b, ok := m[h]; ok {
			return b, nil
		}
		return nil, fmt.Errorf("%w: no code %s", witness.ErrIncomplete, h)
	}
}

// ReplayOptions configure Replay.
type ReplayOptions struct {
	// Options are the engine options of the chain that produced the
	// witness (gas, limits, call depth); the zero value is the defaults.
	// Store, cache and warm-set settings do not matter.
	Options Options
	// Code provides the code a witness does not carry (nil: none).
	Code CodeSource
}

// ReplayResult is what a successful replay computed.
type ReplayResult struct {
	// PostRoot is the recomputed post-root (equal to the witness's).
	PostRoot merkle.Hash
	// Ops, Pages and Contracts count the operations run, the pages the
	// witness proved, and the stored contracts it loaded.
	Ops, Pages, Contracts int
	// GasSpent is the gas of every call and deploy, summed.
	GasSpent uint64
	// OpsDigest commits to the operations that were run (witness.OpsDigest):
	// the replay proves that these operations lead from pre to post, so
	// compare it with what the block commits to.
	OpsDigest merkle.Hash
	// Timings is where the replay's wall time went.
	Timings ReplayTimings
}

// ReplayTimings splits a replay's wall time into its phases. Setup and
// TouchCheck happen between and inside the operations and are not part
// of Calls.
type ReplayTimings struct {
	// Check: the witness checked against the pre-root (its pages and
	// nodes hashed, SPEC.md §17.4).
	Check time.Duration
	// Store: the partial store built from the checked witness.
	Store time.Duration
	// Setup: the contracts loaded (instance, memory filled from the
	// witness, tracker), summed over the contracts.
	Setup time.Duration
	// Calls: the operations run, without Setup and TouchCheck.
	Calls time.Duration
	// TouchCheck: the checks that no memory populated a page the witness
	// lacks.
	TouchCheck time.Duration
	// PostRoot: the post-root computed.
	PostRoot time.Duration
}

// replayer serves a replay session's memories from the witness.
type replayer struct {
	// pages: per stored contract, its witness pages (nil data: zero).
	pages map[merkle.ContractID]map[uint64][]byte
	// preLen: per stored contract, its memory length at the pre-root.
	preLen map[merkle.ContractID]uint64
	// proofs: per stored contract, its checked memory proof.
	proofs map[merkle.ContractID]*merkle.MemoryMultiProof
	buf    []uint64
	// err is the first incomplete read found in a mapping that went
	// (a reload) before its operation ended.
	err error
	// kept: instances kept from the Replayer's last replay (replaypool.go).
	kept map[merkle.ContractID]*contract
	// setup sums the time spent loading contracts (ReplayTimings.Setup).
	setup time.Duration
}

// timeSetup adds the time since t0 to the setup time (deferred by load).
func (r *replayer) timeSetup(t0 time.Time) { r.setup += time.Since(t0) }

// Replayer re-executes witnesses. It keeps compiled modules from one
// replay to the next, so a verifier checking block after block compiles
// each contract once. It is safe for concurrent use; replays run one at a
// time.
type Replayer struct {
	mu   sync.Mutex
	e    *Engine
	base *pagestore.Store // the engine's own (empty) store between replays
	code CodeSource
	pool *replayPool // instances kept from the last replay (replaypool.go)
}

// NewReplayer returns a Replayer. It needs Linux memory images and uffd-wp
// (ErrWitnessUnsupported).
func NewReplayer(o ReplayOptions) (*Replayer, error) {
	eo := o.Options
	eo.WarmSets = -1 // a replay's instances are never reused
	e, err := OpenInMemory(eo)
	if err != nil {
		return nil, err
	}
	if err := e.witnessSupport(); err != nil {
		e.Close()
		return nil, err
	}
	return &Replayer{e: e, base: e.store, code: o.Code}, nil
}

// Close releases the replayer.
func (rp *Replayer) Close() error {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	if rp.pool != nil {
		rp.pool.drop()
		rp.pool = nil
	}
	return rp.e.Close()
}

// Replay is NewReplayer, one Replayer.Replay and Close.
func Replay(ctx context.Context, w *witness.Witness, pre, post merkle.Hash, o ReplayOptions) (*ReplayResult, error) {
	rp, err := NewReplayer(o)
	if err != nil {
		return nil, err
	}
	defer rp.Close()
	return rp.Replay(ctx, w, pre, post)
}

// Replay re-executes w with no store but the witness, and accepts it only
// if w is a witness from pre to post: it proves its reads against pre,
// every operation returns what w says, and the state it leaves has root
// post. Verdicts are errors matching witness.ErrInvalid (w does not hold
// against pre, or is not the witness of pre → post), witness.ErrIncomplete
// (the execution needed something w lacks) or witness.ErrMismatch (a
// different result or post-root); ErrInterrupted when ctx ends first.
func (rp *Replayer) Replay(ctx context.Context, w *witness.Witness, pre, post merkle.Hash) (*ReplayResult, error) {
	if err := ctxErr(ctx); err != nil {
		return nil, err
	}
	if w.PreRoot != pre {
		return nil, fmt.Errorf("%w: the witness starts at %s, not %s", witness.ErrInvalid, w.PreRoot, pre)
	}
	if w.PostRoot != post {
		return nil, fmt.Errorf("%w: the witness claims post-root %s, not %s", witness.ErrInvalid, w.PostRoot, post)
	}
	var tm ReplayTimings
	t0 := time.Now()
	ck, err := w.Check()
	if err != nil {
		return nil, err
	}
	t1 := time.Now()
	tm.Check = t1.Sub(t0)
	// Objects: per contract its globals and owner, its pages, the state
	// paths' nodes and the code; no memory node (replayObjects).
	b := pagestore.NewPartial(2*len(w.Contracts) + w.PageCount() + len(w.State.Nodes) + len(w.Code) + 8)
	w.Expand(replayObjects{b})
	if err := addCode(b, w, ck, rp.code); err != nil {
		return nil, err
	}
	if pre != merkle.EmptyState() {
		b.SetCommit(pre)
	}
	st, err := b.Open(&pagestore.Options{})
	if err != nil {
		return nil, fmt.Errorf("%w: replay store: %w", ErrInternal, err)
	}
	tm.Store = time.Since(t1)
	rp.mu.Lock()
	defer rp.mu.Unlock()
	e := rp.e
	e.store = st
	defer func() {
		e.store = rp.base
		st.Close()
	}()
	r := &replayer{pages: map[merkle.ContractID]map[uint64][]byte{}, preLen: map[merkle.ContractID]uint64{},
		proofs: map[merkle.ContractID]*merkle.MemoryMultiProof{}}
	for id, c := range w.Contracts {
		r.proofs[id] = &c.Memory
		m := make(map[uint64][]byte, len(c.Memory.Pages))
		for i, p := range c.Memory.Pages {
			m[p] = c.Memory.Data[i]
		}
		r.pages[id] = m
		r.preLen[id] = ck.Leaves[id].MemoryLen
	}
	meta := map[string][]byte{}
	for _, m := range w.Metadata {
		meta[m.Key] = m.Value
	}
	s, err := e.NewSession(pre, SessionOptions{Metadata: meta})
	if err != nil {
		return nil, replayErr(-1, err)
	}
	s.replay = r
	rp.adoptPool(s)
	accepted := false
	defer func() {
		rp.keepPool(s, accepted)
		s.Close()
	}()
	res := &ReplayResult{Ops: len(w.Ops), Pages: w.PageCount(), Contracts: len(w.Contracts), OpsDigest: witness.OpsDigest(w.Ops)}
	t2 := time.Now()
	for i := range w.Ops {
		op := &w.Ops[i]
		got, err := s.replayOp(ctx, op)
		if errors.Is(err, ErrInterrupted) {
			return nil, err
		}
		tc := time.Now()
		terr := r.checkTouched(s)
		tm.TouchCheck += time.Since(tc)
		if terr != nil {
			return nil, fmt.Errorf("op %d (%s): %w", i, op.Kind, terr)
		}
		if err != nil {
			return nil, replayErr(i, err)
		}
		if err := compareResult(op, got); err != nil {
			return nil, fmt.Errorf("op %d (%s): %w", i, op.Kind, err)
		}
		res.GasSpent += got.GasSpent
	}
	t3 := time.Now()
	tm.Setup = r.setup
	tm.Calls = t3.Sub(t2) - tm.Setup - tm.TouchCheck
	root, err := s.Root()
	if err != nil {
		return nil, replayErr(len(w.Ops), err)
	}
	tm.PostRoot = time.Since(t3)
	res.Timings = tm
	if root != post {
		return nil, fmt.Errorf("%w: the operations lead to %s, the witness claims %s", witness.ErrMismatch, root, post)
	}
	res.PostRoot = root
	accepted = true
	return res, nil
}

// replayObjects stages a checked witness's objects in a partial store,
// but for its memory-tree nodes: a loaded contract's memory tree is built
// from its checked proof (replayer.memTree) and holds every node the
// proof holds, so the store would only be asked for nodes the witness
// lacks, which fail there as here (merkle.ErrMissingNode). Staging them
// was a third of the store's cost.
type replayObjects struct{ *pagestore.Partial }

func (replayObjects) PutMemoryNode(h, left, right merkle.Hash) {}

// replayErr classifies an engine error met while replaying: a missing
// object means the witness lacks what the execution needed.
func replayErr(op int, err error) error {
	if errors.Is(err, merkle.ErrMissingNode) || errors.Is(err, pagestore.ErrNotFound) {
		return fmt.Errorf("%w: op %d: %w", witness.ErrIncomplete, op, err)
	}
	return err
}

// replayOp runs one recorded operation and returns its result; an error
// is returned only when the operation could not be judged (interrupted,
// a missing object, an internal fault).
func (s *Session) replayOp(ctx context.Context, op *witness.Op) (witness.Op, error) {
	got := witness.Op{Kind: op.Kind}
	switch op.Kind {
	case witness.OpCommit:
		clear(s.eph)
		s.ephBytes = 0
		return got, nil
	case witness.OpMetadata:
		v := op.Value
		if len(v) == 0 {
			v = nil
		}
		return got, s.SetMetadata(op.Key, v)
	case witness.OpCall:
		var fed *witness.Digest
		var feed func([]byte) error
		if op.Feed {
			fed = witness.NewDigest()
			feed = func(chunk []byte) error { fed.Fed(chunk); return nil }
		}
		rc, err := s.callFeed(ctx, op.Contract, op.Function, op.Arg, op.GasLimit, feed)
		return got, judge(&got, fed, rc, err)
	case witness.OpDeploy:
		code, err := s.e.store.Code(op.CodeHash)
		if err != nil {
			return got, err
		}
		do := DeployOptions{Owner: op.Owner, InitArg: op.Arg, GasLimit: op.GasLimit, Nonce: op.Nonce}
		if op.ExplicitID {
			id := op.Contract
			do.ID = &id
		}
		id, err := s.deploy(ctx, code, do)
		got.Contract = id
		return got, judge(&got, nil, nil, err)
	}
	return got, fmt.Errorf("%w: operation kind %d", witness.ErrMalformed, op.Kind)
}

// judge fills got's result the way the recorder does; it returns the
// errors that are no result (interrupted, missing objects, internal).
func judge(got *witness.Op, fed *witness.Digest, rc *Receipt, err error) error {
	if errors.Is(err, ErrInterrupted) || errors.Is(err, merkle.ErrMissingNode) || errors.Is(err, pagestore.ErrNotFound) {
		return err
	}
	var r recorder
	r.result(got, fed, rc, err)
	return r.err
}

// compareResult checks a replayed result against the recorded one.
func compareResult(want *witness.Op, got witness.Op) error {
	if want.Kind == witness.OpMetadata || want.Kind == witness.OpCommit {
		return nil
	}
	switch {
	case got.Status != want.Status:
		return fmt.Errorf("%w: status %s, the witness says %s", witness.ErrMismatch, got.Status, want.Status)
	case got.GasSpent != want.GasSpent:
		return fmt.Errorf("%w: %d gas spent, the witness says %d", witness.ErrMismatch, got.GasSpent, want.GasSpent)
	case !bytes.Equal(got.Output, want.Output):
		return fmt.Errorf("%w: output differs (%d bytes, the witness has %d)", witness.ErrMismatch, len(got.Output), len(want.Output))
	case got.Digest != want.Digest:
		return fmt.Errorf("%w: events or fed output differ", witness.ErrMismatch)
	case want.Kind == witness.OpDeploy && got.Contract != want.Contract:
		return fmt.Errorf("%w: deployed %s, the witness says %s", witness.ErrMismatch, got.Contract, want.Contract)
	}
	return nil
}

// memTree returns the memory tree of c, a stored contract loaded at the
// pre-root: with its witness pages' paths in memory already, built from
// the checked proof, so that the replay's reads and writes of them load
// no node.
func (r *replayer) memTree(c *contract) *merkle.MemTree {
	if p := r.proofs[c.id]; p != nil {
		return p.Tree(c.baseLeaf.MemoryRoot, c.s.e.store)
	}
	return merkle.NewMemTree(c.baseLeaf.MemoryRoot, c.s.e.store)
}

// checkTouched fails when a memory the last operation ran in has
// populated a page the witness does not hold: the execution read it (as
// zeros). Contracts that ran no frame touched no page.
func (r *replayer) checkTouched(s *Session) error {
	if err := r.err; err != nil {
		r.err = nil
		return err
	}
	for _, c := range s.touched {
		if err := r.checkContract(c); err != nil {
			return err
		}
	}
	return nil
}

// checkContract checks the pages c's current mapping populated.
func (r *replayer) checkContract(c *contract) error {
	preLen, ok := r.preLen[c.id]
	if !ok || c.isNew || c.inst == nil {
		return nil
	}
	// A present-tracked memory was scanned as its last frame ended.
	var err error
	var scanned bool
	if t, isPresent := c.tracker.(*presentTracker); isPresent {
		n := min(uint64(len(c.memory())), preLen) &^ (merkle.PageSize - 1)
		r.buf, scanned = t.populated(r.buf[:0], n)
	}
	if !scanned {
		if r.buf, err = c.touchedPages(r.buf[:0], preLen); err != nil {
			return fmt.Errorf("%w: pages touched by %s: %w", ErrInternal, c.id, err)
		}
	}
	pages := r.pages[c.id]
	for _, p := range r.buf {
		if _, ok := pages[p]; !ok {
			return fmt.Errorf("%w: contract %s read page %d, which the witness does not hold", witness.ErrIncomplete, c.id, p)
		}
	}
	return nil
}

// loadMemory puts c's witness pages into mem, an instance's memory
// (length bytes at the pre-root): over pages none of which is populated
// but witness pages (resetMemory), so that afterwards the populated pages
// are witness pages and those the execution touched. Copying costs less
// than an image here: the pages are few and about to be touched.
func (r *replayer) loadMemory(c *contract, length uint64, mem []byte) error {
	pages, ok := r.pages[c.id]
	if !ok {
		return fmt.Errorf("%w: contract %s was loaded, but the witness holds none of its memory", witness.ErrIncomplete, c.id)
	}
	n := min(uint64(len(mem)), length)
	var err error
	if r.buf, err = resetMemory(c, mem[:n], pages, r.buf); err != nil {
		return fmt.Errorf("%w: replay memory: %w", ErrWitnessUnsupported, err)
	}
	populateRuns(mem[:n], pages)
	for p, data := range pages {
		if data != nil && (p+1)*merkle.PageSize <= n {
			copy(mem[p*merkle.PageSize:], data)
		}
	}
	return nil
}

// populateRun is the shortest run of pages populateRuns populates ahead:
// a madvise call costs about as much as a few page faults.
const populateRun = 4

// populateRuns populates, one run of consecutive pages at a time, the
// non-zero witness pages about to be copied into mem: the kernel fills a
// run in one call instead of taking a fault per page.
func populateRuns(mem []byte, pages map[uint64][]byte) {
	idx := make([]uint64, 0, len(pages))
	for p, data := range pages {
		if data != nil && (p+1)*merkle.PageSize <= uint64(len(mem)) {
			idx = append(idx, p)
		}
	}
	slices.Sort(idx)
	for i := 0; i < len(idx); {
		j := i + 1
		for j < len(idx) && idx[j] == idx[j-1]+1 {
			j++
		}
		if j-i >= populateRun {
			populate(mem[idx[i]*merkle.PageSize : (idx[j-1]+1)*merkle.PageSize])
		}
		i = j
	}
}

// loadMemory fills the memory of a fresh instance of c with its state at
// the session's base: from the witness in a replay, from an image of
// exactly that root when recording, else as the engine prefers.
func (s *Session) loadMemory(c *contract, mem []byte) (mapped bool, err error) {
	root, length := c.baseMemoryRoot(), c.baseLeaf.MemoryLen
	switch {
	case s.replay != nil && !c.isNew:
		// "Mapped": the tracker must not write-protect the whole memory
		// (on anonymous memory that populates every page, and the check
		// of touched pages would fail); the pages copied in count as
		// written once, with the same hash.
		return true, s.replay.loadMemory(c, length, mem)
	case s.rec != nil && root != merkle.EmptyMemoryRoot():
		mapped, err := s.e.loadImage(c.id, root, length, mem, c.mod.info.DataRanges, c.pages, true)
		if err == nil && mapped {
			err = noHugePages(mem[:min(uint64(len(mem)), length)])
		}
		return mapped, err
	}
	return s.e.loadMemory(c.id, root, length, mem, c.mod.info.DataRanges, c.pages)
}

// addCode stages the code of every loaded contract and deploy, from the
// witness or the code source; code found nowhere is left out (a replay
// that needs it fails as incomplete).
func addCode(b *pagestore.Partial, w *witness.Witness, ck *witness.Checked, src CodeSource) error {
	need := map[merkle.Hash]bool{}
	for id := range w.Contracts {
		need[ck.Leaves[id].CodeHash] = true
	}
	for i := range w.Ops {
		if w.Ops[i].Kind == witness.OpDeploy {
			need[w.Ops[i].CodeHash] = true
		}
	}
	for h := range need {
		code, ok := w.Code[h]
		if !ok && src != nil {
			c, err := src(h)
			if err != nil || c == nil {
				continue
			}
			if merkle.HashCode(c) != h {
				return fmt.Errorf("%w: the code source gave bytes that do not hash to %s", ErrBadInput, h)
			}
			code, ok = c, true
		}
		if ok {
			b.PutCode(h, code)
		}
	}
	return nil
}
