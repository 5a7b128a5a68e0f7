package main

import (
	"context"
	"errors"
	"os"
	"testing"

	"github.com/bytecodealliance/wasmtime-go/v39"

	"github.com/wasmstate/wasmstate/engine"
	"github.com/wasmstate/wasmstate/merkle"
)

// The actions behind call, verify and read run without flags or output:
// callIn, verifyProof and readMemory on an in-memory engine.
func TestActionsWithoutFlags(t *testing.T) {
	e, err := engine.OpenInMemory(engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	src, err := os.ReadFile(counterWAT)
	if err != nil {
		t.Fatal(err)
	}
	code, err := wasmtime.Wat2Wasm(string(src))
	if err != nil {
		t.Fatal(err)
	}
	s, err := e.NewSession(merkle.EmptyState(), engine.SessionOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	id, err := s.Deploy(context.Background(), code, engine.DeployOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ok := callIn(s, &callRequest{id: id, fn: "add", arg: u64le(5), gas: DefaultCallGas})
	if !ok.OK || ok.ResultU64 == nil || *ok.ResultU64 != 0xfc+5 {
		t.Fatalf("callIn add: %+v", ok)
	}
	bad := callIn(s, &callRequest{id: id, fn: "add", arg: []byte{1}, gas: DefaultCallGas})
	if bad.OK || bad.Error == nil || bad.Error.Kind != "trap" || !errors.Is(bad.err, engine.ErrTrap) || bad.CallTree == nil {
		t.Fatalf("callIn failing add: %+v", bad)
	}
	root, err := s.Commit(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	r, err := readMemory(e, root, id, 0, 8, "u64")
	if err != nil || r.Value != "u64:257" {
		t.Fatalf("readMemory: %+v %v", r, err)
	}
	p, err := e.ProvePage(context.Background(), root, id, 0)
	if err != nil {
		t.Fatal(err)
	}
	bin, _ := p.MarshalBinary()
	out, proven, err := verifyProof(&verifyClaim{root: root, id: id, kind: "page", index: 0, proof: bin})
	if err != nil || !out.Verified || proven.Kind != merkle.KindRange || out.Encoding != "binary" {
		t.Fatalf("verifyProof page 0: %+v %v", out, err)
	}
	if _, _, err := verifyProof(&verifyClaim{root: root, id: id, kind: "page", index: 1, proof: bin}); !errors.Is(err, merkle.ErrProofInvalid) {
		t.Fatalf("verifyProof page 1: %v", err)
	}
	if _, _, err := verifyProof(&verifyClaim{root: root, proof: bin[:10]}); !errors.Is(err, merkle.ErrMalformed) {
		t.Fatalf("verifyProof truncated: %v", err)
	}
}
