package bench

import (
	"context"
	"encoding/binary"
	"fmt"
	"runtime"
	"testing"

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
//   - exec-warm: the block as a node runs it (a session at the pre-root
//     that takes the warm set, the calls, Root; no commit);
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
//     after block would).
func BenchmarkWitness(b *testing.B) {
	b.Run("blockloop-64MiB", func(b *testing.B) {
		f := blockStore(b, "64MiB", 1024)
		pre := f.chain[len(f.chain)-1]
		h := uint64(len(f.chain))
		witnessBench(b, f.dir, pre, func(s *engine.Session) error { return blockCalls(s, f, h) })
	})
	b.Run("kv-1000", func(b *testing.B) {
		dir := b.TempDir()
		pre, block := kvWitnessFixture(b, dir)
		witnessBench(b, dir, pre, block)
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
// returns that root and a block writing 1,000 more.
func kvWitnessFixture(b *testing.B, dir string) (merkle.Hash, func(*engine.Session) error) {
	const held, block = 10_000, 1_000
	keys, vals := kvPairs(held + block)
	e, err := engine.Open(context.Background(), dir, engine.Options{Logger: quiet})
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	s := newSession(b, e, merkle.EmptyState())
	defer s.Close()
	id := deploy(b, s, wasmCode(b, "kv"), engine.DeployOptions{InitArg: u32s(kvLog2Cap(held + block))})
	put := func(s *engine.Session, from, to int) error {
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
	if err := put(s, 0, held); err != nil {
		b.Fatal(err)
	}
	return commit(b, s), func(s *engine.Session) error { return put(s, held, held+block) }
}

func witnessBench(b *testing.B, dir string, pre merkle.Hash, block func(*engine.Session) error) {
	ctx := context.Background()
	run := func(e *engine.Engine, o engine.SessionOptions) (*engine.Session, error) {
		s, err := e.NewSession(pre, o)
		if err != nil {
			return nil, err
		}
		if err := block(s); err != nil {
			s.Close()
			return nil, err
		}
		if _, err := s.Root(); err != nil {
			s.Close()
			return nil, err
		}
		return s, nil
	}
	for _, v := range []struct {
		name string
		o    engine.Options
	}{{"exec-warm", engine.Options{Logger: quiet}}, {"exec-cold", engine.Options{Logger: quiet, WarmSets: -1}}} {
		b.Run(v.name, func(b *testing.B) {
			e, err := engine.Open(ctx, dir, v.o)
			if err != nil {
				b.Fatal(err)
			}
			defer e.Close()
			s, err := run(e, engine.SessionOptions{}) // untimed: compile, images
			if err != nil {
				b.Fatal(err)
			}
			s.Close()
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			l := lap{thread: true}
			for b.Loop() {
				l.start()
				s, err := run(e, engine.SessionOptions{})
				l.stop()
				if err != nil {
					b.Fatal(err)
				}
				s.Close() // puts the warm set back: not the block's cost
			}
			l.nsPerOp(b)
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
		l.nsPerOp(b)
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
	b.Run("replay", func(b *testing.B) {
		rp, err := engine.NewReplayer(engine.ReplayOptions{Options: engine.Options{Logger: quiet},
			Code: func(h merkle.Hash) ([]byte, error) { return e.Store().Code(h) }})
		if err != nil {
			b.Fatal(err)
		}
		defer rp.Close()
		if _, err := replayOnce(rp, enc, pre, w.PostRoot); err != nil { // untimed: compile
			b.Fatal(err)
		}
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		l := lap{thread: true}
		for b.Loop() {
			l.start()
			_, err := replayOnce(rp, enc, pre, w.PostRoot)
			l.stop()
			if err != nil {
				b.Fatal(err)
			}
		}
		l.nsPerOp(b)
	})
}

func replayOnce(rp *engine.Replayer, enc []byte, pre, post merkle.Hash) (*engine.ReplayResult, error) {
	w, err := witness.Decode(enc)
	if err != nil {
		return nil, err
	}
	return rp.Replay(context.Background(), w, pre, post)
}
