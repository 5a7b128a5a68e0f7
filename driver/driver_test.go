package driver

import (
	"encoding/binary"
	"errors"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/bytecodealliance/wasmtime-go/v39"
)

func counterWAT(t testing.TB) string {
	b, err := os.ReadFile("testdata/counter_driver.wat")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func compile(t testing.TB, wat string) []byte {
	t.Helper()
	b, err := wasmtime.Wat2Wasm(wat)
	if err != nil {
		t.Fatalf("wat: %v", err)
	}
	return b
}

func load(t testing.TB, wat string, o *Options) *Driver {
	t.Helper()
	d, err := Load(compile(t, wat), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.Close)
	return d
}

func TestDriverEncodeDecode(t *testing.T) {
	d := load(t, counterWAT(t), nil)
	b, err := d.EncodeInput("add", []byte("300"))
	if err != nil || len(b) != 8 || binary.LittleEndian.Uint64(b) != 300 {
		t.Fatalf("encode add 300: %x %v", b, err)
	}
	if b, err := d.EncodeInput("read_value", []byte("null")); err != nil || len(b) != 0 {
		t.Fatalf("encode read_value null: %x %v", b, err)
	}
	j, err := d.DecodeOutput("read_value", binary.LittleEndian.AppendUint64(nil, 18446744073709551615))
	if err != nil || string(j) != "18446744073709551615" {
		t.Fatalf("decode: %s %v", j, err)
	}
	if j, err := d.DecodeOutput("add", make([]byte, 8)); err != nil || string(j) != "0" {
		t.Fatalf("decode 0: %s %v", j, err)
	}
	// An output over the first 64 KiB buffer: the host retries larger.
	if b, err := d.EncodeInput("big", []byte("null")); err != nil || len(b) != 100000 {
		t.Fatalf("big output: %d bytes, %v", len(b), err)
	}
	if v, err := d.Version(); err != nil || v != "0.1.0" {
		t.Errorf("version %q %v", v, err)
	}
	if s, err := d.Schema(); err != nil || !strings.Contains(s, `"add":"u64"`) {
		t.Errorf("schema %q %v", s, err)
	}
	// Errors the driver reports, with its message.
	for _, c := range []struct {
		fn, js string
		code   int32
		msg    string
	}{
		{"add", "-1", 1, "JSON number"},
		{"add", "", 1, "JSON number"},
		{"add", "12345678901234567890", 1, "1 to 19 digits"},
		{"read_value", "5", 1, "null"},
		{"transfer", "{}", 2, "unknown function"},
	} {
		_, err := d.EncodeInput(c.fn, []byte(c.js))
		var de *DriverError
		if !errors.As(err, &de) || !errors.Is(err, ErrDriverFailed) || de.Code != c.code || !strings.Contains(de.Message, c.msg) {
			t.Errorf("encode %s %q: %v", c.fn, c.js, err)
		}
	}
	if _, err := d.DecodeOutput("add", []byte{1, 2, 3}); !errors.Is(err, ErrDriverFailed) || !strings.Contains(err.Error(), "8 bytes") {
		t.Errorf("decode short: %v", err)
	}
	// Optional exports the driver lacks.
	if _, err := d.DecodeEvent("x", nil); !errors.Is(err, ErrDriverFailed) {
		t.Errorf("decode_event missing: %v", err)
	}
	// Many calls do not leak driver memory (frees are taken back) and the
	// driver is safe to share between goroutines.
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 300; i++ {
				if _, err := d.EncodeInput("add", []byte("7")); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	d.Close()
	if _, err := d.EncodeInput("add", []byte("1")); !errors.Is(err, ErrClosed) {
		t.Errorf("after Close: %v", err)
	}
}

// replaceFunc swaps the body of an export of the counter driver for
// hostile code.
func replaceFunc(t *testing.T, name, newFunc string) string {
	wat := counterWAT(t)
	old := `(func (export "` + name + `")`
	if !strings.Contains(wat, old) {
		t.Fatalf("no export %s", name)
	}
	wat = strings.Replace(wat, old, `(func $replaced_`+name, 1)
	return strings.Replace(wat, "\n)\n", "\n"+newFunc+"\n)\n", 1)
}

// A driver is untrusted: every way it can misbehave is an error.
func TestDriverSandbox(t *testing.T) {
	sixArgs := `(param i32 i32 i32 i32 i32 i32) (result i32)`
	cases := []struct {
		name     string
		wat      string
		loadErr  error // from Load
		callErr  error // from EncodeInput("add", "1")
		tinyFuel bool
	}{
		{name: "infinite loop", wat: replaceFunc(t, "encode_input_fn", `(func (export "encode_input_fn") `+sixArgs+` (loop $l (br $l)) (i32.const 0))`), callErr: ErrLimit},
		{name: "memory hog", wat: replaceFunc(t, "encode_input_fn", `(func (export "encode_input_fn") `+sixArgs+` (if (i32.eq (memory.grow (i32.const 2000)) (i32.const -1)) (then unreachable)) (i32.const 0))`), callErr: ErrLimit},
		{name: "output length past its buffer", wat: replaceFunc(t, "encode_input_fn", `(func (export "encode_input_fn") (param i32 i32 i32 i32) (param $out i32) (param i32) (result i32) (i32.store (local.get $out) (i32.const 1000000000)) (i32.const 0))`), callErr: ErrLimit},
		{name: "out pointer outside memory", wat: replaceFunc(t, "alloc", `(func (export "alloc") (param i32) (result i32) (i32.const -16))`), callErr: ErrLimit},
		{name: "deep recursion", wat: replaceFunc(t, "encode_input_fn", `(func $r (param i32) (result i32) (call $r (local.get 0))) (func (export "encode_input_fn") `+sixArgs+` (call $r (i32.const 0)))`), callErr: ErrLimit},
		{name: "init traps", wat: replaceFunc(t, "init", `(func (export "init") unreachable)`), loadErr: ErrInvalidDriver},
		{name: "init loops", wat: replaceFunc(t, "init", `(func (export "init") (loop $l (br $l)))`), loadErr: ErrInvalidDriver, tinyFuel: true},
		{name: "an import", wat: strings.Replace(counterWAT(t), "(module\n", "(module\n  (import \"env\" \"now\" (func))\n", 1), loadErr: ErrInvalidDriver},
		{name: "no decode_output_fn", wat: strings.Replace(counterWAT(t), `(export "decode_output_fn")`, "", 1), loadErr: ErrInvalidDriver},
		{name: "alloc of the wrong type", wat: replaceFunc(t, "alloc", `(func (export "alloc") (param i64) (result i64) (i64.const 0))`), loadErr: ErrInvalidDriver},
		{name: "initial memory over the cap", wat: strings.Replace(counterWAT(t), `(memory (export "memory") 2)`, `(memory (export "memory") 2000)`, 1), loadErr: ErrInvalidDriver},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := &Options{MaxMemoryBytes: 16 << 20}
			if c.tinyFuel {
				o.Fuel = 1_000_000
			}
			d, err := Load(compile(t, c.wat), o)
			if c.loadErr != nil {
				if !errors.Is(err, c.loadErr) {
					t.Fatalf("Load: %v, want %v", err, c.loadErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			if _, err := d.EncodeInput("add", []byte("1")); !errors.Is(err, c.callErr) {
				t.Fatalf("EncodeInput: %v, want %v", err, c.callErr)
			}
		})
	}
	if _, err := Load([]byte("not wasm"), nil); !errors.Is(err, ErrInvalidDriver) {
		t.Errorf("garbage: %v", err)
	}
}
