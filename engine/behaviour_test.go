package engine

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/wasmstate/wasmstate/engine/dirty"
	"github.com/wasmstate/wasmstate/hostfns"
	"github.com/wasmstate/wasmstate/merkle"
)

func u32(v uint32) []byte { return binary.LittleEndian.AppendUint32(nil, v) }

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// mustFail calls and checks that the call fails with want and leaves the
// session's root as it was.
func mustFail(t *testing.T, s *Session, id merkle.ContractID, fn string, arg []byte, gasLimit uint64, want error) *CallError {
	t.Helper()
	before := root(t, s)
	_, err := s.Call(context.Background(), id, fn, arg, gasLimit)
	var ce *CallError
	if !errors.As(err, &ce) {
		t.Fatalf("%s: want a CallError, got %v", fn, err)
	}
	if want != nil && !errors.Is(err, want) {
		t.Fatalf("%s: want %v, got %v", fn, want, err)
	}
	if (ce.GasSpent == 0 && !errors.Is(err, ErrNoFunction)) || ce.GasSpent > gasLimit {
		t.Fatalf("%s: gas spent %d of %d", fn, ce.GasSpent, gasLimit)
	}
	if after := root(t, s); after != before {
		t.Fatalf("%s: failed call changed the root", fn)
	}
	return ce
}

func TestFailedCallsLeaveNoTrace(t *testing.T) {
	forEachTracker(t, func(t *testing.T, kind mode) {
		e := testEngine(t, kind)
		s := newSession(t, e, merkle.EmptyState())
		fc := deploy(t, s, "fallible_counter", DeployOptions{})
		ev := deploy(t, s, "eventer", DeployOptions{})
		gr := deploy(t, s, "grower", DeployOptions{})
		sp := deploy(t, s, "spender", DeployOptions{})
		commit(t, s)

		ce := mustFail(t, s, fc, "increment", []byte{1}, gas, ErrPanic)
		var pe *PanicError
		if !errors.As(ce, &pe) || pe.Message != "Incremental panic" {
			t.Fatalf("panic message: %v", ce)
		}
		if v := readU64(t, call(t, s, fc, "read_value", nil)); v != 0xfc {
			t.Fatalf("counter after failed increment: %d", v)
		}
		call(t, s, fc, "increment", []byte{0})
		if v := readU64(t, call(t, s, fc, "read_value", nil)); v != 0xfd {
			t.Fatalf("counter: %d", v)
		}

		// Events of a failed call never reach a later receipt.
		mustFail(t, s, ev, "emit_and_panic", []byte("x"), gas, ErrPanic)
		r, err := s.Call(context.Background(), ev, "emit_events", u32(2), gas)
		if err != nil || len(r.Events) != 2 || r.Events[0].Topic != "number" || r.Events[0].Source != ev {
			t.Fatalf("events: %+v %v", r, err)
		}

		// Growth of a failed call is reverted, length included.
		size := readU64(t, call(t, s, gr, "size", nil))
		mustFail(t, s, gr, "grow_and_panic", u32(3), gas, ErrPanic)
		if got := readU64(t, call(t, s, gr, "size", nil)); got != size {
			t.Fatalf("size after failed grow: %d, want %d", got, size)
		}
		if got := readU64(t, call(t, s, gr, "grow", u32(2))); got != size+2 {
			t.Fatalf("grow: %d", got)
		}

		// Out of gas, stack exhaustion, trap: typed, state unchanged,
		// mutable globals restored.
		mustFail(t, s, sp, "loop_forever", nil, 100_000, ErrOutOfGas)
		mustFail(t, s, sp, "deep_stack", nil, gas*100, ErrTrap)
		if got := binary.LittleEndian.Uint32(call(t, s, sp, "stack_pointer", nil)); got != 0x10000 {
			t.Fatalf("stack pointer after failed deep_stack: %#x", got)
		}
		mustFail(t, s, gr, "read_at", u64(1<<40), gas, ErrTrap)
		mustFail(t, s, gr, "no_such_function", nil, gas, ErrNoFunction)
	})
}

