package reliability

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/wasmstate/wasmstate/engine"
	"github.com/wasmstate/wasmstate/hostfns"
	"github.com/wasmstate/wasmstate/merkle"
)

// Resource abuse by a contract ends in a typed error; the host keeps
// running, the session stays usable and its state is unchanged.

// abuseSession is a session at a root holding the fixed contracts.
func abuseSession(t *testing.T, o engine.Options) (*engine.Engine, *engine.Session) {
	t.Helper()
	e := memEngine(t, o)
	s := session(t, e, merkle.EmptyState())
	deployFixed(t, s)
	return e, session(t, e, commit(t, s))
}

// stillWorks checks that the session answers an ordinary call.
func stillWorks(t *testing.T, s *engine.Session) {
	t.Helper()
	if v := readU64(t, call(t, s, counterID, "read_value", nil)); v != 0xfc {
		t.Fatalf("counter reads %d", v)
	}
}

func TestAbuseInfiniteLoop(t *testing.T) {
	_, s := abuseSession(t, engine.Options{})
	for _, id := range []merkle.ContractID{fuzz32ID, fuzz64ID} {
		for _, g := range []uint64{1, 1000, 1_000_000, 100_000_000} {
			start := time.Now()
			ce := mustFail(t, s, id, "go", goArg(selLoop, 0, [5]uint64{}, nil), g, engine.ErrOutOfGas)
			if ce.GasSpent != g {
				t.Fatalf("loop with %d gas spent %d", g, ce.GasSpent)
			}
			if g == 100_000_000 {
				t.Logf("infinite loop: %d gas in %v", g, time.Since(start).Round(time.Millisecond))
			}
		}
	}
	// A nested infinite loop costs the caller the callee's limit, the price
	// of c and of the failed frame only, and the caller goes on (code -2).
	sp := deploy(t, s, "spender", engine.DeployOptions{})
	r, err := s.Call(context.Background(), fuzz32ID, "go", nestedArg(sp, "loop_forever", 50_000), gas)
	if err != nil {
		t.Fatal(err)
	}
	if _, code := goResult(t, r.Data, 0); code != int64(hostfns.CallOutOfGas) {
		t.Fatalf("nested infinite loop: code %d", code)
	}
	lo := uint64(50_000 + hostfns.GasCallBase + engine.GasFrameFailure)
	if r.GasSpent < lo || r.GasSpent > lo+10_000 {
		t.Fatalf("nested infinite loop with 50,000 gas cost the caller %d, want %d..%d", r.GasSpent, lo, lo+10_000)
	}
	stillWorks(t, s)
}

func TestAbuseStackExhaustion(t *testing.T) {
	_, s := abuseSession(t, engine.Options{})
	sp := deploy(t, s, "spender", engine.DeployOptions{})
	for i := 0; i < 50; i++ {
		for _, id := range []merkle.ContractID{fuzz32ID, fuzz64ID} {
			ce := mustFail(t, s, id, "go", goArg(selRecurse, 0, [5]uint64{}, nil), 1_000_000_000, engine.ErrTrap)
			if i == 0 && !strings.Contains(ce.Error(), "stack") {
				t.Logf("stack exhaustion reported as: %v", ce)
			}
		}
		mustFail(t, s, sp, "deep_stack", nil, 1_000_000_000, engine.ErrTrap)
	}
	// spender moves its shadow stack pointer at every level: restored.
	if got := binary.LittleEndian.Uint32(call(t, s, sp, "stack_pointer", nil)); got != 0x10000 {
		t.Fatalf("stack pointer %#x after failed recursion", got)
	}
	// Stack exhaustion inside a nested call is the callee's failure only.
	for _, id := range []merkle.ContractID{fuzz32ID, fuzz64ID} {
		before := root(t, s)
		r, err := s.Call(context.Background(), id, "go", nestedArg(sp, "deep_stack", 0), 1_000_000_000)
		if err != nil {
			t.Fatal(err)
		}
		if _, code := goResult(t, r.Data, 0); code != int64(hostfns.CallFailed) {
			t.Fatalf("nested stack exhaustion: code %d", code)
		}
		if root(t, s) != before {
			t.Fatal("nested stack exhaustion changed the root")
		}
	}
	stillWorks(t, s)
}

