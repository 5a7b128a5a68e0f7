package merkle

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"testing"
)

// multiSeeds adds encoded multiproofs over the fuzz fixture to f (as
// binary, or JSON with asJSON) and returns the fixture.
func multiSeeds(f *testing.F, asJSON bool) *fixture {
	fx := fuzzSeeds(f)
	r := rand.New(rand.NewPCG(71, 72))
	for _, c := range []MultiClaim{{}, fx.randClaim(r, 1, 1, 1), fx.randClaim(r, 2, 0, 3)} {
		p, err := ProveMulti(fx.state, fx.src, fx.readPage, c)
		if err != nil {
			f.Fatal(err)
		}
		var b []byte
		if asJSON {
			b, err = json.Marshal(p)
		} else {
			b, err = p.MarshalBinary()
		}
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	return fx
}

// FuzzDecodeMultiProof: a multiproof that decodes re-encodes to the same
// bytes, has a JSON form that is accepted, and proves only true facts.
func FuzzDecodeMultiProof(f *testing.F) {
	f.Fuzz(decodedProofHolds(multiSeeds(f, false)))
}

// FuzzDecodeMultiProofJSON: the JSON decoder accepts only the canonical
// spelling of a multiproof and agrees with the binary one.
func FuzzDecodeMultiProofJSON(f *testing.F) {
	fx := multiSeeds(f, true)
	f.Add([]byte(`{"version":1,"kind":"multi","ids":[],"state_nodes":[null],"ranges":[],"memories":[]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := DecodeProofJSON(data)
		if err != nil {
			return
		}
		again, err := json.Marshal(p)
		if err != nil || !canonicalEqual(data, again) {
			t.Fatalf("accepted a non-canonical spelling:\n%s\nencoder writes:\n%s", data, again)
		}
		if got, err := VerifyAny(fx.root, p); err == nil {
			checkTrue(t, fx, got)
		}
	})
}

// FuzzDecodeMultiParts: the part decoders (used on their own by
// witnesses) never panic, take exactly the canonical bytes, and a state
// part that verifies states the truth.
func FuzzDecodeMultiParts(f *testing.F) {
	fx := fuzzSeeds(f)
	r := rand.New(rand.NewPCG(73, 74))
	sp, _ := ProveStates(fx.state, fx.multiIDs(r, 3, 3))
	f.Add(append([]byte{0}, sp.AppendBinary(nil)...))
	id := fx.anyID()
	mp, _ := ProveMemoryPages(NewMemTree(fx.leaves[id].MemoryRoot, fx.src), fx.readPage, []uint64{0, 1, 5, 64})
	f.Add(append([]byte{1}, mp.AppendBinary(nil, true)...))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		if data[0] == 0 {
			p, rest, err := DecodeStateMultiProof(data[1:])
			if err != nil {
				return
			}
			if again := p.AppendBinary(nil); !bytes.Equal(again, data[1:len(data)-len(rest)]) {
				t.Fatal("state part re-encodes differently")
			}
			leaves, err := p.Verify(fx.root)
			if err != nil {
				return
			}
			for i, id := range p.IDs {
				l, present := fx.leaves[id]
				if present != (leaves[i] != nil) || present && *leaves[i] != l {
					t.Fatalf("state part proves a false fact about %s", id)
				}
			}
			p.Expand(NewMapSource())
			return
		}
		p, rest, err := DecodeMemoryMultiProof(data[1:], nil)
		if err != nil {
			return
		}
		if again := p.AppendBinary(nil, true); !bytes.Equal(again, data[1:len(data)-len(rest)]) {
			t.Fatal("memory part re-encodes differently")
		}
		if _, err := p.Root(); err != nil {
			t.Fatalf("a decoded memory part has no root: %v", err)
		}
		p.Expand(NewMapSource(), func(Hash, []byte) {})
	})
}
