package reliability

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/bytecodealliance/wasmtime-go/v39"

	"github.com/wasmstate/wasmstate/engine"
	"github.com/wasmstate/wasmstate/hostfns"
	"github.com/wasmstate/wasmstate/internal/crashtest"
	"github.com/wasmstate/wasmstate/merkle"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

var watCache sync.Map

// inlineWAT are small contracts defined in the tests, by name
// ("inline:...").
var inlineWAT = map[string]string{
	"inline:looper": looperWAT,
}

// wasm compiles a WAT contract: "fuzzer", "fuzzer64" and "floats" are this
// package's (testdata/), any other name is one of ../testdata/contracts/.
func wasm(t testing.TB, name string) []byte {
	t.Helper()
	b, err := wasmErr(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func wasmErr(name string) ([]byte, error) {
	if b, ok := watCache.Load(name); ok {
		return b.([]byte), nil
	}
	var src []byte
	if w, ok := inlineWAT[name]; ok {
		src = []byte(w)
	} else {
		path := filepath.Join("..", "testdata", "contracts", name+".wat")
		switch name {
		case "fuzzer", "fuzzer64", "floats":
			path = filepath.Join("testdata", name+".wat")
		}
		var err error
		if src, err = os.ReadFile(path); err != nil {
			return nil, err
		}
	}
	b, err := wasmtime.Wat2Wasm(string(src))
	if err != nil {
		return nil, errors.New(name + ".wat: " + err.Error())
	}
	watCache.Store(name, b)
	return b, nil
}

// Fixed ids of the contracts the fuzzer contracts know (their data
// segments hold them at 0x100, 0x120 and 0x140).
var (
	counterID = fill(0xC0)
	fuzz32ID  = fill(0xF3)
	fuzz64ID  = fill(0xF6)
)

func fill(b byte) merkle.ContractID {
	var id merkle.ContractID
	for i := range id {
		id[i] = b
	}
	return id
}

// Addresses in the fuzzer contracts' memory (see testdata/fuzzer.wat).
const (
	argBuf      = 65536 // A
	addrCounter = 0x100 // the counter's id
	addrF32     = 0x120
	addrF64     = 0x140
	addrGo      = 0x400 // "go"
	addrHash    = 0x410 // "hash"
	addrBoom    = 0x420 // "boom"
	addrErr     = 0x430 // "err"
	addrHeight  = 0x440 // "block_height"
	addrRead    = 0x460 // "read_value"
	addrIncr    = 0x470 // "increment"
	addrBig     = 0x480 // "big"
	addrInit    = 0x490 // "init"
	addrBadUTF8 = 0x4a0 // "topic\xff"
	payloadOff  = 48    // the payload's offset in A
)

// Selectors of the fuzzer contracts' "go".
const (
	selC = iota
	selHQ
	selHD
	selEmit
	selFeed
	selCaller
	selCallstack
	selLimit
	selSpent
	selPanic
	selOwner
	selSelfID
	selHdebug
	selEphSet
	selEphGet
	selEphDel
	selGrow
	selStore
	selLoad
	selLoop
	selRecurse
	selSize
	numSels
)

var selNames = [numSels]string{"c", "hq", "hd", "emit", "feed", "caller", "callstack", "limit", "spent",
	"panic", "owner", "self_id", "hdebug", "ws_eph_set", "ws_eph_get", "ws_eph_del",
	"grow", "store", "load", "loop", "recurse", "size"}

// goArg builds the argument of the fuzzer contracts' "go".
func goArg(sel, ret uint32, a [5]uint64, payload []byte) []byte {
	b := binary.LittleEndian.AppendUint32(nil, sel)
	b = binary.LittleEndian.AppendUint32(b, ret)
	for _, v := range a {
		b = binary.LittleEndian.AppendUint64(b, v)
	}
	return append(b, payload...)
}

// goResult splits a "go" result made with ret ≤ 65528 into A[0..ret] and r.
func goResult(t testing.TB, data []byte, ret int) ([]byte, int64) {
	t.Helper()
	if len(data) != ret+8 {
		t.Fatalf("go returned %d bytes, want %d", len(data), ret+8)
	}
	return data[:ret], int64(binary.LittleEndian.Uint64(data[ret:]))
}

// Host queries of the test engines: one that works, one that panics, one
// that fails, one whose result does not fit the argument buffer.
var errQuery = errors.New("reliability: query refused")

func testQueries() map[string]engine.HostQuery {
	return map[string]engine.HostQuery{
		"hash": {Fn: func(arg []byte) ([]byte, error) { h := merkle.HashCode(arg); return h[:], nil }, Gas: 100},
		"boom": {Fn: func([]byte) ([]byte, error) { panic("kaboom") }},
		"err":  {Fn: func([]byte) ([]byte, error) { return nil, errQuery }},
		"big":  {Fn: func([]byte) ([]byte, error) { return make([]byte, hostfns.ArgBufSize+1), nil }},
	}
}

func memEngine(t testing.TB, o engine.Options) *engine.Engine {
	t.Helper()
	if o.Logger == nil {
		o.Logger = quiet
	}
	if o.Queries == nil {
		o.Queries = testQueries()
	}
	e, err := engine.OpenInMemory(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

func session(t testing.TB, e *engine.Engine, root merkle.Hash) *engine.Session {
	t.Helper()
	s, err := e.NewSession(root, engine.SessionOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

func deploy(t testing.TB, s *engine.Session, name string, o engine.DeployOptions) merkle.ContractID {
	t.Helper()
	id, err := s.Deploy(context.Background(), wasm(t, name), o)
	if err != nil {
		t.Fatalf("deploy %s: %v", name, err)
	}
	return id
}

// deployFixed deploys the counter and both fuzzers at their fixed ids.
func deployFixed(t testing.TB, s *engine.Session) {
	t.Helper()
	for _, c := range []struct {
		name string
		id   merkle.ContractID
	}{{"counter", counterID}, {"fuzzer", fuzz32ID}, {"fuzzer64", fuzz64ID}} {
		id := c.id
		deploy(t, s, c.name, engine.DeployOptions{ID: &id, Owner: []byte("owner of " + c.name)})
	}
}

const gas = 10_000_000

func call(t testing.TB, s *engine.Session, id merkle.ContractID, fn string, arg []byte) []byte {
	t.Helper()
	r, err := s.Call(context.Background(), id, fn, arg, gas)
	if err != nil {
		t.Fatalf("call %s: %v", fn, err)
	}
	return r.Data
}

func root(t testing.TB, s *engine.Session) merkle.Hash {
	t.Helper()
	r, err := s.Root()
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func commit(t testing.TB, s *engine.Session) merkle.Hash {
	t.Helper()
	r, err := s.Commit(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// mustFail calls and checks that the call fails with a *CallError
// matching every one of want, and that the session's root is unchanged.
func mustFail(t testing.TB, s *engine.Session, id merkle.ContractID, fn string, arg []byte, gasLimit uint64, want ...error) *engine.CallError {
	t.Helper()
	before := root(t, s)
	_, err := s.Call(context.Background(), id, fn, arg, gasLimit)
	var ce *engine.CallError
	if !errors.As(err, &ce) {
		t.Fatalf("%s: want a CallError, got %v", fn, err)
	}
	for _, w := range want {
		if !errors.Is(err, w) {
			t.Fatalf("%s: want %v, got %v", fn, w, err)
		}
	}
	if errors.Is(err, engine.ErrInternal) {
		t.Fatalf("%s: internal error: %v", fn, err)
	}
	if ce.GasSpent > gasLimit {
		t.Fatalf("%s: gas spent %d of %d", fn, ce.GasSpent, gasLimit)
	}
	if after := root(t, s); after != before {
		t.Fatalf("%s: failed call changed the root", fn)
	}
	return ce
}

func u32(v uint32) []byte { return binary.LittleEndian.AppendUint32(nil, v) }
func u64(v uint64) []byte { return binary.LittleEndian.AppendUint64(nil, v) }

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

func readU64(t testing.TB, b []byte) uint64 {
	t.Helper()
	if len(b) != 8 {
		t.Fatalf("want 8 bytes, got %d", len(b))
	}
	return binary.LittleEndian.Uint64(b)
}

// shmDir returns a fresh directory on tmpfs when there is one, else
// t.TempDir() (crashtest.Dir says why).
func shmDir(t testing.TB, pattern string) string { return crashtest.Dir(t, pattern) }

func short(h merkle.Hash) string { return strings.TrimSpace(h.String()[:12]) }

// watToWasm compiles WAT text.
func watToWasm(src string) ([]byte, error) { return wasmtime.Wat2Wasm(src) }

// longEnv, when set, enables the slow measurements (compile bombs, more
// iterations) of the normal tests.
const longEnv = "WASMSTATE_RELIABILITY_LONG"
