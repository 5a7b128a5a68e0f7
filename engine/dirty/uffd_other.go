//go:build !linux || !(amd64 || arm64)

package dirty

import (
	"errors"
	"unsafe"
)

var errNoUffd = errors.New("userfaultfd write-protection is implemented for linux/amd64 and linux/arm64 only")

func uffdProbe() error { return errNoUffd }

func newUffd(base unsafe.Pointer, length uint64, protect bool) (Tracker, error) {
	return nil, errNoUffd
}