func TestInterContractCalls(t *testing.T) {
	forEachTracker(t, func(t *testing.T, kind mode) {
		e := testEngine(t, kind)
		s := newSession(t, e, merkle.EmptyState())
		cc := deploy(t, s, "callcenter", DeployOptions{})
		ctr := deploy(t, s, "counter", DeployOptions{})
		ctr64 := deploy(t, s, "counter64", DeployOptions{})
		cc64 := deploy(t, s, "callcenter64", DeployOptions{})

		// wasm32 -> wasm32, wasm32 -> wasm64, wasm64 -> wasm32 and back.
		for _, pair := range [][2]merkle.ContractID{{cc, ctr}, {cc, ctr64}, {cc64, ctr}, {cc64, ctr64}} {
			before := readU64(t, call(t, s, pair[1], "read_value", nil))
			call(t, s, pair[0], "increment_counter", pair[1][:])
			if v := readU64(t, call(t, s, pair[0], "query_counter", pair[1][:])); v != before+1 {
				t.Fatalf("%x -> %x: %d", pair[0][:2], pair[1][:2], v)
			}
		}
		if got := call(t, s, cc, "calling_self", cc[:]); !bytes.Equal(got, []byte{1}) {
			t.Fatal("calling_self")
		}
		if got := call(t, s, cc, "call_self", nil); !bytes.Equal(got, []byte{1}) {
			t.Fatal("call_self")
		}
		if got := call(t, s, cc, "return_caller", nil); !bytes.Equal(got, []byte{0}) {
			t.Fatal("return_caller from the host")
		}
		// delegate_query: cc64 -> cc.return_caller sees cc64; callstack.
		dq := func(via, to merkle.ContractID, fn string, arg []byte) []byte {
			return call(t, s, via, "delegate_query", cat(to[:], u32(uint32(len(fn))), []byte(fn), arg))
		}
		if got := dq(cc64, cc, "return_caller", nil); !bytes.Equal(got, cat([]byte{1}, cc64[:])) {
			t.Fatalf("caller seen by a nested call: %x", got)
		}
		if got := dq(cc64, cc, "return_callstack", nil); !bytes.Equal(got, cc64[:]) {
			t.Fatalf("callstack: %x", got)
		}
		// Error codes seen by a calling contract.
		fc := deploy(t, s, "fallible_counter", DeployOptions{})
		got := dq(cc, fc, "increment", []byte{1})
		msg := "Incremental panic"
		want := cat(i32(hostfns.CallPanicked), u32(uint32(len(msg))), []byte(msg))
		if !bytes.Equal(got, want) {
			t.Fatalf("panicking callee: %x", got)
		}
		if v := readU64(t, call(t, s, fc, "read_value", nil)); v != 0xfc {
			t.Fatalf("failed callee's write kept: %d", v)
		}
		var missing merkle.ContractID
		missing[0] = 0xEE
		if got := dq(cc, missing, "read_value", nil); !bytes.Equal(got, i32(hostfns.CallNoContract)) {
			t.Fatalf("missing callee: %x", got)
		}
		if got := dq(cc, ctr, "no_such_fn", nil); !bytes.Equal(got, i32(hostfns.CallFailed)) {
			t.Fatalf("missing function: %x", got)
		}
		sp := deploy(t, s, "spender", DeployOptions{})
		if got := dq(cc, sp, "loop_forever", nil); !bytes.Equal(got, i32(hostfns.CallOutOfGas)) {
			t.Fatalf("out-of-gas callee: %x", got)
		}
		// init is never callable after deploy, not even by a contract.
		in := deploy(t, s, "initializer", DeployOptions{InitArg: u64(5)})
		if got := dq(cc, in, "init", u64(9)); !bytes.Equal(got, i32(hostfns.CallFailed)) {
			t.Fatalf("init through a contract: %x", got)
		}
		if _, err := s.Call(context.Background(), in, "init", u64(9), gas); !errors.Is(err, ErrBadInput) {
			t.Fatalf("init from the host: %v", err)
		}
		if v := readU64(t, call(t, s, in, "value", nil)); v != 5 {
			t.Fatalf("init value %d", v)
		}
	})
}

