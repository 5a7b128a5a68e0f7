// Package dirty reports which 4 KiB pages of a linear memory were written
// between two points in time (typically: the start and the end of one wasm
// call frame).
//
// Two implementations exist:
//
//   - "uffd-wp" (Linux ≥ 6.7, amd64/arm64): the kernel write-protects the pages
//     with userfaultfd in asynchronous mode and clears the protection bit on the
//     first write; Collect reads and re-arms those bits with one PAGEMAP_SCAN
//     ioctl (two after a grow). Its cost is ≈ 2 ns per 4 KiB page of the memory
//     per Collect plus one minor fault for the first write to a page after a
//     Collect (0.7–2 µs on bare hardware, ≈ 3 µs in this project's VM). It
//     reports pages *written*, even with identical bytes.
//
//   - "compare" (portable): keeps a shadow copy of the memory and compares it
//     page by page. Its cost is proportional to the memory size (≈ 40 µs per MiB)
//     and it needs a second copy of the memory. It reports pages whose contents
//     *changed*; a page overwritten with the bytes it already held is not reported.
//
// Both are valid inputs for an engine that rehashes the reported pages: a page
// that was written with identical bytes has an unchanged hash.
//
// New(Auto, ...) picks uffd-wp when the running kernel and sandbox allow it
// (probed once per process, see Available) and compare otherwise. Neither
// wins at every size: compare is cheaper for small memories, uffd-wp for
// large ones, since compare's cost grows with the memory. Collect after
// writing one page (bench/dirty_test.go, bench/README.md): uffd-wp 3.59 /
// 3.76 / 32.1 µs against compare 1.44 / 6.13 µs / 4.25 ms for 64 KiB /
// 256 KiB / 64 MiB. So the engine uses compare for memories of at most
// 128 KiB (engine.DefaultCompareBelow) and uffd-wp above, where available.
//
// Caveats: uffd-wp needs Linux ≥ 6.7 (UFFD_FEATURE_WP_ASYNC, PAGEMAP_SCAN) and
// a sandbox that allows userfaultfd(2) (some container seccomp profiles do
// not: then Available reports only Compare and UnavailableReason says why).
// It asks for UFFD_USER_MODE_ONLY, so vm.unprivileged_userfaultfd=0 is no
// obstacle. Transparent huge pages work: the kernel splits a protected huge
// page on its first write.
//
// Contract for both implementations:
//
//   - Collect reports pages written (uffd-wp) or changed (compare) since the
//     previous Collect, or since New for the first one. Indices are relative to
//     the current base, ascending and unique, and lie in [0, length/PageSize).
//   - Grown memory: pages of the grown part count as written at the next
//     Collect if, and only if, they were written after the grow (compare: if
//     they are not all zero), including writes made before Resize was called.
//     uffd-wp decides by asking the kernel which grown pages are populated with
//     something else than the shared zero page; it over-reports only pages
//     populated without a write by the program (e.g. a whole 2 MiB transparent
//     huge page when THP is "always" and one of its pages was written).
//   - Moved memory (Resize with a new base): uffd-wp reports every page of the
//     memory at the next Collect (a move copies the whole memory into pages
//     that were never protected, so the kernel cannot tell which of them the
//     frame wrote); compare reports exactly the pages whose contents differ
//     from the previous Collect's view. A memory that moved away and back to
//     the same base between two Resize calls (A→B→A', the first address reused)
//     is handled too: uffd-wp then reports every page the moves populated.
//   - Shrinking (not a wasm operation) is accepted: pages beyond the new length
//     are forgotten, and if the memory grows again they are treated as grown.
//   - A Tracker is not safe for concurrent use, and Collect and Resize must not
//     run while the memory is being written (call them between wasm calls).
//   - After an error from Collect or Resize the tracker's state is undefined:
//     Close it and treat every page as written.
//   - Close the tracker when its memory is dropped (wasmtime drops it with its
//     Store; closing after the memory was unmapped is fine). Until then an
//     uffd-wp tracker keeps the range registered with its userfaultfd: if the
//     range were reused for another memory without being unmapped, an uffd-wp
//     tracker for that memory would fail with EBUSY (Auto then falls back to
//     compare). A tracker dropped without Close has its fd closed by a cleanup.
package dirty

import (
	"errors"
	"fmt"
	"unsafe"
)

// PageSize is the granularity of tracking.
const PageSize = 4096

const pageShift = 12

