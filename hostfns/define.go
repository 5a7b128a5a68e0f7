package hostfns

import (
	"fmt"

	"github.com/bytecodealliance/wasmtime-go/v39"
)

// call is the state one host-function invocation works with.
type call struct {
	env  Env
	name string
	kind Kind
	args []wasmtime.Val
}

type handler func(c *call) ([]wasmtime.Val, error)

var handlers = map[string]handler{
	"c": hostCall, "hq": hostQuery, "hd": hostMetadata, "emit": hostEmit, "feed": hostFeed,
	"caller": hostCaller, "callstack": hostCallStack, "limit": hostLimit, "spent": hostSpent,
	"panic": hostPanic, "owner": hostOwner, "self_id": hostSelfID, "hdebug": hostDebug,
	"ws_eph_set": hostEphSet, "ws_eph_get": hostEphGet, "ws_eph_del": hostEphDel,
}

// Define adds every host function, with the signatures of modules of kind
// k, to the linker under module "env". envOf finds the Env of the store a
// call comes from.
func Define(l *wasmtime.Linker, k Kind, envOf func(*wasmtime.Caller) Env) error {
	for _, imp := range Imports {
		h := handlers[imp.Name]
		params, results := imp.Signature(k)
		ty := wasmtime.NewFuncType(valKinds(params), valKinds(results))
		name := imp.Name
		err := l.FuncNew("env", name, ty, func(caller *wasmtime.Caller, args []wasmtime.Val) (_ []wasmtime.Val, trap *wasmtime.Trap) {
			env := envOf(caller)
			defer func() {
				if p := recover(); p != nil {
					trap = env.Fail(&GoPanicError{Value: p})
				}
			}()
			c := call{env: env, name: name, kind: k, args: args}
			if err := env.Charge(GasHostCall); err != nil {
				return nil, env.Fail(err)
			}
			out, err := h(&c)
			if err != nil {
				return nil, env.Fail(err)
			}
			return out, nil
		})
		if err != nil {
			return fmt.Errorf("hostfns: define %s: %w", name, err)
		}
	}
	return nil
}

// ptr returns argument i as a pointer of the module's kind.
func (c *call) ptr(i int) uint64 {
	if c.kind == Wasm64 {
		return uint64(c.args[i].I64())
	}
	return uint64(uint32(c.args[i].I32()))
}

// u32 returns argument i as an unsigned length or count.
func (c *call) u32(i int) uint64 { return uint64(uint32(c.args[i].I32())) }

// slice returns memory[p : p+n], bounds-checked.
func (c *call) slice(mem []byte, p, n uint64) ([]byte, error) {
	if p > uint64(len(mem)) || n > uint64(len(mem))-p {
		return nil, &MemoryAccessError{Func: c.name, Ptr: p, Len: n, MemoryBytes: uint64(len(mem))}
	}
	return mem[p : p+n], nil
}

// argBuf returns the running contract's argument buffer.
func (c *call) argBuf(mem []byte) ([]byte, error) {
	return c.slice(mem, c.env.ArgBuf(), ArgBufSize)
}

// input returns A[:n] after checking n against the buffer size and
// charging for the bytes.
func (c *call) input(mem []byte, n uint64) ([]byte, error) {
	if n > ArgBufSize {
		return nil, &InputError{Func: c.name, Reason: fmt.Sprintf("length %d exceeds the %d-byte argument buffer", n, ArgBufSize)}
	}
	buf, err := c.argBuf(mem)
	if err != nil {
		return nil, err
	}
	if err := c.env.Charge(n * GasPerByte); err != nil {
		return nil, err
	}
	return buf[:n], nil
}

// output copies b to the start of the argument buffer, charging for it.
func (c *call) output(b []byte) error {
	if len(b) > ArgBufSize {
		return &InputError{Func: c.name, Reason: fmt.Sprintf("result of %d bytes exceeds the argument buffer", len(b))}
	}
	if err := c.env.Charge(uint64(len(b)) * GasPerByte); err != nil {
		return err
	}
	c.env.WriteArgBuf(b)
	return nil
}

// name reads a pointer/length pair as a string, charging for its bytes.
func (c *call) str(mem []byte, p, n uint64) (string, error) {
	if n > ArgBufSize {
		return "", &InputError{Func: c.name, Reason: fmt.Sprintf("name of %d bytes", n)}
	}
	b, err := c.slice(mem, p, n)
	if err != nil {
		return "", err
	}
	if err := c.env.Charge(n * GasPerByte); err != nil {
		return "", err
	}
	return string(b), nil
}

func i32Result(v int32) []wasmtime.Val { return []wasmtime.Val{wasmtime.ValI32(v)} }
func i64Result(v int64) []wasmtime.Val { return []wasmtime.Val{wasmtime.ValI64(v)} }
