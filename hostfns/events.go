package hostfns

import (
	"unicode/utf8"

	"github.com/bytecodealliance/wasmtime-go/v39"
)

// emit(topic_ptr, topic_len, arg_len): an event with data A[..arg_len].
func hostEmit(c *call) ([]wasmtime.Val, error) {
	mem := c.env.Memory()
	topic, err := c.str(mem, c.ptr(0), c.u32(1))
	if err != nil {
		return nil, err
	}
	if err := validTopic(c, topic); err != nil {
		return nil, err
	}
	data, err := c.input(mem, c.u32(2))
	if err != nil {
		return nil, err
	}
	if err := c.env.Charge(GasEventBase + uint64(len(topic)+len(data))*GasEventByte); err != nil {
		return nil, err
	}
	return nil, c.env.Emit(topic, data)
}

// feed(arg_len): stream A[..arg_len] to the host.
func hostFeed(c *call) ([]wasmtime.Val, error) {
	data, err := c.input(c.env.Memory(), c.u32(0))
	if err != nil {
		return nil, err
	}
	return nil, c.env.Feed(data)
}

// panic(arg_len): fail the frame with the UTF-8 message A[..arg_len].
func hostPanic(c *call) ([]wasmtime.Val, error) {
	msg, err := c.input(c.env.Memory(), c.u32(0))
	if err != nil {
		return nil, err
	}
	if !utf8.Valid(msg) {
		return nil, &PanicError{Message: string([]rune(string(msg)))}
	}
	return nil, &PanicError{Message: string(msg)}
}

// hdebug(msg_len): a debug message A[..msg_len].
func hostDebug(c *call) ([]wasmtime.Val, error) {
	msg, err := c.input(c.env.Memory(), c.u32(0))
	if err != nil {
		return nil, err
	}
	c.env.Debug(msg)
	return nil, nil
}
