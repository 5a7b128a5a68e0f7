//go:build linux && (amd64 || arm64)

package dirty

import (
	"math/rand/v2"
	"slices"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// TestCompareFrameScan runs a compare tracker that compares only the pages
// holding a private frame beside one that compares every page, over a
// private mapping of a memory file (holes and image pages, as the engine
// maps a memory image) and over anonymous memory, through random writes
// (changing bytes or rewriting the same ones), reads and zeroings: every
// Collect must report exactly the same pages.
func TestCompareFrameScan(t *testing.T) {
	if newFrameScan() == nil {
		t.Skipf("PAGEMAP_SCAN unavailable: %v", frameScanErr)
	}
	const n = 96
	for _, image := range []bool{true, false} {
		name := "anon"
		if image {
			name = "image"
		}
		t.Run(name, func(t *testing.T) {
			var mem []byte
			var err error
			if image {
				fd, err := unix.MemfdCreate("dirty-framescan", unix.MFD_CLOEXEC)
				if err != nil {
					t.Fatal(err)
				}
				defer unix.Close(fd)
				if err := unix.Ftruncate(fd, n*PageSize); err != nil {
					t.Fatal(err)
				}
				for p := 0; p < n; p += 3 { // image pages; the rest are holes
					if _, err := unix.Pwrite(fd, []byte{byte(p + 1), 7}, int64(p*PageSize+p)); err != nil {
						t.Fatal(err)
					}
				}
				mem, err = unix.Mmap(fd, 0, n*PageSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE)
			} else {
				mem, err = unix.Mmap(-1, 0, n*PageSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANON)
			}
			if err != nil {
				t.Fatal(err)
			}
			defer unix.Munmap(mem)
			mem[5*PageSize] = 1 // populated before the trackers
			base := unsafe.Pointer(&mem[0])
			scanned, err := newCompare(base, n*PageSize)
			if err != nil {
				t.Fatal(err)
			}
			defer scanned.Close()
			full, err := newCompare(base, n*PageSize)
			if err != nil {
				t.Fatal(err)
			}
			defer full.Close()
			full.frames = nil
			if scanned.frames == nil {
				t.Fatal("no frame scan although PAGEMAP_SCAN works")
			}
			r := rand.New(rand.NewPCG(3, 9))
			reported := 0
			for step := 0; step < 3000; step++ {
				p := r.IntN(n)
				off := p*PageSize + r.IntN(PageSize)
				switch r.IntN(5) {
				case 0, 1:
					mem[off] = byte(r.IntN(3)) // often the byte it held
				case 2:
					_ = mem[off] // a read populates a file page or the zero page
				case 3:
					clear(mem[p*PageSize : (p+1)*PageSize])
				case 4:
					v := mem[off]
					mem[off] = v // a write of the same byte
				}
				if r.IntN(4) != 0 {
					continue
				}
				a, err := scanned.Collect(nil)
				if err != nil {
					t.Fatal(err)
				}
				b, err := full.Collect(nil)
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(a, b) {
					t.Fatalf("step %d: frame scan reported %v, full compare %v", step, a, b)
				}
				reported += len(a)
			}
			if reported == 0 {
				t.Fatal("no page ever reported: the test writes nothing")
			}
		})
	}
}
