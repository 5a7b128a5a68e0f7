package hostfns

import (
	"errors"
	"fmt"
)

// ErrBadAccess matches every MemoryAccessError.
var ErrBadAccess = errors.New("hostfns: out-of-bounds memory access")

// ErrBadInput matches InputError: a contract passed a value the ABI
// does not allow (a length past the buffer, invalid UTF-8 in a topic).
var ErrBadInput = errors.New("hostfns: invalid input from contract")

// MemoryAccessError reports a pointer and length from a contract that do
// not lie inside its memory.
type MemoryAccessError struct {
	Func        string
	Ptr, Len    uint64
	MemoryBytes uint64
}

func (e *MemoryAccessError) Error() string {
	return fmt.Sprintf("hostfns: %s: bytes %d..%d outside the %d-byte memory", e.Func, e.Ptr, e.Ptr+e.Len, e.MemoryBytes)
}

// Is makes MemoryAccessError match ErrBadAccess.
func (e *MemoryAccessError) Is(t error) bool { return t == ErrBadAccess }

// InputError reports an argument the ABI does not allow.
type InputError struct {
	Func, Reason string
}

func (e *InputError) Error() string { return fmt.Sprintf("hostfns: %s: %s", e.Func, e.Reason) }

// Is makes InputError match ErrBadInput.
func (e *InputError) Is(t error) bool { return t == ErrBadInput }

// PanicError is a contract's panic with its message.
type PanicError struct {
	Message string
}

func (e *PanicError) Error() string { return "contract panicked: " + e.Message }

// GoPanicError carries a Go panic of a host function to Env.Fail: Define
// recovers it there instead of letting it reach wasmtime-go's trampoline,
// which would keep it in the store's data until its own next Func.Call. An
// engine fails the whole call with it (it is a bug, not the contract's
// failure).
type GoPanicError struct{ Value any }

func (e *GoPanicError) Error() string {
	return fmt.Sprintf("hostfns: host function panicked: %v", e.Value)
}
