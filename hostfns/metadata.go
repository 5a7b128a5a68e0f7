package hostfns

import "github.com/bytecodealliance/wasmtime-go/v39"

// hd(name_ptr, name_len) -> i32: the metadata value in A and its length;
// 0 means absent (the engine rejects empty values, so 0 is unambiguous).
func hostMetadata(c *call) ([]wasmtime.Val, error) {
	name, err := c.str(c.env.Memory(), c.ptr(0), c.u32(1))
	if err != nil {
		return nil, err
	}
	v, ok := c.env.Metadata(name)
	if !ok {
		return i32Result(0), nil
	}
	if err := c.output(v); err != nil {
		return nil, err
	}
	return i32Result(int32(len(v))), nil
}
