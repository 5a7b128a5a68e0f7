package instrument_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/bytecodealliance/wasmtime-go/v39"

	"github.com/wasmstate/wasmstate/engine"
	"github.com/wasmstate/wasmstate/engine/internal/instrument"
)

var (
	fuzzEngineOnce sync.Once
	fuzzEngine     *wasmtime.Engine
)

func engineForFuzz() *wasmtime.Engine {
	fuzzEngineOnce.Do(func() { fuzzEngine = wasmtime.NewEngineWithConfig(engine.WasmtimeConfig()) })
	return fuzzEngine
}

// FuzzMemoryGrow: on any input the rewrite returns an *Error or a module;
// on every module wasmtime accepts under the engine's configuration it
// succeeds, and its output is accepted too (the very input when there is
// no memory.grow); on one wasmtime rejects it never produces a module
// wasmtime accepts. Seeds: the test contracts and this package's modules.
func FuzzMemoryGrow(f *testing.F) {
	dir := filepath.Join("..", "..", "..", "testdata", "contracts")
	files, _ := filepath.Glob(filepath.Join(dir, "*.wat"))
	for _, p := range files {
		src, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		if b, err := wasmtime.Wat2Wasm(string(src)); err == nil {
			f.Add(b)
		}
	}
	if len(files) == 0 {
		f.Fatal("no seed contracts")
	}
	for _, addr := range []string{"i32", "i64"} {
		b, err := wasmtime.Wat2Wasm(strings.NewReplacer("(i32.wrap_i32 ", "(i32.add (i32.const 0) ",
			"(i32.extend_i32_u_or_id ", "(i32.add (i32.const 0) ", "(i64.extend_i32_u_or_id ", "(i64.extend_i32_u ").Replace(indexWat(addr)))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add(rawModule([]byte{0x41, 0, 0x40, 0x00, 0x1A}))
	f.Fuzz(func(t *testing.T, data []byte) {
		out, sites, err := instrument.MemoryGrow(data)
		e := engineForFuzz()
		valid := wasmtime.ModuleValidate(e, data) == nil
		if err != nil {
			var ie *instrument.Error
			if !errors.As(err, &ie) || errors.Is(err, instrument.ErrMalformed) == errors.Is(err, instrument.ErrUnsupported) {
				t.Fatalf("error %v is not an *instrument.Error with one sentinel", err)
			}
			if valid && !errors.Is(err, instrument.ErrUnsupported) {
				t.Fatalf("wasmtime accepts the module, the rewrite fails: %v", err)
			}
			return
		}
		if sites == 0 && !bytes.Equal(out, data) {
			t.Fatal("no memory.grow, yet the module changed")
		}
		outErr := wasmtime.ModuleValidate(e, out)
		if valid && outErr != nil {
			t.Fatalf("the instrumented module no longer validates: %v", outErr)
		}
		if !valid && outErr == nil {
			t.Fatal("the rewrite turned a module wasmtime rejects into one it accepts")
		}
	})
}

// FuzzGrowBehaviour generates valid modules from the fuzzer's bytes (see
// genModule) and runs each before and after the rewrite: same result or
// trap, same memory size and contents, same globals; the hook sees exactly
// the memory.grow instructions that ran, with their deltas.
func FuzzGrowBehaviour(f *testing.F) {
	for _, seed := range []string{"", "\x00\x03\x00\x01\x02", "\x01\x05\x07\x00\x00\x00\x01\x02\x03\x04",
		"\x00\x04\x0f\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f\x10",
		"\x01\x03\x0a\x00\x10\x0f\x00\x02\x05\x01\x0d\x00\x0c\x08\x09\x04\x04\x03"} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		src, mem64, arg := genModule(data)
		orig, err := wasmtime.Wat2Wasm(src)
		if err != nil {
			t.Fatalf("generated module does not assemble: %v\n%s", err, src)
		}
		out, _, err := instrument.MemoryGrow(orig)
		if err != nil {
			t.Fatalf("rewrite: %v\n%s", err, src)
		}
		before, _ := execute(t, orig, mem64, arg, false)
		after, deltas := execute(t, out, mem64, arg, true)
		if before.describe != after.describe {
			t.Fatalf("behaviour changed:\n%s\nvs\n%s\n%s", before.describe, after.describe, src)
		}
		if after.trapped == "" && uint64(len(deltas)) != after.grows {
			t.Fatalf("hook called %d times, %d memory.grow ran\n%s", len(deltas), after.grows, src)
		}
	})
}

