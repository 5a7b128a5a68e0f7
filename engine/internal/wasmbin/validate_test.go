package wasmbin

import (
	"bytes"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/bytecodealliance/wasmtime-go/v39"
)

// contract32 looks like what the Dusk SDK emits for wasm32: imports from
// env, a mutable __stack_pointer, the constant A, a table and data.
const contract32 = `(module
  (import "env" "hd" (func $hd (param i32 i32) (result i32)))
  (import "env" "c" (func $c (param i32 i32 i32 i32 i64) (result i32)))
  (import "env" "hd" (func $hd2 (param i32 i32) (result i32)))
  (memory (export "memory") 3 16)
  (global $sp (mut i32) (i32.const 65536))
  (global (export "A") i32 (i32.const 131072))
  (global $cnt (mut i64) (i64.const 7))
  (global $f (mut f64) (f64.const 1.5))
  (global $k v128 (v128.const i32x4 1 2 3 4))
  (table 2 funcref)
  (elem (i32.const 0) $get $inc)
  (data (i32.const 0) "hello")
  (data "passive")
  (func $get (export "get") (param i32) (result i32)
    (i32.wrap_i64 (global.get $cnt)))
  (func $inc (export "inc") (param i32) (result i32)
    (global.set $cnt (i64.add (global.get $cnt) (i64.const 1)))
    (global.set $sp (i32.sub (global.get $sp) (i32.const 16)))
    (global.set $f (f64.add (global.get $f) (f64.const 1)))
    (i32.const 0))
  (func (export "init") (param i32) (result i32) (local i64 i64 f32)
    (drop (call $hd (i32.const 0) (local.get 0)))
    (i32.const 0))
  (func $helper (param i32 i64) (result i64) (local.get 1))
  (@custom "name-ish" (after data) "trailing custom section")
)`

// contract64 is the same for memory64.
const contract64 = `(module
  (import "env" "hd" (func $hd (param i64 i32) (result i32)))
  (import "env" "limit" (func $limit (result i64)))
  (memory (export "memory") i64 2)
  (global $sp (mut i64) (i64.const 65536))
  (global (export "A") i64 (i64.const 65536))
  (global $cnt (mut i32) (i32.const 41))
  (data (i64.const 65536) "arg")
  (table $t i64 1 funcref)
  (elem (table $t) (i64.const 0) func $get)
  (type $ty (func (param i32) (result i32)))
  (func $get (export "get") (param i32) (result i32) (global.get $cnt))
  (func (export "get_indirect") (param i32) (result i32)
    (call_indirect $t (type $ty) (local.get 0) (i64.const 0)))
  (func (export "inc") (param i32) (result i32)
    (global.set $cnt (i32.add (global.get $cnt) (i32.const 1)))
    (global.set $sp (i64.sub (global.get $sp) (i64.const 16)))
    (i32.const 0))
  (func (export "load") (param i32) (result i32) (i32.load8_u (i64.const 65536)))
)`

func TestValidateContract32(t *testing.T) {
	info, err := Validate(wat(t, contract32), testConfig())
	if err != nil {
		t.Fatal(err)
	}
	want := &Info{
		Memory: Memory32, MinPages: 3, MaxPages: 16, HasMax: true,
		MemoryExport: "memory", ArgBuffer: 131072,
		Exports: []string{"get", "inc", "init"}, HasInit: true,
		Imports:        []string{"c", "hd"},
		MutableGlobals: []Global{{0, I32}, {2, I64}, {3, F64}},
		DataRanges:     []DataRange{{Offset: 0, Length: 5}},
	}
	if !reflect.DeepEqual(info, want) {
		t.Fatalf("got  %+v\nwant %+v", info, want)
	}
}

func TestValidateContract64(t *testing.T) {
	info, err := Validate(wat(t, contract64), testConfig())
	if err != nil {
		t.Fatal(err)
	}
	want := &Info{
		Memory: Memory64, MinPages: 2, MemoryExport: "memory", ArgBuffer: 65536,
		Exports:        []string{"get", "get_indirect", "inc", "load"},
		Imports:        []string{"hd", "limit"},
		MutableGlobals: []Global{{0, I64}, {2, I32}},
		DataRanges:     []DataRange{{Offset: 65536, Length: 3}},
	}
	if !reflect.DeepEqual(info, want) {
		t.Fatalf("got  %+v\nwant %+v", info, want)
	}
}

