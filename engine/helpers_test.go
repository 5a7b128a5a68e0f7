package engine

import (
	"context"
	"encoding/binary"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bytecodealliance/wasmtime-go/v39"

	"github.com/wasmstate/wasmstate/engine/dirty"
	"github.com/wasmstate/wasmstate/merkle"
)

var watCache sync.Map

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// wasm compiles testdata/contracts/<name>.wat.
func wasm(t testing.TB, name string) []byte {
	t.Helper()
	if b, ok := watCache.Load(name); ok {
		return b.([]byte)
	}
	src, err := os.ReadFile(filepath.Join("..", "testdata", "contracts", name+".wat"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := wasmtime.Wat2Wasm(string(src))
	if err != nil {
		t.Fatalf("%s.wat: %v", name, err)
	}
	watCache.Store(name, b)
	return b
}

// mode is one way of running the engine: a dirty tracker and a load path.
type mode struct {
	tracker dirty.Kind
	load    string // "eager", "image" (every stored memory maps an image), "cold" (no warm sets)
}

func (m mode) String() string { return m.tracker.String() + "/" + m.load }

func (m mode) options() Options {
	o := Options{Tracker: m.tracker, Logger: quiet}
	switch m.load {
	case "eager":
		o.ImageBytes = -1
	case "image":
		o.ImageAbove = 1
	case "cold":
		o.ImageAbove, o.WarmSets = 1, -1
	}
	return o
}

// auto is the default mode.
var auto = mode{tracker: dirty.Auto, load: "default"}

// trackers returns every mode available here: each dirty-tracker kind with
// each load path; behaviour tests run against each.
func trackers() []mode {
	var ms []mode
	for _, k := range dirty.Available() {
		for _, l := range []string{"eager", "image", "cold"} {
			ms = append(ms, mode{k, l})
		}
	}
	return ms
}

func forEachTracker(t *testing.T, fn func(t *testing.T, kind mode)) {
	requireUffd(t)
	for _, k := range trackers() {
		t.Run(k.String(), func(t *testing.T) { fn(t, k) })
	}
}

// requireUffd fails the test when WASMSTATE_REQUIRE_UFFD is set (as
// .ci/run sets it) and uffd-wp is unavailable, so that the uffd-wp cases
// cannot quietly drop out of the tracker loops.
func requireUffd(t testing.TB) {
	t.Helper()
	if os.Getenv("WASMSTATE_REQUIRE_UFFD") != "" && dirty.Available()[0] != dirty.UffdWP {
		t.Fatalf("WASMSTATE_REQUIRE_UFFD is set but uffd-wp is unavailable: %v", dirty.UnavailableReason(dirty.UffdWP))
	}
}

func testEngine(t testing.TB, kind mode) *Engine {
	t.Helper()
	e, err := OpenInMemory(kind.options())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

func newSession(t testing.TB, e *Engine, root merkle.Hash) *Session {
	t.Helper()
	s, err := e.NewSession(root, SessionOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

func deploy(t testing.TB, s *Session, name string, o DeployOptions) merkle.ContractID {
	t.Helper()
	id, err := s.Deploy(context.Background(), wasm(t, name), o)
	if err != nil {
		t.Fatalf("deploy %s: %v", name, err)
	}
	return id
}

const gas = 10_000_000

func call(t testing.TB, s *Session, id merkle.ContractID, fn string, arg []byte) []byte {
	t.Helper()
	r, err := s.Call(context.Background(), id, fn, arg, gas)
	if err != nil {
		t.Fatalf("call %s: %v", fn, err)
	}
	return r.Data
}

func u64(v uint64) []byte { return binary.LittleEndian.AppendUint64(nil, v) }

func readU64(t testing.TB, b []byte) uint64 {
	t.Helper()
	if len(b) != 8 {
		t.Fatalf("want 8 bytes, got %d", len(b))
	}
	return binary.LittleEndian.Uint64(b)
}

func root(t testing.TB, s *Session) merkle.Hash {
	t.Helper()
	r, err := s.Root()
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func commit(t testing.TB, s *Session) merkle.Hash {
	t.Helper()
	r, err := s.Commit(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// runChild runs the test named test of this test binary in a child
// process, with env added to its environment, killed after timeout, and
// returns its output.
func runChild(test string, env []string, timeout time.Duration) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^"+test+"$", "-test.v")
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// childResult returns the line of a child's output that starts with
// prefix, failing the test when there is none.
func childResult(t testing.TB, out, prefix string) string {
	t.Helper()
	i := strings.Index(out, prefix)
	if i < 0 {
		t.Fatalf("child gave no result:\n%s", tail(out, 3000))
	}
	return strings.SplitN(out[i:], "\n", 2)[0]
}
