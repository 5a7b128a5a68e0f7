package dirty

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// The compare tracker's shadow lives outside the Go heap, in an anonymous
// mapping: a failed allocation is an error instead of Go's fatal
// out-of-memory (which no recover catches), growing it (mremap) copies
// nothing, and the grown part costs no memory until a page of it is
// written (a grown wasm memory is zero, and so is the new shadow).

func allocShadow(length uint64) ([]byte, error) {
	if length == 0 {
		return nil, nil
	}
	if length > 1<<47 {
		return nil, fmt.Errorf("dirty: shadow of %d bytes: %w", length, unix.ENOMEM)
	}
	b, err := unix.Mmap(-1, 0, int(length), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_NORESERVE)
	if err != nil {
		return nil, fmt.Errorf("dirty: shadow of %d bytes: %w", length, err)
	}
	return b, nil
}

// growShadow returns s resized to length bytes (contents kept, the rest
// zero); s is invalid afterwards unless an error is returned.
func growShadow(s []byte, length uint64) ([]byte, error) {
	if len(s) == 0 {
		return allocShadow(length)
	}
	if length > 1<<47 {
		return nil, fmt.Errorf("dirty: grow shadow to %d bytes: %w", length, unix.ENOMEM)
	}
	b, err := unix.Mremap(s, int(length), unix.MREMAP_MAYMOVE)
	if err != nil {
		return nil, fmt.Errorf("dirty: grow shadow to %d bytes: %w", length, err)
	}
	return b, nil
}

func freeShadow(s []byte) {
	if len(s) > 0 {
		unix.Munmap(s)
	}
}
