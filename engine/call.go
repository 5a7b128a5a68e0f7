package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
	"unsafe"

	"github.com/bytecodealliance/wasmtime-go/v39"

	"github.com/wasmstate/wasmstate/engine/dirty"
	"github.com/wasmstate/wasmstate/hostfns"
	"github.com/wasmstate/wasmstate/merkle"
)

// frame is one running call: a contract's export, with the marks that let
// a failure put everything it did back.
type frame struct {
	c       *contract
	fn      string
	limit   uint64
	journal int // len(journal) when the frame started
	events  int // len(events) when the frame started
	node    *CallNode
}

type undoKind uint8

const (
	undoPage    undoKind = iota // a page's content before a frame wrote it
	undoLen                     // a memory length before it grew
	undoGlobals                 // mutable globals at a frame's start
)

// undo is one entry of the session's journal; reverting a frame applies
// its entries newest first.
type undo struct {
	kind    undoKind
	c       *contract
	page    uint64
	old     []byte      // the session's copy before the frame wrote it (hadCopy)
	oldHash merkle.Hash // else: the page is the base commit's, with this hash
	hadCopy bool        // the session had a copy of the page before
	oldLen  uint64
	globals []uint64
}

var zeroPage [merkle.PageSize]byte

// Call runs fn of contract id with arg under gasLimit. On failure it
// returns a *CallError (with the gas spent) and the session is exactly as
// before the call. ctx bounds the call's wall-clock time (with
// Options.MaxCallDuration): past its deadline, or once it is cancelled,
// the call fails with ErrInterrupted.
func (s *Session) Call(ctx context.Context, id merkle.ContractID, fn string, arg []byte, gasLimit uint64) (*Receipt, error) {
	return s.CallFeed(ctx, id, fn, arg, gasLimit, nil)
}

// CallFeed is Call for functions that stream output with "feed": each fed
// chunk goes to feed, in order; an error from feed fails the call.
func (s *Session) CallFeed(ctx context.Context, id merkle.ContractID, fn string, arg []byte, gasLimit uint64, feed func([]byte) error) (*Receipt, error) {
	if s.rec == nil {
		return s.callFeed(ctx, id, fn, arg, gasLimit, feed)
	}
	return s.recordedCall(ctx, id, fn, arg, gasLimit, feed)
}

func (s *Session) callFeed(ctx context.Context, id merkle.ContractID, fn string, arg []byte, gasLimit uint64, feed func([]byte) error) (*Receipt, error) {
	if err := s.usable(); err != nil {
		return nil, err
	}
	if err := ctxErr(ctx); err != nil {
		return nil, err
	}
	if fn == "init" {
		return nil, badInput("%v", errInitCall)
	}
	if len(arg) > hostfns.ArgBufSize {
		return nil, badInput("argument of %d bytes exceeds the %d-byte buffer", len(arg), hostfns.ArgBufSize)
	}
	if gasLimit == 0 {
		return nil, badInput("gas limit 0")
	}
	if err := s.recycle(); err != nil {
		return nil, err
	}
	c, err := s.contract(id)
	if err != nil {
		return nil, err
	}
	return s.topLevel(ctx, c, fn, arg, gasLimit, feed)
}

