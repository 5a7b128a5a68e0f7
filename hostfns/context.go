package hostfns

import "github.com/bytecodealliance/wasmtime-go/v39"

// caller() -> i32: 1 and the caller's id in A[0..32], or 0 for the host.
func hostCaller(c *call) ([]wasmtime.Val, error) {
	id, ok := c.env.Caller()
	if !ok {
		return i32Result(0), nil
	}
	if err := c.output(id[:]); err != nil {
		return nil, err
	}
	return i32Result(1), nil
}

// callstack() -> i32: the callers' ids in A, immediate caller first.
func hostCallStack(c *call) ([]wasmtime.Val, error) {
	stack := c.env.CallStack()
	out := make([]byte, 0, 32*len(stack))
	for _, id := range stack {
		out = append(out, id[:]...)
	}
	if err := c.output(out); err != nil {
		return nil, err
	}
	return i32Result(int32(len(stack))), nil
}

// limit() -> i64
func hostLimit(c *call) ([]wasmtime.Val, error) { return i64Result(int64(c.env.GasLimit())), nil }

// spent() -> i64
func hostSpent(c *call) ([]wasmtime.Val, error) { return i64Result(int64(c.env.GasSpent())), nil }

// owner(id_ptr) -> i32: the owner's bytes in A and their length, or 0 if
// the contract does not exist; pointer 0 means the running contract.
func hostOwner(c *call) ([]wasmtime.Val, error) {
	var idp *ContractID
	if p := c.ptr(0); p != 0 {
		b, err := c.slice(c.env.Memory(), p, 32)
		if err != nil {
			return nil, err
		}
		id := ContractID(b)
		idp = &id
	}
	owner, ok, err := c.env.Owner(idp)
	if err != nil {
		return nil, err
	}
	if !ok {
		return i32Result(0), nil
	}
	if err := c.output(owner); err != nil {
		return nil, err
	}
	return i32Result(int32(len(owner))), nil
}

// self_id(): the running contract's id in A[0..32].
func hostSelfID(c *call) ([]wasmtime.Val, error) {
	id := c.env.SelfID()
	return nil, c.output(id[:])
}
