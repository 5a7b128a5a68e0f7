//go:build linux

package dirty

import (
	"syscall"
	"testing"
	"unsafe"
)

// plainMem is a region mmap'd by the test, laid out like a wasmtime memory:
// a PROT_NONE reservation whose accessible prefix grows with mprotect, up to
// the size of the reservation. With moveOnGrow, every grow moves the memory
// to a new reservation instead: map, copy, unmap the old one.
type plainMem struct {
	t          testing.TB
	res        []byte // the whole reservation
	length     uint64
	maxSize    uint64 // grow fails beyond this
	moveOnGrow bool
}

func newPlainMem(t testing.TB, length, reservation uint64, moveOnGrow bool) *plainMem {
	m := &plainMem{t: t, moveOnGrow: moveOnGrow, maxSize: reservation}
	m.res = m.reserve(reservation, length)
	m.length = length
	t.Cleanup(m.close)
	return m
}

func (m *plainMem) reserve(reservation, length uint64) []byte {
	res, err := syscall.Mmap(-1, 0, int(reservation), syscall.PROT_NONE, syscall.MAP_PRIVATE|syscall.MAP_ANON|syscall.MAP_NORESERVE)
	if err != nil {
		m.t.Fatal(err)
	}
	if length > 0 {
		if err := syscall.Mprotect(res[:length], syscall.PROT_READ|syscall.PROT_WRITE); err != nil {
			m.t.Fatal(err)
		}
	}
	return res
}

func (m *plainMem) close() {
	if m.res != nil {
		syscall.Munmap(m.res)
		m.res = nil
	}
}

func (m *plainMem) name() string {
	if m.moveOnGrow {
		return "mmap-moving"
	}
	return "mmap"
}
func (m *plainMem) base() unsafe.Pointer         { return unsafe.Pointer(&m.res[0]) }
func (m *plainMem) size() uint64                 { return m.length }
func (m *plainMem) data() []byte                 { return m.res[:m.length] }
func (m *plainMem) wasmWrite(off uint64, v byte) { m.res[off] = v }
func (m *plainMem) fill(off, n uint64, v byte) {
	for i := range n {
		m.res[off+i] = v
	}
}

func (m *plainMem) grow(delta uint64) bool {
	newLen := m.length + delta
	if newLen > m.maxSize {
		return false
	}
	if !m.moveOnGrow {
		if err := syscall.Mprotect(m.res[m.length:newLen], syscall.PROT_READ|syscall.PROT_WRITE); err != nil {
			m.t.Fatal(err)
		}
		m.length = newLen
		return true
	}
	res := m.reserve(max(uint64(len(m.res)), newLen), newLen)
	copy(res, m.res[:m.length])
	syscall.Munmap(m.res)
	m.res, m.length = res, newLen
	return true
}

func plainFactories() []memFactory {
	return []memFactory{
		{"mmap", func(t testing.TB) testMem { return newPlainMem(t, 64<<10, 8<<20, false) }},
		{"mmap-moving", func(t testing.TB) testMem { return newPlainMem(t, 64<<10, 8<<20, true) }},
	}
}

// mmapAt maps an anonymous PROT_NONE reservation, at addr if that range is
// free (a hint, not MAP_FIXED).
func mmapAt(t testing.TB, addr uintptr, n uint64) []byte {
	p, _, e := syscall.Syscall6(syscall.SYS_MMAP, addr, uintptr(n), syscall.PROT_NONE,
		syscall.MAP_PRIVATE|syscall.MAP_ANON|syscall.MAP_NORESERVE, ^uintptr(0), 0)
	if e != 0 {
		t.Fatal(e)
	}
	// p is the address of a mapping that the Go heap knows nothing about;
	// reading it as a pointer avoids a uintptr→unsafe.Pointer conversion.
	return unsafe.Slice((*byte)(*(*unsafe.Pointer)(unsafe.Pointer(&p))), n)
}

// relocate moves the memory to a new reservation placed at hint if possible
// (0: anywhere), growing it by delta, as a wasmtime memory that outgrows its
// reservation does: map, copy, unmap the old one. It returns false if the
// hint was not honoured.
func (m *plainMem) relocate(hint uintptr, delta uint64) bool {
	newLen := m.length + delta
	res := mmapAt(m.t, hint, max(uint64(len(m.res)), newLen))
	if hint != 0 && uintptr(unsafe.Pointer(&res[0])) != hint {
		syscall.Munmap(res)
		return false
	}
	if err := syscall.Mprotect(res[:newLen], syscall.PROT_READ|syscall.PROT_WRITE); err != nil {
		m.t.Fatal(err)
	}
	copy(res, m.res[:m.length])
	syscall.Munmap(m.res)
	m.res, m.length = res, newLen
	return true
}
