package engine

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/wasmstate/wasmstate/merkle"
)

// ProveMulti proves several contracts' leaves, an absence and ranges of two
// memories at once, at two roots, and what it proves is what ReadMemory
// and Inspect read.
func TestProveMulti(t *testing.T) {
	e, ctr, gr, r1, r2 := counterGrowerRoots(t)
	absent := merkle.ContractID{0xAB}
	ctx := context.Background()
	for _, root := range []merkle.Hash{r1, r2} {
		claim := merkle.MultiClaim{IDs: []merkle.ContractID{absent, gr},
			Ranges: []merkle.ByteRange{{ID: ctr, Offset: 0, Length: 8}, {ID: ctr, Offset: 4090, Length: 20},
				{ID: gr, Offset: 65536 - 10, Length: 10}, {ID: ctr, Offset: 0, Length: 3 * merkle.PageSize}}}
		p, err := e.ProveMulti(ctx, root, claim)
		if err != nil {
			t.Fatal(err)
		}
		bin, err := p.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		q, err := merkle.DecodeProof(bin)
		if err != nil {
			t.Fatal(err)
		}
		m, err := merkle.VerifyMulti(root, q, claim)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range claim.Ranges {
			want, err := e.ReadMemory(root, r.ID, r.Offset, r.Length)
			got, ok := m.Bytes(r)
			if err != nil || !ok || !bytes.Equal(got, want) {
				t.Fatalf("range %+v at %s: proven %v, %v", r, root, ok, err)
			}
		}
		if l, known := m.Leaf(absent); !known || l != nil {
			t.Fatal("absent contract not proven absent")
		}
		info, err := e.Inspect(ctx, root, gr)
		if l, known := m.Leaf(gr); err != nil || !known || l == nil || *l != info.Leaf {
			t.Fatalf("leaf of %s: %v", gr, err)
		}
	}
	if _, err := e.ProveMulti(ctx, r2, merkle.MultiClaim{Ranges: []merkle.ByteRange{{ID: absent, Offset: 0, Length: 1}}}); !errors.Is(err, ErrNoContract) {
		t.Fatalf("range of an absent contract: %v", err)
	}
	if _, err := e.ProveMulti(ctx, r2, merkle.MultiClaim{Ranges: []merkle.ByteRange{{ID: ctr, Offset: 1 << 20, Length: 1}}}); !errors.Is(err, merkle.ErrOutOfRange) {
		t.Fatalf("range past the memory: %v", err)
	}
	if _, err := e.ProveMulti(ctx, merkle.Hash{1}, merkle.MultiClaim{}); !errors.Is(err, ErrUnknownRoot) {
		t.Fatalf("unknown root: %v", err)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := e.ProveMulti(cancelled, r2, merkle.MultiClaim{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled context: %v", err)
	}
}
