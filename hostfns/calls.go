package hostfns

import (
	"unicode/utf8"

	"github.com/bytecodealliance/wasmtime-go/v39"
)

// c(callee_ptr, name_ptr, name_len, arg_len, gas_limit) -> i32
func hostCall(c *call) ([]wasmtime.Val, error) {
	if err := c.env.Charge(GasCallBase); err != nil {
		return nil, err
	}
	mem := c.env.Memory()
	idb, err := c.slice(mem, c.ptr(0), 32)
	if err != nil {
		return nil, err
	}
	fn, err := c.str(mem, c.ptr(1), c.u32(2))
	if err != nil {
		return nil, err
	}
	arg, err := c.input(mem, c.u32(3))
	if err != nil {
		return nil, err
	}
	callee := ContractID(idb)
	// The engine copies arg into the callee before anything can run, so
	// passing a view of the caller's memory is safe.
	code, out, err := c.env.Call(callee, fn, arg, uint64(c.args[4].I64()))
	if err != nil {
		return nil, err
	}
	if err := c.output(out); err != nil {
		return nil, err
	}
	return i32Result(code), nil
}

// hq(name_ptr, name_len, arg_len) -> i32
func hostQuery(c *call) ([]wasmtime.Val, error) {
	mem := c.env.Memory()
	name, err := c.str(mem, c.ptr(0), c.u32(1))
	if err != nil {
		return nil, err
	}
	arg, err := c.input(mem, c.u32(2))
	if err != nil {
		return nil, err
	}
	if err := c.env.Charge(uint64(len(arg)) * GasQueryByte); err != nil {
		return nil, err
	}
	out, err := c.env.Query(name, arg)
	if err != nil {
		return nil, err
	}
	if err := c.output(out); err != nil {
		return nil, err
	}
	return i32Result(int32(len(out))), nil
}

func validTopic(c *call, topic string) error {
	if !utf8.ValidString(topic) {
		return &InputError{Func: c.name, Reason: "topic is not UTF-8"}
	}
	return nil
}
