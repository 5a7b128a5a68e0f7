package wasmbin

import (
	"errors"
	"testing"

	"github.com/bytecodealliance/wasmtime-go/v39"
)

// The host imports of the piecrust ABI (contract-abi.md), per memory kind.
func duskImports() ImportFunc {
	fn := func(params []ValType, results ...ValType) FuncType {
		return FuncType{Params: params, Results: results}
	}
	p := func(ts ...ValType) []ValType { return ts }
	m32 := map[string]FuncType{
		"c":         fn(p(I32, I32, I32, I32, I64), I32),
		"hq":        fn(p(I32, I32, I32), I32),
		"hd":        fn(p(I32, I32), I32),
		"emit":      fn(p(I32, I32, I32)),
		"feed":      fn(p(I32)),
		"caller":    fn(nil, I32),
		"callstack": fn(nil, I32),
		"limit":     fn(nil, I64),
		"spent":     fn(nil, I64),
		"panic":     fn(p(I32)),
		"owner":     fn(p(I32), I32),
		"self_id":   fn(nil),
		"hdebug":    fn(p(I32)),
	}
	m64 := map[string]FuncType{}
	for k, v := range m32 {
		m64[k] = v
	}
	m64["c"] = fn(p(I64, I64, I32, I32, I64), I32)
	m64["hq"] = fn(p(I64, I32, I32), I32)
	m64["hd"] = fn(p(I64, I32), I32)
	m64["emit"] = fn(p(I64, I32, I32))
	m64["owner"] = fn(p(I64), I32)
	return ImportMaps(m32, m64)
}

func testConfig() *Config { return &Config{Imports: duskImports()} }

func wat(t testing.TB, src string) []byte {
	t.Helper()
	b, err := wasmtime.Wat2Wasm(src)
	if err != nil {
		t.Fatalf("wat2wasm: %v\n%s", err, src)
	}
	return b
}

// wantErr checks that err is a *ValidationError matching sentinel.
func wantErr(t testing.TB, err, sentinel error) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want %v", sentinel)
	}
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("error %T %v is not a *ValidationError", err, err)
	}
	if !errors.Is(err, sentinel) {
		t.Fatalf("error %v does not match %v", err, sentinel)
	}
}

// Hand-built binaries.

func leb(v uint64) []byte { return appendULEB(nil, v) }

func cat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

func sec(id byte, content ...[]byte) []byte {
	c := cat(content...)
	return cat([]byte{id}, leb(uint64(len(c))), c)
}

func vec(items ...[]byte) []byte { return cat(leb(uint64(len(items))), cat(items...)) }

func str(s string) []byte { return cat(leb(uint64(len(s))), []byte(s)) }

func module(sections ...[]byte) []byte {
	return cat([]byte("\x00asm\x01\x00\x00\x00"), cat(sections...))
}

// Sections of the smallest valid contract, built by hand: one type
// (i32)->i32, one function, a memory of 1 page exported as "memory", and A
// = 0 exported.
var (
	hType   = sec(1, vec([]byte{0x60, 1, 0x7F, 1, 0x7F}))
	hFunc   = sec(3, vec([]byte{0}))
	hMemory = sec(5, vec([]byte{0x00, 1}))
	hGlobal = sec(6, vec([]byte{0x7F, 0x00, 0x41, 0x00, 0x0B}))
	hExport = sec(7, vec(cat(str("memory"), []byte{2, 0}), cat(str("A"), []byte{3, 0}), cat(str("f"), []byte{0, 0})))
	hCode   = sec(10, vec(cat(leb(4), []byte{0, 0x20, 0, 0x0B})))
)

func minimalModule() []byte { return module(hType, hFunc, hMemory, hGlobal, hExport, hCode) }

// rawSection is one section of a module, for comparing modules in tests.
type rawSection struct {
	id      byte
	content []byte
}

// splitSections splits a module known to be well framed.
func splitSections(t testing.TB, b []byte) []rawSection {
	t.Helper()
	var out []rawSection
	r := reader{b: b, pos: 8, end: len(b)}
	for r.pos < len(b) {
		id, err := r.byte()
		if err != nil {
			t.Fatal(err)
		}
		n, err := r.u32()
		if err != nil {
			t.Fatal(err)
		}
		c, err := r.bytes(n)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, rawSection{id, c})
	}
	return out
}
