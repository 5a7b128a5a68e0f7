package engine

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"unsafe"

	"github.com/wasmstate/wasmstate/engine/dirty"
	"github.com/wasmstate/wasmstate/merkle"
	"github.com/wasmstate/wasmstate/witness"
)

// Witness recording (SPEC.md §17). A recording session learns what it read
// of the state from three places:
//   - every contract id it looked up (a load, an existence check, a
//     deploy's id), proven present or absent by a state multiproof;
//   - every page of a stored contract's memory it touched: the memory is
//     mapped from an image of exactly the pre-root's memory and tracked
//     with uffd-wp (whose registration turns off the kernel's fault-around),
//     so the pages populated in the mapping are exactly those read or
//     written, by wasm or by the engine (dirty.Present);
//   - the pages it wrote, from its own change set.
// It needs memory images and uffd-wp: elsewhere NewSession refuses with
// ErrWitnessUnsupported.

// ErrWitnessUnsupported: this platform cannot record or replay a witness
// (it needs Linux memory files, uffd-wp and PAGEMAP_SCAN).
var ErrWitnessUnsupported = errors.New("engine: witness recording and replay need Linux memory images and uffd-wp")

// WitnessOptions configure Session.Witness.
type WitnessOptions struct {
	// IncludeCode puts the module bytes of every contract the session
	// ran into the witness, so that a replayer needs no code source.
	IncludeCode bool
}

// recorder is a recording session's log.
type recorder struct {
	pre  merkle.Hash
	meta []witness.Meta
	ids  map[merkle.ContractID]struct{}
	// loaded: stored contracts loaded by the session, with their memory
	// length at the pre-root.
	loaded map[merkle.ContractID]uint64
	// pages: pages of loaded contracts touched or written so far.
	pages map[merkle.ContractID]map[uint64]struct{}
	ops   []witness.Op
	err   error // a fault that makes the witness unusable
	buf   []uint64
}

func newRecorder(pre merkle.Hash, meta map[string][]byte) *recorder {
	r := &recorder{pre: pre, ids: map[merkle.ContractID]struct{}{}, loaded: map[merkle.ContractID]uint64{},
		pages: map[merkle.ContractID]map[uint64]struct{}{}}
	for _, k := range slices.Sorted(maps.Keys(meta)) {
		r.meta = append(r.meta, witness.Meta{Key: k, Value: slices.Clone(meta[k])})
	}
	return r
}

// witnessSupport reports whether this engine can record or replay.
func (e *Engine) witnessSupport() error {
	if e.images == nil {
		return fmt.Errorf("%w: memory images are off", ErrWitnessUnsupported)
	}
	if !slices.Contains(dirty.Available(), dirty.UffdWP) {
		return fmt.Errorf("%w: %w", ErrWitnessUnsupported, dirty.UnavailableReason(dirty.UffdWP))
	}
	return nil
}

// witnessMode: the session records or replays, so its contracts load from
// exact images and are tracked with uffd-wp whatever their size.
func (s *Session) witnessMode() bool { return s.rec != nil || s.replay != nil }

// noteID records a contract id the session looked up.
func (s *Session) noteID(id merkle.ContractID) {
	if s.rec != nil {
		s.rec.ids[id] = struct{}{}
	}
}

// noteLoad records a stored contract loaded at the pre-root's leaf.
func (s *Session) noteLoad(c *contract) {
	if s.rec != nil && !c.isNew {
		if _, ok := s.rec.loaded[c.id]; !ok {
			s.rec.loaded[c.id] = c.baseLeaf.MemoryLen
		}
	}
}

// touchedPages appends the pages of c's memory below length that are
// populated: touched since the memory was mapped.
func (c *contract) touchedPages(dst []uint64, length uint64) ([]uint64, error) {
	mem := c.memory()
	n := min(uint64(len(mem)), length) &^ (merkle.PageSize - 1)
	if n == 0 {
		return dst, nil
	}
	return dirty.Present(dst, unsafe.Pointer(unsafe.SliceData(mem)), n)
}

// harvest adds the pages c touched since it was mapped to the record:
// before the mapping goes (a reload) and when the witness is taken. In a
// replay it checks them against the witness before the mapping goes.
func (s *Session) harvest(c *contract) {
	if s.replay != nil && c.inst != nil {
		if err := s.replay.checkContract(c); err != nil && s.replay.err == nil {
			s.replay.err = err
		}
		return
	}
	if s.rec == nil || c.inst == nil {
		return
	}
	preLen, ok := s.rec.loaded[c.id]
	if !ok {
		return
	}
	var err error
	if s.rec.buf, err = c.touchedPages(s.rec.buf[:0], preLen); err != nil {
		s.rec.err = fmt.Errorf("%w: pages touched by %s: %w", ErrInternal, c.id, err)
		return
	}
	set := s.rec.pageSet(c.id)
	for _, p := range s.rec.buf {
		set[p] = struct{}{}
	}
}

