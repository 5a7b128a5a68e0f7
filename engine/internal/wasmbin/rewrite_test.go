package wasmbin

import (
	"bytes"
	"reflect"
	"strings"
	"testing"

	"github.com/bytecodealliance/wasmtime-go/v39"
)

// checkRewrite checks what holds for every rewrite: the same Info before
// and after, every section but the export section byte-identical, the
// original exports first and one added export per mutable global.
func checkRewrite(t testing.TB, in, out []byte, info *Info, cfg *Config) {
	t.Helper()
	again, err := ValidateRewritten(out, cfg)
	if err != nil {
		t.Fatalf("ValidateRewritten: %v", err)
	}
	if !reflect.DeepEqual(again, info) {
		t.Fatalf("Info after rewrite %+v, before %+v", again, info)
	}
	if len(info.MutableGlobals) == 0 {
		if &out[0] != &in[0] || len(out) != len(in) {
			t.Fatal("without mutable globals Rewrite should return its input")
		}
		return
	}
	if _, err := Validate(out, cfg); err == nil {
		t.Fatal("Validate accepts a rewritten module")
	}
	if _, _, err := Rewrite(out, cfg); err == nil {
		t.Fatal("Rewrite accepts a rewritten module")
	}
	a, b := splitSections(t, in), splitSections(t, out)
	if len(a) != len(b) {
		t.Fatalf("%d sections before, %d after", len(a), len(b))
	}
	for i := range a {
		if a[i].id != b[i].id {
			t.Fatalf("section %d: id %d became %d", i, a[i].id, b[i].id)
		}
		if a[i].id != byte(SectionExport) {
			if !bytes.Equal(a[i].content, b[i].content) {
				t.Fatalf("section %d (%v) changed", i, SectionID(a[i].id))
			}
			continue
		}
		ra := reader{b: a[i].content, end: len(a[i].content)}
		rb := reader{b: b[i].content, end: len(b[i].content)}
		na, _ := ra.u32()
		nb, _ := rb.u32()
		if nb != na+uint32(len(info.MutableGlobals)) {
			t.Fatalf("%d exports became %d", na, nb)
		}
		if !bytes.HasPrefix(b[i].content[rb.pos:], a[i].content[ra.pos:]) {
			t.Fatal("the original exports are not kept in front")
		}
		rb.pos += len(a[i].content) - ra.pos
		for _, g := range info.MutableGlobals {
			name, err := rb.name()
			if err != nil {
				t.Fatal(err)
			}
			kind, _ := rb.byte()
			idx, _ := rb.u32()
			if string(name) != g.ExportName() || kind != 3 || idx != g.Index {
				t.Fatalf("added export %q kind %d index %d for global %d", name, kind, idx, g.Index)
			}
		}
		if rb.pos != rb.end {
			t.Fatal("trailing bytes in the export section")
		}
	}
}

// instantiate compiles and instantiates a rewritten module in wasmtime,
// with stub host functions for hd (the only import the test contracts use)
// and limit.
func instantiate(t *testing.T, b []byte, kind MemoryKind) (*wasmtime.Store, *wasmtime.Instance) {
	t.Helper()
	cfg := wasmtime.NewConfig()
	cfg.SetWasmMemory64(kind == Memory64)
	eng := wasmtime.NewEngineWithConfig(cfg)
	m, err := wasmtime.NewModule(eng, b)
	if err != nil {
		t.Fatalf("wasmtime rejects the rewritten module: %v", err)
	}
	store := wasmtime.NewStore(eng)
	l := wasmtime.NewLinker(eng)
	var err1, err2 error
	if kind == Memory64 {
		err1 = l.FuncWrap("env", "hd", func(int64, int32) int32 { return 0 })
	} else {
		err1 = l.FuncWrap("env", "hd", func(int32, int32) int32 { return 0 })
		err2 = l.FuncWrap("env", "c", func(int32, int32, int32, int32, int64) int32 { return 0 })
	}
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	if err := l.FuncWrap("env", "limit", func() int64 { return 0 }); err != nil {
		t.Fatal(err)
	}
	inst, err := l.Instantiate(store, m)
	if err != nil {
		t.Fatal(err)
	}
	return store, inst
}

