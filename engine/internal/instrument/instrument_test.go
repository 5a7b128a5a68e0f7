package instrument_test

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/bytecodealliance/wasmtime-go/v39"

	"github.com/wasmstate/wasmstate/engine"
	"github.com/wasmstate/wasmstate/engine/internal/instrument"
)

// indexWat names defined functions in every place the format allows:
// call, call_indirect through tables filled by element segments of all
// eight encodings, ref.func in bodies, globals and segments, exports, the
// start function; imports of every kind, so that the hook lands after
// them; and names for functions, locals and labels. addr is the memory's
// index type.
func indexWat(addr string) string {
	return strings.ReplaceAll(`(module
  (import "env" "f" (func $imp (param i32) (result i32)))
  (import "env" "tab" (table $itab 8 funcref))
  (import "env" "g" (func $imp2 (param i32) (result i32)))
  (import "env" "glob" (global $iglob i32))
  (type $ii (func (param i32) (result i32)))
  (memory (export "memory") ADDR 1 10)
  (table $t 16 funcref)
  (global $counter (export "counter") (mut i32) (i32.const 0))
  (global $fref funcref (ref.func $triple))
  (elem (i32.const 0) func $double $triple)                            ;; 0: table 0, indices
  (elem $p func $triple $double)                                       ;; 1: passive, indices
  (elem (table $t) (i32.const 0) func $double $triple $grow_by)        ;; 2: table 1, indices
  (elem declare func $start_fn)                                        ;; 3: declarative, indices
  (elem (i32.const 2) funcref (ref.func $triple) (ref.null func))      ;; 4: table 0, expressions
  (elem $pe funcref (ref.func $double) (ref.func $grow_by))            ;; 5: passive, expressions
  (elem (table $t) (i32.const 3) funcref (ref.func $double))           ;; 6: table 1, expressions
  (elem declare funcref (ref.func $boom))                              ;; 7: declarative, expressions
  (start $start_fn)
  (func $double (type $ii) (i32.mul (local.get 0) (i32.const 2)))
  (func $triple (type $ii) (i32.mul (local.get 0) (i32.const 3)))
  (func $grow_by (param $pages i32) (result i32)
    (i32.wrap_ADDR (memory.grow (ADDR.extend_i32_u_or_id (local.get $pages)))))
  (func $start_fn
    (global.set $counter (i32.add (i32.const 100) (call $imp (i32.const 1)))))
  (func $boom (export "boom") (param i32) (result i32) unreachable)
  (func (export "run") (param $x i32) (result i32)
    (local $acc i32)
    (local.set $acc (call $double (local.get $x)))
    (local.set $acc (i32.add (local.get $acc) (call_indirect $itab (type $ii) (local.get $x) (i32.const 1))))
    (local.set $acc (i32.add (local.get $acc) (call_indirect $itab (type $ii) (local.get $x) (i32.const 2))))
    (local.set $acc (i32.add (local.get $acc) (call_indirect $t (type $ii) (local.get $x) (i32.const 3))))
    (table.set $t (i32.const 5) (global.get $fref))
    (local.set $acc (i32.add (local.get $acc) (call_indirect $t (type $ii) (local.get $x) (i32.const 5))))
    (table.init $t $p (i32.const 6) (i32.const 0) (i32.const 2))
    (local.set $acc (i32.add (local.get $acc) (call_indirect $t (type $ii) (local.get $x) (i32.const 7))))
    (table.init $t $pe (i32.const 8) (i32.const 0) (i32.const 2))
    (table.set $t (i32.const 10) (ref.func $triple))
    (local.set $acc (i32.add (local.get $acc) (call_indirect $t (type $ii) (local.get $x) (i32.const 10))))
    ;; grow through a direct call, the table of segment 2 and of segment 5
    (local.set $acc (i32.add (local.get $acc) (call $grow_by (i32.const 1))))
    (local.set $acc (i32.add (local.get $acc) (call_indirect $t (type $ii) (i32.const 2) (i32.const 2))))
    (local.set $acc (i32.add (local.get $acc) (call_indirect $t (type $ii) (i32.const 100) (i32.const 9))))
    (block $out
      (local.set $acc (i32.add (local.get $acc) (i32.wrap_ADDR (memory.size))))
      (br_if $out (i32.eqz (local.get $x))))
    (local.set $acc (i32.add (local.get $acc) (call $imp2 (local.get $acc))))
    (i32.add (local.get $acc) (global.get $counter)))
)`, "ADDR", addr)
}

