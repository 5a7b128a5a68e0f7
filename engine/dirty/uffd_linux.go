//go:build linux && (amd64 || arm64)

package dirty

import (
	"fmt"
	"runtime"
	"slices"
	"sync"
	"syscall"
	"unsafe"
)

// Kernel interface (include/uapi/linux/userfaultfd.h, include/uapi/linux/fs.h).
// golang.org/x/sys is not a dependency of this module, so the numbers and the
// struct layouts are spelled out here. Every struct is made of u64 fields.
const (
	uffdUserModeOnly = 1 // UFFD_USER_MODE_ONLY: allowed unprivileged even when vm.unprivileged_userfaultfd=0

	uffdAPI                  = 0xAA
	uffdFeatureWPUnpopulated = 1 << 13
	uffdFeatureWPAsync       = 1 << 15

	uffdioAPI          = 0xC018AA3F // _IOWR(0xAA, 0x3F, struct uffdio_api)
	uffdioRegister     = 0xC020AA00 // _IOWR(0xAA, 0x00, struct uffdio_register)
	uffdioWriteprotect = 0xC018AA06 // _IOWR(0xAA, 0x06, struct uffdio_writeprotect)

	uffdioRegisterModeWP     = 1 << 1
	uffdioWriteprotectModeWP = 1 << 0
	uffdioIoctlWriteprotect  = 1 << 0x06 // bit _UFFDIO_WRITEPROTECT in uffdio_register.ioctls

	pagemapScan        = 0xC0606610 // _IOWR('f', 16, struct pm_scan_arg)
	pmScanWPMatching   = 1 << 0
	pmScanCheckWPAsync = 1 << 1
	pageIsWritten      = 1 << 1
	pageIsFile         = 1 << 2
	pageIsPresent      = 1 << 3
	pageIsSwapped      = 1 << 4
	pageIsPFNZero      = 1 << 5
)

type uffdioAPIArg struct{ api, features, ioctls uint64 }

type uffdioRange struct{ start, len uint64 }

type uffdioRegisterArg struct {
	rng          uffdioRange
	mode, ioctls uint64
}

type uffdioWriteprotectArg struct {
	rng  uffdioRange
	mode uint64
}

type pmScanArg struct {
	size, flags, start, end, walkEnd, vec, vecLen, maxPages       uint64
	categoryInverted, categoryMask, categoryAnyofMask, returnMask uint64
}

type pageRegion struct{ start, end, categories uint64 }

// scanVecLen is the number of written regions (runs of contiguous written
// pages) one PAGEMAP_SCAN call can return; Collect loops when there are more.
const scanVecLen = 256

func ioctl(fd int, req uintptr, arg unsafe.Pointer) (uintptr, error) {
	r, _, e := syscall.Syscall(syscall.SYS_IOCTL, uintptr(fd), req, uintptr(arg))
	if e != 0 {
		return 0, e
	}
	return r, nil
}

// ioctlRetry retries an idempotent ioctl interrupted by a signal or by a
// concurrent change of the address space (EAGAIN from UFFDIO_WRITEPROTECT).
func ioctlRetry(fd int, req uintptr, arg unsafe.Pointer) error {
	for range 1000 {
		_, err := ioctl(fd, req, arg)
		if err != syscall.EINTR && err != syscall.EAGAIN {
			return err
		}
	}
	return syscall.EAGAIN
}

// The pagemap file is opened once per process and never closed: it refers to
// the process's own address space and is shared by all trackers (PAGEMAP_SCAN
// keeps no state in the file, so concurrent scans on one fd are fine).
var (
	pagemapOnce sync.Once
	pagemapFD   = -1
	pagemapErr  error
)