// topLevel runs a call from the host.
func (s *Session) topLevel(ctx context.Context, c *contract, fn string, arg []byte, gasLimit uint64, feed func([]byte) error) (r *Receipt, err error) {
	st := s.wasmStore()
	// The frame sets the fuel (enter); on the direct path its crossing
	// sets the deadline too.
	if s.e.direct {
		s.ticks = s.e.deadlineTicks(ctx)
	} else {
		s.setDeadline(st, ctx)
	}
	s.ctx = ctx
	s.journal, s.events, s.frames, s.touched, s.hostErr = s.journal[:0], s.events[:0], s.frames[:0], s.touched[:0], nil
	s.reloads, s.eventBytes = 0, 0
	s.feed = feed
	defer func() {
		s.ctx, s.ticks, s.feed, s.topOut = nil, 0, nil, nil
		s.fuelKnown, s.fuelDirty = false, false
		if p := recover(); p != nil {
			// A Go panic under wasm leaves frames half-done: the session
			// cannot vouch for its state any more.
			s.broken = fmt.Errorf("%w: panic during call: %v", ErrInternal, p)
			r, err = nil, s.broken
		}
	}()
	// The receipt, the root of its call tree and a short result are one
	// allocation.
	ra := new(receiptAlloc)
	s.topOut = ra.data[:0]
	out, node, ferr := s.runFrame(c, fn, arg, gasLimit, &ra.node)
	// The frame read the fuel once already; a frame that never started
	// (no such function) spent nothing.
	var spent uint64
	if node != nil {
		spent = node.GasSpent
		if ferr != nil {
			spent = min(gasLimit, spent+failurePrice(ferr))
			node.GasSpent = spent
		}
	}
	for _, t := range s.touched {
		t.inCall = false
	}
	if ferr != nil {
		if errors.Is(ferr, ErrInternal) {
			s.broken = ferr
		}
		evs := slices.Clone(s.events)
		for i := range evs {
			evs[i].Reverted = true
		}
		return nil, &CallError{Contract: c.id, Function: fn, GasSpent: spent, GasLimit: gasLimit, Events: evs, CallTree: node, Err: ferr}
	}
	for _, t := range s.touched {
		if len(t.globals) == 0 {
			continue
		}
		// The values the contract's last frame read back, on the direct
		// path: no crossing.
		cur := t.gcache
		if !t.gvalid {
			s.gscratch = t.readGlobals(s.gscratch)
			cur = s.gscratch
		}
		if !slices.Equal(cur, t.globalVals) {
			t.globalVals, t.changed = slices.Clone(cur), true
		}
	}
	s.recycleJournal()
	ra.r = Receipt{Data: out, GasSpent: spent, GasLimit: gasLimit, Events: slices.Clone(s.events), CallTree: node}
	return &ra.r, nil
}

// receiptAlloc holds a receipt, the root of its call tree, and its data
// when it is short.
type receiptAlloc struct {
	r    Receipt
	node CallNode
	data [16]byte
}

// setDeadline sets the store's epoch deadline for a top-level call under
// ctx (two cgo crossings). When ctx has no deadline of its own, a deadline
// set on the same store for the same number of ticks less than half a tick
// ago is kept: it ends the call at most one tick (epochTick) before a
// fresh one would, within the deadline's resolution, so a burst of calls
// sets it once per tick instead of once per call. A context's deadline is
// always set afresh (an early stop would misreport it as exceeded).
func (s *Session) setDeadline(st *wasmtime.Store, ctx context.Context) {
	ticks := s.e.deadlineTicks(ctx)
	_, hasDeadline := ctx.Deadline()
	now := time.Now()
	if o := s.owner; o != nil && !hasDeadline && o.deadlineTicks == ticks && now.Sub(o.deadlineSet) < epochTick/2 {
		return
	}
	st.SetEpochDeadline(ticks)
	if o := s.owner; o != nil {
		o.deadlineTicks, o.deadlineSet = ticks, now
		if hasDeadline {
			o.deadlineTicks = 0 // never reused
		}
	}
}

// fuel returns the fuel left to the running frame: between a direct
// frame's end and the next run of wasm, the fuel it read back (with what
// was charged since); else the store's.
func (s *Session) fuel() uint64 {
	if s.fuelKnown {
		return s.fuelLeft
	}
	if s.e.direct {
		f, _ := s.owner.cx.Fuel()
		return f
	}
	f, _ := s.wstore.GetFuel()
	return f
}

// setFuel sets the fuel left to the running frame. While the fuel is
// known (see fuel) the store gets it only when wasm resumes (syncFuel), or
// from the next frame's crossing.
func (s *Session) setFuel(f uint64) {
	switch {
	case s.fuelKnown:
		s.fuelLeft, s.fuelDirty = f, true
	case s.e.direct:
		s.owner.cx.SetFuel(f)
	default:
		s.wstore.SetFuel(f)
	}
}

// syncFuel gives the store the fuel left before wasm resumes (a host
// function returns to it), and forgets it: wasm is about to spend it.
func (s *Session) syncFuel() {
	if s.fuelKnown && s.fuelDirty {
		s.owner.cx.SetFuel(s.fuelLeft)
	}
	s.fuelKnown, s.fuelDirty = false, false
}