type outcome struct {
	describe string
	trapped  string
	grows    uint64
}

// execute runs main(arg) of a generated module.
func execute(t *testing.T, wasm []byte, mem64 bool, arg int32, hook bool) (outcome, []uint64) {
	st, l := newStore(t, "imp")
	var deltas []uint64
	if hook {
		defineHook(t, l, mem64, &deltas)
	}
	m, err := wasmtime.NewModule(engineForFuzz(), wasm)
	if err != nil {
		t.Fatalf("compile: %v", err)
	}
	inst, err := l.Instantiate(st, m)
	if err != nil {
		t.Fatalf("instantiate: %v", err)
	}
	var o outcome
	var b strings.Builder
	res, err := inst.GetFunc(st, "main").Call(st, arg)
	var trap *wasmtime.Trap
	switch {
	case errors.As(err, &trap) && trap.Code() != nil:
		o.trapped = fmt.Sprint(*trap.Code())
	case err != nil:
		o.trapped = err.Error()
	}
	fmt.Fprintf(&b, "result %v trap %q\n", res, o.trapped)
	mem := inst.GetExport(st, "memory").Memory()
	fmt.Fprintf(&b, "memory %d pages, sum %x\n", mem.Size(st), checksum(mem.UnsafeData(st)))
	o.grows = uint64(uint32(inst.GetExport(st, "n").Global().Get(st).I32()))
	fmt.Fprintf(&b, "g %d n %d\n", inst.GetExport(st, "g").Global().Get(st).I32(), o.grows)
	o.describe = b.String()
	return o, deltas
}

