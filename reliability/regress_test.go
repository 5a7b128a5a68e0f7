package reliability

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wasmstate/wasmstate/engine"
	"github.com/wasmstate/wasmstate/merkle"
)

// Regression tests for the engine bugs this package found (RELIABILITY.md,
// "Bugs found and fixed").

// A call's result bytes are argument-buffer scratch: a read-only call that
// returns data it copied into A leaves the root as it was (SPEC.md §10.2).
// Found by TestCrash: committed roots held result bytes.
func TestRegressResultBytesZeroed(t *testing.T) {
	e := memEngine(t, engine.Options{})
	s := session(t, e, merkle.EmptyState())
	deployFixed(t, s)
	for _, id := range []merkle.ContractID{fuzz32ID, fuzz64ID} {
		before := root(t, s)
		d := call(t, s, id, "go", goArg(selLoad, 4096, [5]uint64{0x100, 4096}, nil))
		if a, _ := goResult(t, d, 4096); a[0] != 0xC0 {
			t.Fatalf("load returned %x", a[:4])
		}
		if after := root(t, s); after != before {
			t.Fatalf("a read-only call returning 4 KiB changed the root")
		}
	}
}

// A session of a closed engine reports ErrClosed; Deploy used to panic in
// wasmtime-go ("object has been closed already") and calls used to run.
func TestRegressSessionAfterEngineClose(t *testing.T) {
	e, err := engine.OpenInMemory(engine.Options{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	s, err := e.NewSession(merkle.EmptyState(), engine.SessionOptions{})
	if err != nil {
		t.Fatal(err)
	}
	id := deploy(t, s, "counter", engine.DeployOptions{})
	e.Close()
	if _, err := s.Deploy(context.Background(), wasm(t, "grower"), engine.DeployOptions{}); !errors.Is(err, engine.ErrClosed) {
		t.Fatalf("deploy after engine close: %v", err)
	}
	if _, err := s.Call(context.Background(), id, "increment", nil, gas); !errors.Is(err, engine.ErrClosed) {
		t.Fatalf("call after engine close: %v", err)
	}
	if _, err := s.Commit(context.Background()); !errors.Is(err, engine.ErrClosed) {
		t.Fatalf("commit after engine close: %v", err)
	}
	if _, err := s.Root(); !errors.Is(err, engine.ErrClosed) {
		t.Fatalf("root after engine close: %v", err)
	}
	if err := s.SetMetadata("k", []byte("v")); !errors.Is(err, engine.ErrClosed) {
		t.Fatalf("set metadata after engine close: %v", err)
	}
	s.Close()
	s.Close()
}

// A commit acknowledged to one session survives a deletion another caller
// requested earlier, deferred because a session was based on the root.
func TestRegressDeferredDeleteSparesRecommit(t *testing.T) {
	e := memEngine(t, engine.Options{})
	s1, err := e.NewSession(merkle.EmptyState(), engine.SessionOptions{})
	if err != nil {
		t.Fatal(err)
	}
	deploy(t, s1, "counter", engine.DeployOptions{})
	r := commit(t, s1) // s1 is based on r now
	if deferred, err := e.DeleteCommit(r); err != nil || !deferred {
		t.Fatalf("delete while in use: %v %v", deferred, err)
	}
	// Another session builds the same state and commits it: acknowledged.
	s2, err := e.NewSession(merkle.EmptyState(), engine.SessionOptions{})
	if err != nil {
		t.Fatal(err)
	}
	deploy(t, s2, "counter", engine.DeployOptions{})
	if r2 := commit(t, s2); r2 != r {
		t.Fatalf("same state, roots %s and %s", r2, r)
	}
	s1.Close()
	s2.Close()
	opens := func() error {
		s, err := e.NewSession(r, engine.SessionOptions{})
		if err == nil {
			s.Close()
		}
		return err
	}
	if err := opens(); err != nil {
		t.Fatalf("acknowledged root lost to the earlier deletion: %v", err)
	}
	// A no-op commit of the base also keeps it.
	s3 := session(t, e, r)
	if deferred, err := e.DeleteCommit(r); err != nil || !deferred {
		t.Fatalf("delete while in use: %v %v", deferred, err)
	}
	if got := commit(t, s3); got != r {
		t.Fatalf("no-op commit returned %s", got)
	}
	s3.Close()
	if err := opens(); err != nil {
		t.Fatalf("root acknowledged by a no-op commit lost: %v", err)
	}
	// Without a later commit the deferred deletion happens.
	s4, _ := e.NewSession(r, engine.SessionOptions{})
	if deferred, err := e.DeleteCommit(r); err != nil || !deferred {
		t.Fatalf("delete while in use: %v %v", deferred, err)
	}
	s4.Close()
	if err := opens(); !errors.Is(err, engine.ErrUnknownRoot) {
		t.Fatalf("deferred deletion did not happen: %v", err)
	}
}

// Session.Metadata returns a copy of the values too: changing them does
// not change what contracts read with "hd". Found by FuzzSessionMetadata.
func TestRegressMetadataCopy(t *testing.T) {
	e := memEngine(t, engine.Options{})
	s, err := e.NewSession(merkle.EmptyState(), engine.SessionOptions{Metadata: map[string][]byte{"block_height": u64(100)}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	deployFixed(t, s)
	for _, v := range s.Metadata() {
		v[0] = 0xFF
	}
	d := call(t, s, fuzz32ID, "go", goArg(selHD, 8, [5]uint64{addrHeight, 12}, nil))
	if got, _ := goResult(t, d, 8); binary.LittleEndian.Uint64(got) != 100 {
		t.Fatalf("hd read %x after the caller changed Metadata()'s copy", got)
	}
}

// vmSize is the process's virtual memory size in bytes (0 if unknown).
func vmSize() uint64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) == 3 && f[0] == "VmSize:" {
			n, _ := strconv.ParseUint(f[1], 10, 64)
			return n << 10
		}
	}
	return 0
}

// Reverted memory growth re-instantiates the contract; the dead instances
// used to pile up in the session's wasmtime store (about 4 GiB of address
// space each) until, at 10,000, the session broke with ErrInternal. Now the
// store is recycled between calls and reloads are capped per call.
func TestRegressDeadInstances(t *testing.T) {
	e := memEngine(t, engine.Options{})
	s := session(t, e, merkle.EmptyState())
	gr := deploy(t, s, "grower", engine.DeployOptions{})
	lp := deploy(t, s, "inline:looper", engine.DeployOptions{})
	call(t, s, gr, "grow", u32(1))
	size := readU64(t, call(t, s, gr, "size", nil))
	vm0 := vmSize()
	// Between calls: 1,000 failed growths.
	for i := 0; i < 1000; i++ {
		_, err := s.Call(context.Background(), gr, "grow_and_panic", u32(1), gas)
		if !errors.Is(err, engine.ErrPanic) {
			t.Fatalf("failed growth %d: %v", i, err)
		}
	}
	// Within one call: 2,000 callees that grow and fail.
	r, err := s.Call(context.Background(), lp, "loop", cat(gr[:], u32(2000)), 1_000_000_000)
	if err != nil {
		t.Fatalf("looping call: %v", err)
	}
	if fails := binary.LittleEndian.Uint32(r.Data); fails != 2000 {
		t.Fatalf("%d of 2000 callees failed", fails)
	}
	if got := readU64(t, call(t, s, gr, "size", nil)); got != size {
		t.Fatalf("size %d after failed growths, want %d", got, size)
	}
	call(t, s, gr, "grow", u32(1))
	if vm1 := vmSize(); vm0 != 0 && vm1 > vm0+(1<<40) {
		t.Fatalf("virtual memory grew by %d GiB", (vm1-vm0)>>30)
	}
	// The state is what the successful calls made.
	r1 := commit(t, s)
	s2 := session(t, e, r1)
	if got := readU64(t, call(t, s2, gr, "size", nil)); got != size+1 {
		t.Fatalf("committed size %d, want %d", got, size+1)
	}
}

// looperWAT calls grow_and_panic(1) of the contract whose id starts its
// argument, n times (u32 after the id), each with 200,000 gas, and returns
// the number of failed calls as u32.
const looperWAT = `(module
  (import "env" "c" (func $c (param i32 i32 i32 i32 i64) (result i32)))
  (memory (export "memory") 2)
  (global $A (export "A") i32 (i32.const 65536))
  (data (i32.const 0x400) "grow_and_panic")
  (func (export "loop") (param $len i32) (result i32)
    (local $n i32) (local $i i32) (local $fails i32)
    (memory.copy (i32.const 0x100) (global.get $A) (i32.const 32))
    (local.set $n (i32.load offset=32 (global.get $A)))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
      (i32.store (global.get $A) (i32.const 1))
      (if (i32.lt_s (call $c (i32.const 0x100) (i32.const 0x400) (i32.const 14) (i32.const 4) (i64.const 200000)) (i32.const 0))
        (then (local.set $fails (i32.add (local.get $fails) (i32.const 1)))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $next)))
    (i32.store (global.get $A) (local.get $fails))
    (i32.const 4)))`

// GC beside commits, session churn and deletions never fails and never
// reclaims what an open session reads. It used to fail with "state node
// ...: not found (nothing deleted; run Fsck)": it marked from the pin of a
// commit not yet written, or from a stale pin of a root deleted and swept
// since; and a session opened between DeleteCommit's pin check and the
// deletion could lose its state to a GC. Found by TestConcurrencyStress.
func TestRegressGCBesideCommits(t *testing.T) {
	e, err := engine.Open(context.Background(), shmDir(t, "wasmstate-gcrace-"), engine.Options{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	s0 := session(t, e, merkle.EmptyState())
	deploy(t, s0, "counter", engine.DeployOptions{})
	base := commit(t, s0)
	s0.Close()
	stop := time.Now().Add(1500 * time.Millisecond)
	var wg sync.WaitGroup
	errc := make(chan error, 16)
	var mu sync.Mutex
	var recent []merkle.Hash
	ctr := engine.ContractIDFor(wasm(t, "counter"), nil, 0)
	for w := 0; w < 6; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; time.Now().Before(stop); i++ {
				from := base
				mu.Lock()
				if len(recent) > 0 && i%2 == 0 {
					from = recent[(w+i)%len(recent)]
				}
				mu.Unlock()
				s, err := e.NewSession(from, engine.SessionOptions{})
				if errors.Is(err, engine.ErrUnknownRoot) {
					continue // deleted meanwhile
				}
				if err != nil {
					errc <- err
					return
				}
				// Read through the session: its base must stay readable.
				if _, err := s.Call(context.Background(), ctr, "read_value", nil, gas); err != nil {
					s.Close()
					errc <- fmt.Errorf("read at %s: %w", short(from), err)
					return
				}
				if _, err := s.Call(context.Background(), ctr, "add", u64(uint64(w)<<32|uint64(i)), gas); err != nil {
					s.Close()
					errc <- err
					return
				}
				r, err := s.Commit(context.Background())
				s.Close()
				if err != nil {
					errc <- err
					return
				}
				mu.Lock()
				recent = append(recent, r)
				var victim merkle.Hash
				if len(recent) > 8 {
					victim, recent = recent[0], recent[1:]
				}
				mu.Unlock()
				if victim != (merkle.Hash{}) {
					if _, err := e.DeleteCommit(victim); err != nil && !errors.Is(err, engine.ErrUnknownRoot) {
						errc <- err
						return
					}
				}
			}
		}(w)
	}
	for g := 0; g < 2; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(stop) {
				if _, err := e.GC(context.Background()); err != nil {
					errc <- fmt.Errorf("gc: %w", err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	if p, err := e.Store().Fsck(context.Background(), nil); err != nil || len(p) > 0 {
		t.Fatalf("fsck: %v %v", p, err)
	}
}