// charge takes gas from the running frame.
func (s *Session) charge(gas uint64) error {
	if s.e.direct && !s.fuelKnown {
		// One crossing instead of a read and a write.
		_, ok, err := s.owner.cx.Charge(gas)
		if err != nil {
			return fmt.Errorf("%w: charge: %w", ErrInternal, err)
		}
		if !ok {
			return ErrOutOfGas
		}
		return nil
	}
	f := s.fuel()
	if f < gas {
		s.setFuel(0)
		return ErrOutOfGas
	}
	s.setFuel(f - gas)
	return nil
}

// runFrame runs fn of c as a new frame with limit gas, recording it in
// node (nil: a new one). On failure everything the frame and its callees
// did is reverted.
func (s *Session) runFrame(c *contract, fn string, arg []byte, limit uint64, node *CallNode) ([]byte, *CallNode, error) {
	if fn == "init" && !(c.isNew && c.initPending && len(s.frames) == 0) {
		return nil, nil, badInput("%v", errInitCall)
	}
	f := c.fn(fn)
	if f == nil {
		callable := slices.DeleteFunc(slices.Sorted(slices.Values(c.mod.info.Exports)), func(n string) bool { return n == "init" })
		return nil, nil, fmt.Errorf("%w: %s.%s (%s)", ErrNoFunction, short(c.id), fn, ExportsHint(callable))
	}
	if len(s.frames) >= s.e.opts.CallDepth {
		return nil, nil, fmt.Errorf("%w: depth %d", ErrCallDepth, len(s.frames))
	}
	if c.reload && c.active == 0 {
		if err := s.reloadContract(c); err != nil {
			return nil, nil, err
		}
	}
	depth := len(s.frames)
	if node == nil {
		node = new(CallNode)
	}
	*node = CallNode{Contract: c.id, Function: fn, GasLimit: limit}
	if depth > 0 {
		parent := s.frames[depth-1].node
		parent.Children = append(parent.Children, node)
	}
	// Frames are kept by value: a nested frame may move s.frames, so this
	// one's marks are kept here too.
	fr := frame{c: c, fn: fn, limit: limit, journal: len(s.journal), events: len(s.events), node: node}
	// The globals at the frame's start, for a revert. On the contract's
	// first frame of the call they are the synced ones, with no cgo call.
	start := c.globalVals
	if c.inCall {
		start = c.globalsNow()
	} else {
		c.inCall = true
		s.touched = append(s.touched, c)
	}
	if len(start) > 0 {
		s.journal = append(s.journal, undo{kind: undoGlobals, c: c, globals: start})
	}
	s.frames = append(s.frames, fr)
	c.active++
	a := c.mod.info.ArgBuffer
	copy(c.memory()[a:a+hostfns.ArgBufSize], arg)
	c.argUsed = max(c.argUsed, uint64(len(arg)))

	m, mem, callErr := s.enter(c, f, int32(len(arg)), limit)

	// Copy the result out, then zero the used part of the argument
	// buffer: it is scratch, and left as it was a read-only call would
	// change the state root (SPEC.md §10.2).
	var out []byte
	if callErr == nil && m >= 0 && m <= hostfns.ArgBufSize {
		if depth == 0 {
			// The receipt's: a short result stays in its allocation.
			out = append(s.topOut, mem[a:a+uint64(m)]...)
			out = out[:len(out):len(out)]
		} else {
			// The caller copies it into its own buffer before any other
			// frame runs (hostfns' "c").
			out = append(s.outBuf[:0], mem[a:a+uint64(m)]...)
			s.outBuf = out
		}
		c.argUsed = max(c.argUsed, uint64(m)) // the result is scratch too
	}
	clear(mem[a : a+c.argUsed])
	c.argUsed = 0
	collectErr := s.collectMem(c, mem)
	s.frames = s.frames[:len(s.frames)-1]
	c.active--
	node.GasSpent = limit - min(limit, s.fuel())
	node.MemoryLen = c.memLen
	err := callErr
	if err == nil {
		err = collectErr
	}
	if err == nil && (m < 0 || m > hostfns.ArgBufSize) {
		err = &TrapError{Message: fmt.Sprintf("result length %d outside 0..%d", m, hostfns.ArgBufSize)}
	}
	if err != nil {
		node.Failed = true
		if rerr := s.revertTo(fr.journal); rerr != nil {
			err = rerr
		}
		for i := fr.events; i < len(s.events); i++ {
			s.events[i].Reverted = true
		}
		return nil, node, err
	}
	return out, node, nil
}