// nestedArg is the argument of "go" that calls fn of callee with no
// argument and gas (0: the default share): the callee's id and the name
// travel in the payload.
func nestedArg(callee merkle.ContractID, fn string, gas uint64) []byte {
	return goArg(selC, 0, [5]uint64{argBuf + payloadOff, argBuf + payloadOff + 32, uint64(len(fn)), 0, gas},
		append(callee[:], fn...))
}

func TestAbuseMemoryCap(t *testing.T) {
	const capBytes = 1 << 20 // 16 wasm pages
	_, s := abuseSession(t, engine.Options{MaxMemoryBytes: capBytes})
	for _, id := range []merkle.ContractID{fuzz32ID, fuzz64ID} {
		before := root(t, s)
		// Past the cap: memory.grow returns -1 to the contract, which
		// goes on running; nothing changes.
		for _, pages := range []uint64{15, 1 << 16, 1<<32 - 1} {
			d := call(t, s, id, "go", goArg(selGrow, 0, [5]uint64{pages}, nil))
			if _, r := goResult(t, d, 0); r != -1 {
				t.Fatalf("grow %d pages past the cap returned %d", pages, r)
			}
		}
		if root(t, s) != before {
			t.Fatal("refused growth changed the root")
		}
		// Up to the cap it works.
		d := call(t, s, id, "go", goArg(selGrow, 0, [5]uint64{14}, nil))
		if _, r := goResult(t, d, 0); r != 2 {
			t.Fatalf("grow to the cap returned %d", r)
		}
		d = call(t, s, id, "go", goArg(selGrow, 0, [5]uint64{1}, nil))
		if _, r := goResult(t, d, 0); r != -1 {
			t.Fatalf("one page past the cap returned %d", r)
		}
	}
	// grower panics when refused: a typed failure.
	gr := deploy(t, s, "grower", engine.DeployOptions{})
	mustFail(t, s, gr, "grow", u32(100), gas, engine.ErrPanic)
	gr64 := deploy(t, s, "grower64", engine.DeployOptions{})
	mustFail(t, s, gr64, "grow", u32(100), gas, engine.ErrPanic)
	stillWorks(t, s)
	commit(t, s)

	// A module whose initial memory exceeds the cap is refused at deploy.
	if _, err := s.Deploy(context.Background(), genModuleMem(20), engine.DeployOptions{}); !errors.Is(err, engine.ErrInvalidModule) {
		t.Fatalf("deploy above the memory cap: %v", err)
	}
	// A committed memory above the cap of another engine: ErrMemoryLimit
	// when loaded, not a crash.
	dir := t.TempDir()
	big, err := engine.Open(context.Background(), dir, engine.Options{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	bs := session(t, big, merkle.EmptyState())
	deployFixed(t, bs)
	call(t, bs, fuzz32ID, "go", goArg(selGrow, 0, [5]uint64{30}, nil))
	bigRoot := commit(t, bs)
	bs.Close()
	big.Close()
	small, err := engine.Open(context.Background(), dir, engine.Options{Logger: quiet, MaxMemoryBytes: capBytes})
	if err != nil {
		t.Fatal(err)
	}
	defer small.Close()
	ss := session(t, small, bigRoot)
	if _, err := ss.Call(context.Background(), fuzz32ID, "go", goArg(selSize, 0, [5]uint64{}, nil), gas); !errors.Is(err, engine.ErrMemoryLimit) {
		t.Fatalf("load of a memory above the cap: %v", err)
	}
	// Through a nested call too: the caller gets a failure code. (The
	// wasm64 fuzzer's memory is small, so it loads.)
	d, err := ss.Call(context.Background(), fuzz64ID, "go", goArg(selC, 0, [5]uint64{addrF32, addrGo, 2, 48, 0}, nil), gas)
	if err != nil {
		t.Fatal(err)
	}
	if _, r := goResult(t, d.Data, 0); r != int64(hostfns.CallFailed) {
		t.Fatalf("nested load above the cap returned %d", r)
	}
}

// genModuleMem is a minimal contract with an initial memory of pages.
func genModuleMem(pages byte) []byte {
	m := genModule(1, nil)
	i := bytes.Index(m, []byte{5, 3, 1, 0, 2}) // memory section: 1 memory, min 2
	m[i+4] = pages
	return m
}

func TestAbuseCallDepth(t *testing.T) {
	for _, depth := range []int{0, 5} {
		_, s := abuseSession(t, engine.Options{CallDepth: depth})
		want := depth
		if want == 0 {
			want = engine.DefaultCallDepth
		}
		// "go" calling itself with the same argument recurses until the cap.
		arg := goArg(selC, 0, [5]uint64{addrF32, addrGo, 2, 48, 0}, nil)
		r, err := s.Call(context.Background(), fuzz32ID, "go", arg, 1_000_000_000)
		if err != nil {
			t.Fatal(err)
		}
		levels := 0
		for n := r.CallTree; n != nil; levels++ {
			if len(n.Children) == 0 {
				break
			}
			n = n.Children[0]
		}
		if levels+1 != want {
			t.Fatalf("cap %d: call tree %d frames deep", want, levels+1)
		}
		// Mutual recursion between the wasm32 and the wasm64 contract.
		arg = goArg(selC, 0, [5]uint64{addrF64, addrGo, 2, 48, 0}, nil)
		if _, err := s.Call(context.Background(), fuzz32ID, "go", arg, 1_000_000_000); err != nil {
			t.Fatal(err)
		}
		stillWorks(t, s)
	}
}

func TestAbuseReturnData(t *testing.T) {
	_, s := abuseSession(t, engine.Options{})
	for _, id := range []merkle.ContractID{fuzz32ID, fuzz64ID} {
		// 65,536 is the most a call may return.
		if d := call(t, s, id, "go", goArg(numSels, 65536, [5]uint64{}, nil)); len(d) != 65536 {
			t.Fatalf("returned %d bytes", len(d))
		}
		for _, ret := range []uint32{65537, 1 << 20, 1<<31 - 1, 1 << 31, 1<<32 - 1} {
			mustFail(t, s, id, "go", goArg(numSels, ret, [5]uint64{}, nil), gas, engine.ErrTrap)
		}
	}
	bp := deploy(t, s, "badptr", engine.DeployOptions{})
	mustFail(t, s, bp, "ret_too_long", nil, gas, engine.ErrTrap)
	mustFail(t, s, bp, "ret_negative", nil, gas, engine.ErrTrap)
	// An argument over the buffer is refused before the call.
	if _, err := s.Call(context.Background(), fuzz32ID, "go", make([]byte, 65537), gas); !errors.Is(err, engine.ErrBadInput) {
		t.Fatalf("oversized argument: %v", err)
	}
	stillWorks(t, s)
}

func TestAbuseEvents(t *testing.T) {
	_, s := abuseSession(t, engine.Options{})
	ev := deploy(t, s, "eventer", engine.DeployOptions{})
	for _, id := range []merkle.ContractID{fuzz32ID, fuzz64ID} {
		// Data over the buffer, a topic over the buffer, a huge topic.
		mustFail(t, s, id, "go", goArg(selEmit, 0, [5]uint64{addrHash, 4, 65537}, nil), gas, hostfns.ErrBadInput)
		mustFail(t, s, id, "go", goArg(selEmit, 0, [5]uint64{0, 65537, 0}, nil), gas, hostfns.ErrBadInput)
		mustFail(t, s, id, "go", goArg(selEmit, 0, [5]uint64{0, 1<<32 - 1, 0}, nil), gas)
		mustFail(t, s, id, "go", goArg(selEmit, 0, [5]uint64{addrBadUTF8, 6, 0}, nil), gas, hostfns.ErrBadInput)
	}
	mustFail(t, s, ev, "emit_big", u32(65537), gas, hostfns.ErrBadInput)
	// The largest event is fine and costs its bytes.
	r, err := s.Call(context.Background(), ev, "emit_big", u32(65536), gas)
	if err != nil || len(r.Events) != 1 || len(r.Events[0].Data) != 65536 {
		t.Fatalf("65,536-byte event: %v", err)
	}
	if r.GasSpent < 65536*hostfns.GasEventByte {
		t.Fatalf("65,536-byte event cost %d gas", r.GasSpent)
	}
	// Many events: bounded by gas (about 600 gas each); a call that runs
	// out of gas emitting keeps none of them.
	mustFail(t, s, ev, "emit_events", u32(1_000_000), 10_000_000, engine.ErrOutOfGas)
	r, err = s.Call(context.Background(), ev, "emit_events", u32(1000), 10_000_000)
	if err != nil || len(r.Events) != 1000 {
		t.Fatalf("1000 events: %v", err)
	}
	t.Logf("emit_events: 1000 events cost %d gas; 10M gas runs out after about %d events", r.GasSpent, 10_000_000*1000/r.GasSpent)
	// The next receipt carries none of the failed call's events.
	r, err = s.Call(context.Background(), ev, "emit_events", u32(1), gas)
	if err != nil || len(r.Events) != 1 {
		t.Fatalf("events after a failed call: %+v %v", r, err)
	}
	stillWorks(t, s)
}

func TestAbuseEphemeral(t *testing.T) {
	_, s := abuseSession(t, engine.Options{})
	before := root(t, s)
	// 64 KiB values under distinct keys until the 16 MiB cap.
	val := bytes.Repeat([]byte{0xEE}, 65536-payloadOff-8)
	var full int
	for i := 0; i < 400; i++ {
		payload := append(binary.LittleEndian.AppendUint64(nil, uint64(i)), val...)
		_, err := s.Call(context.Background(), fuzz32ID, "go", goArg(selEphSet, 0, [5]uint64{argBuf + payloadOff, 8, uint64(len(payload) + payloadOff)}, payload), gas)
		if err != nil {
			if !errors.Is(err, engine.ErrEphemeralFull) {
				t.Fatalf("set %d: %v", i, err)
			}
			full = i
			break
		}
	}
	if full == 0 || full > engine.MaxEphemeralBytes/65536+1 {
		t.Fatalf("ephemeral data full after %d values", full)
	}
	// Over-long keys are refused.
	mustFail(t, s, fuzz32ID, "go", goArg(selEphGet, 0, [5]uint64{0, hostfns.MaxEphemeralKey + 1}, nil), gas, hostfns.ErrBadInput)
	if root(t, s) != before {
		t.Fatal("ephemeral data changed the root")
	}
	commit(t, s) // clears it
	payload := append(binary.LittleEndian.AppendUint64(nil, 1), val...)
	if _, err := s.Call(context.Background(), fuzz32ID, "go", goArg(selEphSet, 0, [5]uint64{argBuf + payloadOff, 8, uint64(len(payload) + payloadOff)}, payload), gas); err != nil {
		t.Fatalf("set after commit: %v", err)
	}
	stillWorks(t, s)
}

func TestAbuseHostQueries(t *testing.T) {
	_, s := abuseSession(t, engine.Options{})
	for i := 0; i < 200; i++ {
		id := fuzz32ID
		if i%2 == 1 {
			id = fuzz64ID
		}
		ce := mustFail(t, s, id, "go", goArg(selHQ, 0, [5]uint64{addrBoom, 4, 0}, nil), gas)
		var qp *engine.QueryPanicError
		if !errors.As(ce, &qp) || qp.Value != "kaboom" {
			t.Fatalf("panicking query: %v", ce)
		}
		mustFail(t, s, id, "go", goArg(selHQ, 0, [5]uint64{addrErr, 3, 0}, nil), gas, errQuery)
		mustFail(t, s, id, "go", goArg(selHQ, 0, [5]uint64{addrBig, 3, 0}, nil), gas, hostfns.ErrBadInput)
		mustFail(t, s, id, "go", goArg(selHQ, 0, [5]uint64{addrGo, 2, 0}, nil), gas, engine.ErrUnknownQuery)
	}
	// A panicking query inside a nested call fails only the callee:
	// callcenter.delegate_query -> hostquery.query("boom").
	cc := deploy(t, s, "callcenter", engine.DeployOptions{})
	hq := deploy(t, s, "hostquery", engine.DeployOptions{})
	inner := cat(u32(4), []byte("boom"))
	d := call(t, s, cc, "delegate_query", cat(hq[:], u32(5), []byte("query"), inner))
	if want := binary.LittleEndian.AppendUint32(nil, 1<<31); !bytes.Equal(d, want) { // i32 min: CallFailed
		t.Fatalf("nested panicking query: %x", d)
	}
	stillWorks(t, s)
}

// Modules past the limits are rejected before wasmtime compiles them, in
// time proportional to what was read; modules at the limits compile in
// bounded time.
func TestAbuseHugeModules(t *testing.T) {
	e := memEngine(t, engine.Options{})
	s := session(t, e, merkle.EmptyState())
	reject := []struct {
		name string
		code []byte
	}{
		{"16,385 functions", genModule(16385, nil)},
		{"300,000 functions", genModule(300_000, nil)},
		{"2^32-1 locals in one declaration", genModule(1, func(int) []byte { return localsBody(1, 1<<32-1) })},
		{"16,385 locals", genModule(1, func(int) []byte { return localsBody(1, 16385) })},
		{"100,000 local declarations of 1", genModule(1, func(int) []byte { return localsBody(100_000, 1) })},
		{"16,384 locals x 16 functions of 2^28", genModule(16, func(int) []byte { return localsBody(1, 1<<28) })},
		{"1 MiB + 1 body", genModule(1, func(int) []byte {
			return append(append([]byte{0}, bytes.Repeat([]byte{0x01}, 1<<20)...), 0x20, 0, 0x0B) // nops
		})},
		{"5 MiB module", genModule(5, func(int) []byte {
			return append(append([]byte{0}, bytes.Repeat([]byte{0x01}, 1<<20-8)...), 0x20, 0, 0x0B)
		})},
		{"4,097 initial memory pages", genModuleMem(0)},
	}
	// genModuleMem takes a byte; 4,097 pages needs a two-byte LEB.
	m := genModule(1, nil)
	i := bytes.Index(m, []byte{5, 3, 1, 0, 2})
	reject[len(reject)-1].code = append(append(m[:i:i], 5, 4, 1, 0, 0x81, 0x20), m[i+5:]...)
	for _, c := range reject {
		start := time.Now()
		_, err := s.Deploy(context.Background(), c.code, engine.DeployOptions{})
		took := time.Since(start)
		if !errors.Is(err, engine.ErrInvalidModule) {
			t.Fatalf("%s (%d bytes): %v", c.name, len(c.code), err)
		}
		t.Logf("rejected %-36s %8d bytes in %9v: %v", c.name, len(c.code), took.Round(time.Microsecond), trimErr(err))
		if took > 500*time.Millisecond {
			t.Errorf("%s: rejection took %v", c.name, took)
		}
	}
	// At the limits: accepted, and compiled in bounded time.
	accept := []struct {
		name string
		code []byte
	}{
		{"16,384 functions", genModule(16384, nil)},
		{"16,384 locals", genModule(1, func(int) []byte { return localsBody(1, 16384) })},
		{"16 x 16,384 locals", genModule(16, func(int) []byte { return localsBody(16, 1024) })},
		{"10,000 nested blocks", genModule(1, func(int) []byte { return nestedBody(10_000) })},
		{"br_table of 500,000", genModule(1, func(int) []byte { return brTableBody(500_000) })},
	}
	if os.Getenv(longEnv) != "" {
		// Within every limit, yet slow to compile: about 4 MiB of
		// straight-line code (see RELIABILITY.md).
		arith := func(n int) []byte {
			b := []byte{0, 0x20, 0}
			for i := 0; i < n; i++ {
				b = append(b, 0x41, 1, 0x6A) // i32.const 1; i32.add
			}
			return append(b, 0x0B)
		}
		accept = append(accept,
			struct {
				name string
				code []byte
			}{"16,384 x 80 additions", genModule(16384, func(int) []byte { return arith(80) })},
			struct {
				name string
				code []byte
			}{"4 x 1 MiB of additions", genModule(4, func(int) []byte { return arith(340_000) })})
	} else if testing.Short() || raceEnabled {
		accept = accept[:2]
	}
	for i, c := range accept {
		start := time.Now()
		_, err := s.Deploy(context.Background(), c.code, engine.DeployOptions{Nonce: uint64(i)})
		took := time.Since(start)
		if err != nil {
			// Within every limit: a rejection breaks the documented limits.
			t.Errorf("%-28s %8d bytes: rejected in %v: %v", c.name, len(c.code), took.Round(time.Millisecond), trimErr(err))
			continue
		}
		t.Logf("%-28s %8d bytes: compiled in %v", c.name, len(c.code), took.Round(time.Millisecond))
		if took > 60*time.Second {
			t.Errorf("%s: compile took %v", c.name, took)
		}
	}
}

func trimErr(err error) string {
	s := err.Error()
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > 140 {
		s = s[:140] + "..."
	}
	return s
}
