//go:build linux && (amd64 || arm64)

package bench

import (
	"runtime"
	"syscall"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/wasmstate/wasmstate/engine/dirty"
)

// BenchmarkFaultFloor measures, with no engine, the kernel's part of a
// first call's written pages (issue 10, bench/README.md): a 64 MiB memfd
// image mapped MAP_PRIVATE|MAP_FIXED over a fresh 64 MiB anonymous
// mapping, registered for uffd-wp without protection (dirty.NewSparse),
// as a cold load leaves a memory; then one op touches 16 pages and
// collects them (PAGEMAP_SCAN). warm: the same pages of a memory whose
// pages were written and collected before (write-protected), as a warm
// instance's are. Per-page cost = (touch16 - none) / 16, thread CPU, the
// Collect included (collect-ns/op alone); minflt/op counts the page
// faults. thread-cpu-ns/op leaves out the set-up (mmap, register) and the
// munmap; ns/op includes them.
//
// Shapes: write (one store per page, 4 MiB apart as FirstCall's write16,
// so each page also needs a page table of its own: one fault per page, as
// pagewriter's read-modify-write instruction takes), write-near (16
// adjacent pages: one page table), read-write (a load, then a store: a
// read fault maps the image's page, the write fault copies it), read (a
// load only).
func BenchmarkFaultFloor(b *testing.B) {
	const size = 64 << 20
	if err := dirty.UnavailableReason(dirty.UffdWP); err != nil {
		b.Skip(err)
	}
	fd, err := unix.MemfdCreate("fault-floor", unix.MFD_CLOEXEC)
	if err != nil {
		b.Skip(err)
	}
	defer unix.Close(fd)
	if err := unix.Ftruncate(fd, size); err != nil {
		b.Fatal(err)
	}
	page := make([]byte, 4096)
	for i := range size / 4096 {
		page[100] = byte(i) | 1
		if _, err := unix.Pwrite(fd, page, int64(i)*4096); err != nil {
			b.Fatal(err)
		}
	}
	spread := make([]int, 16)
	near := make([]int, 16)
	for i := range 16 {
		spread[i] = i * (size / 16 / 4096) * 4096
		near[i] = (1000 + i) * 4096
	}
	type shape struct {
		name   string
		pages  []int
		read   bool
		write  bool
		nPages int
	}
	shapes := []shape{
		{"none", nil, false, false, 0},
		{"write", spread, false, true, 16},
		{"write-near", near, false, true, 16},
		{"read-write", spread, true, true, 16},
		{"read", spread, true, false, 16},
	}
	for _, load := range []string{"cold", "warm"} {
		for _, sh := range shapes {
			b.Run(load+"/"+sh.name, func(b *testing.B) {
				runtime.LockOSThread()
				defer runtime.UnlockOSThread()
				var cpu, flt, coll int64
				var idx []uint64
				for b.Loop() {
					mem, t := floorMemory(b, fd, size)
					if load == "warm" {
						for _, p := range sh.pages {
							mem[p+200]++
						}
						if idx, err = t.Collect(idx[:0]); err != nil {
							b.Fatal(err)
						}
					}
					c0, f0 := threadUsage()
					var sum byte
					for _, p := range sh.pages {
						if sh.read {
							sum += readByte(&mem[p+100])
						}
						if sh.write {
							mem[p+200] = sum + 1 // a store alone: no read fault first
						}
					}
					cm := threadCPUTime()
					if idx, err = t.Collect(idx[:0]); err != nil {
						b.Fatal(err)
					}
					c1, f1 := threadUsage()
					cpu, flt, coll = cpu+c1-c0, flt+f1-f0, coll+c1-int64(cm)
					if sh.write && len(idx) != sh.nPages {
						b.Fatalf("collected %d pages, wrote %d", len(idx), sh.nPages)
					}
					t.Close()
					if err := unix.Munmap(mem); err != nil {
						b.Fatal(err)
					}
					sink += sum
				}
				b.ReportMetric(float64(cpu)/float64(b.N), "thread-cpu-ns/op")
				b.ReportMetric(float64(flt)/float64(b.N), "minflt/op")
				b.ReportMetric(float64(coll)/float64(b.N), "collect-ns/op")
			})
		}
	}
}

var sink byte

//go:noinline
func readByte(p *byte) byte { return *p }

// floorMemory maps the image over a fresh anonymous mapping and starts a
// sparse uffd-wp tracker on it, as a cold load does.
func floorMemory(b *testing.B, fd, size int) ([]byte, dirty.Tracker) {
	mem, err := unix.Mmap(-1, 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_NORESERVE)
	if err != nil {
		b.Fatal(err)
	}
	addr := uintptr(unsafe.Pointer(&mem[0]))
	r, _, errno := syscall.Syscall6(syscall.SYS_MMAP, addr, uintptr(size), syscall.PROT_READ|syscall.PROT_WRITE,
		syscall.MAP_PRIVATE|syscall.MAP_FIXED|syscall.MAP_NORESERVE, uintptr(fd), 0)
	if errno != 0 || r != addr {
		b.Fatalf("mmap over: %v", errno)
	}
	t, err := dirty.NewSparse(dirty.UffdWP, unsafe.Pointer(&mem[0]), uint64(size))
	if err != nil {
		b.Fatal(err)
	}
	return mem, t
}

// threadUsage returns the calling thread's CPU time in ns and its minor
// faults.
func threadUsage() (cpuNs, minflt int64) { return int64(threadCPUTime()), threadMinflt() }