// frameError turns what a wasm call through wasmtime-go returned into the
// frame's error.
func (s *Session) frameError(callErr error) error {
	if callErr == nil {
		s.hostErr = nil
		return nil
	}
	// The trap's code, read once (each read crosses into C).
	var code *wasmtime.TrapCode
	var trap *wasmtime.Trap
	if errors.As(callErr, &trap) {
		code = trap.Code()
	}
	return s.classify(code, callErr.Error)
}

// classify turns a failed wasm call into the frame's error: the error a
// host function failed it with, else its trap code (code, nil if none)
// or message (message, read only when needed: formatting it costs).
func (s *Session) classify(code *wasmtime.TrapCode, message func() string) error {
	herr := s.hostErr
	s.hostErr = nil
	if herr != nil {
		var p *hostfns.PanicError
		if errors.As(herr, &p) {
			return &PanicError{Message: p.Message}
		}
		return herr
	}
	if code != nil {
		switch *code {
		case trapOutOfFuel:
			return ErrOutOfGas
		case wasmtime.Interrupt:
			return s.interruptedBy()
		}
	}
	msg := trapMessage(code, message)
	if strings.Contains(msg, "all fuel consumed") {
		return ErrOutOfGas
	}
	return &TrapError{Message: msg, overflow: code != nil && *code == wasmtime.StackOverflow}
}

// failurePrice is the gas a frame's failure costs on top of what it ran
// (SPEC.md §11): GasFrameFailure, plus GasStackOverflow after a stack
// overflow. An interruption or an engine fault is not the contract's.
func failurePrice(err error) uint64 {
	if errors.Is(err, ErrInterrupted) || errors.Is(err, ErrInternal) {
		return 0
	}
	var te *TrapError
	if errors.As(err, &te) && te.overflow {
		return GasFrameFailure + GasStackOverflow
	}
	return GasFrameFailure
}

// trapOutOfFuel is WASMTIME_TRAP_CODE_OUT_OF_FUEL of wasmtime v39's C API:
// wasmtime-go's OutOfFuel constant (11) is out of step with it (the C enum
// has ALWAYS_TRAP_ADAPTER before it). The reason string is checked too.
const trapOutOfFuel = wasmtime.TrapCode(12)

// trapMessages caches the reason of each trap code (trapReason of its
// message).
var trapMessages sync.Map

// trapMessage returns the reason of a failed wasm call. The reason of a
// coded trap depends only on its code, and wasmtime formats its message
// with the whole wasm backtrace (thousands of frames after a stack
// overflow): that is done once per code.
func trapMessage(code *wasmtime.TrapCode, message func() string) string {
	if code == nil {
		return trapReason(message())
	}
	if msg, ok := trapMessages.Load(*code); ok {
		return msg.(string)
	}
	msg := trapReason(message())
	trapMessages.Store(*code, msg)
	return msg
}

// trapReason extracts wasmtime's one-line reason ("wasm trap: ...") from a
// message that may carry a backtrace.
func trapReason(msg string) string {
	if i := strings.Index(msg, "wasm trap: "); i >= 0 {
		msg = msg[i+len("wasm trap: "):]
	}
	if i := strings.IndexByte(msg, '\n'); i >= 0 {
		msg = msg[:i]
	}
	return strings.TrimSpace(msg)
}

// collect journals the pages of c written since its last collect, and a
// growth of its memory, under the running frame, and charges for the
// pages (growth was paid in memory.grow, growhook.go).
func (s *Session) collect(c *contract) error { return s.collectMem(c, c.refresh()) }

