//go:build linux && (amd64 || arm64)

package dirty

import (
	"fmt"
	"sync"
	"unsafe"
)

// Present appends to dst the indices of the 4 KiB pages of [base,
// base+length) that are populated (mapped, or swapped out): the pages
// touched, read or written, since the range was last mapped, as long as
// the kernel maps one page per fault. That holds for a memory-image
// mapping registered for uffd-wp (a write-protect registration turns off
// fault-around) and for anonymous memory without transparent huge pages.
// Witness recording and replay use it to learn which pages a call read.
func Present(dst []uint64, base unsafe.Pointer, length uint64) ([]uint64, error) {
	if uintptr(base)&(PageSize-1) != 0 || length&(PageSize-1) != 0 {
		return dst, fmt.Errorf("dirty: Present needs a page-aligned range (base %p, length %d)", base, length)
	}
	if length == 0 {
		return dst, nil
	}
	sc := scanners.Get().(*pmScanner)
	defer scanners.Put(sc)
	return sc.scan(dst, uint64(uintptr(base)), 0, length, 0, 0, 0, pageIsPresent|pageIsSwapped)
}

// scanners recycles Present's scan buffers (6 KiB each): a replay scans
// after every frame and operation.
var scanners = sync.Pool{New: func() any { return new(pmScanner) }}
