package bench

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/wasmstate/wasmstate/engine"
	"github.com/wasmstate/wasmstate/merkle"
)

// Lazily built on-disk stores, shared by the benchmarks of one process.
// Each is built the first time a benchmark asks for it, in the fixture
// directory (TestMain removes it). Build times are logged with -v.

// once runs build the first time and remembers its result or error.
type once[T any] struct {
	mu   sync.Mutex
	done bool
	v    T
	err  error
}

func (o *once[T]) get(tb testing.TB, build func() (T, error)) T {
	tb.Helper()
	o.mu.Lock()
	defer o.mu.Unlock()
	if !o.done {
		o.v, o.err = build()
		o.done = true
	}
	if o.err != nil {
		tb.Fatal(o.err)
	}
	return o.v
}

// statesFixture: counters deployed with nonces 0..n-1, committed so that
// roots[n] is the state of exactly n counters (n = 1, 1,000, 10,000), and
// proveRoot is roots[10000] plus one pagewriter contract of 64 MiB whose
// 16,384 pages are all non-zero and distinct.
type statesFixture struct {
	dir       string
	roots     map[int]merkle.Hash
	counters  []merkle.ContractID // counters[i] has nonce i
	proveRoot merkle.Hash
	big       merkle.ContractID // the 64 MiB pagewriter under proveRoot
}

var statesOnce once[*statesFixture]

func states(tb testing.TB) *statesFixture {
	return statesOnce.get(tb, func() (*statesFixture, error) {
		t0 := time.Now()
		dir, _ := fixtureDir(tb, "states")
		// No warm sets: a session at the previous batch's root would take
		// over its store with every counter loaded, and the 10,000
		// counters would pass wasmtime's 10,000 instances per store.
		e, err := engine.Open(context.Background(), dir, engine.Options{Logger: quiet, WarmSets: -1})
		if err != nil {
			return nil, err
		}
		defer e.Close()
		f := &statesFixture{dir: dir, roots: map[int]merkle.Hash{}}
		code := wasmCode(tb, "counter")
		root := merkle.EmptyState()
		// Batches of at most 2,500 deploys per session (each deployed
		// contract keeps an instance and a tracker until the session
		// closes), one commit per batch.
		n := 0
		for _, target := range []int{1, 1000, 2500, 5000, 7500, 10000} {
			s, err := e.NewSession(root, engine.SessionOptions{})
			if err != nil {
				return nil, err
			}
			for ; n < target; n++ {
				id, err := s.Deploy(context.Background(), code, engine.DeployOptions{Nonce: uint64(n)})
				if err != nil {
					s.Close()
					return nil, err
				}
				f.counters = append(f.counters, id)
			}
			root, err = s.Commit(context.Background())
			s.Close()
			if err != nil {
				return nil, err
			}
			f.roots[n] = root
		}
		s, err := e.NewSession(root, engine.SessionOptions{})
		if err != nil {
			return nil, err
		}
		defer s.Close()
		f.big, err = deployPageWriter(s, 1024, 1)
		if err != nil {
			return nil, err
		}
		if f.proveRoot, err = s.Commit(context.Background()); err != nil {
			return nil, err
		}
		tb.Logf("fixture states: 10,000 counters + a 64 MiB contract built in %v", time.Since(t0))
		return f, nil
	})
}

// deployPageWriter deploys pagewriter.wat with the nonce, grows it to
// wasmPages × 64 KiB and fills every 4 KiB page.
func deployPageWriter(s *engine.Session, wasmPages uint32, nonce uint64) (merkle.ContractID, error) {
	code, err := compileWAT("pagewriter")
	if err != nil {
		return merkle.ContractID{}, err
	}
	id, err := s.Deploy(context.Background(), code, engine.DeployOptions{Nonce: nonce})
	if err != nil {
		return id, err
	}
	if wasmPages > 1 {
		if _, err := s.Call(context.Background(), id, "grow", u32s(wasmPages-1), bigGas); err != nil {
			return id, fmt.Errorf("grow: %w", err)
		}
	}
	if _, err := s.Call(context.Background(), id, "fill", u32s(0, wasmPages*16), bigGas); err != nil {
		return id, fmt.Errorf("fill: %w", err)
	}
	return id, nil
}

// memSizes are the memory sizes of the first-call and commit benchmarks,
// in 64 KiB wasm pages.
var memSizes = []struct {
	name  string
	pages uint32
}{{"64KiB", 1}, {"1MiB", 16}, {"16MiB", 256}, {"64MiB", 1024}, {"1GiB", 16384}}

// memSizesFixture: one filled pagewriter contract per memory size.
type memSizesFixture struct {
	dir  string
	root merkle.Hash // the latest root
	old  merkle.Hash // a root oldBlocks blocks before it
	ids  map[string]merkle.ContractID
}

