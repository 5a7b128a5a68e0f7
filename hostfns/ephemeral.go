package hostfns

import "github.com/bytecodealliance/wasmtime-go/v39"

// Ephemeral data: a key-value scratch space scoped to the session, never
// hashed or committed. Keys are read through a pointer; values travel
// through the argument buffer.

// MaxEphemeralKey is the longest ephemeral key.
const MaxEphemeralKey = 1024

func (c *call) ephKey(mem []byte) ([]byte, error) {
	n := c.u32(1)
	if n > MaxEphemeralKey {
		return nil, &InputError{Func: c.name, Reason: "key longer than 1024 bytes"}
	}
	k, err := c.slice(mem, c.ptr(0), n)
	if err != nil {
		return nil, err
	}
	return k, c.env.Charge(n * GasPerByte)
}

// ws_eph_set(key_ptr, key_len, val_len)
func hostEphSet(c *call) ([]wasmtime.Val, error) {
	mem := c.env.Memory()
	key, err := c.ephKey(mem)
	if err != nil {
		return nil, err
	}
	val, err := c.input(mem, c.u32(2))
	if err != nil {
		return nil, err
	}
	if err := c.env.Charge(uint64(len(key)+len(val)) * GasEphemeralByte); err != nil {
		return nil, err
	}
	return nil, c.env.EphemeralSet(key, val)
}

// ws_eph_get(key_ptr, key_len) -> i32: the value in A and its length, or -1.
func hostEphGet(c *call) ([]wasmtime.Val, error) {
	key, err := c.ephKey(c.env.Memory())
	if err != nil {
		return nil, err
	}
	v, ok := c.env.EphemeralGet(key)
	if !ok {
		return i32Result(-1), nil
	}
	if err := c.output(v); err != nil {
		return nil, err
	}
	return i32Result(int32(len(v))), nil
}

// ws_eph_del(key_ptr, key_len) -> i32: 1 if the key existed.
func hostEphDel(c *call) ([]wasmtime.Val, error) {
	key, err := c.ephKey(c.env.Memory())
	if err != nil {
		return nil, err
	}
	if c.env.EphemeralDelete(key) {
		return i32Result(1), nil
	}
	return i32Result(0), nil
}
