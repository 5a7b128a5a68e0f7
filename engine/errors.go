package engine

import (
	"errors"
	"fmt"

	"github.com/wasmstate/wasmstate/merkle"
)

// Sentinel errors. Every error the engine returns matches one of these, or
// one of the merkle, pagestore or hostfns sentinels, with errors.Is.
var (
	// ErrClosed: the engine or session was closed.
	ErrClosed = errors.New("engine: closed")
	// ErrUnknownRoot: no commit has that root.
	ErrUnknownRoot = errors.New("engine: unknown root")
	// ErrNoContract: no contract has that id.
	ErrNoContract = errors.New("engine: no such contract")
	// ErrContractExists: a deploy chose an id that is taken.
	ErrContractExists = errors.New("engine: contract already exists")
	// ErrInvalidModule: the module is not a valid contract.
	ErrInvalidModule = errors.New("engine: invalid contract module")
	// ErrBadInput: an argument the API does not accept (empty metadata
	// value, oversized argument, calling init, zero gas...).
	ErrBadInput = errors.New("engine: bad input")
	// ErrCallFailed matches every CallError.
	ErrCallFailed = errors.New("engine: call failed")
	// ErrOutOfGas: the call ran out of gas.
	ErrOutOfGas = errors.New("engine: out of gas")
	// ErrPanic: the contract panicked.
	ErrPanic = errors.New("engine: contract panicked")
	// ErrTrap: the contract trapped (unreachable, out-of-bounds access,
	// stack exhaustion, ...).
	ErrTrap = errors.New("engine: contract trapped")
	// ErrMemoryLimit: a contract's memory would exceed the engine's cap.
	ErrMemoryLimit = errors.New("engine: memory limit exceeded")
	// ErrCallDepth: the inter-contract call depth cap was reached.
	ErrCallDepth = errors.New("engine: call depth exceeded")
	// ErrNoFunction: the contract exports no such function.
	ErrNoFunction = errors.New("engine: no such function")
	// ErrInternal: an invariant of the engine broke; the session must be
	// dropped. Reported instead of a panic.
	ErrInternal = errors.New("engine: internal error")
	// ErrInterrupted: the call's context was cancelled or its deadline
	// passed, or it ran longer than Options.MaxCallDuration. Unlike every
	// other failure it is not deterministic (another node may finish the
	// same call): a node aborts the block instead of recording a result.
	// The session is left as it was before the call.
	ErrInterrupted = errors.New("engine: call interrupted")
	// ErrQueryPanic: a host query panicked (QueryPanicError).
	ErrQueryPanic = errors.New("engine: host query panicked")
)

// CallError reports a failed call. GasSpent is what the call consumed
// before it failed; the session is as it was before the call.
type CallError struct {
	Contract merkle.ContractID
	Function string
	GasSpent uint64
	GasLimit uint64
	// Events are the events the call emitted before it failed, all with
	// Reverted set: nothing of a failed call is kept, but its trace is
	// what an explorer shows for a failed transaction.
	Events []Event
	// CallTree is the tree of call frames as far as the call got (nil
	// when no frame started, e.g. no such function); failed frames have
	// Failed set.
	CallTree *CallNode
	// Err is the cause: it matches ErrOutOfGas, ErrPanic, ErrTrap,
	// ErrMemoryLimit, ErrCallDepth, ErrNoFunction, ErrBadInput or a
	// hostfns error.
	Err error
}

func (e *CallError) Error() string {
	return fmt.Sprintf("engine: call %s.%s failed after %d gas: %v", short(e.Contract), e.Function, e.GasSpent, e.Err)
}

// Is makes CallError match ErrCallFailed.
func (e *CallError) Is(t error) bool { return t == ErrCallFailed }

// Unwrap returns the cause.
func (e *CallError) Unwrap() error { return e.Err }

// PanicError is a contract's panic with its message; it matches ErrPanic.
type PanicError struct {
	Message string
}

func (e *PanicError) Error() string { return "contract panicked: " + e.Message }

// Is makes PanicError match ErrPanic.
func (e *PanicError) Is(t error) bool { return t == ErrPanic }

// TrapError is a wasm trap; it matches ErrTrap.
type TrapError struct {
	Message string
	// overflow: the trap exhausted the wasm stack (GasStackOverflow).
	overflow bool
}

func (e *TrapError) Error() string { return "contract trapped: " + e.Message }

// Is makes TrapError match ErrTrap.
func (e *TrapError) Is(t error) bool { return t == ErrTrap }

func short(id merkle.ContractID) string { return id.String()[:16] }

func badInput(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrBadInput}, args...)...)
}