// genModule writes a valid module from data: a 32- or 64-bit memory
// (maximum 64 pages), an imported function, a table holding every
// function, and functions $f0..$fN of type (i32) -> i32 whose bodies are
// snippets chosen by data: memory.grow of various deltas (some refused),
// memory.size, calls and indirect calls (only to later functions, so every
// run ends), ref.func and table.set, stores, SIMD, bulk memory, br_table,
// counted loops, multi-value if, saturating truncation, conditional traps.
// Global $n counts the memory.grow instructions that ran.
func genModule(data []byte) (src string, mem64 bool, arg int32) {
	next := func() int {
		if len(data) == 0 {
			return 0
		}
		b := data[0]
		data = data[1:]
		return int(b)
	}
	mem64 = next()&1 == 1
	A := "i32"
	wrap := func(s string) string { return s }
	if mem64 {
		A = "i64"
		wrap = func(s string) string { return "(i32.wrap_i64 " + s + ")" }
	}
	n := 2 + next()%4
	arg = int32(next())
	var b strings.Builder
	fmt.Fprintf(&b, `(module
  (import "env" "imp" (func $imp (param i32) (result i32)))
  (type $t (func (param i32) (result i32)))
  (type $mv (func (param i32) (result i32 i32)))
  (memory (export "memory") %s 1 64)
  (table $tab %d funcref)
  (global $g (export "g") (mut i32) (i32.const 0))
  (global $n (export "n") (mut i32) (i32.const 0))
  (elem (i32.const 0) func`, A, 2*n)
	for i := range n {
		fmt.Fprintf(&b, " $f%d", i)
	}
	b.WriteString(")\n")
	// main sums every function's result.
	b.WriteString("  (func (export \"main\") (param i32) (result i32) (call $f0 (local.get 0))")
	for i := 1; i < n; i++ {
		fmt.Fprintf(&b, " (call $f%d (local.get 0)) (i32.add)", i)
	}
	b.WriteString(")\n")
	add := func(expr string) string {
		return fmt.Sprintf("(global.set $g (i32.add (global.get $g) %s))", expr)
	}
	deltas := []string{"0", "1", "2", "3", "-1", "63", "1099511627776"}
	for i := range n {
		fmt.Fprintf(&b, "  (func $f%d (type $t) (local $i i32) (local $v v128)\n", i)
		for range next() % 8 {
			later := i + 1 + next()%max(1, n-i-1)
			if later >= n {
				later = -1
			}
			var s string
			switch next() % 16 {
			case 0:
				d := deltas[next()%len(deltas)]
				if !mem64 && d == "1099511627776" {
					d = "65536"
				}
				s = add(wrap(fmt.Sprintf("(memory.grow (%s.const %s))", A, d))) +
					" (global.set $n (i32.add (global.get $n) (i32.const 1)))"
			case 1:
				s = fmt.Sprintf("(global.set $g (i32.xor (global.get $g) %s))", wrap("(memory.size)"))
			case 2:
				if later >= 0 {
					s = add(fmt.Sprintf("(call $f%d (local.get 0))", later))
				}
			case 3:
				if later >= 0 {
					s = add(fmt.Sprintf("(call_indirect (type $t) (local.get 0) (i32.const %d))", later))
				}
			case 4:
				if later >= 0 {
					s = fmt.Sprintf("(table.set $tab (i32.const %d) (ref.func $f%d)) ", n+later, later) +
						add(fmt.Sprintf("(call_indirect (type $t) (local.get 0) (i32.const %d))", n+later))
				}
			case 5:
				s = fmt.Sprintf("(i32.store offset=%d (%s.const %d) (i32.add (local.get 0) (global.get $g)))", next()*8, A, next()*16)
			case 6:
				s = fmt.Sprintf("(local.set $v (i8x16.shuffle 0 17 2 19 4 21 6 23 8 25 10 27 12 29 14 31 (v128.load (%s.const %d)) (i32x4.splat (local.get 0)))) ", A, next()*16) +
					add("(i32x4.extract_lane 1 (i32x4.add (local.get $v) (v128.const i32x4 1 2 3 4)))") +
					fmt.Sprintf(" (v128.store (%s.const %d) (local.get $v))", A, 4096+next()*16)
			case 7:
				s = fmt.Sprintf("(memory.fill (%s.const %d) (local.get 0) (%s.const %d)) (memory.copy (%s.const %d) (%s.const 0) (%s.const 256))",
					A, next()*64, A, next(), A, 8192+next()*32, A, A)
			case 8:
				s = "(block $b0 (block $b1 (br_table $b0 $b1 $b0 (i32.and (local.get 0) (i32.const 3)))) " + add("(i32.const 7)") + ")"
			case 9:
				s = fmt.Sprintf("(local.set $i (i32.const %d)) (loop $l %s (br_if $l (local.tee $i (i32.sub (local.get $i) (i32.const 1)))))",
					1+next()%4, add("(local.get $i)"))
			case 10:
				s = "local.get 0 local.get 0 i32.const 1 i32.and if (type $mv) i32.const 5 else i32.const 9 end i32.add " +
					"global.get $g i32.add global.set $g"
			case 11:
				s = add("(i32.trunc_sat_f32_s (f32.const 1e10))")
			case 12:
				s = add("(call $imp (local.get 0))")
			case 13:
				s = fmt.Sprintf("(if (i32.eq (i32.and (global.get $g) (i32.const 15)) (i32.const %d)) (then unreachable))", next()%16)
			case 14:
				s = add("(block (result i32) "+wrap(fmt.Sprintf("(memory.grow (%s.const 1))", A))+")") +
					" (global.set $n (i32.add (global.get $n) (i32.const 1)))"
			case 15:
				s = fmt.Sprintf("(drop (i32.load (%s.const %d)))", A, next()*1024)
			}
			if s != "" {
				b.WriteString("    " + s + "\n")
			}
		}
		b.WriteString("    (i32.add (local.get 0) (global.get $g)))\n")
	}
	b.WriteString(")\n")
	return b.String(), mem64, arg
}
