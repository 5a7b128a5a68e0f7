package hostfns

import (
	"bytes"
	"errors"
	"slices"
	"testing"

	"github.com/bytecodealliance/wasmtime-go/v39"
)

// fakeEnv is an Env over a plain byte slice, recording what the host
// functions ask of it.
type fakeEnv struct {
	mem     []byte
	arg     uint64 // offset of the argument buffer
	charged uint64
	budget  uint64 // Charge fails past it
	events  []string
	fed     [][]byte
	debug   [][]byte
	eph     map[string][]byte
	calls   []string
	callOut []byte
	code    int32
	owner   []byte
	meta    map[string][]byte
	query   func([]byte) ([]byte, error)
	failed  error
	// limitPanics makes GasLimit panic (a bug in an Env).
	limitPanics bool
}

var errNoGas = errors.New("out of gas")

func newFake() *fakeEnv {
	return &fakeEnv{mem: make([]byte, 2*ArgBufSize), arg: ArgBufSize, budget: 1 << 40,
		eph: map[string][]byte{}, meta: map[string][]byte{"block_height": {7, 0, 0, 0, 0, 0, 0, 0}}, owner: []byte("owner")}
}

func (f *fakeEnv) Memory() []byte       { return f.mem }
func (f *fakeEnv) ArgBuf() uint64       { return f.arg }
func (f *fakeEnv) WriteArgBuf(b []byte) { copy(f.mem[f.arg:], b) }
func (f *fakeEnv) Charge(gas uint64) error {
	if f.charged+gas > f.budget {
		return errNoGas
	}
	f.charged += gas
	return nil
}
func (f *fakeEnv) Call(callee ContractID, fn string, arg []byte, gas uint64) (int32, []byte, error) {
	f.calls = append(f.calls, fn+":"+string(arg))
	return f.code, f.callOut, nil
}
func (f *fakeEnv) Query(name string, arg []byte) ([]byte, error) { return f.query(arg) }
func (f *fakeEnv) Metadata(name string) ([]byte, bool)           { v, ok := f.meta[name]; return v, ok }
func (f *fakeEnv) Emit(topic string, data []byte) error {
	f.events = append(f.events, topic+"="+string(data))
	return nil
}
func (f *fakeEnv) Feed(data []byte) error     { f.fed = append(f.fed, bytes.Clone(data)); return nil }
func (f *fakeEnv) Caller() (ContractID, bool) { return ContractID{9}, true }
func (f *fakeEnv) CallStack() []ContractID    { return []ContractID{{9}, {8}} }
func (f *fakeEnv) GasLimit() uint64 {
	if f.limitPanics {
		panic("limit exploded")
	}
	return 42
}
func (f *fakeEnv) GasSpent() uint64 { return 7 }
func (f *fakeEnv) Owner(id *ContractID) ([]byte, bool, error) {
	if id != nil && *id != (ContractID{}) {
		return nil, false, nil
	}
	return f.owner, true, nil
}
func (f *fakeEnv) SelfID() ContractID { return ContractID{1, 2, 3} }
func (f *fakeEnv) Debug(msg []byte)   { f.debug = append(f.debug, bytes.Clone(msg)) }
func (f *fakeEnv) EphemeralSet(k, v []byte) error {
	f.eph[string(k)] = bytes.Clone(v)
	return nil
}
func (f *fakeEnv) EphemeralGet(k []byte) ([]byte, bool) { v, ok := f.eph[string(k)]; return v, ok }
func (f *fakeEnv) EphemeralDelete(k []byte) bool {
	_, ok := f.eph[string(k)]
	delete(f.eph, string(k))
	return ok
}
func (f *fakeEnv) Fail(err error) *wasmtime.Trap {
	f.failed = err
	return wasmtime.NewTrap(err.Error())
}

// put writes b at p and returns p.
func (f *fakeEnv) put(p uint64, b []byte) int32 { copy(f.mem[p:], b); return int32(p) }

// in writes b to the argument buffer and returns its length.
func (f *fakeEnv) in(b []byte) int32 { copy(f.mem[f.arg:], b); return int32(len(b)) }

func (f *fakeEnv) out(n int) []byte { return f.mem[f.arg : f.arg+uint64(n)] }

