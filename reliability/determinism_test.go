package reliability

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"strings"
	"testing"

	"github.com/wasmstate/wasmstate/engine"
	"github.com/wasmstate/wasmstate/engine/dirty"
	"github.com/wasmstate/wasmstate/merkle"
)

// Determinism: the same deploys, calls (failing ones, floats and NaNs
// included) and commits give the same roots, receipts, events, call trees
// and commit records on every engine, on both dirty trackers, across an
// engine restart, and on every run (no Go map order leaks).

// detRecorder logs everything observable of a script run.
type detRecorder struct {
	t     *testing.T
	lines []string
}

func (d *detRecorder) logf(format string, args ...any) {
	d.lines = append(d.lines, fmt.Sprintf(format, args...))
}

func (d *detRecorder) tree(n *engine.CallNode, depth int) {
	if n == nil {
		return
	}
	d.logf("%s%x.%s limit %d spent %d mem %d failed %v", strings.Repeat("  ", depth+1), n.Contract[:4], n.Function,
		n.GasLimit, n.GasSpent, n.MemoryLen, n.Failed)
	for _, c := range n.Children {
		d.tree(c, depth+1)
	}
}

func (d *detRecorder) call(s *engine.Session, id merkle.ContractID, fn string, arg []byte, g uint64) []byte {
	var fed [][]byte
	r, err := s.CallFeed(context.Background(), id, fn, arg, g, func(b []byte) error { fed = append(fed, b); return nil })
	if err != nil {
		var ce *engine.CallError
		if errors.As(err, &ce) {
			d.logf("call %x.%s(%x): failed, gas %d/%d: %v", id[:4], fn, arg, ce.GasSpent, ce.GasLimit, ce.Err)
		} else {
			d.logf("call %x.%s(%x): %v", id[:4], fn, arg, err)
		}
	} else {
		d.logf("call %x.%s(%x) = %x gas %d/%d fed %x", id[:4], fn, arg, r.Data, r.GasSpent, r.GasLimit, fed)
		for _, ev := range r.Events {
			d.logf("  event %x %q %x reverted %v", ev.Source[:4], ev.Topic, ev.Data, ev.Reverted)
		}
		d.tree(r.CallTree, 0)
	}
	rt, err := s.Root()
	d.logf("  root %s %v", rt, err)
	if r == nil {
		return nil
	}
	return r.Data
}

func (d *detRecorder) deploy(s *engine.Session, name string, o engine.DeployOptions) merkle.ContractID {
	code, err := wasmErr(name)
	if err != nil {
		d.t.Fatal(err)
	}
	id, err := s.Deploy(context.Background(), code, o)
	d.logf("deploy %s = %x %v", name, id[:4], err)
	return id
}

func (d *detRecorder) commit(e *engine.Engine, s *engine.Session) merkle.Hash {
	r, err := s.Commit(context.Background())
	d.logf("commit %s %v", r, err)
	recs, err := e.Commits()
	for _, rec := range recs {
		d.logf("  record %s parent %s time %d changed %x", rec.Root, rec.Parent, rec.Time, rec.Changed)
	}
	d.logf("  commits err %v", err)
	for _, l := range mustContracts(d.t, e, r) {
		d.logf("  leaf %x", l.Encode())
	}
	return r
}

