package dirty

import (
	"bytes"
	"unsafe"
)

// compareTracker keeps a shadow copy of the memory as of the last Collect and
// reports the pages whose contents differ from it.
type compareTracker struct {
	base   unsafe.Pointer
	length uint64
	shadow []byte // len(shadow) == length
	closed bool
}

func newCompare(base unsafe.Pointer, length uint64) *compareTracker {
	t := &compareTracker{base: base, length: length, shadow: make([]byte, length)}
	copy(t.shadow, t.mem())
	return t
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
	switch n := uint64(len(t.shadow)); {
	case length <= n:
		t.shadow = t.shadow[:length]
	case length <= uint64(cap(t.shadow)):
		t.shadow = t.shadow[:length]
		clear(t.shadow[n:])
	default:
		// Grow the capacity by half at least, so that a run of small
		// grows copies the shadow O(log n) times, not once per grow
		// (append would grow a large slice by only a quarter).
		s := make([]byte, length, max(length, n+n/2))
		copy(s, t.shadow)
		t.shadow = s
	}
	t.base, t.length = base, length
	return nil
}

func (t *compareTracker) Collect(dst []uint64) ([]uint64, error) {
	if t.closed {
		return dst, ErrClosed
	}
	mem, shadow := t.mem(), t.shadow
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
	t.shadow = nil
	t.base, t.length = nil, 0
	return nil
}
