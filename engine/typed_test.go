package engine

import (
	"context"
	"errors"
	"testing"

	"github.com/wasmstate/wasmstate/codec"
	"github.com/wasmstate/wasmstate/merkle"
)

func TestTypedCalls(t *testing.T) {
	e := testEngine(t, auto)
	s := newSession(t, e, merkle.EmptyState())
	in, err := DeployTyped(context.Background(), s, wasm(t, "initializer"), uint64(41), codec.U64, DeployOptions{})
	if err != nil {
		t.Fatal(err)
	}
	v, r, err := CallTyped(context.Background(), s, in, "value", struct{}{}, codec.Unit, codec.U64, gas)
	if err != nil || v != 41 || r.GasSpent == 0 {
		t.Fatalf("value: %d %v", v, err)
	}
	ctr := deploy(t, s, "counter", DeployOptions{})
	v, _, err = CallTyped(context.Background(), s, ctr, "add", uint64(4), codec.U64, codec.U64, gas)
	if err != nil || v != 0xfc+4 {
		t.Fatalf("add: %d %v", v, err)
	}
	// A result of the wrong size is a decode error, with the receipt.
	_, r, err = CallTyped(context.Background(), s, ctr, "read_value", struct{}{}, codec.Unit, codec.U32, gas)
	if !errors.Is(err, codec.ErrDecode) || r == nil {
		t.Fatalf("wrong result type: %v", err)
	}
	// Tuples: (ContractId, u64) is 40 bytes.
	pair, err := codec.Tuple2[codec.ContractID, uint64]()
	if err != nil {
		t.Fatal(err)
	}
	b, err := pair.Encode(codec.T2[codec.ContractID, uint64]{A: ctr, B: 9})
	if err != nil || len(b) != 40 {
		t.Fatalf("tuple: %d %v", len(b), err)
	}
}