func global(t *testing.T, store *wasmtime.Store, inst *wasmtime.Instance, g Global) *wasmtime.Global {
	t.Helper()
	ext := inst.GetExport(store, g.ExportName())
	if ext == nil || ext.Global() == nil {
		t.Fatalf("global %d is not exported as %q", g.Index, g.ExportName())
	}
	gt := ext.Global().Type(store)
	if !gt.Mutable() {
		t.Fatalf("%s is not mutable", g.ExportName())
	}
	return ext.Global()
}

func call(t *testing.T, store *wasmtime.Store, inst *wasmtime.Instance, name string) int32 {
	t.Helper()
	v, err := inst.GetFunc(store, name).Call(store, int32(0))
	if err != nil {
		t.Fatal(err)
	}
	return v.(int32)
}

func TestRewrite32(t *testing.T) {
	cfg := testConfig()
	in := wat(t, contract32)
	orig := bytes.Clone(in)
	out, info, err := Rewrite(in, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(in, orig) {
		t.Fatal("Rewrite modified its input")
	}
	checkRewrite(t, in, out, info, cfg)

	store, inst := instantiate(t, out, Memory32)
	sp := global(t, store, inst, info.MutableGlobals[0])
	cnt := global(t, store, inst, info.MutableGlobals[1])
	f := global(t, store, inst, info.MutableGlobals[2])
	if sp.Get(store).I32() != 65536 || cnt.Get(store).I64() != 7 || f.Get(store).F64() != 1.5 {
		t.Fatal("initial values")
	}
	call(t, store, inst, "inc")
	if sp.Get(store).I32() != 65520 || cnt.Get(store).I64() != 8 || f.Get(store).F64() != 2.5 {
		t.Fatal("values after inc")
	}
	// Restoring saved state through the exports is seen by the contract.
	if err := cnt.Set(store, wasmtime.ValI64(1000)); err != nil {
		t.Fatal(err)
	}
	if got := call(t, store, inst, "get"); got != 1000 {
		t.Fatalf("get returned %d after setting the global to 1000", got)
	}
	// The export of A and the memory are untouched.
	if a := inst.GetExport(store, "A").Global().Get(store).I32(); a != 131072 {
		t.Fatalf("A = %d", a)
	}
}

func TestRewrite64(t *testing.T) {
	cfg := testConfig()
	in := wat(t, contract64)
	out, info, err := Rewrite(in, cfg)
	if err != nil {
		t.Fatal(err)
	}
	checkRewrite(t, in, out, info, cfg)
	store, inst := instantiate(t, out, Memory64)
	sp := global(t, store, inst, info.MutableGlobals[0])
	cnt := global(t, store, inst, info.MutableGlobals[1])
	call(t, store, inst, "inc")
	if sp.Get(store).I64() != 65520 || cnt.Get(store).I32() != 42 {
		t.Fatal("values after inc")
	}
	if err := cnt.Set(store, wasmtime.ValI32(-5)); err != nil {
		t.Fatal(err)
	}
	if got := call(t, store, inst, "get"); got != -5 {
		t.Fatalf("get returned %d", got)
	}
	if got := call(t, store, inst, "get_indirect"); got != -5 {
		t.Fatalf("get_indirect returned %d", got)
	}
	if got := call(t, store, inst, "load"); got != 'a' {
		t.Fatalf("data segment: load returned %d", got)
	}
	mem := inst.GetExport(store, "memory").Memory()
	if !mem.Type(store).Is64() {
		t.Fatal("memory is not 64-bit")
	}
}

func TestRewriteNoMutableGlobals(t *testing.T) {
	in := minimalModule()
	out, info, err := Rewrite(in, nil)
	if err != nil {
		t.Fatal(err)
	}
	checkRewrite(t, in, out, info, nil)
}

// Many mutable globals: the export count and section size grow by several
// LEB128 bytes, and indices take several digits.
func TestRewriteManyGlobals(t *testing.T) {
	var globals []byte
	n := 300
	for i := range n {
		if i == 5 {
			globals = append(globals, 0x7F, 0x00, 0x41, 0x00, 0x0B) // A, immutable
			continue
		}
		globals = append(globals, 0x7E, 0x01, 0x42, byte(i&0x3F), 0x0B)
	}
	gsec := sec(6, leb(uint64(n)), globals)
	exp := sec(7, vec(cat(str("memory"), []byte{2, 0}), cat(str("A"), []byte{3, 5}), cat(str("f"), []byte{0, 0})))
	in := module(hType, hFunc, hMemory, gsec, exp, hCode)
	out, info, err := Rewrite(in, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(info.MutableGlobals) != n-1 || info.MutableGlobals[5].Index != 6 {
		t.Fatalf("%d mutable globals", len(info.MutableGlobals))
	}
	checkRewrite(t, in, out, info, nil)
	if err := wasmtime.ModuleValidate(wasmtime.NewEngine(), out); err != nil {
		t.Fatal(err)
	}
	// The module-size limit leaves room for what Rewrite adds.
	cfg := &Config{Limits: Limits{ModuleBytes: len(in), Globals: uint32(n)}}
	if _, err := ValidateRewritten(out, cfg); err != nil {
		t.Fatal(err)
	}
	cfg.Limits.Exports = 3
	if _, err := ValidateRewritten(out, cfg); err != nil {
		t.Fatal(err)
	}
	cfg.Limits.Exports = 2
	_, err = ValidateRewritten(out, cfg)
	wantErr(t, err, ErrLimit)
}

func TestValidateRewrittenRejects(t *testing.T) {
	const m = `(module
		(memory (export "memory") 2)
		(global $a (mut i32) (i32.const 1))
		(global (export "A") i32 (i32.const 0))
		(global $b (mut i64) (i64.const 2))
		%s)`
	mk := func(exports string) []byte { return wat(t, strings.Replace(m, "%s", exports, 1)) }
	ok := mk(`(export "__wasmstate_g2" (global $b)) (export "__wasmstate_g0" (global $a))`)
	if _, err := ValidateRewritten(ok, nil); err != nil {
		t.Fatalf("exports in any order: %v", err)
	}
	for name, exports := range map[string]string{
		"one missing":            `(export "__wasmstate_g0" (global $a))`,
		"none":                   ``,
		"exported twice":         `(export "__wasmstate_g0" (global $a)) (export "__wasmstate_g2" (global $b)) (export "__wasmstate_g00" (global $a))`,
		"wrong index":            `(export "__wasmstate_g2" (global $a)) (export "__wasmstate_g0" (global $b))`,
		"immutable global":       `(export "__wasmstate_g0" (global $a)) (export "__wasmstate_g2" (global $b)) (export "__wasmstate_g1" (global 1))`,
		"other prefixed name":    `(export "__wasmstate_g0" (global $a)) (export "__wasmstate_g2" (global $b)) (export "__wasmstate_x" (global $a))`,
		"not a global":           `(export "__wasmstate_g0" (global $a)) (export "__wasmstate_g2" (global $b)) (export "__wasmstate_g3" (memory 0))`,
		"leading zero in index":  `(export "__wasmstate_g0" (global $a)) (export "__wasmstate_g02" (global $b))`,
		"out of range":           `(export "__wasmstate_g0" (global $a)) (export "__wasmstate_g2" (global $b)) (export "__wasmstate_g9" (global 9))`,
		"prefix on the original": `(export "__wasmstate_g0" (global $a)) (export "__wasmstate_g2" (global $b)) (func (export "__wasmstate_f") (param i32) (result i32) (i32.const 0))`,
	} {
		t.Run(name, func(t *testing.T) {
			_, err := ValidateRewritten(mk(exports), nil)
			wantErr(t, err, ErrInvalidContract)
			t.Log(err)
		})
	}
}

func TestGlobalExportName(t *testing.T) {
	for i, want := range map[uint32]string{0: "__wasmstate_g0", 42: "__wasmstate_g42", 4294967295: "__wasmstate_g4294967295"} {
		if got := GlobalExportName(i); got != want {
			t.Errorf("%d: %q", i, got)
		}
		if exportEntrySize(i) != len(appendULEB(nil, uint64(len(want))))+len(want)+1+lenULEB(uint64(i)) {
			t.Errorf("%d: exportEntrySize %d", i, exportEntrySize(i))
		}
	}
}

func BenchmarkRewrite(b *testing.B) {
	m := wat(b, contract32)
	cfg := testConfig()
	b.ReportAllocs()
	b.SetBytes(int64(len(m)))
	for b.Loop() {
		if _, _, err := Rewrite(m, cfg); err != nil {
			b.Fatal(err)
		}
	}
}