// oldBlocks is how many blocks, each changing 8 pages of every contract,
// lie between the fixture's old root and its latest.
const oldBlocks = 32

var memSizesOnce once[*memSizesFixture]

func memSizesStore(tb testing.TB) *memSizesFixture {
	return memSizesOnce.get(tb, func() (*memSizesFixture, error) {
		dir, _ := fixtureDir(tb, "memsizes")
		e, err := engine.Open(context.Background(), dir, engine.Options{Logger: quiet})
		if err != nil {
			return nil, err
		}
		defer e.Close()
		s, err := e.NewSession(merkle.EmptyState(), engine.SessionOptions{})
		if err != nil {
			return nil, err
		}
		defer s.Close()
		f := &memSizesFixture{dir: dir, ids: map[string]merkle.ContractID{}}
		for i, m := range memSizes {
			if f.ids[m.name], err = deployPageWriter(s, m.pages, uint64(i)); err != nil {
				return nil, err
			}
		}
		if f.old, err = s.Commit(context.Background()); err != nil {
			return nil, err
		}
		f.root = f.old
		for b := range oldBlocks {
			for _, m := range memSizes {
				stride := max(1, m.pages*16/8)
				if _, err := s.Call(context.Background(), f.ids[m.name], "write", u32s(8, stride, uint32(b)%stride), bigGas); err != nil {
					return nil, err
				}
			}
			if f.root, err = s.Commit(context.Background()); err != nil {
				return nil, err
			}
		}
		return f, nil
	})
}

// commitsFixture: a store with 10,000 commits (a counter deployed, then
// incremented and committed 9,999 times). pristine is a copy of the store
// as the process that made the commits left it (closed cleanly: Close
// settles the goleveldb journal into a table, pagestore/settle.go);
// crashed is a copy taken while that process still had it open, as a
// crash leaves it (the journal to replay at the next open); closed is how
// long that Close took. dir has been opened since.
type commitsFixture struct {
	dir, pristine, crashed string
	head                   merkle.Hash
	closed                 time.Duration
}

var commitsOnce once[*commitsFixture]

const storeCommits = 10000

func commitsStore(tb testing.TB) *commitsFixture {
	return commitsOnce.get(tb, func() (*commitsFixture, error) {
		t0 := time.Now()
		dir, _ := fixtureDir(tb, "commits")
		f := &commitsFixture{dir: dir, pristine: dir + "-pristine", crashed: dir + "-crashed"}
		var err error
		if f.head, f.closed, err = makeCommits(dir, storeCommits, f.crashed); err != nil {
			return nil, err
		}
		if err := copyDir(f.pristine, dir); err != nil {
			return nil, err
		}
		tb.Logf("fixture commits: %d commits built in %v (close %v)", storeCommits, time.Since(t0), f.closed)
		return f, nil
	})
}

// makeCommits makes n commits in a new store in dir, copies the open
// store to crashCopy (unless ""), and closes it, returning how long the
// close took.
func makeCommits(dir string, n int, crashCopy string) (head merkle.Hash, closed time.Duration, err error) {
	e, err := engine.Open(context.Background(), dir, engine.Options{Logger: quiet})
	if err != nil {
		return head, 0, err
	}
	open := true
	defer func() {
		if open {
			e.Close()
		}
	}()
	s, err := e.NewSession(merkle.EmptyState(), engine.SessionOptions{})
	if err != nil {
		return head, 0, err
	}
	code, err := compileWAT("counter")
	if err != nil {
		return head, 0, err
	}
	id, err := s.Deploy(context.Background(), code, engine.DeployOptions{})
	if err != nil {
		return head, 0, err
	}
	for i := 0; i < n; i++ {
		if i > 0 {
			if _, err := s.Call(context.Background(), id, "increment", nil, bigGas); err != nil {
				return head, 0, err
			}
		}
		if head, err = s.Commit(context.Background()); err != nil {
			return head, 0, err
		}
	}
	s.Close()
	if crashCopy != "" {
		if err := copyDir(crashCopy, dir); err != nil {
			return head, 0, err
		}
	}
	open = false
	t0 := time.Now()
	err = e.Close()
	return head, time.Since(t0), err
}

// copyDir copies the regular files of directory src (not recursive) into
// a new directory dst.
func copyDir(dst, src string) error {
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return err
	}
	ents, err := os.ReadDir(src)
	if err != nil {
		return err
	}
	for _, ent := range ents {
		if !ent.Type().IsRegular() {
			continue
		}
		if err := copyFile(filepath.Join(dst, ent.Name()), filepath.Join(src, ent.Name())); err != nil {
			return err
		}
	}
	return nil
}

func copyFile(dst, src string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
