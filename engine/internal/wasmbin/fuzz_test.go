package wasmbin

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// FuzzValidate checks that no input makes the package panic, that every
// error is a *ValidationError matching one sentinel, and that Rewrite's
// output of an accepted module re-validates to the same Info. The seed
// corpus lies in testdata/fuzz/FuzzValidate; regenerate it with
//
//	go test -run TestFuzzSeeds -update-seeds
func FuzzValidate(f *testing.F) {
	f.Add(minimalModule())
	cfg := testConfig()
	small := &Config{Imports: cfg.Imports, Limits: Limits{ModuleBytes: 512, Types: 4, Imports: 4, Functions: 8,
		FunctionBodyBytes: 64, Locals: 8, Globals: 8, Exports: 8, Tables: 1, TableElements: 8, MemoryPages: 8,
		ElementSegments: 2, DataSegments: 2}}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, cfg := range []*Config{cfg, small} {
			fuzzOne(t, data, cfg)
		}
	})
}

func fuzzOne(t *testing.T, data []byte, cfg *Config) {
	info, err := Validate(data, cfg)
	_, errRW := ValidateRewritten(data, cfg)
	checkFuzzErr(t, errRW)
	if err != nil {
		checkFuzzErr(t, err)
		if _, _, err2 := Rewrite(data, cfg); err2 == nil || err2.Error() != err.Error() {
			t.Fatalf("Validate: %v; Rewrite: %v", err, err2)
		}
		return
	}
	// A module Validate accepts is already in rewritten form exactly when it
	// has no mutable global.
	if (errRW == nil) != (len(info.MutableGlobals) == 0) {
		t.Fatalf("ValidateRewritten of an original module with %d mutable globals: %v", len(info.MutableGlobals), errRW)
	}
	out, info2, err := Rewrite(data, cfg)
	if err != nil {
		t.Fatalf("Validate accepts, Rewrite fails: %v", err)
	}
	if !reflect.DeepEqual(info, info2) {
		t.Fatalf("Rewrite returned Info %+v, Validate %+v", info2, info)
	}
	checkRewrite(t, data, out, info, cfg)
}

func checkFuzzErr(t *testing.T, err error) {
	if err == nil {
		return
	}
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("error %T %v is not a *ValidationError", err, err)
	}
	n := 0
	for _, s := range []error{ErrMalformed, ErrUnsupported, ErrInvalidContract, ErrLimit} {
		if errors.Is(err, s) {
			n++
		}
	}
	if n != 1 || ve.Reason == "" {
		t.Fatalf("error %v matches %d sentinels", err, n)
	}
}

var updateSeeds = flag.Bool("update-seeds", false, "rewrite the seed corpus of FuzzValidate in testdata/fuzz/FuzzValidate")

// fuzzSeeds are the committed seeds: valid contracts of both memory kinds
// and modules rejected for a spread of reasons.
func fuzzSeeds(t *testing.T) map[string][]byte {
	c32 := wat(t, contract32)
	rewritten, _, err := Rewrite(c32, testConfig())
	if err != nil {
		t.Fatal(err)
	}
	return map[string][]byte{
		"valid-contract32":      c32,
		"valid-contract64":      wat(t, contract64),
		"valid-minimal":         minimalModule(),
		"rewritten-contract32":  rewritten,
		"valid-element-forms":   wat(t, mod(`(table $t 4 funcref) (table $e 2 externref) (elem (i32.const 0) $f) (elem func $f) (elem (table $t) (i32.const 1) func $f) (elem declare func $f) (elem (i32.const 2) funcref (ref.func $f)) (elem funcref (ref.null func)) (elem (table $e) (i32.const 0) externref (ref.null extern))`)),
		"valid-datacount":       wat(t, mod(`(data (i32.const 131070) "ab") (data "x") (func (param i32) (result i32) (memory.init 1 (i32.const 0) (i32.const 0) (i32.const 0)) (i32.const 0))`)),
		"valid-all-imports64":   wat(t, `(module (import "env" "c" (func (param i64 i64 i32 i32 i64) (result i32))) (import "env" "owner" (func (param i64) (result i32))) (import "env" "emit" (func (param i64 i32 i32))) (memory (export "memory") i64 1 4) (global (export "A") i64 (i64.const 0)) (global (mut f32) (f32.const 1)))`),
		"invalid-start":         wat(t, mod(`(func $s) (start $s)`)),
		"invalid-shared-memory": wat(t, `(module (memory (export "memory") 1 1 shared) (global (export "A") i32 (i32.const 0)))`),
		"invalid-A-too-far":     wat(t, `(module (memory (export "memory") 2) (global (export "A") i32 (i32.const 65537)))`),
		"invalid-import":        wat(t, mod(`(import "env" "exit" (func (param i32)))`)),
		"invalid-export-type":   wat(t, mod(`(func (export "g") (param i64) (result i32) (i32.const 0))`)),
		"invalid-gc-type":       wat(t, mod(`(type (struct (field i32)))`)),
		"invalid-mutable-v128":  wat(t, mod(`(global (mut v128) (v128.const i64x2 0 0))`)),
		"invalid-data-bounds":   wat(t, mod(`(data (i32.const 131071) "ab")`)),
		"invalid-truncated":     c32[:len(c32)/2],
		"invalid-prefix":        wat(t, mod(`(global (export "__wasmstate_g0") (mut i32) (i32.const 0))`)),
	}
}

func TestFuzzSeeds(t *testing.T) {
	dir := filepath.Join("testdata", "fuzz", "FuzzValidate")
	seeds := fuzzSeeds(t)
	for name, b := range seeds {
		_, err := Validate(b, testConfig())
		valid := strings.HasPrefix(name, "valid-")
		if valid != (err == nil) {
			t.Errorf("seed %s: %v", name, err)
		}
	}
	if *updateSeeds {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for name, b := range seeds {
			body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", b)
			if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) < len(seeds) {
		t.Fatalf("seed corpus: %d files, %v; run go test -run TestFuzzSeeds -update-seeds", len(entries), err)
	}
}