func (r *recorder) pageSet(id merkle.ContractID) map[uint64]struct{} {
	set := r.pages[id]
	if set == nil {
		set = map[uint64]struct{}{}
		r.pages[id] = set
	}
	return set
}

// noteWritten adds the pages c changed since the last commit: before a
// commit forgets them and when the witness is taken.
func (s *Session) noteWritten(c *contract) {
	if s.rec == nil {
		return
	}
	if _, ok := s.rec.loaded[c.id]; !ok {
		return
	}
	set := s.rec.pageSet(c.id)
	for p := range c.pages {
		set[p] = struct{}{}
	}
}

// recordCall logs a top-level call and its result. Interrupted calls (and,
// in recordedCall, calls whose feed callback failed) leave the session as
// it was and are not part of the block: they are left out.
func (s *Session) recordCall(id merkle.ContractID, fn string, arg []byte, gas uint64, feed bool, fed *witness.Digest, r *Receipt, err error) {
	if s.rec == nil || errors.Is(err, ErrInterrupted) {
		return
	}
	op := witness.Op{Kind: witness.OpCall, Contract: id, Function: fn, Arg: slices.Clone(arg), GasLimit: gas, Feed: feed}
	s.rec.ops = append(s.rec.ops, op)
	s.rec.result(&s.rec.ops[len(s.rec.ops)-1], fed, r, err)
}

// result fills op's result from a receipt or an error; fed holds the
// chunks the call fed, if any (the digest takes them first, then events).
// It releases fed.
func (r *recorder) result(op *witness.Op, fed *witness.Digest, rc *Receipt, err error) {
	if fed == nil {
		fed = witness.NewDigest()
	}
	defer fed.Release()
	var ce *CallError
	switch {
	case err == nil:
		op.Status = witness.StatusOK
		if rc != nil {
			op.GasSpent, op.Output = rc.GasSpent, slices.Clone(rc.Data)
			addEvents(fed, rc.Events)
		}
		op.Digest = fed.Sum()
	case errors.As(err, &ce):
		addEvents(fed, ce.Events)
		op.Status, op.GasSpent, op.Digest = witness.StatusFailed, ce.GasSpent, fed.Sum()
	case errors.Is(err, ErrInternal):
		r.err = err
	default:
		op.Status, op.Digest = witness.StatusRejected, witness.EmptyDigest()
	}
}

func addEvents(d *witness.Digest, events []Event) {
	for _, e := range events {
		d.Event(e.Source, e.Topic, e.Data, e.Reverted)
	}
}

// recordDeploy logs a deploy and its result.
func (s *Session) recordDeploy(code []byte, opts DeployOptions, id merkle.ContractID, err error) {
	if s.rec == nil || errors.Is(err, ErrInterrupted) {
		return
	}
	op := witness.Op{Kind: witness.OpDeploy, CodeHash: merkle.HashCode(code), Owner: slices.Clone(opts.Owner),
		Arg: slices.Clone(opts.InitArg), Nonce: opts.Nonce, GasLimit: opts.GasLimit, ExplicitID: opts.ID != nil, Contract: id}
	if op.Owner == nil {
		op.Owner = []byte{}
	}
	s.rec.ops = append(s.rec.ops, op)
	s.rec.result(&s.rec.ops[len(s.rec.ops)-1], nil, nil, err)
}

// recordCommit logs a commit: ephemeral data is cleared there.
func (s *Session) recordCommit() {
	if s.rec != nil {
		s.rec.ops = append(s.rec.ops, witness.Op{Kind: witness.OpCommit})
	}
}

// recordMetadata logs a metadata change.
func (s *Session) recordMetadata(key string, value []byte) {
	if s.rec != nil {
		s.rec.ops = append(s.rec.ops, witness.Op{Kind: witness.OpMetadata, Key: key, Value: slices.Clone(value)})
	}
}

