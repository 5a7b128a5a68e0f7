package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/wasmstate/wasmstate/hostfns"
	"github.com/wasmstate/wasmstate/merkle"
)

// script runs a fixed sequence of deploys, calls (failing ones included)
// and commits, and returns the roots and receipts it saw.
func script(t *testing.T, e *Engine) (roots []merkle.Hash, log []string) {
	return scriptOn(t, newSession(t, e, merkle.EmptyState()))
}

// scriptOn runs script's sequence in s, a session at the empty state.
func scriptOn(t *testing.T, s *Session) (roots []merkle.Hash, log []string) {
	ctr := deploy(t, s, "counter", DeployOptions{Owner: []byte("o")})
	ctr64 := deploy(t, s, "counter64", DeployOptions{Owner: []byte("o")})
	cc := deploy(t, s, "callcenter", DeployOptions{})
	ev := deploy(t, s, "eventer", DeployOptions{})
	gr := deploy(t, s, "grower", DeployOptions{})
	fc := deploy(t, s, "fallible_counter", DeployOptions{})
	roots = append(roots, root(t, s))
	for i := 0; i < 5; i++ {
		for _, c := range []struct {
			id  merkle.ContractID
			fn  string
			arg []byte
		}{
			{ctr, "add", u64(uint64(i))}, {ctr64, "increment", nil}, {cc, "increment_counter", ctr64[:]},
			{ev, "emit_events", u32(uint32(i))}, {gr, "grow", u32(1)}, {fc, "increment", []byte{byte(i % 2)}},
			{gr, "grow_and_panic", u32(1)}, {ev, "emit_and_panic", []byte("p")},
		} {
			r, err := s.Call(context.Background(), c.id, c.fn, c.arg, gas)
			if err != nil {
				log = append(log, fmt.Sprintf("%s err %v", c.fn, err))
				continue
			}
			log = append(log, fmt.Sprintf("%s %x gas %d events %d", c.fn, r.Data, r.GasSpent, len(r.Events)))
			for _, e := range r.Events {
				log = append(log, fmt.Sprintf("  %x %s %x %v", e.Source[:4], e.Topic, e.Data, e.Reverted))
			}
		}
		roots = append(roots, root(t, s))
		if i%2 == 1 {
			roots = append(roots, commit(t, s))
		}
	}
	return roots, log
}

func TestDeterminism(t *testing.T) {
	var first []merkle.Hash
	var firstLog []string
	for _, kind := range trackers() {
		for run := 0; run < 2; run++ {
			roots, log := script(t, testEngine(t, kind))
			if first == nil {
				first, firstLog = roots, log
				continue
			}
			if fmt.Sprint(roots) != fmt.Sprint(first) || strings.Join(log, "\n") != strings.Join(firstLog, "\n") {
				t.Fatalf("tracker %v run %d: roots or receipts differ", kind, run)
			}
		}
	}
}

func TestConcurrentSessions(t *testing.T) {
	forEachTracker(t, func(t *testing.T, kind mode) {
		e := testEngine(t, kind)
		s := newSession(t, e, merkle.EmptyState())
		ctr := deploy(t, s, "counter", DeployOptions{})
		base := commit(t, s)
		const n = 8
		roots := make([]merkle.Hash, n)
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				s, err := e.NewSession(base, SessionOptions{})
				if err != nil {
					errs <- err
					return
				}
				defer s.Close()
				if _, err := s.Call(context.Background(), ctr, "add", u64(uint64(i+1)), gas); err != nil {
					errs <- err
					return
				}
				r, err := s.Commit(context.Background())
				roots[i] = r
				errs <- err
			}(i)
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		for i, r := range roots {
			s := newSession(t, e, r)
			if v := readU64(t, call(t, s, ctr, "read_value", nil)); v != 0xfc+uint64(i+1) {
				t.Fatalf("session %d committed %d", i, v)
			}
			for j := 0; j < i; j++ {
				if roots[j] == r {
					t.Fatal("two different states share a root")
				}
			}
		}
	})
}

func TestDeleteCommitWhileInUse(t *testing.T) {
	e := testEngine(t, auto)
	s := newSession(t, e, merkle.EmptyState())
	ctr := deploy(t, s, "counter", DeployOptions{})
	r1 := commit(t, s)
	call(t, s, ctr, "increment", nil)
	r2 := commit(t, s)

	user, err := e.NewSession(r1, SessionOptions{})
	if err != nil {
		t.Fatal(err)
	}
	deferred, err := e.DeleteCommit(r1)
	if err != nil || !deferred {
		t.Fatalf("delete while in use: %v %v", deferred, err)
	}
	if _, err := e.GC(t.Context()); err != nil {
		t.Fatal(err)
	}
	// The session still reads its base.
	if v := readU64(t, call(t, user, ctr, "read_value", nil)); v != 0xfc {
		t.Fatalf("session on a deleted root read %d", v)
	}
	user.Close()
	if _, err := e.NewSession(r1, SessionOptions{}); !errors.Is(err, ErrUnknownRoot) {
		t.Fatalf("deleted root still opens: %v", err)
	}
	if _, err := e.GC(t.Context()); err != nil {
		t.Fatal(err)
	}
	s2 := newSession(t, e, r2)
	if v := readU64(t, call(t, s2, ctr, "read_value", nil)); v != 0xfd {
		t.Fatalf("surviving root read %d", v)
	}
	if _, err := e.NewSession(merkle.Hash{1}, SessionOptions{}); !errors.Is(err, ErrUnknownRoot) {
		t.Fatalf("unknown root: %v", err)
	}
}