func TestCrossoverRevert(t *testing.T) {
	forEachTracker(t, func(t *testing.T, kind mode) {
		e := testEngine(t, kind)
		s := newSession(t, e, merkle.EmptyState())
		x := deploy(t, s, "crossover", DeployOptions{Nonce: 1})
		y := deploy(t, s, "crossover", DeployOptions{Nonce: 2})
		r, err := s.Call(context.Background(), x, "check_crossover_revert", cat(y[:], u64(7), u64(9)), gas)
		if err != nil {
			t.Fatal(err)
		}
		if v := readU64(t, r.Data); v != 7 {
			t.Fatalf("value after the failed nested call: %d", v)
		}
		if v := readU64(t, call(t, s, x, "crossover", nil)); v != 7 {
			t.Fatalf("value afterwards: %d", v)
		}
		tree := r.CallTree
		if tree.Failed || len(tree.Children) != 1 || !tree.Children[0].Failed ||
			len(tree.Children[0].Children) != 1 || tree.Children[0].Children[0].Contract != x {
			t.Fatalf("call tree: %+v", tree)
		}
	})
}

func TestGas(t *testing.T) {
	forEachTracker(t, func(t *testing.T, kind mode) {
		e := testEngine(t, kind)
		s := newSession(t, e, merkle.EmptyState())
		sp := deploy(t, s, "spender", DeployOptions{})
		r, err := s.Call(context.Background(), sp, "get_limit_and_spent", nil, 1_000_000)
		if err != nil {
			t.Fatal(err)
		}
		limit, before, after := readU64(t, r.Data[:8]), readU64(t, r.Data[8:16]), readU64(t, r.Data[16:])
		if limit != 1_000_000 || before == 0 || after <= before || r.GasSpent < after || r.GasLimit != limit {
			t.Fatalf("limit %d spent %d..%d receipt %d", limit, before, after, r.GasSpent)
		}
		// A callee gets 93% of what is left unless given less.
		r, err = s.Call(context.Background(), sp, "spend_on_callee", sp[:], 1_000_000)
		if err != nil {
			t.Fatal(err)
		}
		calleeLimit, ownSpentBefore := readU64(t, r.Data[:8]), readU64(t, r.Data[32:40])
		// What is left at the call: the limit less what the frame spent
		// before it, the call's own prices and the pages written before it.
		left := 1_000_000 - ownSpentBefore - GasCallBaseTotal()
		if calleeLimit > left*93/100 || calleeLimit < (left-4*GasPageWrite)*93/100 {
			t.Fatalf("callee limit %d, want about 93%% of %d", calleeLimit, left)
		}
		if len(r.CallTree.Children) != 1 || r.CallTree.Children[0].GasLimit != calleeLimit {
			t.Fatalf("call tree gas: %+v", r.CallTree)
		}
		r, err = s.Call(context.Background(), sp, "spend_on_callee", cat(sp[:], u64(20000)), 1_000_000)
		if err != nil || readU64(t, r.Data[:8]) != 20000 {
			t.Fatalf("explicit callee limit: %v", err)
		}
		// Call depth is capped.
		r, err = s.Call(context.Background(), sp, "recurse", u32(100), 1_000_000_000)
		if err != nil {
			t.Fatal(err)
		}
		levels, code := binary.LittleEndian.Uint32(r.Data), int32(binary.LittleEndian.Uint32(r.Data[4:]))
		if levels != DefaultCallDepth-1 || code != hostfns.CallFailed {
			t.Fatalf("recursion went %d levels, code %d", levels, code)
		}
	})
}

// GasCallBaseTotal is what the host charges around a "c" call before the
// callee's limit is computed: the host-call base, the call base and the
// bytes of the name.
func GasCallBaseTotal() uint64 {
	return hostfns.GasHostCall + hostfns.GasCallBase + uint64(len("get_limit_and_spent"))*hostfns.GasPerByte
}

