package engine

import (
	"bytes"
	"unsafe"

	"github.com/bytecodealliance/wasmtime-go/v39"

	"github.com/wasmstate/wasmstate/engine/dirty"
	"github.com/wasmstate/wasmstate/merkle"
)

// A replay knows, before a contract runs, every page its memory may touch:
// the witness's pages (a touch outside them fails the replay as
// incomplete). When they are few, the replay tracks writes without uffd:
// the memory starts unpopulated but for the witness pages copied in, so
// the pages populated after a frame (dirty.Present) hold every page the
// frame can have written, and comparing those with their contents at the
// last Collect finds the written ones. That costs one PAGEMAP_SCAN and a
// few page compares per frame, against uffd-wp's userfaultfd, two ioctls
// per load and a write-protect fault per page written.

// presentTrackMax is the most witness pages of a contract for which a
// replay tracks its memory with a presentTracker: the compares of a
// Collect then cost at most that many 4 KiB comparisons (≈ 5 µs).
var presentTrackMax = 32

// presentTracker is a dirty.Tracker for a replayed memory that compares
// the populated pages with their contents at the last Collect.
type presentTracker struct {
	freshMemory
	length uint64
	// start: the pages' contents when the tracker started, for pages the
	// tracker has not reported since (absent: zero).
	start map[uint64][]byte
	// seen: the contents at the last Collect of each page reported since.
	seen map[uint64][]byte
	// free: page copies to reuse for seen.
	free [][]byte
	// buf holds the populated pages as of the last Collect, if scanned.
	buf     []uint64
	scanned bool
	closed  bool
}

// presentTracker returns a tracker for c's memory of length bytes at
// base, or nil when c should be tracked with uffd-wp: a contract with
// many witness pages, or one the witness does not hold (deployed in the
// replay). The memory holds the witness's pages overlaid with c's session
// copies (contract.fill).
func (r *replayer) presentTracker(c *contract, base unsafe.Pointer, length uint64) *presentTracker {
	pages, ok := r.pages[c.id]
	if !ok || c.isNew || len(pages) > presentTrackMax {
		return nil
	}
	t := &presentTracker{freshMemory: newFreshMemory(c, base, length), length: length, start: pages}
	if old, ok := c.tracker.(*presentTracker); ok && old.closed {
		// The closed tracker this one replaces (the last replay's, or
		// before a reload) hands on its page copies and map.
		for _, b := range old.seen {
			t.free = append(t.free, b)
		}
		t.seen, old.seen = old.seen, nil
		clear(t.seen)
	}
	if t.seen == nil {
		t.seen = map[uint64][]byte{}
	}
	for i, p := range c.pages { // a reload: the session's copies differ from the witness
		t.seen[i] = t.copyOf(p)
	}
	return t
}

// copyOf returns a copy of page, in a page from free if there is one.
func (t *presentTracker) copyOf(page []byte) []byte {
	n := len(t.free)
	if n == 0 {
		return bytes.Clone(page)
	}
	b := t.free[n-1]
	t.free = t.free[:n-1]
	copy(b, page)
	return b
}

func (t *presentTracker) Name() string { return "present" }

func (t *presentTracker) Resize(base unsafe.Pointer, length uint64) error {
	if t.closed {
		return dirty.ErrClosed
	}
	if uintptr(base)&(merkle.PageSize-1) != 0 || length&(merkle.PageSize-1) != 0 {
		return dirty.ErrAlignment
	}
	t.base, t.length, t.scanned = base, length, false
	return nil
}

// Collect reports the populated pages whose contents differ from the last
// Collect's (a grown page from zero). Pages not populated were not
// touched, so not written.
func (t *presentTracker) Collect(dst []uint64) ([]uint64, error) {
	if t.closed {
		return dst, dirty.ErrClosed
	}
	var err error
	t.scanned = false
	if t.buf, err = dirty.Present(t.buf[:0], t.base, t.length); err != nil {
		return dst, err
	}
	t.scanned = true
	mem := unsafe.Slice((*byte)(t.base), t.length)
	for _, i := range t.buf {
		cur := mem[i*merkle.PageSize : (i+1)*merkle.PageSize]
		old, ok := t.seen[i]
		if !ok {
			old = t.start[i]
		}
		if old == nil {
			old = zeroPage[:]
		}
		if bytes.Equal(cur, old) {
			continue
		}
		if s, ok := t.seen[i]; ok {
			copy(s, cur)
		} else {
			t.seen[i] = t.copyOf(cur)
		}
		dst = append(dst, i)
	}
	return dst, nil
}

