package engine

import (
	"context"
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/wasmstate/wasmstate/merkle"
	"github.com/wasmstate/wasmstate/witness"
)

// witnessEngine is an engine that can record, or the test is skipped
// (failed under WASMSTATE_REQUIRE_UFFD).
func witnessEngine(t testing.TB, o Options) *Engine {
	t.Helper()
	requireUffd(t)
	o.Logger = quiet
	e, err := OpenInMemory(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	if err := e.witnessSupport(); err != nil {
		t.Skip(err)
	}
	return e
}

// witnessBase commits a state with every kind of contract the recorded
// block uses, and returns its root and ids.
func witnessBase(t testing.TB, e *Engine) (merkle.Hash, map[string]merkle.ContractID) {
	s := newSession(t, e, merkle.EmptyState())
	ids := map[string]merkle.ContractID{}
	for _, name := range []string{"counter", "counter64", "callcenter", "eventer", "grower", "grower64", "fallible_counter", "feeder", "metadata", "pagewriter"} {
		ids[name] = deploy(t, s, name, DeployOptions{Owner: []byte("owner " + name)})
	}
	call(t, s, ids["counter"], "add", u64(41))
	call(t, s, ids["pagewriter"], "grow", u32(63)) // 64 wasm pages: 4 MiB
	call(t, s, ids["pagewriter"], "fill", append(u32(0), u32(1024)...))
	return commit(t, s), ids
}

// recordBlock runs a block of mixed operations in a recording session at
// pre and returns its witness.
func recordBlock(t testing.TB, e *Engine, pre merkle.Hash, ids map[string]merkle.ContractID, seed uint64, o WitnessOptions) *witness.Witness {
	t.Helper()
	ctx := context.Background()
	s, err := e.NewSession(pre, SessionOptions{RecordWitness: true, Metadata: map[string][]byte{"block_height": u64(seed)}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rng := rand.New(rand.NewPCG(seed, 7))
	var missing merkle.ContractID
	missing[0] = 0xEE
	for i := 0; i < 24; i++ {
		var err error
		switch rng.IntN(12) {
		case 0:
			_, err = s.Call(ctx, ids["counter"], "add", u64(rng.Uint64N(100)), gas)
		case 1:
			c64 := ids["counter64"]
			_, err = s.Call(ctx, ids["callcenter"], "increment_counter", c64[:], gas)
		case 2:
			_, err = s.Call(ctx, ids["eventer"], "emit_events", u32(uint32(rng.IntN(4))), gas)
		case 3:
			_, err = s.Call(ctx, ids["grower"], "grow", u32(1), gas)
		case 4:
			_, err = s.Call(ctx, ids["grower64"], "grow_and_panic", u32(1), gas)
		case 5:
			_, err = s.Call(ctx, ids["fallible_counter"], "increment", []byte{byte(rng.IntN(2))}, gas)
		case 6:
			_, err = s.CallFeed(ctx, ids["feeder"], "feed_num", u32(uint32(rng.IntN(5))), gas, func([]byte) error { return nil })
		case 7:
			_, err = s.Call(ctx, ids["metadata"], "read_block_height", nil, gas)
		case 8:
			arg := append(u32(uint32(1+rng.IntN(3))), u32(uint32(1+rng.IntN(50)))...)
			_, err = s.Call(ctx, ids["pagewriter"], "write", append(arg, u32(uint32(rng.IntN(1000)))...), gas)
		case 9:
			_, err = s.Call(ctx, missing, "read_value", nil, gas) // absent: rejected
		case 10:
			_, err = s.Deploy(ctx, wasm(t, "counter"), DeployOptions{Owner: []byte("new"), Nonce: seed*100 + uint64(i)})
		case 11:
			err = s.SetMetadata("block_height", u64(uint64(i)))
		}
		if err != nil && !errors.Is(err, ErrCallFailed) && !errors.Is(err, ErrNoContract) {
			t.Fatalf("op %d: %v", i, err)
		}
	}
	// The pagewriter's memory grows and a page past the old end is written.
	if _, err := s.Call(ctx, ids["pagewriter"], "grow", u32(1), gas); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Call(ctx, ids["pagewriter"], "write", append(append(u32(1), u32(1)...), u32(1030)...), gas); err != nil {
		t.Fatal(err)
	}
	w, err := s.Witness(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	if post := commit(t, s); post != w.PostRoot {
		t.Fatalf("committed %s, the witness says %s", post, w.PostRoot)
	}
	return w
}

// storeCode is a CodeSource over an engine's store.
func storeCode(e *Engine) CodeSource {
	return func(h merkle.Hash) ([]byte, error) { return e.store.Code(h) }
}

// testReplayer is a Replayer with code from e's store, closed at the
// test's end.
func testReplayer(t testing.TB, e *Engine) *Replayer {
	t.Helper()
	rp, err := NewReplayer(ReplayOptions{Options: Options{Logger: quiet}, Code: storeCode(e)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rp.Close() })
	return rp
}

// throughBytes encodes w and decodes it again, as a replayer elsewhere
// receives it: the decoded witness, and the encoding.
func throughBytes(t testing.TB, w *witness.Witness) (*witness.Witness, []byte) {
	t.Helper()
	enc, err := w.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	w2, err := witness.Decode(enc)
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	return w2, enc
}

// dropPage0 replaces the memory proof of contract id in w with a valid
// proof of its pages but page 0 (which every call reads: the argument
// buffer).
func dropPage0(t testing.TB, e *Engine, pre merkle.Hash, w *witness.Witness, id merkle.ContractID) {
	t.Helper()
	c := w.Contracts[id]
	leaf, _, err := merkle.NewStateTree(pre, e.store).Get(id)
	if err != nil {
		t.Fatal(err)
	}
	if c.Memory.Pages[0] != 0 {
		t.Fatalf("page 0 not in the witness: %v", c.Memory.Pages[:4])
	}
	mp, err := merkle.ProveMemoryPages(merkle.NewMemTree(leaf.MemoryRoot, e.store), e.store.Page, c.Memory.Pages[1:])
	if err != nil {
		t.Fatal(err)
	}
	c.Memory = *mp
}

// TestWitnessReplay: a recorded block replays to exactly its post-root,
// through the binary encoding, with code from the witness or from a code
// source, for several random blocks.
func TestWitnessReplay(t *testing.T) {
	e := witnessEngine(t, Options{})
	pre, ids := witnessBase(t, e)
	rp := testReplayer(t, e)
	for seed := uint64(1); seed <= 6; seed++ {
		w := recordBlock(t, e, pre, ids, seed, WitnessOptions{IncludeCode: seed%2 == 0})
		w2, enc := throughBytes(t, w)
		if enc2, _ := w2.MarshalBinary(); string(enc2) != string(enc) {
			t.Fatalf("seed %d: re-encoding differs", seed)
		}
		res, err := rp.Replay(context.Background(), w2, pre, w.PostRoot)
		if err != nil {
			t.Fatalf("seed %d: replay: %v", seed, err)
		}
		if res.PostRoot != w.PostRoot || res.Ops != len(w.Ops) {
			t.Fatalf("seed %d: replay result %+v", seed, res)
		}
		t.Logf("seed %d: %d ops, %d contracts, %d pages, %d bytes", seed, res.Ops, res.Contracts, res.Pages, len(enc))
		pre = w.PostRoot // the next block starts where this one ended
	}
}

// TestWitnessTamper: any change to a witness is rejected with a typed
// error, never accepted.
func TestWitnessTamper(t *testing.T) {
	e := witnessEngine(t, Options{})
	pre, ids := witnessBase(t, e)
	w := recordBlock(t, e, pre, ids, 3, WitnessOptions{})
	rp, err := NewReplayer(ReplayOptions{Options: Options{Logger: quiet}, Code: storeCode(e)})
	if err != nil {
		t.Fatal(err)
	}
	defer rp.Close()
	enc, _ := w.MarshalBinary()
	ctx := context.Background()
	verdict := func(b []byte) error {
		w, err := witness.Decode(b)
		if err != nil {
			return err
		}
		_, err = rp.Replay(ctx, w, pre, w.PostRoot)
		return err
	}
	typed := func(err error) bool {
		return errors.Is(err, witness.ErrMalformed) || errors.Is(err, witness.ErrInvalid) ||
			errors.Is(err, witness.ErrIncomplete) || errors.Is(err, witness.ErrMismatch)
	}
	if err := verdict(enc); err != nil {
		t.Fatalf("untouched witness: %v", err)
	}
	// Targeted changes, each with the class it must get.
	mutate := func(name string, want error, f func(w *witness.Witness)) {
		t.Helper()
		w2, err := witness.Decode(append([]byte(nil), enc...)) // proofs alias the bytes they decode
		if err != nil {
			t.Fatal(err)
		}
		f(w2)
		_, err = rp.Replay(ctx, w2, pre, w2.PostRoot)
		if !errors.Is(err, want) {
			t.Errorf("%s: got %v, want %v", name, err, want)
		}
	}
	pw := ids["pagewriter"]
	mutate("page byte", witness.ErrInvalid, func(w *witness.Witness) {
		m := &w.Contracts[pw].Memory
		for i := range m.Data {
			if m.Data[i] != nil {
				m.Data[i][100] ^= 1
				return
			}
		}
		t.Fatal("no page to change")
	})
	mutate("memory sibling", witness.ErrInvalid, func(w *witness.Witness) {
		w.Contracts[pw].Memory.Siblings[0][0] ^= 1
	})
	mutate("globals", witness.ErrInvalid, func(w *witness.Witness) { w.Contracts[pw].Globals = append(w.Contracts[pw].Globals, 0) })
	mutate("post-root", witness.ErrMismatch, func(w *witness.Witness) { w.PostRoot[5] ^= 1 })
	mutate("call argument", witness.ErrMismatch, func(w *witness.Witness) {
		for i := range w.Ops {
			if w.Ops[i].Kind == witness.OpCall && w.Ops[i].Function == "add" {
				w.Ops[i].Arg[0] ^= 1
				return
			}
		}
		t.Fatal("no add call")
	})
	mutate("output", witness.ErrMismatch, func(w *witness.Witness) {
		for i := range w.Ops {
			if len(w.Ops[i].Output) > 0 {
				w.Ops[i].Output[0] ^= 1
				return
			}
		}
		t.Fatal("no output")
	})
	mutate("gas", witness.ErrMismatch, func(w *witness.Witness) { w.Ops[0].GasSpent++ })
	mutate("dropped op", witness.ErrMismatch, func(w *witness.Witness) { w.Ops = w.Ops[:len(w.Ops)-1] })
	mutate("dropped page", witness.ErrIncomplete, func(w *witness.Witness) { dropPage0(t, e, pre, w, pw) })
	mutate("dropped contract", witness.ErrIncomplete, func(w *witness.Witness) { delete(w.Contracts, ids["counter"]) })
	// Random byte flips anywhere: a typed error, or (a flip in an input
	// the result does not depend on, such as a gas limit that was not
	// reached) an accept of other operations, which OpsDigest exposes to
	// the node that binds the operations to its block. Never the same
	// operations with another state or result.
	rng := rand.New(rand.NewPCG(1, 2))
	ops, accepted := witness.OpsDigest(w.Ops), 0
	for i := 0; i < 300; i++ {
		b := append([]byte(nil), enc...)
		p := rng.IntN(len(b))
		b[p] ^= byte(1 + rng.IntN(255))
		err := verdict(b)
		if err == nil {
			w2, _ := witness.Decode(b)
			if witness.OpsDigest(w2.Ops) == ops {
				t.Fatalf("flip at byte %d of %d accepted with the same operations", p, len(b))
			}
			accepted++
			continue
		}
		if !typed(err) {
			t.Fatalf("flip at byte %d: untyped error %v", p, err)
		}
	}
	t.Logf("300 flips: %d accepted as other operations", accepted)
	// Truncations.
	for n := 0; n < len(enc); n += 1 + len(enc)/97 {
		if err := verdict(enc[:n]); !errors.Is(err, witness.ErrMalformed) {
			t.Fatalf("truncated to %d bytes: %v", n, err)
		}
	}
}

// TestWitnessUnsupportedOrMisused: a session that does not record has no
// witness; witnesses of other roots are invalid.
func TestWitnessMisuse(t *testing.T) {
	e := witnessEngine(t, Options{})
	pre, ids := witnessBase(t, e)
	s := newSession(t, e, pre)
	if _, err := s.Witness(context.Background(), WitnessOptions{}); !errors.Is(err, ErrBadInput) {
		t.Fatalf("witness of a session not recording: %v", err)
	}
	w := recordBlock(t, e, pre, ids, 5, WitnessOptions{})
	other := pre
	other[0] ^= 1
	if _, err := Replay(context.Background(), w, other, w.PostRoot, ReplayOptions{Code: storeCode(e)}); !errors.Is(err, witness.ErrInvalid) {
		t.Fatalf("replay against another pre-root: %v", err)
	}
	if _, err := Replay(context.Background(), w, pre, w.PostRoot, ReplayOptions{}); !errors.Is(err, witness.ErrIncomplete) {
		t.Fatalf("replay with no code: %v", err)
	}
}

// TestWitnessReplayScript: the determinism test's script (deploys from the
// empty state, growth, failures, events, nested calls, commits midway),
// recorded in one session, replays to its root.
func TestWitnessReplayScript(t *testing.T) {
	e := witnessEngine(t, Options{})
	s, err := e.NewSession(merkle.EmptyState(), SessionOptions{RecordWitness: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	roots, _ := scriptOn(t, s)
	w, err := s.Witness(context.Background(), WitnessOptions{IncludeCode: true})
	if err != nil {
		t.Fatal(err)
	}
	if w.PostRoot != roots[len(roots)-1] {
		t.Fatalf("witness post-root %s, script ended at %s", w.PostRoot, roots[len(roots)-1])
	}
	w2, enc := throughBytes(t, w)
	res, err := Replay(context.Background(), w2, merkle.EmptyState(), w.PostRoot, ReplayOptions{})
	if err != nil {
		t.Fatalf("replay: %v", err)
	}
	t.Logf("%d ops, %d bytes (code included)", res.Ops, len(enc))
}

// TestWitnessCommitClearsEphemeral: a commit inside a recorded session
// clears ephemeral data; the replay (one session, no commits) must see the
// same, or an eph_get after the commit would differ.
func TestWitnessCommitClearsEphemeral(t *testing.T) {
	e := witnessEngine(t, Options{})
	s0 := newSession(t, e, merkle.EmptyState())
	id := deploy(t, s0, "ephemeral", DeployOptions{})
	pre := commit(t, s0)
	s, err := e.NewSession(pre, SessionOptions{RecordWitness: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	key := []byte("k")
	if _, err := s.Call(ctx, id, "eph_set", append(append(u32(uint32(len(key))), key...), 'v'), gas); err != nil {
		t.Fatal(err)
	}
	commit(t, s)
	r, err := s.Call(ctx, id, "eph_get", key, gas)
	if err != nil || string(r.Data) != "\xff\xff\xff\xff" {
		t.Fatalf("eph_get after commit: %x, %v", r.Data, err)
	}
	w, err := s.Witness(ctx, WitnessOptions{IncludeCode: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Replay(ctx, w, pre, w.PostRoot, ReplayOptions{}); err != nil {
		t.Fatalf("replay: %v", err)
	}
	ops := 0
	for _, op := range w.Ops {
		if op.Kind == witness.OpCommit {
			ops++
		}
	}
	if ops != 1 {
		t.Fatalf("%d commit operations recorded, want 1", ops)
	}
}

// TestWitnessFailedFrameReads: a page read only by frames that failed
// and were rolled back is still a page the execution needed. With either
// way a replay tracks memories (the compare of populated pages for few
// witness pages, uffd-wp for many), a witness without such a page is
// incomplete, also when the replayer reuses the instances of the replay
// before, whose memories held that page.
func TestWitnessFailedFrameReads(t *testing.T) {
	for _, tc := range []struct {
		name string
		max  int
	}{{"present", 1 << 20}, {"uffd-wp", 0}} {
		t.Run(tc.name, func(t *testing.T) {
			old := presentTrackMax
			presentTrackMax = tc.max
			defer func() { presentTrackMax = old }()
			e := witnessEngine(t, Options{})
			pre, ids := witnessBase(t, e)
			ctx := context.Background()
			// The gas of writing 40 pages, so that one unit less fails the
			// frame after it wrote them (charged as it ends).
			pw := ids["pagewriter"]
			writeArg := append(append(u32(40), u32(1)...), u32(100)...)
			scratch := newSession(t, e, pre)
			rc, err := scratch.Call(ctx, pw, "write", writeArg, gas)
			if err != nil {
				t.Fatal(err)
			}
			scratch.Close()
			s, err := e.NewSession(pre, SessionOptions{RecordWitness: true})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if _, err := s.Call(ctx, ids["fallible_counter"], "increment", []byte{1}, gas); !errors.Is(err, ErrCallFailed) {
				t.Fatalf("fallible increment: %v", err)
			}
			if _, err := s.Call(ctx, pw, "write", writeArg, rc.GasSpent-1); !errors.Is(err, ErrCallFailed) {
				t.Fatalf("write with too little gas: %v", err)
			}
			call(t, s, ids["counter"], "add", u64(1))
			w, err := s.Witness(ctx, WitnessOptions{})
			if err != nil {
				t.Fatal(err)
			}
			enc, _ := w.MarshalBinary()
			if n := len(w.Contracts[pw].Memory.Pages); n < 40 {
				t.Fatalf("the pagewriter's witness holds %d pages, want the 40 the failed frame wrote", n)
			}
			rp, err := NewReplayer(ReplayOptions{Options: Options{Logger: quiet}, Code: storeCode(e)})
			if err != nil {
				t.Fatal(err)
			}
			defer rp.Close()
			replay := func(drop merkle.ContractID, page uint64) error {
				w, err := witness.Decode(append([]byte(nil), enc...))
				if err != nil {
					t.Fatal(err)
				}
				if c := w.Contracts[drop]; c != nil {
					leaf, _, err := merkle.NewStateTree(pre, e.store).Get(drop)
					if err != nil {
						t.Fatal(err)
					}
					var idx []uint64
					for _, p := range c.Memory.Pages {
						if p != page {
							idx = append(idx, p)
						}
					}
					mp, err := merkle.ProveMemoryPages(merkle.NewMemTree(leaf.MemoryRoot, e.store), e.store.Page, idx)
					if err != nil {
						t.Fatal(err)
					}
					c.Memory = *mp
				}
				_, err = rp.Replay(ctx, w, pre, w.PostRoot)
				return err
			}
			// Another block from the same root, touching other pages of the
			// pagewriter: valid after the first, and the first after it
			// (the pages one left populated are not the other's reads).
			s2, err := e.NewSession(pre, SessionOptions{RecordWitness: true})
			if err != nil {
				t.Fatal(err)
			}
			call(t, s2, pw, "write", append(append(u32(40), u32(1)...), u32(500)...))
			call(t, s2, ids["fallible_counter"], "read_value", nil)
			w2, err := s2.Witness(ctx, WitnessOptions{})
			s2.Close()
			if err != nil {
				t.Fatal(err)
			}
			for i, w := range []*witness.Witness{w, w2, w, w2} {
				if _, err := rp.Replay(ctx, w, pre, w.PostRoot); err != nil {
					t.Fatalf("replay %d, alternating two blocks: %v", i, err)
				}
			}
			for _, name := range []string{"fallible_counter", "pagewriter"} {
				id := ids[name]
				for _, p := range w.Contracts[id].Memory.Pages {
					// The whole witness first, so that the next replay
					// reuses its instances.
					if err := replay(merkle.ContractID{}, 0); err != nil {
						t.Fatalf("whole witness: %v", err)
					}
					if err := replay(id, p); !errors.Is(err, witness.ErrIncomplete) {
						t.Fatalf("%s without page %d: got %v, want %v", name, p, err, witness.ErrIncomplete)
					}
				}
			}
		})
	}
}

// TestWitnessReplayerAlternates: one Replayer, blocks from the same
// pre-root alternating (each replay reuses the instances the last one
// kept, whose memories hold the other block's pages), every one accepted;
// and after an accepted replay, a witness without a page the kept memory
// has populated, which the execution reads, is incomplete.
func TestWitnessReplayerAlternates(t *testing.T) {
	e := witnessEngine(t, Options{})
	pre, ids := witnessBase(t, e)
	rp := testReplayer(t, e)
	ctx := context.Background()
	var encs [][]byte
	for seed := uint64(1); seed <= 3; seed++ {
		enc, err := recordBlock(t, e, pre, ids, seed, WitnessOptions{}).MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		encs = append(encs, enc)
	}
	replay := func(enc []byte, f func(*witness.Witness)) error {
		w, err := witness.Decode(append([]byte(nil), enc...))
		if err != nil {
			t.Fatal(err)
		}
		if f != nil {
			f(w)
		}
		_, err = rp.Replay(ctx, w, pre, w.PostRoot)
		return err
	}
	for i := 0; i < 9; i++ {
		if err := replay(encs[i%len(encs)], nil); err != nil {
			t.Fatalf("replay %d (block %d): %v", i, i%len(encs)+1, err)
		}
	}
	pw := ids["pagewriter"]
	for i, enc := range encs {
		if err := replay(encs[(i+1)%len(encs)], nil); err != nil { // the pool holds page 0 populated
			t.Fatal(err)
		}
		err := replay(enc, func(w *witness.Witness) { dropPage0(t, e, pre, w, pw) })
		if !errors.Is(err, witness.ErrIncomplete) {
			t.Fatalf("block %d without page 0 of the pagewriter: %v", i+1, err)
		}
	}
}