// Witness returns the witness of everything the session did since it
// opened: the pre-root it opened at, what it read of it, the operations it
// ran with their results, and the root it would commit now (its post-root,
// committed or not). The session must have been opened with
// SessionOptions.RecordWitness. It can be taken at any time, again later,
// and before or after Commit.
func (s *Session) Witness(ctx context.Context, o WitnessOptions) (*witness.Witness, error) {
	if err := s.usable(); err != nil {
		return nil, err
	}
	if err := ctxErr(ctx); err != nil {
		return nil, err
	}
	if s.rec == nil {
		return nil, badInput("the session does not record a witness (SessionOptions.RecordWitness)")
	}
	for _, c := range s.contracts {
		s.harvest(c)
		s.noteWritten(c)
	}
	if s.rec.err != nil {
		return nil, s.rec.err
	}
	post, err := s.Root()
	if err != nil {
		return nil, err
	}
	w := &witness.Witness{PreRoot: s.rec.pre, PostRoot: post, Metadata: slices.Clone(s.rec.meta),
		Contracts: map[merkle.ContractID]*witness.Contract{}, Ops: slices.Clone(s.rec.ops)}
	pre := merkle.NewStateTree(s.rec.pre, s.e.store)
	st, err := merkle.ProveStates(pre, slices.Collect(maps.Keys(s.rec.ids)))
	if err != nil {
		return nil, fmt.Errorf("engine: witness: state proof: %w", err)
	}
	w.State = *st
	codes := map[merkle.Hash]struct{}{}
	for id, preLen := range s.rec.loaded {
		leaf, ok, err := pre.Get(id)
		if err != nil || !ok {
			return nil, fmt.Errorf("%w: witness: contract %s loaded but not at the pre-root (%v)", ErrInternal, id, err)
		}
		c := &witness.Contract{}
		if c.Globals, err = s.e.store.Globals(leaf.GlobalsHash); err != nil {
			return nil, fmt.Errorf("engine: witness: globals of %s: %w", id, err)
		}
		if c.Owner, err = s.e.store.Owner(leaf.OwnerHash); err != nil {
			return nil, fmt.Errorf("engine: witness: owner of %s: %w", id, err)
		}
		idx := slices.Sorted(maps.Keys(s.rec.pages[id]))
		if len(idx) == 0 {
			// Loaded but never touched (its function did not exist): a
			// memory part proves at least one page.
			idx = []uint64{0}
		}
		// A page written past the pre-root's length hangs off the tree
		// nodes that cover the end of the old memory: the last old page's
		// path holds them.
		if n := len(idx); n > 0 && preLen > 0 && idx[n-1]*merkle.PageSize >= preLen {
			last := preLen/merkle.PageSize - 1
			if _, ok := s.rec.pages[id][last]; !ok {
				idx = append(idx, last)
				slices.Sort(idx)
			}
		}
		mp, err := merkle.ProveMemoryPages(merkle.NewMemTree(leaf.MemoryRoot, s.e.store), s.e.store.Page, idx)
		if err != nil {
			return nil, fmt.Errorf("engine: witness: pages of %s: %w", id, err)
		}
		c.Memory = *mp
		w.Contracts[id] = c
		codes[leaf.CodeHash] = struct{}{}
	}
	if o.IncludeCode {
		for i := range w.Ops {
			if w.Ops[i].Kind == witness.OpDeploy && w.Ops[i].Status != witness.StatusRejected {
				codes[w.Ops[i].CodeHash] = struct{}{}
			}
		}
		w.Code = map[merkle.Hash][]byte{}
		for h := range codes {
			code, err := s.codeBytes(h)
			if err != nil {
				return nil, fmt.Errorf("engine: witness: code %s: %w", h, err)
			}
			w.Code[h] = code
		}
	}
	return w, nil
}

// codeBytes returns module bytes by hash: from the store, or from a
// contract deployed in the session and not yet committed.
func (s *Session) codeBytes(h merkle.Hash) ([]byte, error) {
	for _, c := range s.contracts {
		if c.code != nil && c.leaf.CodeHash == h {
			return slices.Clone(c.code), nil
		}
	}
	return s.e.store.Code(h)
}

// recordedCall is CallFeed in a recording session: the fed chunks go to
// the result digest as they stream.
func (s *Session) recordedCall(ctx context.Context, id merkle.ContractID, fn string, arg []byte, gas uint64, feed func([]byte) error) (*Receipt, error) {
	var fed *witness.Digest
	var feedErr error
	wrapped := feed
	if feed != nil {
		fed = witness.NewDigest()
		wrapped = func(chunk []byte) error {
			if err := feed(chunk); err != nil {
				feedErr = err
				return err
			}
			fed.Fed(chunk)
			return nil
		}
	}
	r, err := s.callFeed(ctx, id, fn, arg, gas, wrapped)
	if feedErr == nil {
		s.recordCall(id, fn, arg, gas, feed != nil, fed, r, err)
	}
	return r, err
}
