package merkle_test

import (
	"fmt"

	"github.com/wasmstate/wasmstate/merkle"
)

// A light client holding only a trusted root checks that a proof it
// received proves page 0 of a given contract: decode, then verify the
// claim. Here the node side (building the state and the proof) is done in
// memory first.
func ExampleVerifyPage() {
	// Node side: one contract whose memory has page 0 set.
	src := merkle.NewMapSource()
	page := make([]byte, merkle.PageSize)
	copy(page, "hello")
	mem := merkle.NewMemTree(merkle.EmptyMemoryRoot(), src)
	mem.SetPage(0, merkle.HashPage(page))
	memRoot, _ := mem.Commit(src)
	id := merkle.ContractID{1}
	leaf := merkle.ContractLeaf{ID: id, Kind: merkle.Memory32, MemoryLen: merkle.WasmPageSize, MemoryRoot: memRoot}
	state := merkle.NewStateTree(merkle.EmptyState(), src)
	state.Update(leaf)
	root := state.Commit(src)
	proof, _ := merkle.ProveRange(merkle.NewStateTree(root, src), leaf, merkle.NewMemTree(memRoot, src),
		func(merkle.Hash) ([]byte, error) { return page, nil }, 0, merkle.PageSize)
	encoded, _ := proof.MarshalBinary()

	// Client side: only root, id and the encoded proof.
	p, err := merkle.DecodeProof(encoded)
	if err != nil {
		fmt.Println("malformed:", err)
		return
	}
	data, err := merkle.VerifyPage(root, id, 0, p)
	if err != nil {
		fmt.Println("not proven:", err)
		return
	}
	fmt.Printf("page 0 starts with %q\n", data[:5])

	// The same proof does not answer another question.
	_, err = merkle.VerifyPage(root, id, 1, p)
	fmt.Println(err != nil)
	// Output:
	// page 0 starts with "hello"
	// true
}