func TestValidateMinimal(t *testing.T) {
	info, err := Validate(minimalModule(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if info.Memory != Memory32 || info.MinPages != 1 || info.ArgBuffer != 0 || info.HasInit ||
		!reflect.DeepEqual(info.Exports, []string{"f"}) || info.Imports != nil || info.MutableGlobals != nil {
		t.Fatalf("%+v", info)
	}
	if err := wasmtime.ModuleValidate(wasmtime.NewEngine(), minimalModule()); err != nil {
		t.Fatalf("the hand-built module is not valid wasm: %v", err)
	}
}

// base is a valid contract; rejection cases edit it.
const base = `(module
  %s
  (memory (export "memory") 2)
  (global (export "A") i32 (i32.const 65536))
  (func $f (export "f") (param i32) (result i32) (local.get 0)))`

func mod(extra string) string { return strings.Replace(base, "%s", extra, 1) }

func TestValidateAccepts(t *testing.T) {
	cases := map[string]string{
		"A at the last possible offset": `(module (memory (export "memory") 2)
			(global (export "A") i32 (i32.const 65536)))`,
		"A at 0 in one page": `(module (memory (export "memory") 1)
			(global (export "A") i32 (i32.const 0)))`,
		"memory exported twice": `(module (memory (export "memory") (export "mem2") 1)
			(global (export "A") i32 (i32.const 0)))`,
		"memory64 with a maximum": `(module (memory (export "m") i64 1 2)
			(global (export "A") i64 (i64.const 0)))`,
		"immutable v128 and ref globals": mod(`(global v128 (v128.const i64x2 1 2)) (global funcref (ref.null func))
			(global externref (ref.null extern)) (global funcref (ref.func $f)) (elem declare func $f)`),
		"exported table and other globals": mod(`(table (export "t") 1 funcref) (global (export "g") (mut i32) (i32.const 1))`),
		"all element segment forms": mod(`(table $t 4 funcref) (table $e 2 externref)
			(elem (i32.const 0) $f) (elem func $f) (elem (table $t) (i32.const 1) func $f) (elem declare func $f)
			(elem (i32.const 2) funcref (ref.func $f)) (elem funcref (ref.null func))
			(elem (table $e) (i32.const 0) externref (ref.null extern)) (elem declare funcref (ref.func $f))`),
		"data segments with data count": mod(`(data (i32.const 131070) "ab") (data "x")
			(func (param i32) (result i32) (memory.init 1 (i32.const 0) (i32.const 0) (i32.const 0)) (i32.const 0))`),
		// wasm-ld makes the indirect function table of wasm64 modules 64-bit.
		"table64": `(module (memory (export "memory") i64 1) (global (export "A") i64 (i64.const 0))
			(table $t i64 2 10 funcref) (elem (table $t) (i64.const 1) func $f)
			(type $ty (func (param i32) (result i32)))
			(func $f (export "f") (param i32) (result i32)
				(call_indirect $t (type $ty) (local.get 0) (i64.const 1))))`,
		"multi-value and simd types": mod(`(func (param v128 f32 f64) (result i32 i64) (i32.const 0) (i64.const 0))`),
		"every import": `(module
			(import "env" "c" (func (param i32 i32 i32 i32 i64) (result i32)))
			(import "env" "hq" (func (param i32 i32 i32) (result i32)))
			(import "env" "hd" (func (param i32 i32) (result i32)))
			(import "env" "emit" (func (param i32 i32 i32)))
			(import "env" "feed" (func (param i32)))
			(import "env" "caller" (func (result i32)))
			(import "env" "callstack" (func (result i32)))
			(import "env" "limit" (func (result i64)))
			(import "env" "spent" (func (result i64)))
			(import "env" "panic" (func (param i32)))
			(import "env" "owner" (func (param i32) (result i32)))
			(import "env" "self_id" (func))
			(import "env" "hdebug" (func (param i32)))
			(memory (export "memory") 1) (global (export "A") i32 (i32.const 0)))`,
	}
	for name, src := range cases {
		t.Run(name, func(t *testing.T) {
			b := wat(t, src)
			eng := wasmtime.NewEngineWithConfig(memory64Config())
			if err := wasmtime.ModuleValidate(eng, b); err != nil {
				t.Fatalf("wasmtime rejects the module: %v", err)
			}
			if _, err := Validate(b, testConfig()); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func memory64Config() *wasmtime.Config {
	c := wasmtime.NewConfig()
	c.SetWasmMemory64(true)
	return c
}

func TestValidateRejects(t *testing.T) {
	cases := []struct {
		name, src string
		want      error
	}{
		{"no memory", `(module (global (export "A") i32 (i32.const 0)))`, ErrInvalidContract},
		{"memory not exported", `(module (memory 1) (global (export "A") i32 (i32.const 0)))`, ErrInvalidContract},
		{"imported memory", `(module (import "env" "memory" (memory 1)) (export "memory" (memory 0))
			(global (export "A") i32 (i32.const 0)))`, ErrInvalidContract},
		{"two memories", mod(`(memory 1)`), ErrInvalidContract},
		{"shared memory", `(module (memory (export "memory") 1 1 shared) (global (export "A") i32 (i32.const 0)))`, ErrUnsupported},
		{"custom page size", `(module (memory (export "memory") 1 (pagesize 1)) (global (export "A") i32 (i32.const 0)))`, ErrUnsupported},
		{"memory of 0 pages", `(module (memory (export "memory") 0) (global (export "A") i32 (i32.const 0)))`, ErrInvalidContract},
		{"no A", `(module (memory (export "memory") 1) (global (export "B") i32 (i32.const 0)))`, ErrInvalidContract},
		{"A not a global", `(module (memory (export "memory") 1) (func (export "A") (param i32) (result i32) (i32.const 0)))`, ErrInvalidContract},
		{"A mutable", `(module (memory (export "memory") 1) (global (export "A") (mut i32) (i32.const 0)))`, ErrInvalidContract},
		{"A i64 in wasm32", `(module (memory (export "memory") 1) (global (export "A") i64 (i64.const 0)))`, ErrInvalidContract},
		{"A i32 in wasm64", `(module (memory (export "memory") i64 1) (global (export "A") i32 (i32.const 0)))`, ErrInvalidContract},
		{"A f64", `(module (memory (export "memory") 1) (global (export "A") f64 (f64.const 0)))`, ErrInvalidContract},
		{"A one byte too far", `(module (memory (export "memory") 2) (global (export "A") i32 (i32.const 65537)))`, ErrInvalidContract},
		{"A negative", `(module (memory (export "memory") 2) (global (export "A") i32 (i32.const -1)))`, ErrInvalidContract},
		{"A past memory64", `(module (memory (export "memory") i64 1) (global (export "A") i64 (i64.const -65536)))`, ErrInvalidContract},
		{"export takes i64", mod(`(func (export "g") (param i64) (result i32) (i32.const 0))`), ErrInvalidContract},
		{"export returns nothing", mod(`(func (export "g") (param i32))`), ErrInvalidContract},
		{"export returns two values", mod(`(func (export "g") (param i32) (result i32 i32) (i32.const 0) (i32.const 0))`), ErrInvalidContract},
		{"export re-exports an import", `(module (import "env" "owner" (func (param i32) (result i32)))
			(memory (export "memory") 1) (global (export "A") i32 (i32.const 0)) (export "owner" (func 0)))`, ErrInvalidContract},
		{"init not a function", mod(`(global (export "init") i32 (i32.const 0))`), ErrInvalidContract},
		{"import from wasi", mod(`(import "wasi_snapshot_preview1" "fd_write" (func (param i32 i32 i32 i32) (result i32)))`), ErrInvalidContract},
		{"import not provided", mod(`(import "env" "exit" (func (param i32)))`), ErrInvalidContract},
		{"import with a wasm64 type in wasm32", mod(`(import "env" "hd" (func (param i64 i32) (result i32)))`), ErrInvalidContract},
		{"import with a wasm32 type in wasm64", `(module (import "env" "hd" (func (param i32 i32) (result i32)))
			(memory (export "memory") i64 1) (global (export "A") i64 (i64.const 0)))`, ErrInvalidContract},
		{"imported global", mod(`(import "env" "g" (global i32))`), ErrInvalidContract},
		{"imported table", mod(`(import "env" "t" (table 1 funcref))`), ErrInvalidContract},
		{"start function", mod(`(func $s) (start $s)`), ErrInvalidContract},
		{"reserved export prefix", mod(`(global (export "__wasmstate_g0") (mut i32) (i32.const 0))`), ErrInvalidContract},
		{"reserved prefix on a function", mod(`(export "__wasmstate_x" (func $f))`), ErrInvalidContract},
		{"mutable v128 global", mod(`(global (mut v128) (v128.const i64x2 0 0))`), ErrUnsupported},
		{"mutable funcref global", mod(`(global (mut funcref) (ref.null func))`), ErrUnsupported},
		{"mutable externref global", mod(`(global (mut externref) (ref.null extern))`), ErrUnsupported},
		{"exception tag", mod(`(tag $e (param i32))`), ErrUnsupported},
		{"GC struct type", mod(`(type (struct (field i32)))`), ErrUnsupported},
		{"GC rec group", mod(`(rec (type (func)) (type (func)))`), ErrUnsupported},
		{"typed function reference", mod(`(type $t (func)) (func (param (ref null $t)))`), ErrUnsupported},
		{"extended const", mod(`(global i32 (i32.add (i32.const 1) (i32.const 2)))`), ErrUnsupported},
		{"global.get in const", mod(`(global $a i32 (i32.const 1)) (global i32 (global.get $a))`), ErrUnsupported},
		{"table64 with an i32 offset", mod(`(table i64 1 funcref) (elem (i32.const 0) func $f)`), ErrMalformed},
		{"table32 with an i64 offset", mod(`(table 1 funcref) (elem (i64.const 0) func $f)`), ErrMalformed},
		{"table with initializer", mod(`(type $t (func)) (table 1 (ref null $t) (ref.null $t))`), ErrUnsupported},
		{"data out of bounds", mod(`(data (i32.const 131071) "ab")`), ErrInvalidContract},
		{"data at a negative offset", mod(`(data (i32.const -1) "a")`), ErrInvalidContract},
		{"data of the wrong offset type", mod(`(data (i64.const 0) "a")`), ErrMalformed},
		{"global type mismatch", mod(`(global i32 (i64.const 0))`), ErrMalformed},
		{"duplicate export", mod(`(export "f" (memory 0))`), ErrMalformed},
		{"export index out of range", mod(`(export "g" (global 9))`), ErrMalformed},
		{"element table type mismatch", mod(`(table 1 externref) (elem (i32.const 0) func $f)`), ErrMalformed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := wat(t, c.src)
			_, err := Validate(b, testConfig())
			wantErr(t, err, c.want)
			t.Log(err)
			_, _, err2 := Rewrite(b, testConfig())
			if err2 == nil || err2.Error() != err.Error() {
				t.Fatalf("Rewrite: %v, Validate: %v", err2, err)
			}
		})
	}
}

func TestValidateRejectsBinary(t *testing.T) {
	valid := minimalModule()
	cases := []struct {
		name string
		b    []byte
		want error
	}{
		{"empty", nil, ErrMalformed},
		{"bad magic", []byte("\x00asn\x01\x00\x00\x00"), ErrMalformed},
		{"bad version", []byte("\x00asm\x02\x00\x00\x00"), ErrMalformed},
		{"component", []byte("\x00asm\x0d\x00\x01\x00"), ErrUnsupported},
		{"header only", []byte("\x00asm\x01\x00\x00\x00"), ErrInvalidContract},
		{"unknown section", module(hType, sec(14), hFunc, hMemory, hGlobal, hExport, hCode), ErrMalformed},
		{"tag section", module(hType, hFunc, hMemory, sec(13, vec()), hGlobal, hExport, hCode), ErrUnsupported},
		{"sections out of order", module(hType, hMemory, hFunc, hGlobal, hExport, hCode), ErrMalformed},
		{"section repeated", module(hType, hType, hFunc, hMemory, hGlobal, hExport, hCode), ErrMalformed},
		{"data count after code", module(hType, hFunc, hMemory, hGlobal, hExport, hCode, sec(12, leb(0))), ErrMalformed},
		{"custom sections anywhere", module(sec(0, str("a")), hType, sec(0, str("b"), []byte{1, 2}), hFunc, hMemory, hGlobal, hExport, hCode, sec(0, str(""))), nil},
		{"custom section name too long", module(sec(0, []byte{5, 'a'}), hType, hFunc, hMemory, hGlobal, hExport, hCode), ErrMalformed},
		{"section past the end", append(module(hType, hFunc, hMemory, hGlobal, hExport), 10, 10, 1), ErrMalformed},
		{"section size over-long LEB", module(hType, []byte{3, 0x81, 0x80, 0x80, 0x80, 0x80, 0x00, 1, 0}), ErrMalformed},
		{"section size with high bits", module(hType, []byte{3, 0x81, 0x80, 0x80, 0x80, 0x10, 1, 0}), ErrMalformed},
		{"unread bytes in a section", module(hType, sec(3, vec([]byte{0}), []byte{0}), hMemory, hGlobal, hExport, hCode), ErrMalformed},
		{"vector count past the section", module(hType, sec(3, leb(5), []byte{0}), hMemory, hGlobal, hExport, hCode), ErrMalformed},
		{"function without code", module(hType, hFunc, hMemory, hGlobal, hExport), ErrMalformed},
		{"code count mismatch", module(hType, hFunc, hMemory, hGlobal, hExport, sec(10, vec())), ErrMalformed},
		{"body without end", module(hType, hFunc, hMemory, hGlobal, hExport, sec(10, vec(cat(leb(3), []byte{0, 0x20, 0})))), ErrMalformed},
		{"body past the section", module(hType, hFunc, hMemory, hGlobal, hExport, sec(10, vec(cat(leb(9), []byte{0, 0x20, 0, 0x0B})))), ErrMalformed},
		{"type index out of range", module(hType, sec(3, vec([]byte{1})), hMemory, hGlobal, hExport, hCode), ErrMalformed},
		{"bad type form", module(sec(1, vec([]byte{0x61, 0, 0})), hFunc, hMemory, hGlobal, hExport, hCode), ErrMalformed},
		{"bad value type", module(sec(1, vec([]byte{0x60, 1, 0x55, 1, 0x7F})), hFunc, hMemory, hGlobal, hExport, hCode), ErrMalformed},
		{"bad global mutability", module(hType, hFunc, hMemory, sec(6, vec([]byte{0x7F, 0x02, 0x41, 0x00, 0x0B})), hExport, hCode), ErrMalformed},
		{"const expr without end", module(hType, hFunc, hMemory, sec(6, vec([]byte{0x7F, 0x00, 0x41, 0x00})), hExport, hCode), ErrMalformed},
		{"non-constant instruction", module(hType, hFunc, hMemory, sec(6, vec([]byte{0x7F, 0x00, 0x20, 0x00, 0x0B})), hExport, hCode), ErrMalformed},
		{"memory flags", module(hType, hFunc, sec(5, vec([]byte{0x10, 1})), hGlobal, hExport, hCode), ErrMalformed},
		{"memory32 too large", module(hType, hFunc, sec(5, vec(cat([]byte{0x00}, leb(1<<16+1)))), hGlobal, hExport, hCode), ErrMalformed},
		{"memory max below min", module(hType, hFunc, sec(5, vec([]byte{0x01, 2, 1})), hGlobal, hExport, hCode), ErrMalformed},
		{"export name not UTF-8", module(hType, hFunc, hMemory, hGlobal,
			sec(7, vec(cat(str("memory"), []byte{2, 0}), cat(str("A"), []byte{3, 0}), cat(str("\xff"), []byte{0, 0}))), hCode), ErrMalformed},
		{"export kind", module(hType, hFunc, hMemory, hGlobal,
			sec(7, vec(cat(str("memory"), []byte{2, 0}), cat(str("A"), []byte{3, 0}), cat(str("x"), []byte{9, 0}))), hCode), ErrMalformed},
		{"memory export index", module(hType, hFunc, hMemory, hGlobal,
			sec(7, vec(cat(str("memory"), []byte{2, 1}), cat(str("A"), []byte{3, 0}))), hCode), ErrMalformed},
		{"data count mismatch", module(hType, hFunc, hMemory, hGlobal, hExport, sec(12, leb(2)), hCode,
			sec(11, vec(cat([]byte{1}, str("x"))))), ErrMalformed},
		{"data count without data", module(hType, hFunc, hMemory, hGlobal, hExport, sec(12, leb(1)), hCode), ErrMalformed},
		{"data segment for memory 1", module(hType, hFunc, hMemory, hGlobal, hExport, hCode,
			sec(11, vec(cat([]byte{2, 1, 0x41, 0, 0x0B}, str("x"))))), ErrMalformed},
		{"data flags", module(hType, hFunc, hMemory, hGlobal, hExport, hCode, sec(11, vec(cat([]byte{3}, str("x"))))), ErrMalformed},
		{"import kind", module(hType, sec(2, vec(cat(str("env"), str("x"), []byte{7, 0}))), hFunc, hMemory, hGlobal, hExport, hCode), ErrMalformed},
		{"element flags", module(hType, hFunc, sec(4, vec([]byte{0x70, 0, 1})), hMemory, hGlobal, hExport,
			sec(9, vec([]byte{8})), hCode), ErrMalformed},
		{"element function index", module(hType, hFunc, sec(4, vec([]byte{0x70, 0, 1})), hMemory, hGlobal, hExport,
			sec(9, vec([]byte{0, 0x41, 0, 0x0B, 1, 5})), hCode), ErrMalformed},
		{"active element without a table", module(hType, hFunc, hMemory, hGlobal, hExport,
			sec(9, vec([]byte{0, 0x41, 0, 0x0B, 1, 0})), hCode), ErrMalformed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Validate(c.b, nil)
			if c.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			wantErr(t, err, c.want)
			t.Log(err)
		})
	}
	if _, err := Validate(valid, nil); err != nil {
		t.Fatal(err)
	}
}

// Every prefix of a valid module that cuts a section is rejected with a
// typed error. (A prefix ending between sections may be valid: the data
// and custom sections are optional.)
func TestValidateTruncated(t *testing.T) {
	for _, src := range []string{contract32, contract64} {
		b := wat(t, src)
		boundary := map[int]bool{}
		at := 8
		for _, s := range splitSections(t, b) {
			boundary[at] = true
			at += 1 + lenULEB(uint64(len(s.content))) + len(s.content)
		}
		for n := range len(b) {
			_, err := Validate(b[:n], testConfig())
			if err == nil {
				if !boundary[n] {
					t.Fatalf("prefix of %d bytes accepted", n)
				}
				continue
			}
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("prefix of %d bytes: %T %v", n, err, err)
			}
		}
	}
}

func TestLimits(t *testing.T) {
	b32 := wat(t, contract32)
	withLimit := func(l Limits) *Config { return &Config{Limits: l, Imports: duskImports()} }
	// Each limit set just below what contract32 needs.
	cases := map[string]Limits{
		"module bytes":   {ModuleBytes: len(b32) - 1},
		"types":          {Types: 3},
		"imports":        {Imports: 2},
		"functions":      {Functions: 3},
		"function body":  {FunctionBodyBytes: 20},
		"locals":         {Locals: 2},
		"globals":        {Globals: 4},
		"exports":        {Exports: 4},
		"table elements": {TableElements: 1},
		"memory pages":   {MemoryPages: 2},
		"data segments":  {DataSegments: 1},
	}
	for name, l := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := Validate(b32, withLimit(l))
			wantErr(t, err, ErrLimit)
			t.Log(err)
		})
	}
	// Exactly at the limits, the module is accepted.
	exact := Limits{ModuleBytes: len(b32), Types: 4, Imports: 3, Functions: 4, Locals: 3, Globals: 5,
		Exports: 5, TableElements: 2, MemoryPages: 3, ElementSegments: 1, DataSegments: 2, Tables: 1}
	if _, err := Validate(b32, withLimit(exact)); err != nil {
		t.Fatal(err)
	}
	twoTables := wat(t, mod(`(table 1 funcref) (table 1 funcref)`))
	_, err := Validate(twoTables, withLimit(Limits{Tables: 1}))
	wantErr(t, err, ErrLimit)
	twoElems := wat(t, mod(`(table 1 funcref) (elem func $f) (elem func $f)`))
	_, err = Validate(twoElems, withLimit(Limits{ElementSegments: 1}))
	wantErr(t, err, ErrLimit)

	// So is the sum of table sizes, with 64-bit table sizes.
	t64 := sec(4, vec(cat([]byte{0x70, 0x04}, leb(1<<63)), cat([]byte{0x70, 0x04}, leb(1<<63))))
	_, err = Validate(module(hType, hFunc, t64, hMemory, hGlobal, hExport, hCode), withLimit(Limits{TableElements: math.MaxUint64}))
	wantErr(t, err, ErrLimit)

	// The sum of local declarations is checked without overflowing.
	huge := module(hType, hFunc, hMemory, hGlobal, hExport,
		sec(10, vec(cat(leb(14), leb(2), leb(math.MaxUint32), []byte{0x7F}, leb(math.MaxUint32), []byte{0x7F}, []byte{0x0B}))))
	_, err = Validate(huge, withLimit(Limits{Locals: math.MaxUint32}))
	wantErr(t, err, ErrLimit)
	if !bytes.Contains([]byte(err.Error()), []byte("locals")) {
		t.Fatal(err)
	}
}