func i32s(vs ...int32) []wasmtime.Val {
	out := make([]wasmtime.Val, len(vs))
	for i, v := range vs {
		out[i] = wasmtime.ValI32(v)
	}
	return out
}

func run(t *testing.T, f *fakeEnv, name string, kind Kind, args ...wasmtime.Val) ([]wasmtime.Val, error) {
	t.Helper()
	h := handlers[name]
	if h == nil {
		t.Fatalf("no handler for %s", name)
	}
	return h(&call{env: f, name: name, kind: kind, args: args})
}

// TestImportsHaveHandlers: the ABI table and the handlers agree, and the
// signatures follow the module kind (pointers i32 or i64, the rest fixed).
func TestImportsHaveHandlers(t *testing.T) {
	if len(Imports) != len(handlers) {
		t.Fatalf("%d imports, %d handlers", len(Imports), len(handlers))
	}
	for _, imp := range Imports {
		if handlers[imp.Name] == nil {
			t.Errorf("import %s has no handler", imp.Name)
		}
		p32, r32 := imp.Signature(Wasm32)
		p64, r64 := imp.Signature(Wasm64)
		if !slices.Equal(r32, r64) || len(p32) != len(p64) {
			t.Errorf("%s: results or arity differ by kind", imp.Name)
		}
		for i, p := range imp.Params {
			switch {
			case p == ptr && (p32[i] != i32 || p64[i] != i64):
				t.Errorf("%s param %d: pointer types %x/%x", imp.Name, i, p32[i], p64[i])
			case p != ptr && (p32[i] != p || p64[i] != p):
				t.Errorf("%s param %d changed with the kind", imp.Name, i)
			}
		}
	}
	c, _ := Imports[0].Signature(Wasm64)
	if want := []ValType{i64, i64, i32, i32, i64}; !slices.Equal(c, want) {
		t.Errorf("c in wasm64: %x, want %x", c, want)
	}
}

// TestCharges: what each host function charges on top of GasHostCall
// (which Define charges), per SPEC.md §10.3 and §11, and what it does.
func TestCharges(t *testing.T) {
	const skip = -1 << 62
	f := newFake()
	f.query = func(a []byte) ([]byte, error) { return append(bytes.Clone(a), a...), nil }
	cases := []struct {
		name string
		args func() []wasmtime.Val
		want uint64
		res  int64 // skip: no result checked
		out  string
	}{
		{"emit", func() []wasmtime.Val { return i32s(f.put(0x100, []byte("topic")), 5, f.in([]byte("abc"))) },
			5 + 3 + GasEventBase + 8*GasEventByte, skip, ""},
		{"hq", func() []wasmtime.Val { return i32s(f.put(0x100, []byte("q")), 1, f.in([]byte("xy"))) },
			1 + 2 + 2*GasQueryByte + 4, 4, "xyxy"},
		{"hd", func() []wasmtime.Val { return i32s(f.put(0x100, []byte("block_height")), 12) }, 12 + 8, 8, "\x07\x00\x00\x00\x00\x00\x00\x00"},
		{"hd", func() []wasmtime.Val { return i32s(f.put(0x100, []byte("nope")), 4) }, 4, 0, ""},
		{"feed", func() []wasmtime.Val { return i32s(f.in([]byte("chunk"))) }, 5, skip, ""},
		{"hdebug", func() []wasmtime.Val { return i32s(f.in([]byte("dbg"))) }, 3, skip, ""},
		{"caller", func() []wasmtime.Val { return nil }, 32, 1, "\x09"},
		{"callstack", func() []wasmtime.Val { return nil }, 64, 2, "\x09"},
		{"limit", func() []wasmtime.Val { return nil }, 0, 42, ""},
		{"spent", func() []wasmtime.Val { return nil }, 0, 7, ""},
		{"owner", func() []wasmtime.Val { return i32s(0) }, 5, 5, "owner"},
		{"owner", func() []wasmtime.Val { return i32s(f.put(0x200, []byte{5})) }, 0, 0, ""},
		{"self_id", func() []wasmtime.Val { return nil }, 32, skip, "\x01\x02\x03"},
		{"ws_eph_set", func() []wasmtime.Val { return i32s(f.put(0x100, []byte("key")), 3, f.in([]byte("value"))) },
			3 + 5 + 8*GasEphemeralByte, skip, ""},
		{"ws_eph_get", func() []wasmtime.Val { return i32s(f.put(0x100, []byte("key")), 3) }, 3 + 5, 5, "value"},
		{"ws_eph_del", func() []wasmtime.Val { return i32s(f.put(0x100, []byte("key")), 3) }, 3, 1, ""},
		{"ws_eph_get", func() []wasmtime.Val { return i32s(f.put(0x100, []byte("key")), 3) }, 3, -1, ""},
		{"ws_eph_del", func() []wasmtime.Val { return i32s(f.put(0x100, []byte("key")), 3) }, 3, 0, ""},
	}
	for i, c := range cases {
		before := f.charged
		res, err := run(t, f, c.name, Wasm32, c.args()...)
		if err != nil {
			t.Fatalf("case %d %s: %v", i, c.name, err)
		}
		if got := f.charged - before; got != c.want {
			t.Errorf("case %d %s: charged %d, want %d", i, c.name, got, c.want)
		}
		if c.res != skip {
			var got int64
			if len(res) == 1 && res[0].Kind() == wasmtime.KindI64 {
				got = res[0].I64()
			} else if len(res) == 1 {
				got = int64(res[0].I32())
			}
			if got != c.res {
				t.Errorf("case %d %s: result %d, want %d", i, c.name, got, c.res)
			}
		}
		if c.out != "" && !bytes.HasPrefix(f.out(len(c.out)), []byte(c.out)) {
			t.Errorf("case %d %s: output %q, want prefix %q", i, c.name, f.out(len(c.out)), c.out)
		}
	}
	if !slices.Equal(f.events, []string{"topic=abc"}) || len(f.fed) != 1 || string(f.fed[0]) != "chunk" || string(f.debug[0]) != "dbg" {
		t.Fatalf("effects: events %q fed %q debug %q", f.events, f.fed, f.debug)
	}
}