func watModule(t *testing.T, src string) []byte {
	t.Helper()
	if strings.Contains(src, "i32.wrap_i32") || strings.Contains(src, "_or_id") {
		src = strings.ReplaceAll(src, "(i32.wrap_i32 ", "(i32.add (i32.const 0) ")
		src = strings.ReplaceAll(src, "(i32.extend_i32_u_or_id ", "(i32.add (i32.const 0) ")
		src = strings.ReplaceAll(src, "(i64.extend_i32_u_or_id ", "(i64.extend_i32_u ")
	}
	b, err := wasmtime.Wat2Wasm(src)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// run instantiates wasm with the env imports and, when hook is set, the
// growth hook (recording deltas), calls run(x) and boom, and describes
// everything observable: results, traps with their frames' names, the
// memory's size and contents, the counter global.
func run(t *testing.T, wasm []byte, mem64 bool, hook *[]uint64) string {
	t.Helper()
	st, l := newStore(t, "f")
	i32 := wasmtime.NewValType(wasmtime.KindI32)
	ii := wasmtime.NewFuncType([]*wasmtime.ValType{i32}, []*wasmtime.ValType{i32})
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(l.FuncNew("env", "g", ii, func(_ *wasmtime.Caller, a []wasmtime.Val) ([]wasmtime.Val, *wasmtime.Trap) {
		return []wasmtime.Val{wasmtime.ValI32(a[0].I32() ^ 0x5555)}, nil
	}))
	tab, err := wasmtime.NewTable(st, wasmtime.NewTableType(wasmtime.NewValType(wasmtime.KindFuncref), 8, false, 0), wasmtime.ValFuncref(nil))
	must(err)
	must(l.Define(st, "env", "tab", tab))
	g, err := wasmtime.NewGlobal(st, wasmtime.NewGlobalType(i32, false), wasmtime.ValI32(9))
	must(err)
	must(l.Define(st, "env", "glob", g))
	if hook != nil {
		defineHook(t, l, mem64, hook)
	}
	m, err := wasmtime.NewModule(engineForFuzz(), wasm)
	must(err)
	inst, err := l.Instantiate(st, m)
	must(err)
	var out strings.Builder
	for _, fn := range []string{"run", "boom"} {
		for _, x := range []int32{0, 5} {
			res, err := inst.GetFunc(st, fn).Call(st, x)
			fmt.Fprintf(&out, "%s(%d) = %v", fn, x, res)
			var trap *wasmtime.Trap
			if errors.As(err, &trap) {
				fmt.Fprintf(&out, " trap %v", *trap.Code())
				for _, f := range trap.Frames() {
					if n := f.FuncName(); n != nil {
						fmt.Fprintf(&out, " %s", *n)
					}
				}
			} else if err != nil {
				fmt.Fprintf(&out, " error %v", err)
			}
			out.WriteString("\n")
		}
	}
	mem := inst.GetExport(st, "memory").Memory()
	fmt.Fprintf(&out, "memory %d pages, sum %d\n", mem.Size(st), checksum(mem.UnsafeData(st)))
	fmt.Fprintf(&out, "counter %v\n", inst.GetExport(st, "counter").Global().Get(st).I32())
	return out.String()
}

// newStore returns a store of the engine's configuration, with fuel and
// an epoch deadline out of reach, and a linker defining the import env.name
// as x*7+3.
func newStore(t *testing.T, name string) (*wasmtime.Store, *wasmtime.Linker) {
	t.Helper()
	e := engineForFuzz()
	st := wasmtime.NewStore(e)
	st.SetFuel(1 << 40)
	st.SetEpochDeadline(1 << 40)
	l := wasmtime.NewLinker(e)
	i32 := wasmtime.NewValType(wasmtime.KindI32)
	ii := wasmtime.NewFuncType([]*wasmtime.ValType{i32}, []*wasmtime.ValType{i32})
	err := l.FuncNew("env", name, ii, func(_ *wasmtime.Caller, a []wasmtime.Val) ([]wasmtime.Val, *wasmtime.Trap) {
		return []wasmtime.Val{wasmtime.ValI32(a[0].I32()*7 + 3)}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return st, l
}

// defineHook defines a growth hook that records the deltas it sees in
// deltas and returns them unchanged.
func defineHook(t *testing.T, l *wasmtime.Linker, mem64 bool, deltas *[]uint64) {
	t.Helper()
	addr := wasmtime.NewValType(wasmtime.KindI32)
	if mem64 {
		addr = wasmtime.NewValType(wasmtime.KindI64)
	}
	ht := wasmtime.NewFuncType([]*wasmtime.ValType{addr}, []*wasmtime.ValType{addr})
	err := l.FuncNew(instrument.HookModule, instrument.HookName, ht, func(_ *wasmtime.Caller, a []wasmtime.Val) ([]wasmtime.Val, *wasmtime.Trap) {
		if mem64 {
			*deltas = append(*deltas, uint64(a[0].I64()))
		} else {
			*deltas = append(*deltas, uint64(uint32(a[0].I32())))
		}
		return a, nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func checksum(b []byte) uint64 {
	var h uint64 = 14695981039346656037
	for _, c := range b {
		h = (h ^ uint64(c)) * 1099511628211
	}
	return h
}

// TestFunctionIndicesShifted: the instrumented module validates, imports
// the hook with the memory's index type after every other import, calls it
// before each memory.grow with the requested delta, and otherwise behaves
// exactly like the original: every call path, segment and the start
// function reach the same functions, and traps name the same frames.
func TestFunctionIndicesShifted(t *testing.T) {
	for _, addr := range []string{"i32", "i64"} {
		t.Run(addr, func(t *testing.T) {
			mem64 := addr == "i64"
			orig := watModule(t, indexWat(addr))
			out, sites, err := instrument.MemoryGrow(orig)
			if err != nil {
				t.Fatal(err)
			}
			if sites != 1 {
				t.Fatalf("%d sites, want 1", sites)
			}
			e := wasmtime.NewEngineWithConfig(engine.WasmtimeConfig())
			m, err := wasmtime.NewModule(e, out)
			if err != nil {
				t.Fatalf("instrumented module does not compile: %v", err)
			}
			imps := m.Imports()
			last := imps[len(imps)-1]
			if last.Module() != instrument.HookModule || *last.Name() != instrument.HookName {
				t.Fatalf("last import %s.%s", last.Module(), *last.Name())
			}
			ft := last.Type().FuncType()
			want := wasmtime.KindI32
			if mem64 {
				want = wasmtime.KindI64
			}
			if ft == nil || len(ft.Params()) != 1 || ft.Params()[0].Kind() != want || len(ft.Results()) != 1 || ft.Results()[0].Kind() != want {
				t.Fatalf("hook type %v", ft)
			}
			before := run(t, orig, mem64, nil)
			var deltas []uint64
			after := run(t, out, mem64, &deltas)
			if before != after {
				t.Fatalf("behaviour changed:\noriginal:\n%s\ninstrumented:\n%s", before, after)
			}
			// run(0) and run(5) each grow by 1, 2 and 100 (past the
			// maximum of 10: refused).
			if fmt.Sprint(deltas) != "[1 2 100 1 2 100]" {
				t.Fatalf("hook saw deltas %v", deltas)
			}
			for _, want := range []string{"boom", "trap"} {
				if !strings.Contains(after, want) {
					t.Fatalf("no %q in\n%s", want, after)
				}
			}
		})
	}
}

// customSection encodes a custom section.
func customSection(name string, content []byte) []byte {
	c := append([]byte{byte(len(name))}, name...)
	c = append(c, content...)
	return append([]byte{0, byte(len(c))}, c...)
}

// TestCustomSections: DWARF sections (their code offsets no longer hold)
// are dropped, other custom sections kept byte for byte; a name section
// that does not decode is dropped, not an error.
func TestCustomSections(t *testing.T) {
	base := watModule(t, `(module (memory 1) (func (export "g") (param i32) (result i32) (memory.grow (local.get 0))))`)
	withCustom := bytes.Clone(base)
	keep := customSection("producers", []byte{0, 1, 2})
	withCustom = append(withCustom, customSection(".debug_info", []byte{9, 9, 9})...)
	withCustom = append(withCustom, keep...)
	withCustom = append(withCustom, customSection("name", []byte{1, 5, 0xFF})...)
	out, _, err := instrument.MemoryGrow(withCustom)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(out, []byte(".debug_info")) || bytes.Contains(out, []byte("\x04name")) {
		t.Fatal("DWARF or broken name section kept")
	}
	if !bytes.Contains(out, keep) {
		t.Fatal("producers section lost")
	}
	if err := wasmtime.ModuleValidate(wasmtime.NewEngineWithConfig(engine.WasmtimeConfig()), out); err != nil {
		t.Fatal(err)
	}
}

// TestNoGrowUnchanged: a module without memory.grow is not rewritten: the
// same slice comes back.
func TestNoGrowUnchanged(t *testing.T) {
	b := watModule(t, `(module (memory 1) (func (export "s") (param i32) (result i32) (memory.size)))`)
	out, sites, err := instrument.MemoryGrow(b)
	if err != nil || sites != 0 || &out[0] != &b[0] || len(out) != len(b) {
		t.Fatalf("sites %d, err %v, same slice %v", sites, err, len(out) > 0 && &out[0] == &b[0])
	}
}

// TestNoImportSection: the hook's import section is created when the
// module has none, right after the type section.
func TestNoImportSection(t *testing.T) {
	b := watModule(t, `(module (memory 1 4) (func (export "g") (param i32) (result i32) (memory.grow (local.get 0))))`)
	out, _, err := instrument.MemoryGrow(b)
	if err != nil {
		t.Fatal(err)
	}
	e := wasmtime.NewEngineWithConfig(engine.WasmtimeConfig())
	m, err := wasmtime.NewModule(e, out)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(m.Imports()); n != 1 {
		t.Fatalf("%d imports", n)
	}
}

// TestErrors: bad input yields an *Error matching ErrMalformed or
// ErrUnsupported, never a panic: every truncation of a valid module that
// is not itself a module, and the cases the rewrite refuses.
func TestErrors(t *testing.T) {
	valid := watModule(t, indexWat("i32"))
	for n := range len(valid) {
		// A cut at a section boundary is a shorter well-formed module.
		if _, _, err := instrument.MemoryGrow(valid[:n]); err != nil {
			checkErr(t, err, fmt.Sprintf("truncated at %d", n))
		}
	}
	raw := func(instr ...byte) []byte { return rawModule(instr) }
	cases := []struct {
		name string
		wasm []byte
		want error
	}{
		{"not wasm", []byte("hello, world"), instrument.ErrMalformed},
		{"unknown opcode", raw(0x06), instrument.ErrMalformed},
		{"relaxed SIMD", raw(0xFD, 0x80, 0x02), instrument.ErrMalformed},
		{"atomics", raw(0xFE, 0x00, 0x02, 0x00), instrument.ErrMalformed},
		{"grow of memory 1", raw(0x41, 0, 0x40, 0x01, 0x1A), instrument.ErrUnsupported},
		{"over-long LEB", raw(0x20, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00), instrument.ErrMalformed},
		{"u32 out of range", raw(0x20, 0xFF, 0xFF, 0xFF, 0xFF, 0x1F), instrument.ErrMalformed},
		{"function index 2^32-1", raw(0x10, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F), instrument.ErrMalformed},
		{"no memory", watModule(t, `(module (func (result i32) (i32.const 0) (drop) (i32.const 1)))`), nil},
	}
	for _, c := range cases {
		_, _, err := instrument.MemoryGrow(c.wasm)
		if c.want == nil {
			if err != nil {
				t.Errorf("%s: %v", c.name, err)
			}
			continue
		}
		checkErr(t, err, c.name)
		if !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
	// memory.grow where no memory exists: the rewrite cannot type the hook.
	noMem := bytes.Replace(rawModule([]byte{0x41, 0, 0x40, 0x00, 0x1A}), []byte{5, 3, 1, 0x00, 1}, nil, 1)
	if _, _, err := instrument.MemoryGrow(noMem); !errors.Is(err, instrument.ErrUnsupported) {
		t.Errorf("grow without a memory: %v", err)
	}
}

func checkErr(t *testing.T, err error, what string) {
	t.Helper()
	var e *instrument.Error
	if err == nil || !errors.As(err, &e) {
		t.Fatalf("%s: %v, want an *instrument.Error", what, err)
	}
	if errors.Is(err, instrument.ErrMalformed) == errors.Is(err, instrument.ErrUnsupported) {
		t.Fatalf("%s: %v matches no sentinel, or both", what, err)
	}
}
