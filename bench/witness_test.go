package bench

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/wasmstate/wasmstate/engine"
	"github.com/wasmstate/wasmstate/merkle"
	"github.com/wasmstate/wasmstate/witness"
)

// BenchmarkWitness measures witnesses (issue: stateless replay) on two
// blocks, each at a fixed pre-root:
//   - blockloop-64MiB: the block loop's block (4 pages written in a 64 MiB
//     contract, one add on each of 20 counters);
//   - kv-1000: 1,000 new keys written in one call to the KV contract of
//     BenchmarkKV holding 10,000 keys.
//
// Sub-benchmarks, per block:
//   - exec-calls: the block's calls as a node runs them (a session at the
//     pre-root that takes the warm set, the calls; no Root);
//   - exec-warm: exec-calls then Root (the post-root computed, nothing
//     written);
//   - exec-cold: the same with warm sets off (contracts load from their
//     memory images);
//   - commit: the synced commit that ends the node's block (timed alone,
//     after an untimed exec-warm): a node's block is exec-warm + commit,
//     as BenchmarkBlockLoop counts it;
//   - record: the block in a recording session, then Session.Witness;
//     reports the witness's size (bytes/op), its pages and contracts, and
//     size/bound where bound = 1.2 × 4 KiB × pages + 1 KiB × contracts;
//   - replay: decode, check and re-execute the witness with one
//     engine.Replayer (modules compiled once, as a verifier checking block
//     after block would). It reports its phases (engine.ReplayTimings, as
//     decode-ns/op, check-ns/op, store-ns/op, setup-ns/op, calls-ns/op,
//     touch-ns/op, postroot-ns/op) and its wall and CPU time over the
//     medians of exec-calls, exec-warm and exec-warm + commit measured
//     earlier in the same run (x-calls, x-warm, x-block; cpu-x-calls,
//     cpu-x-warm). The block is not timed in one piece: a session that
//     commits hands its warm set on at the post-root, so the next
//     iteration, back at the pre-root, would load its contracts cold.
//   - replay-alt: replay, alternating the witness of the block with that
//     of another block from the same pre-root (other pages written) on one
//     Replayer: replaying one witness over and over finds its pages where
//     the last replay left them, which a verifier's next block would not.
//     Its ratios are over the first block's exec medians.
func BenchmarkWitness(b *testing.B) {
	b.Run("blockloop-64MiB", func(b *testing.B) {
		f := blockStore(b, "64MiB", 1024)
		pre := f.chain[len(f.chain)-1]
		h := uint64(len(f.chain))
		witnessBench(b, f.dir, pre, func(s *engine.Session) error { return blockCalls(s, f, h) },
			func(s *engine.Session) error { return blockCalls(s, f, h+1) })
	})
	b.Run("kv-1000", func(b *testing.B) {
		dir := b.TempDir()
		pre, block, alt := kvWitnessFixture(b, dir)
		witnessBench(b, dir, pre, block, alt)
	})
}

// blockCalls are the calls of the block loop's block at height h.
func blockCalls(s *engine.Session, f *blockFixture, h uint64) error {
	stride := max(1, (f.pages-1)/4)
	if _, err := s.Call(context.Background(), f.big, "write", u32s(4, stride, uint32(h*7)%stride), bigGas); err != nil {
		return fmt.Errorf("big write: %w", err)
	}
	arg := binary.LittleEndian.AppendUint64(nil, 1)
	for _, id := range f.counters {
		if _, err := s.Call(context.Background(), id, "add", arg, bigGas); err != nil {
			return fmt.Errorf("counter add: %w", err)
		}
	}
	return nil
}

// kvWitnessFixture commits a KV contract holding 10,000 keys in dir and
// returns that root, a block writing 1,000 more, and another block writing
// 1,000 other keys.
func kvWitnessFixture(b *testing.B, dir string) (merkle.Hash, func(*engine.Session) error, func(*engine.Session) error) {
	const held, block = 10_000, 1_000
	keys, vals := kvPairs(held + block)
	altKeys, altVals := kvPairs(block) // other keys: kvPairs seeds with n
	e, err := engine.Open(context.Background(), dir, engine.Options{Logger: quiet})
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	s := newSession(b, e, merkle.EmptyState())
	defer s.Close()
	id := deploy(b, s, wasmCode(b, "kv"), engine.DeployOptions{InitArg: u32s(kvLog2Cap(held + block))})
	put := func(s *engine.Session, keys, vals [][32]byte, from, to int) error {
		arg := make([]byte, 0, 4+64*kvPerCall)
		for i := from; i < to; i += kvPerCall {
			m := min(kvPerCall, to-i)
			arg = binary.LittleEndian.AppendUint32(arg[:0], uint32(m))
			for j := i; j < i+m; j++ {
				arg = append(arg, keys[j][:]...)
				arg = append(arg, vals[j][:]...)
			}
			if _, err := s.Call(context.Background(), id, "put_many", arg, bigGas); err != nil {
				return err
			}
		}
		return nil
	}
	if err := put(s, keys, vals, 0, held); err != nil {
		b.Fatal(err)
	}
	return commit(b, s), func(s *engine.Session) error { return put(s, keys, vals, held, held+block) },
		func(s *engine.Session) error { return put(s, altKeys, altVals, 0, block) }
}

