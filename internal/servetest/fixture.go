// Package servetest builds committed states for the tests and benchmarks
// of the network packages (serve, lightclient's client, statesync): a set of
// counter contracts and one page-writer contract whose memory is filled
// with distinct non-zero pages, then later roots that change chosen pages.
package servetest

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"

	"github.com/bytecodealliance/wasmtime-go/v39"

	"github.com/wasmstate/wasmstate/engine"
	"github.com/wasmstate/wasmstate/merkle"
	"github.com/wasmstate/wasmstate/pagestore"
)

// Gas is the gas limit of every fixture call.
const Gas = 10_000_000_000

// Quiet is a logger that drops everything.
var Quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// RepoRoot is the repository's top directory.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

var watCache sync.Map

// Wasm compiles a WAT contract from testdata/contracts or bench/testdata.
func Wasm(tb testing.TB, name string) []byte {
	tb.Helper()
	if b, ok := watCache.Load(name); ok {
		return b.([]byte)
	}
	path := filepath.Join(RepoRoot(), "testdata", "contracts", name+".wat")
	if _, err := os.Stat(path); err != nil {
		path = filepath.Join(RepoRoot(), "bench", "testdata", name+".wat")
	}
	src, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	b, err := wasmtime.Wat2Wasm(string(src))
	if err != nil {
		tb.Fatalf("%s: %v", path, err)
	}
	watCache.Store(name, b)
	return b
}

// U32s encodes little-endian u32 arguments.
func U32s(vals ...uint32) []byte {
	b := make([]byte, 0, 4*len(vals))
	for _, v := range vals {
		b = binary.LittleEndian.AppendUint32(b, v)
	}
	return b
}

// Fixture is an engine with a committed state.
type Fixture struct {
	E        *engine.Engine
	Counters []merkle.ContractID
	// Writer is the page-writer contract; its memory has WriterPages
	// 4 KiB pages, all non-zero and distinct.
	Writer      merkle.ContractID
	WriterPages uint32
	// Roots are the committed roots, oldest first; the last is the head.
	Roots []merkle.Hash
}

// New opens an engine in dir ("" for in memory) and commits a state of
// counters counter contracts and a page writer of wasmPages × 64 KiB. The
// engine closes when the test ends.
func New(tb testing.TB, dir string, counters int, wasmPages uint32) *Fixture {
	tb.Helper()
	o := engine.Options{Logger: Quiet}
	var e *engine.Engine
	var err error
	if dir == "" {
		e, err = engine.OpenInMemory(o)
	} else {
		e, err = engine.Open(context.Background(), dir, o)
	}
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { e.Close() })
	f := &Fixture{E: e}
	if err := f.build(tb, counters, wasmPages); err != nil {
		tb.Fatal(err)
	}
	return f
}

func (f *Fixture) build(tb testing.TB, counters int, wasmPages uint32) error {
	code := Wasm(tb, "counter")
	root := merkle.EmptyState()
	// At most 2,500 deploys per session: each keeps an instance until the
	// session closes.
	for n := 0; n < counters; {
		s, err := f.E.NewSession(root, engine.SessionOptions{})
		if err != nil {
			return err
		}
		for end := min(n+2500, counters); n < end; n++ {
			id, err := s.Deploy(context.Background(), code, engine.DeployOptions{Nonce: uint64(n), Owner: []byte{byte(n)}})
			if err != nil {
				s.Close()
				return err
			}
			f.Counters = append(f.Counters, id)
		}
		root, err = s.Commit(context.Background())
		s.Close()
		if err != nil {
			return err
		}
		f.Roots = append(f.Roots, root)
	}
	s, err := f.E.NewSession(root, engine.SessionOptions{})
	if err != nil {
		return err
	}
	defer s.Close()
	f.Writer, err = s.Deploy(context.Background(), Wasm(tb, "pagewriter"), engine.DeployOptions{Nonce: 1 << 40})
	if err != nil {
		return err
	}
	if wasmPages > 1 {
		if _, err := s.Call(context.Background(), f.Writer, "grow", U32s(wasmPages-1), Gas); err != nil {
			return fmt.Errorf("grow: %w", err)
		}
	}
	f.WriterPages = wasmPages * 16
	if _, err := s.Call(context.Background(), f.Writer, "fill", U32s(0, f.WriterPages), Gas); err != nil {
		return fmt.Errorf("fill: %w", err)
	}
	root, err = s.Commit(context.Background())
	if err != nil {
		return err
	}
	f.Roots = append(f.Roots, root)
	return nil
}

// Head is the last committed root.
func (f *Fixture) Head() merkle.Hash { return f.Roots[len(f.Roots)-1] }

// Write commits a new root in which n of the writer's pages changed (pages
// start, start+stride, ...) and, if bump is set, the first counter too.
func (f *Fixture) Write(tb testing.TB, n, stride, start uint32, bump bool) merkle.Hash {
	tb.Helper()
	s, err := f.E.NewSession(f.Head(), engine.SessionOptions{})
	if err != nil {
		tb.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Call(context.Background(), f.Writer, "write", U32s(n, stride, start), Gas); err != nil {
		tb.Fatal(err)
	}
	if bump && len(f.Counters) > 0 {
		if _, err := s.Call(context.Background(), f.Counters[0], "increment", nil, Gas); err != nil {
			tb.Fatal(err)
		}
	}
	root, err := s.Commit(context.Background())
	if err != nil {
		tb.Fatal(err)
	}
	f.Roots = append(f.Roots, root)
	return root
}

// Reachable returns the keys ("p", "m", "s", "c", "o" or "g", then the hex
// hash) of every stored object reachable from root in st: what a replica
// of root must hold.
func Reachable(st *pagestore.Store, root merkle.Hash) (map[string]bool, error) {
	out := map[string]bool{}
	var mem func(h merkle.Hash, ht int) error
	mem = func(h merkle.Hash, ht int) error {
		if h == merkle.EmptyMemory(ht) {
			return nil
		}
		if ht == 0 {
			out["p"+h.String()] = true
			return nil
		}
		if out["m"+h.String()] {
			return nil
		}
		out["m"+h.String()] = true
		l, r, err := st.MemoryNode(h)
		if err != nil {
			return err
		}
		if err := mem(l, ht-1); err != nil {
			return err
		}
		return mem(r, ht-1)
	}
	var state func(h merkle.Hash) error
	state = func(h merkle.Hash) error {
		if h == merkle.EmptyState() || out["s"+h.String()] {
			return nil
		}
		out["s"+h.String()] = true
		v, err := st.StateNode(h)
		if err != nil {
			return err
		}
		if len(v) == 2*merkle.HashSize {
			if err := state(merkle.Hash(v[:32])); err != nil {
				return err
			}
			return state(merkle.Hash(v[32:]))
		}
		leaf, err := merkle.DecodeContractLeaf(v)
		if err != nil {
			return err
		}
		out["c"+leaf.CodeHash.String()] = true
		out["o"+leaf.OwnerHash.String()] = true
		out["g"+leaf.GlobalsHash.String()] = true
		return mem(leaf.MemoryRoot, merkle.MemoryTreeHeight)
	}
	return out, state(root)
}
