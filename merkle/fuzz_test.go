package merkle

import (
	"bytes"
	"encoding/json"
	"testing"
)

var fuzzFixture *fixture

func fuzzSeeds(f *testing.F) *fixture {
	if fuzzFixture == nil {
		fuzzFixture = newFixture(f, 61, 8)
	}
	fx := fuzzFixture
	id := fx.anyID()
	absent, _ := ProveContract(fx.state, ContractID{1, 2, 3})
	contract, _ := ProveContract(fx.state, id)
	for _, p := range []Proof{fx.proveRange(f, id, 0, PageSize), fx.proveRange(f, id, 4095, 2), contract, absent} {
		bin, _ := p.MarshalBinary()
		f.Add(bin)
	}
	f.Add([]byte{})
	f.Add([]byte{1, 1})
	f.Add([]byte{1, 3, 0})
	return fx
}

// FuzzDecodeProof: decoding never panics, accepts only canonical input,
// and whatever verifies against the fixture's root states a true fact.
func FuzzDecodeProof(f *testing.F) {
	f.Fuzz(decodedProofHolds(fuzzSeeds(f)))
}

// decodedProofHolds is the body of the binary-proof fuzz targets: input
// that decodes re-encodes to the same bytes, has a JSON form that is
// accepted, and, when it verifies against fx's root, states a true fact.
func decodedProofHolds(fx *fixture) func(*testing.T, []byte) {
	return func(t *testing.T, data []byte) {
		p, err := DecodeProof(data)
		if err != nil {
			return
		}
		again, err := p.MarshalBinary()
		if err != nil || !bytes.Equal(again, data) {
			t.Fatalf("decoded proof re-encodes differently (%v)", err)
		}
		js, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := DecodeProofJSON(js); err != nil {
			t.Fatalf("JSON form of a valid proof rejected: %v", err)
		}
		if got, err := VerifyAny(fx.root, p); err == nil {
			checkTrue(t, fx, got)
		}
	}
}

// FuzzDecodeProofJSON: the JSON decoder never panics and agrees with the
// binary one.
func FuzzDecodeProofJSON(f *testing.F) {
	fx := fuzzSeeds(f)
	id := fx.anyID()
	for _, p := range []Proof{fx.proveRange(f, id, 10, 100)} {
		js, _ := json.Marshal(p)
		f.Add(js)
	}
	f.Add([]byte(`{"version":1,"kind":"absence","id":"00","state_path":[]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := DecodeProofJSON(data)
		if err != nil {
			return
		}
		// Canonical: what is accepted is the value the encoder writes
		// (SPEC.md §7.5), up to whitespace and key order.
		again, err := json.Marshal(p)
		if err != nil || !canonicalEqual(data, again) {
			t.Fatalf("accepted a non-canonical spelling:\n%s\nencoder writes:\n%s", data, again)
		}
		if got, err := VerifyAny(fx.root, p); err == nil {
			checkTrue(t, fx, got)
		}
	})
}

func checkTrue(t *testing.T, fx *fixture, got *Proven) {
	t.Helper()
	l, present := fx.leaves[got.ID]
	switch got.Kind {
	case KindAbsence:
		if present {
			t.Fatalf("proved %s absent, but it is present", got.ID)
		}
	case KindContract:
		if !present || got.Leaf != l {
			t.Fatalf("proved a false leaf for %s", got.ID)
		}
	case KindRange:
		if !present || !bytes.Equal(got.Data, fx.memBytes(got.ID, got.Offset, uint64(len(got.Data)))) {
			t.Fatalf("proved false bytes for %s at %d", got.ID, got.Offset)
		}
	case KindMulti:
		for i, id := range got.Multi.IDs {
			l, present := fx.leaves[id]
			if present != (got.Multi.Leaves[i] != nil) || present && *got.Multi.Leaves[i] != l {
				t.Fatalf("multiproof proved a false fact about %s", id)
			}
		}
		for _, r := range got.Multi.Ranges {
			if !bytes.Equal(r.Data, fx.memBytes(r.ID, r.Offset, r.Length)) {
				t.Fatalf("multiproof proved false bytes for %s at %d", r.ID, r.Offset)
			}
		}
	}
}