// Tracker reports the 4 KiB pages of one linear memory written since the
// last Collect.
type Tracker interface {
	// Name is "uffd-wp" or "compare".
	Name() string
	// Resize tells the tracker that the memory is now length bytes at base
	// (after memory.grow; the base may have moved). base must be 4 KiB-aligned
	// and length a multiple of 4 KiB. Pages of the grown part are reported by
	// the next Collect if they were written (see the package documentation).
	Resize(base unsafe.Pointer, length uint64) error
	// Collect appends to dst the indices (ascending, unique) of the pages
	// written since the previous Collect (or since creation) and re-arms
	// tracking on them. It does not allocate when dst has enough capacity.
	Collect(dst []uint64) ([]uint64, error)
	// Close releases the tracker's resources. It is idempotent.
	Close() error
}

// Kind selects an implementation.
type Kind int

const (
	// Auto picks the fastest kind available: UffdWP, else Compare.
	Auto Kind = iota
	// UffdWP uses userfaultfd asynchronous write-protection and PAGEMAP_SCAN.
	UffdWP
	// Compare compares against a shadow copy.
	Compare
)

func (k Kind) String() string {
	switch k {
	case Auto:
		return "auto"
	case UffdWP:
		return "uffd-wp"
	case Compare:
		return "compare"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

var (
	// ErrUnavailable is returned (wrapped, with the cause) by New when the
	// requested kind cannot run on this machine.
	ErrUnavailable = errors.New("dirty: tracker kind unavailable")
	// ErrClosed is returned by a closed tracker.
	ErrClosed = errors.New("dirty: tracker closed")
	// ErrAlignment is returned when base is not 4 KiB-aligned or length is
	// not a multiple of 4 KiB.
	ErrAlignment = errors.New("dirty: base or length not 4 KiB-aligned")
)

// Available reports the kinds that work on this machine, fastest first
// (Compare is always last). The probe runs once per process.
func Available() []Kind {
	if uffdProbe() == nil {
		return []Kind{UffdWP, Compare}
	}
	return []Kind{Compare}
}

// UnavailableReason returns why kind k cannot run here, or nil if it can.
func UnavailableReason(k Kind) error {
	switch k {
	case Auto, Compare:
		return nil
	case UffdWP:
		if err := uffdProbe(); err != nil {
			return fmt.Errorf("%w: uffd-wp: %w", ErrUnavailable, err)
		}
		return nil
	}
	return fmt.Errorf("%w: unknown kind %d", ErrUnavailable, int(k))
}

// New returns a tracker of the given kind for the memory of length bytes at
// base. With Auto it returns an uffd-wp tracker when possible and silently
// falls back to compare otherwise (Tracker.Name tells which one runs).
// Nothing written before New is reported.
func New(kind Kind, base unsafe.Pointer, length uint64) (Tracker, error) {
	if err := checkRange(base, length); err != nil {
		return nil, err
	}
	switch kind {
	case Auto:
		if uffdProbe() == nil {
			if t, err := newUffd(base, length, true); err == nil {
				return t, nil
			}
		}
		return newCompare(base, length)
	case UffdWP:
		if err := UnavailableReason(UffdWP); err != nil {
			return nil, err
		}
		t, err := newUffd(base, length, true)
		if err != nil {
			return nil, err
		}
		return t, nil
	case Compare:
		return newCompare(base, length)
	}
	return nil, UnavailableReason(kind)
}

func checkRange(base unsafe.Pointer, length uint64) error {
	if uintptr(base)%PageSize != 0 || length%PageSize != 0 {
		return fmt.Errorf("%w (base %p, length %#x)", ErrAlignment, base, length)
	}
	if length > 0 && base == nil {
		return errors.New("dirty: nil base")
	}
	if uint64(uintptr(base))+length < uint64(uintptr(base)) {
		return errors.New("dirty: range wraps the address space")
	}
	return nil
}

// NewSparse is New for a memory of which few pages are populated yet, such
// as one just mapped from an image: an uffd-wp tracker skips
// write-protecting the range, whose cost follows its length, so the pages
// populated before NewSparse (and not the zero page or a file page) may be
// reported by the first Collect. Other kinds behave as with New.
func NewSparse(kind Kind, base unsafe.Pointer, length uint64) (Tracker, error) {
	if kind != UffdWP {
		return New(kind, base, length)
	}
	if err := checkRange(base, length); err != nil {
		return nil, err
	}
	if err := UnavailableReason(UffdWP); err != nil {
		return nil, err
	}
	t, err := newUffd(base, length, false)
	if err != nil {
		return nil, err
	}
	return t, nil
}
