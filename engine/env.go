package engine

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/bytecodealliance/wasmtime-go/v39"

	"github.com/wasmstate/wasmstate/hostfns"
	"github.com/wasmstate/wasmstate/merkle"
)

// hostEnv is the session as host functions see it: every method speaks for
// the innermost running frame.
type hostEnv struct{ s *Session }

var _ hostfns.Env = hostEnv{}

// Ephemeral data limits.
const (
	// MaxEphemeralBytes bounds a session's ephemeral keys and values.
	MaxEphemeralBytes = 16 << 20
)

// MaxEventBytes bounds the events of one top-level call (topics and data,
// reverted events included): a receipt is held in memory whole.
const MaxEventBytes = 4 << 20

// ErrEventsFull: an event would take the call's events past MaxEventBytes.
// The emitting frame fails.
var ErrEventsFull = errors.New("engine: event bytes per call exceeded")

// ErrEphemeralFull: the session's ephemeral data would exceed MaxEphemeralBytes.
var ErrEphemeralFull = errors.New("engine: ephemeral data limit reached")

// ErrNotFeeding: "feed" outside a CallFeed.
var ErrNotFeeding = errors.New("engine: feed outside a feeder call")

// ErrUnknownQuery: "hq" named a query the embedder did not register.
var ErrUnknownQuery = errors.New("engine: unknown host query")

// QueryPanicError: a host query panicked. The message is the panic value
// formatted with %v, so the failure is deterministic.
type QueryPanicError struct {
	Query string
	Value string
}

func (e *QueryPanicError) Error() string {
	return fmt.Sprintf("engine: host query %q panicked: %s", e.Query, e.Value)
}

// Is makes QueryPanicError match ErrQueryPanic.
func (e *QueryPanicError) Is(t error) bool { return t == ErrQueryPanic }

func (h hostEnv) top() *frame { return &h.s.frames[len(h.s.frames)-1] }

func (h hostEnv) Memory() []byte { return h.top().c.refresh() }

func (h hostEnv) ArgBuf() uint64 { return h.top().c.mod.info.ArgBuffer }

func (h hostEnv) WriteArgBuf(b []byte) {
	c := h.top().c
	a := c.mod.info.ArgBuffer
	copy(c.memory()[a:a+hostfns.ArgBufSize], b)
	c.argUsed = max(c.argUsed, uint64(len(b)))
}

// Charge runs at every host function call: it is also where a call whose
// context was cancelled stops (wasm itself is stopped by the epoch
// deadline, see interrupt.go).
func (h hostEnv) Charge(gas uint64) error {
	if err := h.s.interrupted(); err != nil {
		return err
	}
	return h.s.charge(gas)
}

func (h hostEnv) Call(callee hostfns.ContractID, fn string, arg []byte, gasLimit uint64) (int32, []byte, error) {
	s := h.s
	caller := h.top().c
	c, err := s.contract(merkle.ContractID(callee))
	if errors.Is(err, ErrNoContract) {
		return hostfns.CallNoContract, nil, nil
	}
	if err != nil {
		return hostfns.CallFailed, nil, nil
	}
	// The caller's writes so far belong to the caller's frame.
	if err := s.collect(caller); err != nil {
		return 0, nil, err
	}
	remaining := s.fuel()
	limit := calleeLimit(gasLimit, remaining)
	// The callee's frame sets the fuel to limit; the caller's fuel goes
	// back to the store before its wasm resumes.
	defer s.syncFuel()
	out, node, ferr := s.runFrame(c, fn, arg, limit, nil)
	spent := limit - min(limit, s.fuel())
	if ferr != nil {
		if s.broken != nil {
			return 0, nil, s.broken
		}
		if errors.Is(ferr, ErrInterrupted) {
			// Not the callee's failure to report to its caller: the whole
			// call stops.
			return 0, nil, ferr
		}
		if node == nil {
			// Refused before a frame started (depth cap, no such function,
			// init): nothing ran, so the caller pays only the price of "c"
			// it already paid, not the callee's share.
			s.setFuel(remaining)
			return hostfns.CallFailed, nil, nil
		}
		// A failed callee costs the caller its whole limit, and its
		// failure's price.
		s.setFuel(remaining - limit)
		if err := s.charge(failurePrice(ferr)); err != nil {
			return 0, nil, err
		}
		var p *PanicError
		switch {
		case errors.As(ferr, &p):
			msg := []byte(p.Message)
			if len(msg) > hostfns.ArgBufSize-4 {
				msg = msg[:hostfns.ArgBufSize-4]
			}
			return hostfns.CallPanicked, append(binary.LittleEndian.AppendUint32(nil, uint32(len(msg))), msg...), nil
		case errors.Is(ferr, ErrOutOfGas):
			return hostfns.CallOutOfGas, nil, nil
		}
		return hostfns.CallFailed, nil, nil
	}
	s.setFuel(remaining - spent)
	return int32(len(out)), out, nil
}