// populated appends the pages below length populated as of the last
// Collect, and reports whether there was one. The engine touches a
// contract's memory only in its frames, each of which ends with a Collect
// (so does a revert's restore), so after an operation these are the
// pages it populated: the replay's check of touched pages needs no scan
// of its own.
func (t *presentTracker) populated(dst []uint64, length uint64) ([]uint64, bool) {
	if !t.scanned || t.closed {
		return dst, false
	}
	for _, p := range t.buf {
		if (p+1)*merkle.PageSize <= length {
			dst = append(dst, p)
		}
	}
	return dst, true
}

func (t *presentTracker) Close() error {
	t.closed = true
	return nil
}

// freshMemory is what a replay's tracker knows of the memory the replay
// made fresh before it started: the wasm memory, its base, and the length
// from base made fresh (resetMemory). The next replay reusing the instance
// can then drop pages instead of mapping the range anew, if the memory is
// still this one.
type freshMemory struct {
	mem   *wasmtime.Memory
	base  unsafe.Pointer
	fresh uint64
}

func newFreshMemory(c *contract, base unsafe.Pointer, length uint64) freshMemory {
	return freshMemory{mem: c.mem, base: base, fresh: min(length, c.baseLeaf.MemoryLen)} // loadMemory's range
}

func (f *freshMemory) freshState() *freshMemory { return f }

// uffdReplayTracker is the uffd-wp tracker of a replayed memory, with
// what resetMemory needs to know of it.
type uffdReplayTracker struct {
	dirty.Tracker
	freshMemory
}

// uffdTracker wraps t, the uffd-wp tracker of c's memory, for the next
// replay's resetMemory; the memory of a contract the witness does not hold
// (deployed in the replay) is not the replay's to reset.
func (r *replayer) uffdTracker(c *contract, t dirty.Tracker, base unsafe.Pointer, length uint64) dirty.Tracker {
	if _, ok := r.pages[c.id]; !ok || c.isNew {
		return t
	}
	return &uffdReplayTracker{Tracker: t, freshMemory: newFreshMemory(c, base, length)}
}

func (t *uffdReplayTracker) Resize(base unsafe.Pointer, length uint64) error {
	t.base = base
	return t.Tracker.Resize(base, length)
}

// resetMemory makes mem, the first bytes of c's memory, hold no populated
// page but those of pages (the witness's, about to be copied in). When
// c's last tracker was a replay's over the same range of the same memory
// (made fresh by the last replay), the populated pages the witness lacks
// are dropped in place and the others stay, to be overwritten (or zeroed,
// for its zero pages): no page is unmapped, zeroed and faulted in again
// for nothing. Otherwise the range
// is mapped anew (freshOver), as is always the memory of a new instance
// (a reload, a move to a new wasmtime store), even at the same address.
func resetMemory(c *contract, mem []byte, pages map[uint64][]byte, buf []uint64) ([]uint64, error) {
	base := unsafe.Pointer(unsafe.SliceData(mem))
	ft, ok := c.tracker.(interface{ freshState() *freshMemory })
	if !ok {
		return buf, freshOver(mem)
	}
	if f := ft.freshState(); f.mem != c.mem || f.base != base || uint64(len(mem)) > f.fresh {
		return buf, freshOver(mem)
	}
	if u, ok := c.tracker.(*uffdReplayTracker); ok {
		// Unregistered first: a page dropped from a range registered for
		// uffd-wp leaves a marker, which the scans report as present. The
		// new tracker registers the range again.
		if err := u.Close(); err != nil {
			return buf, err
		}
	}
	// A present tracker scanned the memory as the last frame ended, and
	// nothing populates a page outside frames (presentTracker.populated):
	// that scan is still the memory's.
	var scanned bool
	if t, ok := c.tracker.(*presentTracker); ok && uint64(len(mem)) <= t.length {
		buf, scanned = t.populated(buf[:0], uint64(len(mem)))
	}
	if !scanned {
		var err error
		if buf, err = dirty.Present(buf[:0], base, uint64(len(mem))); err != nil {
			return buf, err
		}
	}
	held := func(p uint64) bool { _, ok := pages[p]; return ok }
	for i := 0; i < len(buf); {
		if p := buf[i]; held(p) {
			if pages[p] == nil { // a zero page of the witness stays, zeroed
				clear(mem[p*merkle.PageSize : (p+1)*merkle.PageSize])
			}
			i++
			continue
		}
		j := i + 1
		for j < len(buf) && buf[j] == buf[j-1]+1 && !held(buf[j]) {
			j++
		}
		if err := dropPages(mem[buf[i]*merkle.PageSize : (buf[j-1]+1)*merkle.PageSize]); err != nil {
			return buf, err
		}
		i = j
	}
	return buf, nil
}
