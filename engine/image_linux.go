package engine

import (
	"fmt"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/wasmstate/wasmstate/merkle"
)

// imageFile is a memfd holding a memory image. Pages never written are
// holes: they read as zeros and cost nothing.
type imageFile struct{ fd int }

// imagesAvailable reports whether memory images work here (memfd_create
// may be blocked by a sandbox).
func imagesAvailable() error {
	f, err := newImageFile(merkle.PageSize)
	if err != nil {
		return err
	}
	f.close()
	return nil
}

func newImageFile(length uint64) (imageFile, error) {
	fd, err := unix.MemfdCreate("wasmstate-image", unix.MFD_CLOEXEC)
	if err != nil {
		return imageFile{fd: -1}, fmt.Errorf("memfd_create: %w", err)
	}
	if err := unix.Ftruncate(fd, int64(length)); err != nil {
		unix.Close(fd)
		return imageFile{fd: -1}, fmt.Errorf("ftruncate %d: %w", length, err)
	}
	return imageFile{fd: fd}, nil
}

func (f imageFile) writePage(i uint64, page []byte) error {
	for off := 0; off < len(page); {
		n, err := unix.Pwrite(f.fd, page[off:], int64(i*merkle.PageSize)+int64(off))
		if err != nil {
			return err
		}
		off += n
	}
	return nil
}

// mapOver maps the first len(mem) bytes of the file privately over mem,
// a page-aligned part of a live linear memory: reads see the image, writes
// stay with the instance, and the rest of the instance's mapping (and its
// growth) is untouched. MAP_NORESERVE: a private writable mapping is
// otherwise charged in full against the commit limit, which refuses a
// sparse memory of a TiB although only its written pages will ever exist.
func (f imageFile) mapOver(mem []byte) error { return f.mapAt(mem, 0) }

// mapAt is mapOver from the file's offset off (page-aligned) on.
func (f imageFile) mapAt(mem []byte, off uint64) error {
	return mmapFixed(mem, syscall.MAP_PRIVATE|syscall.MAP_FIXED|syscall.MAP_NORESERVE, uintptr(f.fd), off)
}

// mmapFixed maps len(mem) bytes over mem, read-write, with flags (which
// include MAP_FIXED), from fd at off, and checks the mapping stayed put.
func mmapFixed(mem []byte, flags int, fd uintptr, off uint64) error {
	if len(mem) == 0 {
		return nil
	}
	addr := uintptr(unsafe.Pointer(unsafe.SliceData(mem)))
	r, _, errno := syscall.Syscall6(syscall.SYS_MMAP, addr, uintptr(len(mem)),
		syscall.PROT_READ|syscall.PROT_WRITE, uintptr(flags), fd, uintptr(off))
	if errno != 0 {
		return errno
	}
	if r != addr {
		return fmt.Errorf("mmap moved the memory (%#x, want %#x)", r, addr)
	}
	return nil
}

func (f imageFile) close() {
	if f.fd >= 0 {
		unix.Close(f.fd)
	}
}

// freshOver replaces mem, a page-aligned part of a live linear memory, with
// fresh zero pages that are not populated (dropping whatever wasmtime put
// there, such as data segments), and keeps transparent huge pages off it,
// so that the pages later populated are exactly those touched.
func freshOver(mem []byte) error {
	if err := mmapFixed(mem, syscall.MAP_PRIVATE|syscall.MAP_ANONYMOUS|syscall.MAP_FIXED|syscall.MAP_NORESERVE, ^uintptr(0), 0); err != nil {
		return err
	}
	return noHugePages(mem)
}

// noHugePages keeps transparent huge pages off mem: one touch must
// populate one 4 KiB page, not 512.
func noHugePages(mem []byte) error {
	if len(mem) == 0 {
		return nil
	}
	return unix.Madvise(mem, unix.MADV_NOHUGEPAGE)
}