func TestHostFacilities(t *testing.T) {
	forEachTracker(t, func(t *testing.T, kind mode) {
		o := kind.options()
		o.Queries = map[string]HostQuery{
			"hash":  {Fn: func(arg []byte) ([]byte, error) { h := merkle.HashCode(arg); return h[:], nil }, Gas: 100},
			"boom":  {Fn: func([]byte) ([]byte, error) { panic("kaboom") }},
			"error": {Fn: func([]byte) ([]byte, error) { return nil, errors.New("nope") }},
		}
		e, err := OpenInMemory(o)
		if err != nil {
			t.Fatal(err)
		}
		defer e.Close()
		s, err := e.NewSession(merkle.EmptyState(), SessionOptions{Metadata: map[string][]byte{"block_height": u64(100)}, Debug: true})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		md := deploy(t, s, "metadata", DeployOptions{})
		if got := call(t, s, md, "read_block_height", nil); readU64(t, got) != 100 {
			t.Fatal("block height")
		}
		if err := s.SetMetadata("block_height", u64(101)); err != nil {
			t.Fatal(err)
		}
		if got := call(t, s, md, "read_block_height", nil); readU64(t, got) != 101 {
			t.Fatal("changed block height")
		}
		if got := call(t, s, md, "read_meta", []byte("absent")); len(got) != 0 {
			t.Fatal("absent metadata")
		}
		if err := s.SetMetadata("empty", []byte{}); !errors.Is(err, ErrBadInput) {
			t.Fatalf("empty metadata value accepted: %v", err)
		}
		if _, err := e.NewSession(merkle.EmptyState(), SessionOptions{Metadata: map[string][]byte{"x": {}}}); !errors.Is(err, ErrBadInput) {
			t.Fatalf("empty metadata value at open: %v", err)
		}

		hq := deploy(t, s, "hostquery", DeployOptions{})
		want := merkle.HashCode([]byte("abc"))
		if got := call(t, s, hq, "hash", []byte("abc")); !bytes.Equal(got, want[:]) {
			t.Fatal("hash query")
		}
		q := func(name string) []byte { return cat(u32(uint32(len(name))), []byte(name)) }
		var qp *QueryPanicError
		ce := mustFail(t, s, hq, "query", q("boom"), gas, nil)
		if !errors.As(ce, &qp) || qp.Value != "kaboom" {
			t.Fatalf("panicking query: %v", ce)
		}
		mustFail(t, s, hq, "query", q("unknown"), gas, ErrUnknownQuery)
		mustFail(t, s, hq, "query", q("error"), gas, nil)

		ow := deploy(t, s, "owner", DeployOptions{Owner: []byte("the owner")})
		other := deploy(t, s, "counter", DeployOptions{Owner: []byte("bob")})
		if got := call(t, s, ow, "owner_of", nil); string(got) != "the owner" {
			t.Fatalf("own owner %q", got)
		}
		if got := call(t, s, ow, "owner_of", other[:]); string(got) != "bob" {
			t.Fatalf("other owner %q", got)
		}
		if got := call(t, s, ow, "owner_of", bytes.Repeat([]byte{9}, 32)); len(got) != 0 {
			t.Fatal("owner of a missing contract")
		}
		call(t, s, ow, "debug", []byte("hello"))
		if d := s.DebugMessages(); len(d) != 1 || d[0].Message != "hello" || d[0].Contract != ow {
			t.Fatalf("debug: %+v", d)
		}
		// Owners survive a commit and reload.
		r := commit(t, s)
		s2 := newSession(t, e, r)
		if got := call(t, s2, ow, "owner_of", other[:]); string(got) != "bob" {
			t.Fatalf("reloaded owner %q", got)
		}

		// Feed.
		fd := deploy(t, s2, "feeder", DeployOptions{})
		var fed [][]byte
		if _, err := s2.CallFeed(context.Background(), fd, "feed_num", u32(3), gas, func(b []byte) error { fed = append(fed, b); return nil }); err != nil {
			t.Fatal(err)
		}
		if len(fed) != 3 || !bytes.Equal(fed[2], u32(2)) {
			t.Fatalf("fed %x", fed)
		}
		mustFail(t, s2, fd, "feed_num", u32(1), gas, ErrNotFeeding)
	})
}