func pagemap() (int, error) {
	pagemapOnce.Do(func() {
		fd, err := syscall.Open("/proc/self/pagemap", syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
		if err != nil {
			pagemapErr = fmt.Errorf("open /proc/self/pagemap: %w", err)
			return
		}
		pagemapFD = fd
	})
	return pagemapFD, pagemapErr
}

var (
	probeOnce sync.Once
	probeErr  error
)

// uffdProbe checks once per process that the whole chain works: a
// userfaultfd with WP_ASYNC|WP_UNPOPULATED, registration, write-protection,
// writes, PAGEMAP_SCAN reporting exactly them, and the grow protocol.
func uffdProbe() error {
	probeOnce.Do(func() { probeErr = probe() })
	return probeErr
}

func probe() error {
	const n = 8
	mem, err := syscall.Mmap(-1, 0, n*PageSize, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE|syscall.MAP_ANON)
	if err != nil {
		return fmt.Errorf("mmap: %w", err)
	}
	defer syscall.Munmap(mem)
	mem[0] = 1 // populated before tracking: not reported
	t, err := newUffd(unsafe.Pointer(&mem[0]), n/2*PageSize, true)
	if err != nil {
		return err
	}
	defer t.Close()
	var buf [n]uint64
	check := func(step string, want ...uint64) error {
		got, err := t.Collect(buf[:0])
		if err != nil {
			return err
		}
		if !slices.Equal(got, want) {
			return fmt.Errorf("probe: %s: reported %v, want %v", step, got, want)
		}
		return nil
	}
	if err := check("no writes"); err != nil {
		return err
	}
	mem[2*PageSize] = 1
	mem[0] = 2
	if err := check("writes", 0, 2); err != nil {
		return err
	}
	if err := check("no writes after Collect"); err != nil {
		return err
	}
	// Grow: a page written, a page only read; a write in the old part.
	mem[5*PageSize] = 1
	_ = mem[6*PageSize]
	if err := t.Resize(unsafe.Pointer(&mem[0]), n*PageSize); err != nil {
		return err
	}
	mem[1*PageSize] = 1
	if err := check("grow", 1, 5); err != nil {
		return err
	}
	mem[6*PageSize] = 1
	return check("write after grow", 6)
}

// uffdTracker tracks one memory with its own userfaultfd.
//
// One fd per tracker, not one per process: closing the fd is what makes the
// kernel drop the registration of the range, so a tracker cannot leave a
// stale registration behind when Close is called, even if its memory was
// unmapped or moved meanwhile (an explicit UFFDIO_UNREGISTER of a range that
// may since have been reused by another mapping would be unsafe). It also makes
// trackers independent (no shared lock). The cost is one fd and ~1 µs at New.
type uffdTracker struct {
	fd      int
	cleanup runtime.Cleanup
	base    uintptr
	length  uint64 // bytes tracked: [base, base+length)
	// moved is set by a Resize that changed the base: the next Collect
	// reports every page and protects the whole range.
	moved  bool
	closed bool

	sc pmScanner
}

// newUffd creates an uffd-wp tracker; with protect false it does not
// write-protect the pages already populated (see NewSparse).
func newUffd(base unsafe.Pointer, length uint64, protect bool) (*uffdTracker, error) {
	if _, err := pagemap(); err != nil {
		return nil, err
	}
	r, _, e := syscall.Syscall(sysUserfaultfd, syscall.O_CLOEXEC|syscall.O_NONBLOCK|uffdUserModeOnly, 0, 0)
	if e != 0 {
		return nil, fmt.Errorf("userfaultfd: %w", e)
	}
	fd := int(r)
	api := uffdioAPIArg{api: uffdAPI, features: uffdFeatureWPAsync}
	if err := ioctlRetry(fd, uffdioAPI, unsafe.Pointer(&api)); err != nil {
		syscall.Close(fd)
		return nil, fmt.Errorf("UFFDIO_API(WP_ASYNC): %w", err)
	}
	t := &uffdTracker{fd: fd, base: uintptr(base)}
	// Close the fd if the tracker is dropped without Close. Close stops this
	// first, so an fd number can never be closed twice.
	t.cleanup = runtime.AddCleanup(t, func(fd int) { syscall.Close(fd) }, fd)
	if length > 0 {
		if err := t.register(0, length); err != nil {
			t.Close()
			return nil, err
		}
		if protect {
			if err := t.protect(0, length); err != nil {
				t.Close()
				return nil, err
			}
		}
	}
	t.length = length
	return t, nil
}

func (t *uffdTracker) Name() string { return "uffd-wp" }

// register registers [base+from, base+to) for asynchronous write-protection.
func (t *uffdTracker) register(from, to uint64) error {
	reg := uffdioRegisterArg{rng: uffdioRange{uint64(t.base) + from, to - from}, mode: uffdioRegisterModeWP}
	if err := ioctlRetry(t.fd, uffdioRegister, unsafe.Pointer(&reg)); err != nil {
		return fmt.Errorf("UFFDIO_REGISTER [%#x, %#x): %w", reg.rng.start, reg.rng.start+reg.rng.len, err)
	}
	if reg.ioctls&uffdioIoctlWriteprotect == 0 {
		return fmt.Errorf("UFFDIO_REGISTER: range does not support UFFDIO_WRITEPROTECT (ioctls %#x)", reg.ioctls)
	}
	return nil
}

// protect write-protects [base+from, base+to).
func (t *uffdTracker) protect(from, to uint64) error {
	wp := uffdioWriteprotectArg{rng: uffdioRange{uint64(t.base) + from, to - from}, mode: uffdioWriteprotectModeWP}
	if err := ioctlRetry(t.fd, uffdioWriteprotect, unsafe.Pointer(&wp)); err != nil {
		return fmt.Errorf("UFFDIO_WRITEPROTECT [%#x, %#x): %w", wp.rng.start, wp.rng.start+wp.rng.len, err)
	}
	return nil
}

// Resize registers the grown part. It needs no protection of its own: the
// tracker protects populated pages only (no WP_UNPOPULATED), since a page
// that is not populated cannot have been written, and a write populates it
// without the protect bit, which the next Collect reports (and protects).
// So growth costs a registration, not a marker per page of the new range.
//
// It registers the whole range, not only the grown part: registering a range
// that is still registered with this fd costs only a walk over its few VMAs,
// and the memory may have moved away and back to the same base between two
// calls (two grows in one frame, the first allocation's address reused by the
// second move). The new mapping then carries no write-protection, so the
// next scan reports all of its pages as written, which is correct.
//
// If the base moved, the next Collect reports every page: the move copied the
// memory into pages that were never protected, so the kernel cannot tell
// which of them the frame wrote. The old range is not unregistered: it is
// usually unmapped already (which drops its registration), and if it is not,
// Close releases it by closing the fd (unregistering an address range that
// may since have been reused by another mapping would be unsafe).
func (t *uffdTracker) Resize(base unsafe.Pointer, length uint64) error {
	if t.closed {
		return ErrClosed
	}
	if err := checkRange(base, length); err != nil {
		return err
	}
	if uintptr(base) != t.base {
		t.base, t.moved = uintptr(base), true
	}
	t.length = length
	if length > 0 {
		if err := t.register(0, length); err != nil {
			return err
		}
	}
	return nil
}

func (t *uffdTracker) Collect(dst []uint64) ([]uint64, error) {
	if t.closed {
		return dst, ErrClosed
	}
	if t.length == 0 {
		return dst, nil
	}
	if t.moved {
		for p := range t.length >> pageShift {
			dst = append(dst, p)
		}
		if err := t.protect(0, t.length); err != nil {
			return dst, err
		}
		t.moved = false
		return dst, nil
	}
	// Written pages, re-protected in the same walk: populated (or swapped
	// out) without the write-protect bit, and neither the shared zero page
	// (a read of a page never written) nor a page of a file mapping (a read
	// of a memory image: a write makes the page anonymous).
	return t.scan(dst, 0, t.length, pmScanWPMatching|pmScanCheckWPAsync,
		pageIsWritten|pageIsFile|pageIsPFNZero, pageIsFile|pageIsPFNZero, pageIsPresent|pageIsSwapped)
}

// scan runs PAGEMAP_SCAN on [base+from, base+to) and appends the indices of
// the matching pages.
func (t *uffdTracker) scan(dst []uint64, from, to uint64, flags, mask, inverted, anyof uint64) ([]uint64, error) {
	return t.sc.scan(dst, uint64(t.base), from, to, flags, mask, inverted, anyof)
}

// pmScanner runs PAGEMAP_SCAN with its own argument and result buffers.
type pmScanner struct {
	arg pmScanArg
	vec [scanVecLen]pageRegion
}

// scan runs PAGEMAP_SCAN on [base+from, base+to) and appends the indices
// (from base) of the matching pages, calling again from walk_end while the
// vector fills up.
func (sc *pmScanner) scan(dst []uint64, base, from, to uint64, flags, mask, inverted, anyof uint64) ([]uint64, error) {
	pm, err := pagemap()
	if err != nil {
		return dst, err
	}
	end := base + to
	for start := base + from; start < end; {
		sc.arg = pmScanArg{
			size:              uint64(unsafe.Sizeof(pmScanArg{})),
			flags:             flags,
			start:             start,
			end:               end,
			vec:               uint64(uintptr(unsafe.Pointer(&sc.vec[0]))),
			vecLen:            scanVecLen,
			categoryInverted:  inverted,
			categoryMask:      mask,
			categoryAnyofMask: anyof,
			returnMask:        mask | anyof,
		}
		n, err := ioctl(pm, pagemapScan, unsafe.Pointer(&sc.arg))
		if err != nil {
			return dst, fmt.Errorf("PAGEMAP_SCAN [%#x, %#x): %w", start, end, err)
		}
		if n > scanVecLen {
			return dst, fmt.Errorf("PAGEMAP_SCAN returned %d regions for a vector of %d", n, scanVecLen)
		}
		for _, r := range sc.vec[:n] {
			if r.start < start || r.end > end || r.start >= r.end {
				return dst, fmt.Errorf("PAGEMAP_SCAN returned region [%#x, %#x) outside [%#x, %#x)", r.start, r.end, start, end)
			}
			for p := (r.start - base) >> pageShift; p < (r.end-base)>>pageShift; p++ {
				dst = append(dst, p)
			}
		}
		if sc.arg.walkEnd <= start || sc.arg.walkEnd > end {
			return dst, fmt.Errorf("PAGEMAP_SCAN made no progress (walk_end %#x, start %#x)", sc.arg.walkEnd, start)
		}
		start = sc.arg.walkEnd
	}
	return dst, nil
}

// Close closes the userfaultfd, which makes the kernel unregister every range
// registered with it.
func (t *uffdTracker) Close() error {
	if t.closed {
		return nil
	}
	t.closed = true
	t.cleanup.Stop()
	return syscall.Close(t.fd)
}
