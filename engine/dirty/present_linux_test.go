//go:build linux && (amd64 || arm64)

package dirty

import (
	"slices"
	"syscall"
	"testing"
	"unsafe"
)

var presentSink byte

// TestPresent: Present reports exactly the pages read or written since the
// range was mapped, and nothing of an untouched range.
func TestPresent(t *testing.T) {
	if err := uffdProbe(); err != nil {
		t.Skipf("PAGEMAP_SCAN unavailable: %v", err)
	}
	const n = 64
	mem, err := syscall.Mmap(-1, 0, n*PageSize, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE|syscall.MAP_ANONYMOUS)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Munmap(mem)
	// A huge page would populate 512 pages at once.
	if err := syscall.Madvise(mem, 14 /* MADV_NOHUGEPAGE */); err != nil {
		t.Fatal(err)
	}
	base := unsafe.Pointer(&mem[0])
	got, err := Present(nil, base, n*PageSize)
	if err != nil || len(got) != 0 {
		t.Fatalf("untouched range: %v, %v", got, err)
	}
	presentSink = mem[3*PageSize+17] // a read maps the zero page: touched all the same
	mem[40*PageSize] = 1
	mem[63*PageSize+4095] = 2
	got, err = Present(got[:0], base, n*PageSize)
	if err != nil {
		t.Fatal(err)
	}
	if want := []uint64{3, 40, 63}; !slices.Equal(got, want) {
		t.Fatalf("Present = %v, want %v", got, want)
	}
	// A sub-range reports indices relative to its own base.
	got, err = Present(nil, unsafe.Pointer(&mem[32*PageSize]), 32*PageSize)
	if err != nil || !slices.Equal(got, []uint64{8, 31}) {
		t.Fatalf("sub-range: %v, %v", got, err)
	}
	if _, err := Present(nil, unsafe.Pointer(&mem[1]), PageSize); err == nil {
		t.Fatal("unaligned base accepted")
	}
}
