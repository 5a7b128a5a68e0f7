package reliability

import (
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/wasmstate/wasmstate/engine"
	"github.com/wasmstate/wasmstate/merkle"
	"github.com/wasmstate/wasmstate/witness"
)

// TestWitnessReplayCrashWorkload: block after block of the crash test's
// random workload (stores anywhere in two fuzzer memories, growth, counter
// and global changes, calls that fail after writing), each recorded in its
// own session and replayed from its witness alone, gives exactly the
// root the block committed.
func TestWitnessReplayCrashWorkload(t *testing.T) {
	e := memEngine(t, crashOptions())
	rp, err := engine.NewReplayer(engine.ReplayOptions{Options: crashOptions(),
		Code: func(h merkle.Hash) ([]byte, error) { return e.Store().Code(h) }})
	if errors.Is(err, engine.ErrWitnessUnsupported) && os.Getenv("WASMSTATE_REQUIRE_UFFD") == "" {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer rp.Close()
	s0 := session(t, e, merkle.EmptyState())
	for _, c := range []struct {
		name string
		id   merkle.ContractID
	}{{"counter", counterID}, {"fuzzer", fuzz32ID}, {"fuzzer64", fuzz64ID}} {
		id := c.id
		if _, err := s0.Deploy(context.Background(), wasm(t, c.name), engine.DeployOptions{ID: &id, Owner: []byte(c.name)}); err != nil {
			t.Fatal(err)
		}
	}
	root := commit(t, s0)
	blocks := 12
	if os.Getenv(longEnv) != "" {
		blocks = 200
	}
	r := rand.New(rand.NewPCG(11, 12))
	ctx := context.Background()
	for b := 0; b < blocks; b++ {
		ms := session(t, e, root)
		m, err := readModel(ms)
		if err != nil {
			t.Fatal(err)
		}
		ms.Close()
		s, err := e.NewSession(root, engine.SessionOptions{RecordWitness: true, Metadata: map[string][]byte{"block_height": u64(uint64(b))}})
		if err != nil {
			t.Fatal(err)
		}
		for range 1 + r.IntN(3) {
			if err := mutate(r, s, m); err != nil {
				t.Fatalf("block %d: %v", b, err)
			}
		}
		w, err := s.Witness(ctx, engine.WitnessOptions{})
		if err != nil {
			t.Fatal(err)
		}
		post := commit(t, s)
		s.Close()
		enc, err := w.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		w2, err := witness.Decode(enc)
		if err != nil {
			t.Fatalf("block %d: %v", b, err)
		}
		res, err := rp.Replay(ctx, w2, root, post)
		if err != nil {
			t.Fatalf("block %d (%d ops, %d pages): %v", b, len(w.Ops), w.PageCount(), err)
		}
		if res.PostRoot != post {
			t.Fatalf("block %d: replayed to %s, committed %s", b, res.PostRoot, post)
		}
		root = post
	}
}