// collectMem is collect with the memory's current view (c.refresh()).
func (s *Session) collectMem(c *contract, mem []byte) error {
	newLen := uint64(len(mem))
	base := unsafe.Pointer(unsafe.SliceData(mem))
	var gas uint64
	idx := c.scratch[:0]
	var err error
	var growErr error
	if newLen != c.memLen {
		if c.tracker.Name() == "compare" {
			// The pages of the old extent first, before the tracker is
			// sized for the new one: a shadow of the new length may not
			// be wanted (the memory moves to uffd-wp) or not be had.
			if err := c.tracker.Resize(base, min(c.memLen, newLen)); err != nil {
				return s.fail(fmt.Errorf("%w: dirty tracker resize: %w", ErrInternal, err))
			}
			if idx, err = c.tracker.Collect(idx); err != nil {
				return s.fail(fmt.Errorf("%w: dirty tracker collect: %w", ErrInternal, err))
			}
			if c.trackerSmall && newLen > s.e.compareBelow && s.e.tracker != dirty.Compare {
				// Everything written in the old extent is collected: the
				// main tracker starts there, and the grown part is the
				// pages populated since the grow (dirty.Tracker.Resize).
				if err := c.newTrackerAt(base, min(c.memLen, newLen), newLen); err != nil {
					return s.fail(err)
				}
			}
		}
		if err := c.tracker.Resize(base, newLen); err != nil {
			if c.tracker.Name() != "compare" {
				return s.fail(fmt.Errorf("%w: dirty tracker resize: %w", ErrInternal, err))
			}
			// No room for the compare tracker's shadow: the growth fails
			// the frame (the tracker is unchanged, the old extent's pages
			// are journaled below, so the revert is exact).
			growErr = fmt.Errorf("%w: cannot track a memory of %d bytes: %w", ErrMemoryLimit, newLen, err)
			newLen = c.memLen
		} else {
			s.journal = append(s.journal, undo{kind: undoLen, c: c, oldLen: c.memLen})
			c.memLen, c.changed = newLen, true
		}
	}
	if growErr == nil {
		if idx, err = c.tracker.Collect(idx); err != nil {
			return s.fail(fmt.Errorf("%w: dirty tracker collect: %w", ErrInternal, err))
		}
	}
	c.scratch = idx
	c.reserve(len(idx))
	for _, i := range idx {
		cur := mem[i*merkle.PageSize : (i+1)*merkle.PageSize]
		// "Written" is not "changed": skip pages rewritten with their bytes.
		u := undo{kind: undoPage, c: c, page: i}
		if old, had := c.pages[i]; had {
			if bytes.Equal(cur, old) {
				continue
			}
			u.old, u.hadCopy = old, true
			delete(c.hashes, i)
		} else {
			// A page the session has not changed yet: compare hashes with
			// the memory tree (in memory), and leave the old contents in
			// the store, read only if the frame fails.
			h := merkle.HashPage(cur)
			base, err := c.mt.Page(i)
			if err != nil {
				return s.fail(fmt.Errorf("engine: base page %d of %s: %w", i, c.id, err))
			}
			if h == base {
				continue
			}
			u.oldHash = base
			c.hashes[i] = h
		}
		s.journal = append(s.journal, u)
		buf := s.pageBuf()
		copy(buf, cur)
		c.pages[i] = buf
		c.pending[i] = struct{}{}
		c.changed = true
		gas += GasPageWrite
	}
	if growErr != nil {
		// The length did not change: the revert of the frame puts back
		// the pages above, and the next load has the old length.
		s.journal = append(s.journal, undo{kind: undoLen, c: c, oldLen: c.memLen})
		return growErr
	}
	if gas > 0 {
		return s.charge(gas)
	}
	return nil
}

// fail marks the session broken after an error that leaves its state
// unknown.
func (s *Session) fail(err error) error {
	s.broken = err
	return err
}

