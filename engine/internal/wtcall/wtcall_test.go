package wtcall

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bytecodealliance/wasmtime-go/v39"
)

// TestHeaderMatchesWasmtime compiles wtcall.h after wasmtime-go's own
// wasmtime.h: every prototype must agree with wasmtime's, and the static
// assertions compare the layouts of the types wtcall copies.
func TestHeaderMatchesWasmtime(t *testing.T) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/bytecodealliance/wasmtime-go/v39").Output()
	if err != nil {
		t.Fatalf("locate wasmtime-go: %v", err)
	}
	inc := filepath.Join(strings.TrimSpace(string(out)), "build", "include")
	cc, err := exec.Command("go", "env", "CC").Output()
	if err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(t.TempDir(), "check.c")
	if err := os.WriteFile(src, []byte("#include <wasmtime.h>\n#include \"wtcall.h\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	wd, _ := os.Getwd()
	cmd := exec.Command(strings.Fields(string(cc))[0], "-std=c11", "-Werror", "-fsyntax-only", "-I", inc, "-I", wd, src)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("wtcall.h disagrees with wasmtime.h: %v\n%s", err, b)
	}
}

const testWat = `(module
  (memory (export "memory") 1)
  (global $g (export "g") (mut i32) (i32.const 7))
  (global $h (export "h") (mut i64) (i64.const -2))
  (global $f (export "f") (mut f64) (f64.const 1.5))
  (func (export "add") (param i32) (result i32)
    (global.set $g (i32.add (global.get $g) (local.get 0)))
    (global.set $h (i64.sub (global.get $h) (i64.const 1)))
    (i32.store (i32.const 16) (global.get $g))
    (global.get $g))
  (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0)))
  (func (export "trap") (param i32) (result i32) unreachable)
  (func (export "spin") (param i32) (result i32) (loop $l (br $l)) (i32.const 0))
  (func (export "none") (param i32)))`

func setup(t *testing.T) (*wasmtime.Store, *wasmtime.Instance) {
	cfg := wasmtime.NewConfig()
	cfg.SetConsumeFuel(true)
	cfg.SetEpochInterruption(true)
	e := wasmtime.NewEngineWithConfig(cfg)
	bin, err := wasmtime.Wat2Wasm(testWat)
	if err != nil {
		t.Fatal(err)
	}
	m, err := wasmtime.NewModule(e, bin)
	if err != nil {
		t.Fatal(err)
	}
	st := wasmtime.NewStore(e)
	st.SetEpochDeadline(1 << 40)
	inst, err := wasmtime.NewInstance(st, m, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	return st, inst
}

func TestCall(t *testing.T) {
	if err := Check(); err != nil {
		t.Fatal(err)
	}
	st, inst := setup(t)
	cx := ContextOf(st)
	mem := MemoryOf(inst.GetExport(st, "memory").Memory())
	var globals []Global
	for _, n := range []string{"g", "h", "f"} {
		globals = append(globals, GlobalOf(inst.GetExport(st, n).Global()))
	}
	vals := make([]uint64, 3)
	var fr Frame
	add := FuncOf(inst.GetFunc(st, "add"))
	if s := cx.Call(&fr, add, mem, 1000, 0, 5, globals, vals); s != OK {
		t.Fatalf("add: status %d: %s", s, fr.Fault().Message())
	}
	if fr.Result() != 12 || vals[0] != 12 || vals[1] != uint64(0xffff_ffff_ffff_fffd) || vals[2] != 0x3ff8000000000000 {
		t.Fatalf("add: result %d, globals %x", fr.Result(), vals)
	}
	if fr.Fuel() >= 1000 || fr.Fuel() < 900 {
		t.Fatalf("fuel left %d", fr.Fuel())
	}
	if f, err := cx.Fuel(); err != nil || f != fr.Fuel() {
		t.Fatalf("Fuel: %d, %v; call said %d", f, err, fr.Fuel())
	}
	m := fr.Memory()
	if len(m) != 65536 || m[16] != 12 {
		t.Fatalf("memory: %d bytes, [16] = %d", len(m), m[16])
	}
	if s := cx.Call(&fr, FuncOf(inst.GetFunc(st, "grow")), mem, 1000, 0, 1, nil, nil); s != OK || fr.Result() != 1 || fr.MemorySize() != 2*65536 {
		t.Fatalf("grow: status %d, result %d, size %d", s, fr.Result(), fr.MemorySize())
	}
	if d := cx.MemoryData(&mem); len(d) != 2*65536 {
		t.Fatalf("MemoryData: %d bytes", len(d))
	}
	for _, c := range []struct {
		fn   string
		fuel uint64
		code wasmtime.TrapCode
	}{{"trap", 1000, wasmtime.UnreachableCodeReached}, {"spin", 1000, 12}} {
		s := cx.Call(&fr, FuncOf(inst.GetFunc(st, c.fn)), mem, c.fuel, 0, 0, nil, nil)
		code, ok := fr.Code()
		f := fr.Fault()
		msg := f.Message()
		f.Free()
		if s != Trap || !ok || code != c.code || msg == "" {
			t.Fatalf("%s: status %d, code %d %v, message %q", c.fn, s, code, ok, msg)
		}
		// The same call through wasmtime-go has the same message (but
		// for the host's own stack, when it is captured).
		st.SetFuel(c.fuel)
		_, err := inst.GetFunc(st, c.fn).Call(st, int32(0))
		if err == nil || wasmPart(err.Error()) != wasmPart(msg) {
			t.Fatalf("%s: wasmtime-go says %v, wtcall %q", c.fn, err, msg)
		}
	}
	// A deadline of one tick, which a ticker passes: the epoch interrupts
	// the loop.
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(time.Millisecond):
				st.Engine.IncrementEpoch()
			}
		}
	}()
	if s := cx.Call(&fr, FuncOf(inst.GetFunc(st, "spin")), mem, 1<<40, 1, 0, nil, nil); s != Trap {
		t.Fatalf("spin past the deadline: status %d", s)
	}
	if code, ok := fr.Code(); !ok || code != wasmtime.Interrupt {
		t.Fatalf("spin past the deadline: code %d %v", code, ok)
	}
	fr.Fault().Free()
	if s := cx.Call(&fr, FuncOf(inst.GetFunc(st, "none")), mem, 1000, 1<<40, 0, nil, nil); s != Error {
		t.Fatalf("export without a result: status %d", s)
	}
	f := fr.Fault()
	if msg := f.Message(); msg == "" {
		t.Fatal("no message for the arity error")
	}
	f.Free()
	if left, ok, err := cx.Charge(10); err != nil || !ok {
		t.Fatalf("charge: %d %v %v", left, ok, err)
	}
	if err := cx.SetFuel(5); err != nil {
		t.Fatal(err)
	}
	if left, ok, err := cx.Charge(10); err != nil || ok || left != 0 {
		t.Fatalf("charge past the fuel: %d %v %v", left, ok, err)
	}
	cx.ReadGlobals(globals, vals)
	if vals[0] != 12 {
		t.Fatalf("ReadGlobals: %x", vals)
	}
}

// wasmPart is a message without the host's stack backtrace.
func wasmPart(msg string) string {
	if i := strings.Index(msg, "\nStack backtrace:"); i >= 0 {
		return msg[:i]
	}
	return msg
}