// medians collects the wall and CPU ns/op of each run of the execution
// sub-benchmarks, for the replay's ratios in the same run.
type medians map[string][][2]float64

func (m medians) add(name string, wall, cpu float64) {
	m[name] = append(m[name], [2]float64{wall, cpu})
}

// get returns the median wall and CPU ns/op of name's runs so far.
func (m medians) get(name string) (wall, cpu float64, ok bool) {
	runs := m[name]
	if len(runs) == 0 {
		return 0, 0, false
	}
	med := func(k int) float64 {
		v := make([]float64, len(runs))
		for i, r := range runs {
			v[i] = r[k]
		}
		slices.Sort(v)
		if n := len(v); n%2 == 0 {
			return (v[n/2-1] + v[n/2]) / 2
		}
		return v[len(v)/2]
	}
	return med(0), med(1), true
}

func witnessBench(b *testing.B, dir string, pre merkle.Hash, block, alt func(*engine.Session) error) {
	ctx := context.Background()
	runCalls := func(e *engine.Engine, o engine.SessionOptions) (*engine.Session, error) {
		s, err := e.NewSession(pre, o)
		if err != nil {
			return nil, err
		}
		if err := block(s); err != nil {
			s.Close()
			return nil, err
		}
		return s, nil
	}
	run := func(e *engine.Engine, o engine.SessionOptions) (*engine.Session, error) {
		s, err := runCalls(e, o)
		if err != nil {
			return nil, err
		}
		if _, err := s.Root(); err != nil {
			s.Close()
			return nil, err
		}
		return s, nil
	}
	med := medians{}
	for _, v := range []struct {
		name string
		o    engine.Options
		run  func(*engine.Engine, engine.SessionOptions) (*engine.Session, error)
	}{
		{"exec-calls", engine.Options{Logger: quiet}, runCalls},
		{"exec-warm", engine.Options{Logger: quiet}, run},
		{"exec-cold", engine.Options{Logger: quiet, WarmSets: -1}, run},
	} {
		b.Run(v.name, func(b *testing.B) {
			e, err := engine.Open(ctx, dir, v.o)
			if err != nil {
				b.Fatal(err)
			}
			defer e.Close()
			s, err := v.run(e, engine.SessionOptions{}) // untimed: compile, images
			if err != nil {
				b.Fatal(err)
			}
			s.Close()
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			l := lap{thread: true}
			for b.Loop() {
				l.start()
				s, err := v.run(e, engine.SessionOptions{})
				l.stop()
				if err != nil {
					b.Fatal(err)
				}
				s.Close() // puts the warm set back: not the block's cost
			}
			wall, cpu := l.nsPerOp(b)
			med.add(v.name, wall, cpu)
		})
	}
	b.Run("commit", func(b *testing.B) {
		e, err := engine.Open(ctx, dir, engine.Options{Logger: quiet})
		if err != nil {
			b.Fatal(err)
		}
		defer e.Close()
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		l := lap{thread: true}
		for b.Loop() {
			s, err := run(e, engine.SessionOptions{})
			if err != nil {
				b.Fatal(err)
			}
			l.start()
			_, err = s.Commit(ctx)
			l.stop()
			if err != nil {
				b.Fatal(err)
			}
			s.Close()
		}
		wall, cpu := l.nsPerOp(b)
		med.add("commit", wall, cpu)
	})
	e, err := engine.Open(ctx, dir, engine.Options{Logger: quiet})
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	var enc []byte
	var w *witness.Witness
	b.Run("record", func(b *testing.B) {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		l := lap{thread: true}
		for b.Loop() {
			l.start()
			s, err := run(e, engine.SessionOptions{RecordWitness: true})
			if err != nil {
				b.Fatal(err)
			}
			if w, err = s.Witness(ctx, engine.WitnessOptions{}); err != nil {
				b.Fatal(err)
			}
			l.stop()
			s.Close()
		}
		l.nsPerOp(b)
		if enc, err = w.MarshalBinary(); err != nil {
			b.Fatal(err)
		}
		pages, contracts := w.PageCount(), len(w.Contracts)
		bound := 1.2*4096*float64(pages) + 1024*float64(contracts)
		b.ReportMetric(float64(len(enc)), "witness-bytes")
		b.ReportMetric(float64(pages), "pages")
		b.ReportMetric(float64(contracts), "contracts")
		b.ReportMetric(float64(len(enc))/bound, "size/bound")
	})
	if enc == nil {
		return
	}
	b.Run("replay", func(b *testing.B) { replayBench(b, e, med, pre, enc) })
	// The alternate block's witness: same pre-root, other pages.
	s, err := e.NewSession(pre, engine.SessionOptions{RecordWitness: true}) // untimed
	if err != nil {
		b.Fatal(err)
	}
	err = alt(s)
	var wa *witness.Witness
	if err == nil {
		wa, err = s.Witness(ctx, engine.WitnessOptions{})
	}
	s.Close()
	if err != nil {
		b.Fatal(err)
	}
	encAlt, err := wa.MarshalBinary()
	if err != nil {
		b.Fatal(err)
	}
	if bytes.Equal(encAlt, enc) {
		b.Fatal("the alternate block has the same witness")
	}
	b.Run("replay-alt", func(b *testing.B) { replayBench(b, e, med, pre, enc, encAlt) })
}

