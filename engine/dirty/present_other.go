//go:build !linux || !(amd64 || arm64)

package dirty

import (
	"errors"
	"unsafe"
)

// Present needs PAGEMAP_SCAN (Linux ≥ 6.7, amd64/arm64).
func Present(dst []uint64, base unsafe.Pointer, length uint64) ([]uint64, error) {
	return dst, errors.New("dirty: Present needs PAGEMAP_SCAN (linux/amd64, linux/arm64)")
}
