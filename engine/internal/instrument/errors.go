package instrument

import (
	"errors"
	"fmt"
)

// Sentinel errors. Every error [MemoryGrow] returns is an [*Error] matching
// one of them with errors.Is.
var (
	// ErrMalformed reports bytes that do not decode as a module: truncated
	// or over-long LEB128, a section or body that ends early or late, an
	// unknown opcode, a function index that cannot be shifted.
	ErrMalformed = errors.New("instrument: malformed module")
	// ErrUnsupported reports a well-formed module the rewrite cannot
	// handle: memory.grow of a memory other than memory 0, or of a module
	// with no memory.
	ErrUnsupported = errors.New("instrument: unsupported module")
)

// Error says where and why a module could not be instrumented.
type Error struct {
	// Offset is the byte offset in the input where decoding stopped.
	Offset int
	// Reason says what is wrong, in words.
	Reason string
	// Err is ErrMalformed or ErrUnsupported.
	Err error
}

// Error returns the sentinel's text, the offset and the reason.
func (e *Error) Error() string { return fmt.Sprintf("%v: at byte %d: %s", e.Err, e.Offset, e.Reason) }

// Unwrap returns the sentinel.
func (e *Error) Unwrap() error { return e.Err }