// revertTo undoes the journal back to mark, newest entry first.
func (s *Session) revertTo(mark int) error {
	var affected []*contract
	for j := len(s.journal) - 1; j >= mark; j-- {
		u := &s.journal[j]
		c := u.c
		if !c.reverting {
			c.reverting = true
			affected = append(affected, c)
		}
		switch u.kind {
		case undoPage:
			mem := c.refresh()
			if off := u.page * merkle.PageSize; off < uint64(len(mem)) {
				dst := mem[off : off+merkle.PageSize]
				if u.hadCopy {
					copy(dst, u.old)
				} else if err := s.e.store.ReadPage(u.oldHash, dst); err != nil {
					return s.fail(fmt.Errorf("engine: revert page %d of %s: %w", u.page, c.id, err))
				}
			}
			if cur, ok := c.pages[u.page]; ok {
				s.pagePool = append(s.pagePool, cur)
			}
			delete(c.hashes, u.page)
			if u.hadCopy {
				c.pages[u.page] = u.old
			} else {
				delete(c.pages, u.page)
				delete(c.hashes, u.page)
			}
			c.pending[u.page] = struct{}{}
		case undoLen:
			// wasm cannot shrink a memory: the contract is re-instantiated
			// at the old length once no frame of it is running. A
			// re-entrant frame's growth stays while an outer frame of the
			// same contract runs (SPEC.md §10.6).
			if c.active == 0 {
				c.memLen, c.reload = u.oldLen, true
			}
		case undoGlobals:
			c.setGlobals(u.globals)
		}
	}
	s.journal = s.journal[:mark]
	for _, c := range affected {
		c.reverting = false
		if c.reload && c.active == 0 && s.reloads < maxReloads {
			if err := s.reloadContract(c); err != nil {
				return s.fail(fmt.Errorf("%w: reload %s after revert: %w", ErrInternal, c.id, err))
			}
			continue
		}
		// Over maxReloads the contract stays pending (c.reload): its
		// frames fail until the next top-level call reloads it.
		// The revert's own writes are not the next frame's.
		var err error
		if c.scratch, err = c.tracker.Collect(c.scratch[:0]); err != nil {
			return s.fail(fmt.Errorf("%w: dirty tracker collect: %w", ErrInternal, err))
		}
	}
	return nil
}

// pageBuf returns a page-sized buffer, recycled when possible: a call that
// changes a page otherwise allocates 4 KiB for the session's copy.
func (s *Session) pageBuf() []byte {
	if n := len(s.pagePool); n > 0 {
		b := s.pagePool[n-1]
		s.pagePool = s.pagePool[:n-1]
		return b
	}
	return pageBufs.Get().(*[merkle.PageSize]byte)[:]
}

// pageBufs holds the page copies of closed sessions for the next ones: a
// fresh 4 KiB allocation often lands on memory the Go heap has never
// touched, and its page fault cost as much as the rest of taking the copy
// (bench: FirstCall, written pages).
var pageBufs = sync.Pool{New: func() any { return new([merkle.PageSize]byte) }}

// releasePages gives the session's page copies to pageBufs as it closes:
// the copies of pages it changed since its last commit (their map entries
// stay, with no buffer, for handOff to put those pages back) and its
// recycled buffers. Committed copies belong to the store and are not
// here; a broken session keeps its buffers (its state is not trusted).
func (s *Session) releasePages() {
	if s.broken != nil {
		return
	}
	for _, c := range s.contracts {
		for i, p := range c.pages {
			if p != nil && len(p) == merkle.PageSize && cap(p) == merkle.PageSize {
				pageBufs.Put((*[merkle.PageSize]byte)(p))
			}
			c.pages[i] = nil
		}
	}
	for _, p := range s.pagePool {
		if len(p) == merkle.PageSize && cap(p) == merkle.PageSize {
			pageBufs.Put((*[merkle.PageSize]byte)(p))
		}
	}
	s.pagePool = nil
}

// recycleJournal returns the page copies a successful call no longer needs
// for a revert: the session's earlier copies of pages it changed again.
// Pages read from the store are shared with its cache and never recycled.
func (s *Session) recycleJournal() {
	for i := range s.journal {
		u := &s.journal[i]
		if u.kind == undoPage && u.hadCopy && u.old != nil && len(s.pagePool) < maxPagePool {
			s.pagePool = append(s.pagePool, u.old)
		}
		u.old, u.globals, u.c = nil, nil, nil
	}
	s.journal = s.journal[:0]
}

// maxPagePool bounds the recycled page buffers a session keeps (1 MiB).
const maxPagePool = 256
