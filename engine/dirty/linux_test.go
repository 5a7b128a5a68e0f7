//go:build linux

package dirty

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"syscall"
	"testing"
	"unsafe"
)

// TestMovedAndBack moves the memory twice between two Resize calls, the
// second time back to the base the tracker knows (A→B→A'), which Resize
// cannot tell from a grow in place.
func TestMovedAndBack(t *testing.T) {
	for _, kind := range Available() {
		t.Run(kind.String(), func(t *testing.T) {
			m := newPlainMem(t, 64<<10, 1<<20, false)
			h := newHarness(t, kind, m)
			h.write(2*PageSize, 1, true)
			h.expect(2)
			h.write(3*PageSize, 1, true)
			a := uintptr(m.base())
			if !m.relocate(0, 64<<10) {
				t.Fatal("relocate")
			}
			h.model = append(h.model, make([]byte, 64<<10)...)
			h.write(4*PageSize, 1, true)
			if !m.relocate(a, 64<<10) {
				t.Skip("the kernel did not reuse the first address")
			}
			h.model = append(h.model, make([]byte, 64<<10)...)
			h.moved = true // ground truth; the tracker only sees the same base
			h.write(20*PageSize, 1, true)
			h.write(40*PageSize, 1, true)
			got := h.collect()
			t.Logf("%s reported %d pages", kind, len(got))
			h.write(5*PageSize, 1, true)
			h.write(41*PageSize, 1, true)
			h.expect(5, 41)
		})
	}
}

// TestKernelWrites checks that writes made by the kernel on the process's
// behalf (read(2) into the memory) are reported.
func TestKernelWrites(t *testing.T) {
	for _, kind := range Available() {
		t.Run(kind.String(), func(t *testing.T) {
			m := newPlainMem(t, 64<<10, 64<<10, false)
			tr, err := New(kind, m.base(), m.size())
			if err != nil {
				t.Fatal(err)
			}
			defer tr.Close()
			r, w, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			defer w.Close()
			w.Write([]byte("written by the kernel, across a page boundary"))
			n, err := syscall.Read(int(r.Fd()), m.data()[3*PageSize-10:4*PageSize])
			if err != nil || n < 11 {
				t.Fatal(n, err)
			}
			got, err := tr.Collect(nil)
			if err != nil || !slices.Equal(got, []uint64{2, 3}) {
				t.Fatalf("Collect = %v, %v; want [2 3]", got, err)
			}
		})
	}
}

// TestUnpopulated checks that pages never touched, and pages only read, are
// not reported, in the initial and in the grown part of the memory.
func TestUnpopulated(t *testing.T) {
	for _, kind := range Available() {
		t.Run(kind.String(), func(t *testing.T) {
			m := newPlainMem(t, 16<<20, 64<<20, false)
			h := newHarness(t, kind, m)
			var sum byte
			for p := uint64(0); p < m.size()/PageSize; p += 3 {
				sum += m.data()[p*PageSize]
			}
			h.expect()
			h.grow(16<<20, true)
			for p := uint64(0); p < m.size()/PageSize; p += 5 {
				sum += m.data()[p*PageSize]
			}
			h.write(m.size()-1, 1, true)
			h.expect(m.size()/PageSize - 1)
			_ = sum
		})
	}
}