func (h hostEnv) Query(name string, arg []byte) (out []byte, err error) {
	q, ok := h.s.e.opts.Queries[name]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrUnknownQuery, name)
	}
	if err := h.s.charge(q.Gas); err != nil {
		return nil, err
	}
	defer func() {
		if p := recover(); p != nil {
			out, err = nil, &QueryPanicError{Query: name, Value: fmt.Sprint(p)}
		}
	}()
	return q.Fn(slices.Clone(arg))
}

func (h hostEnv) Metadata(name string) ([]byte, bool) {
	v, ok := h.s.meta[name]
	return v, ok
}

func (h hostEnv) Emit(topic string, data []byte) error {
	n := uint64(len(topic) + len(data))
	if h.s.eventBytes+n > MaxEventBytes {
		return fmt.Errorf("%w: %d bytes of events in this call, %d more refused", ErrEventsFull, h.s.eventBytes, n)
	}
	h.s.eventBytes += n
	h.s.events = append(h.s.events, Event{Source: h.top().c.id, Topic: topic, Data: slices.Clone(data)})
	return nil
}

func (h hostEnv) Feed(data []byte) error {
	if h.s.feed == nil {
		return ErrNotFeeding
	}
	return h.s.feed(slices.Clone(data))
}

func (h hostEnv) Caller() (hostfns.ContractID, bool) {
	n := len(h.s.frames)
	if n < 2 {
		return hostfns.ContractID{}, false
	}
	return h.s.frames[n-2].c.id, true
}

func (h hostEnv) CallStack() []hostfns.ContractID {
	fs := h.s.frames
	out := make([]hostfns.ContractID, 0, len(fs))
	for i := len(fs) - 2; i >= 0; i-- {
		out = append(out, fs[i].c.id)
	}
	return out
}

func (h hostEnv) GasLimit() uint64 { return h.top().limit }

func (h hostEnv) GasSpent() uint64 {
	f := h.top()
	return f.limit - min(f.limit, h.s.fuel())
}

func (h hostEnv) Owner(id *hostfns.ContractID) ([]byte, bool, error) {
	c := h.top().c
	if id != nil && merkle.ContractID(*id) != c.id {
		var err error
		c, err = h.s.contract(merkle.ContractID(*id))
		if errors.Is(err, ErrNoContract) {
			return nil, false, nil
		}
		if err != nil {
			return nil, false, err
		}
	}
	o, err := c.ownerBytes()
	return o, err == nil, err
}

func (h hostEnv) SelfID() hostfns.ContractID { return h.top().c.id }

func (h hostEnv) Debug(msg []byte) {
	if h.s.debug {
		h.s.debugLog = append(h.s.debugLog, DebugMessage{Contract: h.top().c.id, Message: string(msg)})
	}
}

func (h hostEnv) EphemeralSet(key, value []byte) error {
	s := h.s
	old := s.eph[string(key)]
	if s.ephBytes-len(old)+len(key)+len(value) > MaxEphemeralBytes {
		return ErrEphemeralFull
	}
	if _, ok := s.eph[string(key)]; ok {
		s.ephBytes -= len(key) + len(old)
	}
	s.eph[string(key)] = slices.Clone(value)
	s.ephBytes += len(key) + len(value)
	return nil
}

func (h hostEnv) EphemeralGet(key []byte) ([]byte, bool) {
	v, ok := h.s.eph[string(key)]
	return v, ok
}

func (h hostEnv) EphemeralDelete(key []byte) bool {
	v, ok := h.s.eph[string(key)]
	if ok {
		h.s.ephBytes -= len(key) + len(v)
		delete(h.s.eph, string(key))
	}
	return ok
}

func (h hostEnv) Fail(err error) *wasmtime.Trap {
	var gp *hostfns.GoPanicError
	if errors.As(err, &gp) {
		// Raised again when the wasm call under it returns (enter).
		if h.s.hostPanic == nil {
			h.s.hostPanic = gp.Value
		}
		return wasmtime.NewTrap(err.Error())
	}
	if h.s.hostErr == nil {
		h.s.hostErr = err
	}
	return wasmtime.NewTrap(err.Error())
}

// ownerBytes returns the contract's owner, reading it from the store once.
func (c *contract) ownerBytes() ([]byte, error) {
	if c.owner == nil {
		o, err := c.s.e.store.Owner(c.leaf.OwnerHash)
		if err != nil {
			return nil, err
		}
		c.owner = o
	}
	return c.owner, nil
}