// replayBench replays the encoded witnesses in turn (from pre) on one
// Replayer, and reports the phases and the ratios over the node's block
// (med). With one witness, every replay finds the pages it needs where the
// last one left them; alternating two blocks' witnesses, each replay drops
// the other's pages and loads its own, as a verifier's next block would.
func replayBench(b *testing.B, e *engine.Engine, med medians, pre merkle.Hash, encs ...[]byte) {
	ctx := context.Background()
	rp, err := engine.NewReplayer(engine.ReplayOptions{Options: engine.Options{Logger: quiet},
		Code: func(h merkle.Hash) ([]byte, error) { return e.Store().Code(h) }})
	if err != nil {
		b.Fatal(err)
	}
	defer rp.Close()
	for _, enc := range encs { // untimed: compile
		if _, err := replayOnce(rp, enc); err != nil {
			b.Fatal(err)
		}
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	l := lap{thread: true}
	var sum engine.ReplayTimings
	var decode time.Duration
	n := 0
	for b.Loop() {
		enc := encs[n%len(encs)]
		n++
		l.start()
		t0 := time.Now()
		w, err := witness.Decode(enc)
		if err != nil {
			b.Fatal(err)
		}
		decode += time.Since(t0)
		res, err := rp.Replay(ctx, w, pre, w.PostRoot)
		l.stop()
		if err != nil {
			b.Fatal(err)
		}
		t := res.Timings
		sum.Check += t.Check
		sum.Store += t.Store
		sum.Setup += t.Setup
		sum.Calls += t.Calls
		sum.TouchCheck += t.TouchCheck
		sum.PostRoot += t.PostRoot
	}
	wall, cpu := l.nsPerOp(b)
	for _, m := range []struct {
		unit string
		d    time.Duration
	}{{"decode", decode}, {"check", sum.Check}, {"store", sum.Store}, {"setup", sum.Setup},
		{"calls", sum.Calls}, {"touch", sum.TouchCheck}, {"postroot", sum.PostRoot}} {
		b.ReportMetric(float64(m.d.Nanoseconds())/float64(b.N), m.unit+"-ns/op")
	}
	for _, r := range []struct{ unit, name string }{{"calls", "exec-calls"}, {"warm", "exec-warm"}} {
		if mw, mc, ok := med.get(r.name); ok {
			b.ReportMetric(wall/mw, "x-"+r.unit)
			b.ReportMetric(cpu/mc, "cpu-x-"+r.unit)
		}
	}
	// The node's block: exec-warm, then the synced commit. Wall only:
	// its CPU leaves out the wait for the disk.
	ww, _, ok1 := med.get("exec-warm")
	cw, _, ok2 := med.get("commit")
	if ok1 && ok2 {
		b.ReportMetric(wall/(ww+cw), "x-block")
	}
}

func replayOnce(rp *engine.Replayer, enc []byte) (*engine.ReplayResult, error) {
	w, err := witness.Decode(enc)
	if err != nil {
		return nil, err
	}
	return rp.Replay(context.Background(), w, w.PreRoot, w.PostRoot)
}
