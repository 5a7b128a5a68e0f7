//go:build linux

package dirty

import (
	"os"
	"slices"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// TestSparseImage: an uffd-wp tracker made with NewSparse over a private
// mapping of a memory file (how the engine maps a memory image) reports
// exactly the pages written after it, plus those populated by writes
// before it; pages only read (from the file, or the zero page of a hole)
// are never reported.
func TestSparseImage(t *testing.T) {
	if err := UnavailableReason(UffdWP); err != nil {
		if os.Getenv("WASMSTATE_REQUIRE_UFFD") != "" {
			t.Fatalf("uffd-wp required but unavailable: %v", err)
		}
		t.Skipf("uffd-wp unavailable: %v", err)
	}
	const n = 64
	fd, err := unix.MemfdCreate("dirty-sparse", unix.MFD_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if err := unix.Ftruncate(fd, n*PageSize); err != nil {
		t.Fatal(err)
	}
	for _, p := range []int{1, 2, 3, 10} { // image pages; the rest are holes
		if _, err := unix.Pwrite(fd, []byte{byte(p)}, int64(p*PageSize)); err != nil {
			t.Fatal(err)
		}
	}
	mem, err := unix.Mmap(fd, 0, n*PageSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(mem)
	mem[3*PageSize+7] = 9 // written before the tracker: may be reported once
	tr, err := NewSparse(UffdWP, unsafe.Pointer(&mem[0]), n*PageSize)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	collect := func() []uint64 {
		got, err := tr.Collect(nil)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	if got := collect(); !slices.Equal(got, []uint64{3}) && len(got) != 0 {
		t.Fatalf("first collect %v, want [3] or nothing", got)
	}
	_ = mem[1*PageSize] + mem[20*PageSize] + mem[10*PageSize] // reads: file pages, a hole
	if got := collect(); len(got) != 0 {
		t.Fatalf("reads reported as writes: %v", got)
	}
	mem[1*PageSize] = 5  // a file page read before
	mem[2*PageSize] = 5  // a file page never touched
	mem[20*PageSize] = 5 // a hole read before (zero page)
	mem[30*PageSize] = 5 // a hole never touched
	mem[3*PageSize] = 5  // the page written before the tracker
	if got, want := collect(), []uint64{1, 2, 3, 20, 30}; !slices.Equal(got, want) {
		t.Fatalf("collect %v, want %v", got, want)
	}
	if got := collect(); len(got) != 0 {
		t.Fatalf("no writes: %v", got)
	}
	mem[2*PageSize+1] = 6
	if got, want := collect(), []uint64{2}; !slices.Equal(got, want) {
		t.Fatalf("collect %v, want %v", got, want)
	}
}