// TestTransparentHugePages tracks memory backed by 2 MiB pages: a write must
// report its 4 KiB page only (the kernel splits the huge page).
func TestTransparentHugePages(t *testing.T) {
	b, _ := os.ReadFile("/sys/kernel/mm/transparent_hugepage/enabled")
	if len(b) == 0 || strings.Contains(string(b), "[never]") {
		t.Skip("no THP")
	}
	for _, kind := range Available() {
		t.Run(kind.String(), func(t *testing.T) {
			m := newPlainMem(t, 8<<20, 8<<20, false)
			// Align a 4 MiB window on 2 MiB and ask for huge pages there.
			off := -uintptr(m.base()) & (2<<20 - 1)
			win := m.data()[off : off+4<<20]
			base := unsafe.Pointer(&win[0])
			if err := syscall.Madvise(win, 14 /* MADV_HUGEPAGE */); err != nil {
				t.Skip("madvise(MADV_HUGEPAGE):", err)
			}
			for i := 0; i < len(win); i += PageSize {
				win[i] = 1
			}
			if huge := anonHugeKiB(t, uintptr(base)); huge == 0 {
				t.Log("no huge page was allocated; testing with small pages")
			} else {
				t.Logf("%d KiB of the window in huge pages", huge)
			}
			tr, err := New(kind, base, 4<<20)
			if err != nil {
				t.Fatal(err)
			}
			defer tr.Close()
			win[5*PageSize+7] = 2
			win[600*PageSize] = 2
			got, err := tr.Collect(nil)
			if err != nil || !slices.Equal(got, []uint64{5, 600}) {
				t.Fatalf("Collect = %v, %v; want [5 600]", got, err)
			}
			win[5*PageSize] = 3
			got, err = tr.Collect(got[:0])
			if err != nil || !slices.Equal(got, []uint64{5}) {
				t.Fatalf("Collect = %v, %v; want [5]", got, err)
			}
		})
	}
}

// anonHugeKiB returns AnonHugePages of the mapping containing addr, from
// /proc/self/smaps.
func anonHugeKiB(t testing.TB, addr uintptr) int {
	b, err := os.ReadFile("/proc/self/smaps")
	if err != nil {
		return 0
	}
	in := false
	for line := range strings.Lines(string(b)) {
		var lo, hi uintptr
		if n, _ := fmt.Sscanf(line, "%x-%x ", &lo, &hi); n == 2 {
			in = lo <= addr && addr < hi
			continue
		}
		var kb int
		if n, _ := fmt.Sscanf(line, "AnonHugePages: %d kB", &kb); in && n == 1 {
			return kb
		}
	}
	return 0
}

// TestSecondTracker: a range can be registered with one userfaultfd only. A
// second uffd-wp tracker on the same memory fails, and Auto falls back to
// compare; once the first is closed the range is free again.
func TestSecondTracker(t *testing.T) {
	if err := UnavailableReason(UffdWP); err != nil {
		if os.Getenv("WASMSTATE_REQUIRE_UFFD") != "" {
			t.Fatalf("WASMSTATE_REQUIRE_UFFD is set: %v", err)
		}
		t.Skip(err)
	}
	m := newPlainMem(t, 64<<10, 64<<10, false)
	a, err := New(UffdWP, m.base(), m.size())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := New(UffdWP, m.base(), m.size()); !errors.Is(err, syscall.EBUSY) {
		t.Fatalf("second uffd-wp tracker: %v, want EBUSY", err)
	}
	b, err := New(Auto, m.base(), m.size())
	if err != nil || b.Name() != "compare" {
		t.Fatalf("Auto on a registered range: %v, %v", b, err)
	}
	b.Close()
	a.Close()
	c, err := New(UffdWP, m.base(), m.size())
	if err != nil {
		t.Fatalf("after Close: %v", err)
	}
	m.data()[0] = 1
	if got, err := c.Collect(nil); err != nil || !slices.Equal(got, []uint64{0}) {
		t.Fatalf("Collect = %v, %v", got, err)
	}
	c.Close()
}

// TestCloseUnmapped closes a tracker whose memory is already unmapped.
func TestCloseUnmapped(t *testing.T) {
	for _, kind := range Available() {
		m := newPlainMem(t, 64<<10, 64<<10, false)
		tr, err := New(kind, m.base(), m.size())
		if err != nil {
			t.Fatal(err)
		}
		m.close()
		if err := tr.Close(); err != nil {
			t.Fatalf("%v: %v", kind, err)
		}
	}
}