func TestInvalidModules(t *testing.T) {
	e := testEngine(t, auto)
	s := newSession(t, e, merkle.EmptyState())
	files, _ := filepath.Glob("../testdata/contracts/invalid/*.wat")
	if len(files) < 10 {
		t.Fatalf("only %d invalid modules", len(files))
	}
	for _, f := range files {
		name := "invalid/" + strings.TrimSuffix(filepath.Base(f), ".wat")
		if _, err := s.Deploy(context.Background(), wasm(t, name), DeployOptions{}); !errors.Is(err, ErrInvalidModule) {
			t.Errorf("%s: %v", name, err)
		}
	}
	for _, bad := range [][]byte{nil, []byte("not wasm"), {0, 'a', 's', 'm', 1, 0, 0, 0}} {
		if _, err := s.Deploy(context.Background(), bad, DeployOptions{}); !errors.Is(err, ErrInvalidModule) {
			t.Errorf("%q: %v", bad, err)
		}
	}
	if root(t, s) != merkle.EmptyState() {
		t.Fatal("failed deploys changed the state")
	}
	// Duplicate ids and the nonce.
	a := deploy(t, s, "counter", DeployOptions{})
	if _, err := s.Deploy(context.Background(), wasm(t, "counter"), DeployOptions{}); !errors.Is(err, ErrContractExists) {
		t.Fatalf("same id twice: %v", err)
	}
	if b := deploy(t, s, "counter", DeployOptions{Nonce: 1}); a == b {
		t.Fatal("nonce did not change the id")
	}
	// A failing init deploys nothing.
	before := root(t, s)
	if _, err := s.Deploy(context.Background(), wasm(t, "initializer"), DeployOptions{InitArg: []byte{1}}); !errors.Is(err, ErrPanic) {
		t.Fatalf("failing init: %v", err)
	}
	if root(t, s) != before {
		t.Fatal("failed init changed the state")
	}
}

func TestWasm64CallsWasm32WithNestedFailure(t *testing.T) {
	forEachTracker(t, func(t *testing.T, kind mode) {
		e := testEngine(t, kind)
		s := newSession(t, e, merkle.EmptyState())
		cc64 := deploy(t, s, "callcenter64", DeployOptions{})
		cc := deploy(t, s, "callcenter", DeployOptions{})
		fc := deploy(t, s, "fallible_counter", DeployOptions{})
		inner := cat(fc[:], u32(9), []byte("increment"), []byte{1})
		outer := cat(cc[:], u32(14), []byte("delegate_query"), inner)
		r, err := s.Call(context.Background(), cc64, "delegate_query", outer, gas)
		if err != nil {
			t.Fatal(err)
		}
		msg := "Incremental panic"
		want := cat(i32(hostfns.CallPanicked), u32(uint32(len(msg))), []byte(msg))
		if !bytes.Equal(r.Data, want) {
			t.Fatalf("wasm64 -> wasm32 -> panic: %x", r.Data)
		}
		if v := readU64(t, call(t, s, fc, "read_value", nil)); v != 0xfc {
			t.Fatalf("nested failed write kept: %d", v)
		}
		tree := r.CallTree
		if len(tree.Children) != 1 || tree.Children[0].Failed || len(tree.Children[0].Children) != 1 || !tree.Children[0].Children[0].Failed {
			t.Fatalf("call tree %+v", tree)
		}
	})
}

