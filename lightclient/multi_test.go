package lightclient

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"

	"github.com/wasmstate/wasmstate/merkle"
)

func TestVerifyMulti(t *testing.T) {
	w := newWorld()
	a, b, absent := merkle.ContractID{0xA}, merkle.ContractID{0xB}, merkle.ContractID{0xC}
	w.setPage(t, a, 0, []byte("alpha"))
	w.setPage(t, a, 7, []byte("seven"))
	w.setPage(t, b, 1, []byte("beta"))
	root := w.commit(t)
	claim := merkle.MultiClaim{IDs: []merkle.ContractID{absent},
		Ranges: []merkle.ByteRange{{ID: a, Offset: 0, Length: 5}, {ID: a, Offset: 7 * merkle.PageSize, Length: 5}, {ID: b, Offset: merkle.PageSize, Length: 4}}}
	p, err := merkle.ProveMulti(merkle.NewStateTree(root, w.src), w.src, func(h merkle.Hash) ([]byte, error) { return w.pages[h], nil }, claim)
	if err != nil {
		t.Fatal(err)
	}
	bin, err := p.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	js, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	for _, enc := range [][]byte{bin, js} {
		m, err := VerifyMulti(root, claim, enc)
		if err != nil {
			t.Fatal(err)
		}
		for r, want := range map[merkle.ByteRange]string{claim.Ranges[0]: "alpha", claim.Ranges[1]: "seven", claim.Ranges[2]: "beta"} {
			if got, ok := m.Bytes(r); !ok || !bytes.Equal(got, []byte(want)) {
				t.Fatalf("range %+v: %q", r, got)
			}
		}
		if l, known := m.Leaf(absent); !known || l != nil {
			t.Fatal("absence not proven")
		}
	}
	// Another claim, another root, damaged bytes: typed errors.
	var e *Error
	if _, err := VerifyMulti(root, merkle.MultiClaim{IDs: []merkle.ContractID{absent}}, bin); !errors.Is(err, ErrInvalid) || !errors.As(err, &e) {
		t.Fatalf("smaller claim: %v", err)
	}
	if _, err := VerifyMulti(merkle.Hash{1}, claim, bin); !errors.Is(err, ErrInvalid) {
		t.Fatalf("another root: %v", err)
	}
	if _, err := VerifyMulti(root, claim, bin[:len(bin)-1]); !errors.Is(err, ErrMalformed) {
		t.Fatalf("truncated: %v", err)
	}
	if _, err := VerifyMulti(root, claim, nil); !errors.Is(err, ErrMalformed) {
		t.Fatalf("empty: %v", err)
	}
	single := w.prove(t, root, a, 0, 5)
	sb, _ := single.MarshalBinary()
	if _, err := VerifyMulti(root, claim, sb); !errors.Is(err, ErrInvalid) {
		t.Fatalf("a range proof for a multi claim: %v", err)
	}
	// VerifyAny shows a multiproof whole.
	got, err := VerifyAny(root, bin)
	if err != nil || got.Kind != merkle.KindMulti || len(got.Multi.Ranges) != 3 || len(got.Multi.IDs) != 3 {
		t.Fatalf("VerifyAny: %+v %v", got, err)
	}
}