func TestDefaultLimits(t *testing.T) {
	if got := (Limits{}).withDefaults(); got != DefaultLimits() {
		t.Fatalf("zero limits become %+v", got)
	}
	l := Limits{Types: 1, MemoryPages: 7}.withDefaults()
	if l.Types != 1 || l.MemoryPages != 7 || l.Globals != DefaultLimits().Globals {
		t.Fatalf("%+v", l)
	}
}

func TestValidationError(t *testing.T) {
	_, err := Validate(wat(t, mod(`(func $s) (start $s)`)), nil)
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatal(err)
	}
	if ve.Section != SectionStart || ve.Offset <= 8 || ve.Reason == "" || ve.Err != ErrInvalidContract {
		t.Fatalf("%+v", ve)
	}
	if errors.Is(err, ErrMalformed) || errors.Is(err, ErrLimit) || errors.Is(err, ErrUnsupported) {
		t.Fatal("matches more than one sentinel")
	}
	want := "wasmbin: invalid contract: start section at byte"
	if !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("%q does not start with %q", err, want)
	}
	for id, want := range map[SectionID]string{SectionDataCount: "data count", SectionModule: "module", 14: "section 14"} {
		if id.String() != want {
			t.Errorf("%d: %q", id, id.String())
		}
	}
}

func TestFuncType(t *testing.T) {
	a := FuncType{Params: []ValType{I64, I32}, Results: []ValType{I32}}
	if a.String() != "(i64, i32) -> (i32)" {
		t.Fatal(a.String())
	}
	if !a.Equal(FuncType{Params: []ValType{I64, I32}, Results: []ValType{I32}}) || a.Equal(funcI32toI32) {
		t.Fatal("Equal")
	}
}

func BenchmarkValidate(b *testing.B) {
	m := wat(b, contract32)
	cfg := testConfig()
	b.ReportAllocs()
	b.SetBytes(int64(len(m)))
	for b.Loop() {
		if _, err := Validate(m, cfg); err != nil {
			b.Fatal(err)
		}
	}
}