func mustContracts(t *testing.T, e *engine.Engine, r merkle.Hash) []merkle.ContractLeaf {
	l, err := e.Contracts(context.Background(), r)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// floatInputs are bit patterns of f64 pairs (the low halves are the f32
// pairs): NaNs with payloads, signalling NaNs, infinities, zeros,
// subnormals and ordinary values.
var floatInputs = [][2]uint64{
	{0x7ff8000000000000, 0x3ff0000000000000}, // qNaN, 1
	{0x7ff4000000000001, 0x3ff0000000000000}, // sNaN with payload, 1
	{0xfff8dead0000beef, 0x7ff00000ffc00001}, // -qNaN payload, sNaN; low halves f32 NaNs
	{0x7ff0000000000000, 0xfff0000000000000}, // +inf, -inf
	{0x0000000000000000, 0x8000000000000000}, // +0, -0
	{0x0000000000000001, 0x000fffffffffffff}, // subnormals
	{0x3ff8000000000000, 0xc004000000000000}, // 1.5, -2.5
	{0x7fefffffffffffff, 0x7fefffffffffffff}, // max, max
	{0xbff0000000000000, 0x0000000000000000}, // -1, 0
	{0x7fc00001ffc00003, 0xffc00005ff800000}, // f32 NaN payloads in both halves
}

// detScript runs the script; reopen, when set, replaces the engine at the
// midpoint (a restart) and returns the new one.
func detScript(t *testing.T, e *engine.Engine, reopen func(*engine.Engine) *engine.Engine) []string {
	d := &detRecorder{t: t}
	s, err := e.NewSession(merkle.EmptyState(), engine.SessionOptions{Debug: true,
		Metadata: map[string][]byte{"block_height": u64(7), "chain": []byte("det")}})
	if err != nil {
		t.Fatal(err)
	}
	fixed := func(name string, id merkle.ContractID, owner string) merkle.ContractID {
		return d.deploy(s, name, engine.DeployOptions{ID: &id, Owner: []byte(owner)})
	}
	fixed("counter", counterID, "alice")
	fixed("fuzzer", fuzz32ID, "bob")
	fixed("fuzzer64", fuzz64ID, "carol")
	names := []string{"counter64", "floats", "eventer", "callcenter", "callcenter64", "grower", "grower64", "spender",
		"fallible_counter", "ephemeral", "metadata", "hostquery", "feeder", "owner", "badptr"}
	ids := map[string]merkle.ContractID{}
	for i, n := range names {
		ids[n] = d.deploy(s, n, engine.DeployOptions{Owner: []byte(n), Nonce: uint64(i)})
	}
	x := d.deploy(s, "crossover", engine.DeployOptions{Nonce: 1})
	y := d.deploy(s, "crossover", engine.DeployOptions{Nonce: 2})
	ids["initializer"] = d.deploy(s, "initializer", engine.DeployOptions{InitArg: u64(42)})
	d.deploy(s, "initializer", engine.DeployOptions{InitArg: []byte{1}, Nonce: 9}) // failing init
	d.deploy(s, "invalid/start_function", engine.DeployOptions{})

	const g = 10_000_000
	floats := func() {
		for _, in := range floatInputs {
			out := d.call(s, ids["floats"], "mix", cat(u64(in[0]), u64(in[1])), g)
			checkCanonical(t, in, out)
		}
		d.call(s, ids["floats"], "globals", nil, g)
	}
	phase := func(k uint64) {
		floats()
		d.call(s, counterID, "add", u64(k), g)
		d.call(s, counterID, "set_global", u64(k*7), g)
		d.call(s, ids["counter64"], "increment", nil, g)
		d.call(s, ids["eventer"], "emit_events", u32(uint32(k%5+1)), g)
		d.call(s, ids["eventer"], "emit_and_panic", []byte("boom"), g)
		d.call(s, ids["eventer"], "emit_big", u32(1000), g)
		c64, cc, fc, sp := ids["counter64"], ids["callcenter"], ids["fallible_counter"], ids["spender"]
		d.call(s, ids["callcenter"], "increment_counter", c64[:], g)
		d.call(s, ids["callcenter64"], "delegate_query", cat(cc[:], u32(14), []byte("delegate_query"),
			c64[:], u32(10), []byte("read_value")), g)
		d.call(s, ids["callcenter"], "delegate_query", cat(fc[:], u32(9), []byte("increment"), []byte{1}), g)
		d.call(s, x, "check_crossover_revert", cat(y[:], u64(k), u64(k+100)), g)
		d.call(s, sp, "spend_on_callee", sp[:], 1_000_000)
		d.call(s, ids["spender"], "recurse", u32(60), 1_000_000_000)
		d.call(s, ids["spender"], "deep_stack", nil, 1_000_000_000)
		d.call(s, ids["spender"], "loop_forever", nil, 100_000)
		d.call(s, ids["grower"], "grow", u32(uint32(k%3+1)), g)
		d.call(s, ids["grower"], "grow_and_panic", u32(2), g)
		d.call(s, ids["grower64"], "grow", u32(1), g)
		d.call(s, ids["fallible_counter"], "increment", []byte{byte(k % 2)}, g)
		d.call(s, ids["ephemeral"], "eph_set", cat(u32(3), []byte("key"), u64(k)), g)
		d.call(s, ids["ephemeral"], "eph_get", []byte("key"), g)
		d.call(s, ids["metadata"], "read_block_height", nil, g)
		d.call(s, ids["hostquery"], "hash", u64(k), g)
		d.call(s, ids["hostquery"], "query", cat(u32(4), []byte("boom")), g)
		d.call(s, ids["feeder"], "feed_num", u32(3), g)
		d.call(s, ids["owner"], "owner_of", counterID[:], g)
		d.call(s, ids["owner"], "debug", []byte(fmt.Sprint("debug ", k)), g)
		d.call(s, ids["badptr"], "bad_hd", nil, g)
		d.call(s, ids["initializer"], "value", nil, g)
		for sel := uint32(0); sel < numSels; sel++ {
			if sel == selLoop || sel == selRecurse || sel == selGrow {
				continue
			}
			d.call(s, fuzz32ID, "go", goArg(sel, 64, [5]uint64{addrCounter, addrRead, 10, 0, 0}, []byte("payload")), g)
			d.call(s, fuzz64ID, "go", goArg(sel, 64, [5]uint64{addrHeight, 12, 0}, []byte("payload64")), g)
		}
		d.call(s, fuzz32ID, "go", goArg(selStore, 0, [5]uint64{0x2000 + k*64, 9}, []byte("persisted")), g)
		for _, m := range s.DebugMessages() {
			d.logf("debug %x %q", m.Contract[:4], m.Message)
		}
	}
	phase(1)
	d.commit(e, s)
	phase(2)
	r2 := d.commit(e, s)
	s.Close()
	if reopen != nil {
		e = reopen(e)
	}
	s, err = e.NewSession(r2, engine.SessionOptions{Debug: true,
		Metadata: map[string][]byte{"block_height": u64(8), "chain": []byte("det")}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	phase(3)
	d.deploy(s, "counter", engine.DeployOptions{Nonce: 77})
	d.commit(e, s)
	phase(4)
	d.commit(e, s)
	diff, err := e.Diff(context.Background(), r2, s.Base())
	d.logf("diff %d %v", len(diff), err)
	for _, c := range diff {
		d.logf("  %x %s pages %v", c.ID[:4], c.Change, c.Pages)
	}
	return d.lines
}

// checkCanonical checks that arithmetic NaN results of floats.mix are the
// canonical NaNs (wasmtime's NaN canonicalisation).
func checkCanonical(t *testing.T, in [2]uint64, out []byte) {
	if len(out) != 32*8 {
		t.Fatalf("mix returned %d bytes", len(out))
	}
	word := func(i int) uint64 { return binary.LittleEndian.Uint64(out[8*i:]) }
	for _, i := range []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 18} { // f64 arithmetic results
		if v := word(i); math.IsNaN(math.Float64frombits(v)) && v != 0x7ff8000000000000 {
			t.Fatalf("mix(%x, %x): result %d is the non-canonical NaN %#x", in[0], in[1], i, v)
		}
	}
	for _, i := range []int{20, 21, 22, 23, 24, 25, 26, 27, 31} { // f32 arithmetic results
		if v := uint32(word(i)); math.IsNaN(float64(math.Float32frombits(v))) && v != 0x7fc00000 {
			t.Fatalf("mix(%x, %x): f32 result %d is the non-canonical NaN %#x", in[0], in[1], i, v)
		}
	}
}

func TestDeterminism(t *testing.T) {
	runs := 3
	if os.Getenv(longEnv) != "" {
		runs = 25
	}
	if raceEnabled {
		runs = 1
	}
	type variant struct {
		name string
		run  func(t *testing.T) []string
	}
	mem := func(tr dirty.Kind) func(t *testing.T) []string {
		return func(t *testing.T) []string {
			return detScript(t, memEngine(t, engine.Options{Tracker: tr, Now: fixedClock()}), nil)
		}
	}
	variants := []variant{{"memory, auto tracker", mem(dirty.Auto)}}
	if os.Getenv("WASMSTATE_REQUIRE_UFFD") != "" && dirty.Available()[0] != dirty.UffdWP {
		t.Fatalf("WASMSTATE_REQUIRE_UFFD is set but uffd-wp is unavailable: %v", dirty.UnavailableReason(dirty.UffdWP))
	}
	for _, k := range dirty.Available() {
		variants = append(variants, variant{"memory, " + k.String(), mem(k)})
	}
	variants = append(variants, variant{"leveldb, restarted", func(t *testing.T) []string {
		dir := t.TempDir()
		clock := fixedClock()
		open := func() *engine.Engine {
			e, err := engine.Open(context.Background(), dir, engine.Options{Logger: quiet, Queries: testQueries(), Now: clock})
			if err != nil {
				t.Fatal(err)
			}
			return e
		}
		var last *engine.Engine
		lines := detScript(t, open(), func(e *engine.Engine) *engine.Engine {
			if err := e.Close(); err != nil {
				t.Fatal(err)
			}
			last = open()
			return last
		})
		last.Close()
		return lines
	}})
	var first []string
	n := 0
	for run := 0; run < runs; run++ {
		for _, v := range variants {
			lines := v.run(t)
			n++
			if first == nil {
				first = lines
				t.Logf("script: %d observations (roots, receipts, events, call trees, records)", len(lines))
				continue
			}
			if len(lines) != len(first) {
				t.Fatalf("%s, run %d: %d observations, first run %d", v.name, run, len(lines), len(first))
			}
			for i := range lines {
				if lines[i] != first[i] {
					t.Fatalf("%s, run %d, observation %d differs:\n got: %s\nwant: %s", v.name, run, i, lines[i], first[i])
				}
			}
		}
	}
	t.Logf("%d script runs agree", n)
}