// TestReopenInAnotherProcess commits, then has a separate process open the
// store and read the committed value.
func TestReopenInAnotherProcess(t *testing.T) {
	if dir := os.Getenv("WASMSTATE_REOPEN_DIR"); dir != "" {
		e, err := Open(context.Background(), dir, Options{Logger: quiet})
		if err != nil {
			fmt.Println("open:", err)
			os.Exit(2)
		}
		head, _ := e.Head()
		s, err := e.NewSession(head, SessionOptions{})
		if err != nil {
			fmt.Println("session:", err)
			os.Exit(2)
		}
		id, _ := merkle.ParseContractID(os.Getenv("WASMSTATE_REOPEN_ID"))
		r, err := s.Call(context.Background(), id, "read_value", nil, gas)
		if err != nil {
			fmt.Println("call:", err)
			os.Exit(2)
		}
		fmt.Printf("value=%x\n", r.Data)
		os.Exit(0)
	}
	dir := t.TempDir()
	e, err := Open(context.Background(), dir, Options{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	s, _ := e.NewSession(merkle.EmptyState(), SessionOptions{})
	ctr := deploy(t, s, "counter", DeployOptions{})
	call(t, s, ctr, "add", u64(1000))
	commit(t, s)
	s.Close()
	e.Close()
	cmd := exec.Command(os.Args[0], "-test.run=^TestReopenInAnotherProcess$")
	cmd.Env = append(os.Environ(), "WASMSTATE_REOPEN_DIR="+dir, "WASMSTATE_REOPEN_ID="+ctr.String())
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	if want := fmt.Sprintf("value=%x", u64(0xfc+1000)); !strings.Contains(string(out), want) {
		t.Fatalf("child printed %s, want %s", out, want)
	}
}

// TestCToken runs the token contract built from C with clang.
func TestCToken(t *testing.T) {
	code, err := os.ReadFile("../testdata/c/token.wasm")
	if err != nil {
		t.Fatal(err)
	}
	e := testEngine(t, auto)
	s := newSession(t, e, merkle.EmptyState())
	alice, bob := bytes.Repeat([]byte{0xA1}, 32), bytes.Repeat([]byte{0xB0}, 32)
	tok, err := s.Deploy(context.Background(), code, DeployOptions{InitArg: cat(alice, u64(1000))})
	if err != nil {
		t.Fatal(err)
	}
	r, err := s.Call(context.Background(), tok, "transfer", cat(alice, bob, u64(300)), gas)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Events) != 1 || r.Events[0].Topic != "transfer" {
		t.Fatalf("events %+v", r.Events)
	}
	root1 := commit(t, s)
	s2 := newSession(t, e, root1)
	if v := readU64(t, call(t, s2, tok, "balance_of", bob)); v != 300 {
		t.Fatalf("bob has %d", v)
	}
	if v := readU64(t, call(t, s2, tok, "balance_of", alice)); v != 700 {
		t.Fatalf("alice has %d", v)
	}
	before := root(t, s2)
	if _, err := s2.Call(context.Background(), tok, "transfer", cat(bob, alice, u64(301)), gas); !errors.Is(err, ErrPanic) {
		t.Fatalf("overdraft: %v", err)
	}
	if root(t, s2) != before {
		t.Fatal("failed transfer changed the root")
	}
}

func TestProofsAndDiff(t *testing.T) {
	e := testEngine(t, auto)
	s := newSession(t, e, merkle.EmptyState())
	ctr := deploy(t, s, "counter", DeployOptions{Owner: []byte("me")})
	gr := deploy(t, s, "grower", DeployOptions{})
	r1 := commit(t, s)
	call(t, s, ctr, "add", u64(5))
	call(t, s, gr, "grow", u32(1))
	r2 := commit(t, s)
	for _, r := range []struct {
		root merkle.Hash
		v    uint64
	}{{r1, 0xfc}, {r2, 0xfc + 5}} {
		p, err := e.ProvePage(context.Background(), r.root, ctr, 0)
		if err != nil {
			t.Fatal(err)
		}
		page, err := merkle.VerifyPage(r.root, ctr, 0, p)
		if err != nil || readU64(t, page[:8]) != r.v {
			t.Fatalf("page proof at %s: %v", r.root, err)
		}
		rp, err := e.ProveRange(context.Background(), r.root, ctr, 0, 8)
		if err != nil {
			t.Fatal(err)
		}
		if data, err := merkle.VerifyRange(r.root, ctr, 0, 8, rp); err != nil || readU64(t, data) != r.v {
			t.Fatalf("range proof: %v", err)
		}
	}
	absent := merkle.ContractID{0xAB}
	p, err := e.ProveContract(context.Background(), r2, absent)
	if err != nil || merkle.VerifyAbsence(r2, absent, p) != nil {
		t.Fatalf("absence: %v", err)
	}
	info, err := e.Inspect(context.Background(), r2, ctr)
	if err != nil || string(info.Owner) != "me" || info.Pages == 0 || len(info.Globals) != 2 {
		t.Fatalf("inspect: %+v %v", info, err)
	}
	d, err := e.Diff(context.Background(), r1, r2)
	if err != nil || len(d) != 2 {
		t.Fatalf("diff: %+v %v", d, err)
	}
	for _, c := range d {
		if c.Change != "changed" || len(c.Pages) == 0 {
			t.Fatalf("diff entry %+v", c)
		}
	}
	if d, err := e.Diff(context.Background(), merkle.EmptyState(), r1); err != nil || len(d) != 2 || d[0].Change != "added" {
		t.Fatalf("diff from empty: %+v %v", d, err)
	}
}