// TestCallHostFunction: c reads the callee id, name and argument, charges
// GasCallBase, name, input and output bytes, and hands back the code.
func TestCallHostFunction(t *testing.T) {
	f := newFake()
	f.callOut, f.code = []byte("result"), 6
	idp := f.put(0x300, bytes.Repeat([]byte{4}, 32))
	res, err := run(t, f, "c", Wasm32, wasmtime.ValI32(idp), wasmtime.ValI32(f.put(0x100, []byte("fn"))),
		wasmtime.ValI32(2), wasmtime.ValI32(f.in([]byte("arg"))), wasmtime.ValI64(0))
	if err != nil || res[0].I32() != 6 || string(f.out(6)) != "result" {
		t.Fatalf("c: %v %v %q", res, err, f.out(6))
	}
	if want := uint64(GasCallBase + 2 + 3 + 6); f.charged != want {
		t.Fatalf("c charged %d, want %d", f.charged, want)
	}
	if !slices.Equal(f.calls, []string{"fn:arg"}) {
		t.Fatalf("calls %q", f.calls)
	}
	// Without gas for GasCallBase nothing is read or called.
	f = newFake()
	f.budget = GasCallBase - 1
	_, err = run(t, f, "c", Wasm32, i32s(0, 0, 0, 0)[0], wasmtime.ValI32(0), wasmtime.ValI32(0), wasmtime.ValI32(0), wasmtime.ValI64(0))
	if !errors.Is(err, errNoGas) || len(f.calls) != 0 {
		t.Fatalf("c without gas: %v, calls %q", err, f.calls)
	}
}

