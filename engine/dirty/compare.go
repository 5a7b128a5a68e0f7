package dirty

import (
	"bytes"
	"unsafe"
)

// compareTracker keeps a shadow copy of the memory as of the last Collect and
// reports the pages whose contents differ from it. Where the kernel can say
// which pages hold a private frame (frameScan), it compares only those.
type compareTracker struct {
	base   unsafe.Pointer
	length uint64
	shadow []byte // len(shadow) >= length; see shadow_linux.go
	closed bool
	frames *frameScan // nil: compare every page
	cand   []uint64   // scratch of Collect
	// unscanned counts Collects left that compare every page without a
	// scan: when most pages hold a frame, the scan only adds its cost.
	unscanned int
}

// rescanAfter is how many Collects skip the scan after one that found
// more than three quarters of the pages holding a frame.
const rescanAfter = 64

func newCompare(base unsafe.Pointer, length uint64) (*compareTracker, error) {
	sh, err := allocShadow(length)
	if err != nil {
		return nil, err
	}
	t := &compareTracker{base: base, length: length, shadow: sh, frames: newFrameScan()}
	copy(t.shadow, t.mem())
	return t, nil
}

func (t *compareTracker) Name() string { return "compare" }

func (t *compareTracker) mem() []byte {
	if t.length == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(t.base), t.length)
}

// Resize keeps the shadow of the pages that remain: a moved memory is compared
// against what the old one held, and grown pages are compared against zeros
// (a grown wasm memory starts zeroed).
func (t *compareTracker) Resize(base unsafe.Pointer, length uint64) error {
	if t.closed {
		return ErrClosed
	}
	if err := checkRange(base, length); err != nil {
		return err
	}
	if n := t.length; length < n {
		// Forgotten pages must read as zero if the memory grows again.
		clear(t.shadow[length:n])
	} else if length > uint64(len(t.shadow)) {
		sh, err := growShadow(t.shadow, length)
		if err != nil {
			return err
		}
		t.shadow = sh
	}
	t.base, t.length = base, length
	return nil
}

func (t *compareTracker) Collect(dst []uint64) ([]uint64, error) {
	if t.closed {
		return dst, ErrClosed
	}
	mem, shadow := t.mem(), t.shadow[:t.length]
	if t.unscanned > 0 {
		t.unscanned--
	} else if t.frames != nil {
		cand, err := t.frames.find(t.cand[:0], t.base, t.length)
		if err == nil {
			if uint64(len(cand)) > t.length>>pageShift*3/4 {
				t.unscanned = rescanAfter
			}
			t.cand = cand
			for _, p := range cand {
				off := p << pageShift
				m := mem[off : off+PageSize : off+PageSize]
				s := shadow[off : off+PageSize : off+PageSize]
				if !bytes.Equal(m, s) {
					copy(s, m)
					dst = append(dst, p)
				}
			}
			return dst, nil
		}
		t.frames = nil // the scan failed: compare every page from now on
	}
	for off := 0; off < len(mem); off += PageSize {
		m := mem[off : off+PageSize : off+PageSize]
		s := shadow[off : off+PageSize : off+PageSize]
		if !bytes.Equal(m, s) {
			copy(s, m)
			dst = append(dst, uint64(off>>pageShift))
		}
	}
	return dst, nil
}

func (t *compareTracker) Close() error {
	t.closed = true
	freeShadow(t.shadow)
	t.shadow = nil
	t.base, t.length = nil, 0
	return nil
}