func TestEphemeral(t *testing.T) {
	forEachTracker(t, func(t *testing.T, kind mode) {
		e := testEngine(t, kind)
		s := newSession(t, e, merkle.EmptyState())
		for _, name := range []string{"ephemeral", "ephemeral64"} {
			eph := deploy(t, s, name, DeployOptions{})
			call(t, s, eph, "eph_set", cat(u32(3), []byte("key"), []byte("value")))
			if got := call(t, s, eph, "eph_get", []byte("key")); string(got) != "value" {
				t.Fatalf("%s: get %q", name, got)
			}
			// Another session never sees it.
			other := newSession(t, e, s.Base())
			if _, err := other.Call(context.Background(), eph, "eph_get", []byte("key"), gas); err == nil && s.Base() != merkle.EmptyState() {
				if got := call(t, other, eph, "eph_get", []byte("key")); !bytes.Equal(got, []byte{0xFF, 0xFF, 0xFF, 0xFF}) {
					t.Fatal("ephemeral data leaked into another session")
				}
			}
			if got := call(t, s, eph, "eph_del", []byte("key")); !bytes.Equal(got, []byte{1}) {
				t.Fatal("delete")
			}
			if got := call(t, s, eph, "eph_get", []byte("key")); !bytes.Equal(got, []byte{0xFF, 0xFF, 0xFF, 0xFF}) {
				t.Fatalf("after delete %x", got)
			}
			call(t, s, eph, "eph_set", cat(u32(1), []byte("k"), []byte("v")))
			commit(t, s)
			if got := call(t, s, eph, "eph_get", []byte("k")); !bytes.Equal(got, []byte{0xFF, 0xFF, 0xFF, 0xFF}) {
				t.Fatal("ephemeral data survived a commit")
			}
		}
	})
}

func TestBadPointers(t *testing.T) {
	forEachTracker(t, func(t *testing.T, kind mode) {
		e := testEngine(t, kind)
		s := newSession(t, e, merkle.EmptyState())
		for _, name := range []string{"badptr", "badptr64"} {
			id := deploy(t, s, name, DeployOptions{})
			c := s.contracts[id]
			n := 0
			for _, fn := range c.mod.info.Exports {
				if len(fn) < 4 || (fn[:4] != "bad_" && fn != "ret_too_long") {
					continue
				}
				n++
				mustFail(t, s, id, fn, nil, gas, nil)
			}
			if n < 5 {
				t.Fatalf("%s: only %d bad-pointer cases", name, n)
			}
		}
	})
}

func i32(v int32) []byte { return binary.LittleEndian.AppendUint32(nil, uint32(v)) }

// TestTrackerFollowsMemorySize: with the automatic choice a small memory
// uses compare and moves to the main tracker once it grows.
func TestTrackerFollowsMemorySize(t *testing.T) {
	e := testEngine(t, auto)
	s := newSession(t, e, merkle.EmptyState())
	gr := deploy(t, s, "grower", DeployOptions{})
	c := s.contracts[gr]
	if got := c.tracker.Name(); got != "compare" {
		t.Fatalf("small memory tracked by %s", got)
	}
	if got := readU64(t, call(t, s, gr, "grow", u32(4))); got != 6 {
		t.Fatalf("grow: %d pages", got)
	}
	if want := dirty.Available()[0].String(); c.tracker.Name() != want {
		t.Fatalf("grown memory tracked by %s, want %s", c.tracker.Name(), want)
	}
	// Writes after the switch are still seen: the marker of a second grow
	// survives a commit and reload.
	call(t, s, gr, "grow", u32(1))
	r := commit(t, s)
	s2 := newSession(t, e, r)
	if got := call(t, s2, gr, "read_at", u64(7*65536-1)); !bytes.Equal(got, []byte{0xAB}) {
		t.Fatalf("marker after reload: %x", got)
	}
}
