package hostfns

import "github.com/bytecodealliance/wasmtime-go/v39"

// ContractID is a contract's 32-byte id.
type ContractID = [32]byte

// Env is what a host function sees of the call frame it runs in. The
// engine implements it; one Env serves every frame of a session, always
// speaking for the innermost running frame.
type Env interface {
	// Memory returns the running contract's linear memory as it is now.
	// The slice is valid until control returns to wasm.
	Memory() []byte
	// ArgBuf returns the offset of the running contract's argument buffer.
	ArgBuf() uint64
	// WriteArgBuf copies b (at most ArgBufSize bytes) to the start of the
	// running contract's argument buffer.
	WriteArgBuf(b []byte)
	// Charge takes gas from the running frame; it fails with an
	// out-of-gas error when not enough is left.
	Charge(gas uint64) error
	// Call runs fn of callee with the argument arg. It returns the result
	// length (≥ 0) and result, or a negative code (CallPanicked,
	// CallOutOfGas, CallNoContract, CallFailed) with the bytes to put in
	// the caller's buffer; err is for failures of the caller itself.
	Call(callee ContractID, fn string, arg []byte, gasLimit uint64) (code int32, out []byte, err error)
	// Query runs the embedder's host query name.
	Query(name string, arg []byte) ([]byte, error)
	// Metadata returns the session metadata value of name.
	Metadata(name string) ([]byte, bool)
	// Emit records an event of the running contract.
	Emit(topic string, data []byte) error
	// Feed streams data to the host; it fails outside a feeder call.
	Feed(data []byte) error
	// Caller returns the immediate caller, if a contract called.
	Caller() (ContractID, bool)
	// CallStack returns the callers, immediate first, outermost last.
	CallStack() []ContractID
	// GasLimit and GasSpent describe the running frame.
	GasLimit() uint64
	GasSpent() uint64
	// Owner returns the owner bytes of contract id (nil: the running
	// contract), and whether it exists.
	Owner(id *ContractID) ([]byte, bool, error)
	// SelfID returns the running contract's id.
	SelfID() ContractID
	// Debug records a debug message if the session collects them.
	Debug(msg []byte)
	// EphemeralSet, EphemeralGet and EphemeralDelete manage the session's
	// ephemeral key-value data.
	EphemeralSet(key, value []byte) error
	EphemeralGet(key []byte) ([]byte, bool)
	EphemeralDelete(key []byte) bool
	// Fail records err as the reason the running frame fails and returns
	// the trap that unwinds it.
	Fail(err error) *wasmtime.Trap
}

// Return codes of the "c" import.
const (
	CallPanicked   int32 = -1
	CallOutOfGas   int32 = -2
	CallNoContract int32 = -3
	CallFailed     int32 = -2147483648
)
