package engine

import "golang.org/x/sys/unix"

// dropPages makes every page of mem, a part of a memory made fresh by
// freshOver and registered with no userfaultfd, unpopulated again:
// zero, untouched, still without transparent huge pages.
func dropPages(mem []byte) error {
	if len(mem) == 0 {
		return nil
	}
	return unix.Madvise(mem, unix.MADV_DONTNEED)
}

// populate asks the kernel to map writable pages over mem now (best
// effort: a kernel without MADV_POPULATE_WRITE faults them in later).
func populate(mem []byte) { _ = unix.Madvise(mem, unix.MADV_POPULATE_WRITE) }