// TestBadInput: every pointer and length is checked against the memory
// and the buffer; bad ones are typed errors, never a panic.
func TestBadInput(t *testing.T) {
	f := newFake()
	size := int32(len(f.mem))
	cases := []struct {
		name string
		kind Kind
		args []wasmtime.Val
		want error
	}{
		{"emit", Wasm32, i32s(size-2, 5, 0), ErrBadAccess},
		{"emit", Wasm32, i32s(-1, 2, 0), ErrBadAccess}, // 4 GiB - 1 as a u32 pointer
		{"emit", Wasm32, i32s(0, 1, ArgBufSize+1), ErrBadInput},
		{"emit", Wasm32, i32s(f.put(0x10, []byte{0xff, 0xfe}), 2, 0), ErrBadInput}, // not UTF-8
		{"hd", Wasm32, i32s(0, ArgBufSize+1), ErrBadInput},
		{"feed", Wasm32, i32s(ArgBufSize + 1), ErrBadInput},
		{"ws_eph_set", Wasm32, i32s(0, MaxEphemeralKey+1, 0), ErrBadInput},
		{"ws_eph_get", Wasm32, i32s(size, 1), ErrBadAccess},
		{"owner", Wasm32, i32s(size - 31), ErrBadAccess},
		{"owner", Wasm64, []wasmtime.Val{wasmtime.ValI64(1 << 40)}, ErrBadAccess},
		{"emit", Wasm64, []wasmtime.Val{wasmtime.ValI64(-1), wasmtime.ValI32(1), wasmtime.ValI32(0)}, ErrBadAccess},
		{"c", Wasm32, []wasmtime.Val{wasmtime.ValI32(size - 16), wasmtime.ValI32(0), wasmtime.ValI32(0), wasmtime.ValI32(0), wasmtime.ValI64(0)}, ErrBadAccess},
	}
	for i, c := range cases {
		_, err := run(t, f, c.name, c.kind, c.args...)
		if !errors.Is(err, c.want) {
			t.Errorf("case %d %s: %v, want %v", i, c.name, err, c.want)
		}
	}
	// A panic message that is not UTF-8 still fails with a PanicError.
	_, err := run(t, f, "panic", Wasm32, i32s(f.in([]byte{'a', 0xff}))...)
	var pe *PanicError
	if !errors.As(err, &pe) || pe.Message != "a\uFFFD" {
		t.Fatalf("panic with invalid UTF-8: %v", err)
	}
}

// TestDefine links the host functions into a real wasmtime instance: a
// module calling "limit" gets the Env's value, and each call charges
// GasHostCall first; a failed charge traps through Env.Fail.
func TestDefine(t *testing.T) {
	wasm, err := wasmtime.Wat2Wasm(`(module
		(import "env" "limit" (func $limit (result i64)))
		(memory (export "memory") 1)
		(func (export "go") (result i64) (call $limit)))`)
	if err != nil {
		t.Fatal(err)
	}
	engine := wasmtime.NewEngine()
	store := wasmtime.NewStore(engine)
	linker := wasmtime.NewLinker(engine)
	f := newFake()
	if err := Define(linker, Wasm32, func(*wasmtime.Caller) Env { return f }); err != nil {
		t.Fatal(err)
	}
	mod, err := wasmtime.NewModule(engine, wasm)
	if err != nil {
		t.Fatal(err)
	}
	inst, err := linker.Instantiate(store, mod)
	if err != nil {
		t.Fatal(err)
	}
	goFn := inst.GetFunc(store, "go")
	v, err := goFn.Call(store)
	if err != nil || v.(int64) != 42 || f.charged != GasHostCall {
		t.Fatalf("limit through wasmtime: %v %v, charged %d", v, err, f.charged)
	}
	f.budget = f.charged + GasHostCall - 1
	if _, err := goFn.Call(store); err == nil || !errors.Is(f.failed, errNoGas) {
		t.Fatalf("call without gas for GasHostCall: %v (failed %v)", err, f.failed)
	}
	// A Go panic in the host function reaches Env.Fail as a GoPanicError,
	// not wasmtime-go's trampoline: the call traps, and nothing is left
	// in the store for wasmtime-go to raise at the next call.
	f.budget, f.limitPanics = 1<<40, true
	var gp *GoPanicError
	if _, err := goFn.Call(store); err == nil || !errors.As(f.failed, &gp) || gp.Value != "limit exploded" {
		t.Fatalf("panicking host function: %v (failed %v)", err, f.failed)
	}
	f.limitPanics = false
	if v, err := goFn.Call(store); err != nil || v.(int64) != 42 {
		t.Fatalf("call after a recovered panic: %v %v", v, err)
	}
}
