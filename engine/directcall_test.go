package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/wasmstate/wasmstate/merkle"
)

// pathEngine opens an in-memory engine on the given call path.
func pathEngine(t *testing.T, path string) *Engine {
	t.Helper()
	o := auto.options()
	o.callPath = path
	e, err := OpenInMemory(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	if got := e.Info().CallPath; got != path {
		t.Fatalf("call path %q, want %q (%v)", got, path, directCalls())
	}
	return e
}

func TestDirectSelfTest(t *testing.T) {
	if err := directCalls(); err != nil {
		t.Fatalf("the direct call path does not run here: %v", err)
	}
}

// TestCallPathsAgree runs the same calls on both call paths and compares
// every outcome: result, gas, events, call tree, error text and class, and
// the committed root.
func TestCallPathsAgree(t *testing.T) {
	run := func(path string) []string {
		e := pathEngine(t, path)
		s := newSession(t, e, merkle.EmptyState())
		ids := map[string]merkle.ContractID{}
		for _, n := range []string{"counter", "callcenter", "spender", "badptr", "grower", "eventer", "gasmeter", "feeder", "counter64"} {
			ids[n] = deploy(t, s, n, DeployOptions{})
		}
		var log []string
		record := func(name string, r *Receipt, err error) {
			var b strings.Builder
			fmt.Fprintf(&b, "%s: ", name)
			if err != nil {
				fmt.Fprintf(&b, "err %v;", err)
				for _, class := range []error{ErrOutOfGas, ErrInterrupted, ErrPanic, ErrInternal, ErrNoFunction, ErrCallDepth, ErrMemoryLimit} {
					if errors.Is(err, class) {
						fmt.Fprintf(&b, " is %v;", class)
					}
				}
				var te *TrapError
				if errors.As(err, &te) {
					fmt.Fprintf(&b, " trap %q overflow=%v;", te.Message, te.overflow)
				}
				var ce *CallError
				if errors.As(err, &ce) {
					fmt.Fprintf(&b, " gas %d/%d events %v tree %s", ce.GasSpent, ce.GasLimit, ce.Events, treeString(ce.CallTree))
				}
			} else {
				fmt.Fprintf(&b, "data %x gas %d/%d events %v tree %s", r.Data, r.GasSpent, r.GasLimit, r.Events, treeString(r.CallTree))
			}
			log = append(log, b.String())
		}
		ctx := context.Background()
		do := func(contract, fn string, arg []byte, gas uint64) {
			r, err := s.Call(ctx, ids[contract], fn, arg, gas)
			record(contract+"."+fn, r, err)
		}
		idb := func(n string) []byte { id := ids[n]; return id[:] }
		c := idb("counter")
		for range 3 {
			do("counter", "increment", nil, gas)
		}
		do("counter", "read_value", nil, gas)
		do("counter", "no_such_export", nil, gas)
		do("callcenter", "increment_counter", c, gas)
		do("callcenter", "query_counter", c, gas)
		do("callcenter", "increment_counter", idb("counter64"), gas)
		do("callcenter", "call_with_gas", append(append([]byte{}, c...), u64(20_000)...), gas)
		do("callcenter", "call_with_gas", append(append([]byte{}, c...), u64(1)...), gas)
		do("callcenter", "delegate_query", append(append(append([]byte{}, idb("grower")...), u32(14)...), append([]byte("grow_and_panic"), u32(1)...)...), gas)
		do("callcenter", "delegate_query", append(append(append([]byte{}, idb("spender")...), u32(12)...), []byte("loop_forever")...), 400_000)
		do("spender", "loop_forever", nil, 300_000)
		do("spender", "deep_stack", nil, gas)
		do("spender", "get_limit_and_spent", nil, gas)
		do("spender", "spend_on_callee", append(append([]byte{}, idb("spender")...), u64(50_000)...), gas)
		do("spender", "recurse", u32(5), gas)
		do("spender", "recurse", u32(100), gas)
		do("grower", "grow", u32(3), gas)
		do("grower", "grow_and_panic", u32(2), gas)
		do("grower", "size", nil, gas)
		do("eventer", "emit_events", u32(3), gas)
		do("eventer", "emit_and_panic", []byte("x"), gas)
		do("gasmeter", "spent", nil, gas)
		do("gasmeter", "limit", nil, gas)
		do("gasmeter", "callstack", nil, gas)
		for _, fn := range []string{"bad_c", "bad_hq", "bad_emit", "bad_feed", "bad_panic", "ret_too_long", "ret_negative", "ok"} {
			do("badptr", fn, nil, gas)
		}
		// An interruption: a deadline that passes mid-loop.
		dctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
		r, err := s.Call(dctx, ids["spender"], "loop_forever", nil, 1<<50)
		cancel()
		if r != nil || !errors.Is(err, ErrInterrupted) {
			t.Fatalf("%s: loop past the deadline: %v", path, err)
		}
		var fed [][]byte
		r, err = s.CallFeed(ctx, ids["feeder"], "feed_num", u32(3), gas, func(b []byte) error { fed = append(fed, b); return nil })
		record("feeder.feed_num", r, err)
		log = append(log, fmt.Sprintf("fed %x", fed))
		root, err := s.Commit(ctx)
		if err != nil {
			t.Fatal(err)
		}
		log = append(log, "root "+root.String())
		return log
	}
	a, b := run(CallPathWasmtimeGo), run(CallPathDirect)
	if len(a) != len(b) {
		t.Fatalf("%d outcomes through wasmtime-go, %d direct", len(a), len(b))
	}
	for i := range a {
		if a[i] != b[i] {
			t.Errorf("outcome %d differs:\n  wasmtime-go: %s\n  direct:      %s", i, a[i], b[i])
		}
	}
	if testing.Verbose() {
		t.Log(strings.Join(b, "\n"))
	}
}

func treeString(n *CallNode) string {
	if n == nil {
		return "-"
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "(%s.%s %d/%d mem=%d failed=%v", short(n.Contract), n.Function, n.GasSpent, n.GasLimit, n.MemoryLen, n.Failed)
	for _, c := range n.Children {
		b.WriteString(" " + treeString(c))
	}
	b.WriteString(")")
	return b.String()
}

// TestHostPanic: a Go panic in a host function (here the embedder's feed
// callback, at the top frame and under an inter-contract call) breaks the
// session with ErrInternal on both paths; no panic escapes, and the engine
// and its other sessions keep working.
func TestHostPanic(t *testing.T) {
	for _, path := range []string{CallPathDirect, CallPathWasmtimeGo} {
		t.Run("path="+path, func(t *testing.T) {
			e := pathEngine(t, path)
			s := newSession(t, e, merkle.EmptyState())
			feeder := deploy(t, s, "feeder", DeployOptions{})
			center := deploy(t, s, "callcenter", DeployOptions{})
			counter := deploy(t, s, "counter", DeployOptions{})
			root, err := s.Commit(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			start := readU64(t, call(t, s, counter, "read_value", nil))
			s.Close()
			boom := func([]byte) error { panic("feed exploded") }
			nested := append(append(append([]byte{}, feeder[:]...), u32(8)...), append([]byte("feed_num"), u32(2)...)...)
			for _, c := range []struct {
				name string
				id   merkle.ContractID
				fn   string
				arg  []byte
			}{{"top", feeder, "feed_num", u32(2)}, {"nested", center, "delegate_query", nested}} {
				for round := range 3 { // the warm set of a healthy session is taken each round
					s := newSession(t, e, root)
					call(t, s, counter, "increment", nil)
					_, err := s.CallFeed(context.Background(), c.id, c.fn, c.arg, gas, boom)
					if !errors.Is(err, ErrInternal) || !strings.Contains(err.Error(), "feed exploded") {
						t.Fatalf("%s round %d: want ErrInternal with the panic value, got %v", c.name, round, err)
					}
					if _, err := s.Call(context.Background(), counter, "read_value", nil, gas); !errors.Is(err, ErrInternal) {
						t.Fatalf("%s: a broken session still calls: %v", c.name, err)
					}
					if _, err := s.Commit(context.Background()); err == nil {
						t.Fatalf("%s: a broken session commits", c.name)
					}
					s.Close()
					// A healthy session at the same root: the counter is
					// at the root's value, and feeding works.
					s2 := newSession(t, e, root)
					if v := readU64(t, call(t, s2, counter, "read_value", nil)); v != start {
						t.Fatalf("%s: counter %d after a broken session", c.name, v)
					}
					n := 0
					if _, err := s2.CallFeed(context.Background(), c.id, c.fn, c.arg, gas, func([]byte) error { n++; return nil }); err != nil || n != 2 {
						t.Fatalf("%s: feed after the panic: %v, %d chunks", c.name, err, n)
					}
					s2.Close()
				}
			}
		})
	}
}

// TestCallPathDefault: engines take the direct path unless
// WASMSTATE_CALL_PATH says wasmtime-go (the suite runs both ways).
func TestCallPathDefault(t *testing.T) {
	want := CallPathDirect
	if os.Getenv(callPathEnv) == CallPathWasmtimeGo {
		want = CallPathWasmtimeGo
	}
	if got := testEngine(t, auto).Info().CallPath; got != want {
		t.Fatalf("call path %q with %s=%q, want %q", got, callPathEnv, os.Getenv(callPathEnv), want)
	}
}
