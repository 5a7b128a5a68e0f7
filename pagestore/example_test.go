package pagestore_test

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/wasmstate/wasmstate/merkle"
	"github.com/wasmstate/wasmstate/pagestore"
)

// A commit built with package merkle's trees: the Batch is their Sink and
// the Store their Source.
func Example() {
	dir, err := os.MkdirTemp("", "pagestore-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	s, err := pagestore.Open(context.Background(), dir, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()

	b := pagestore.NewBatch()
	page := make([]byte, merkle.PageSize)
	copy(page, "hello")
	ph := merkle.HashPage(page)
	mem := merkle.NewMemTree(merkle.EmptyMemoryRoot(), s)
	if err := mem.SetPage(0, ph); err != nil {
		log.Fatal(err)
	}
	b.PutPage(ph, page)
	memRoot, err := mem.Commit(b) // stages the memory nodes
	if err != nil {
		log.Fatal(err)
	}
	code, owner, globals := []byte("\x00asm\x01\x00\x00\x00"), []byte("alice"), []byte{}
	b.PutCode(merkle.HashCode(code), code)
	b.PutOwner(merkle.HashOwner(owner), owner)
	b.PutGlobals(merkle.DomainGlobals.Sum(globals), globals)
	id := merkle.ContractID{1}
	state := merkle.NewStateTree(merkle.EmptyState(), s)
	err = state.Update(merkle.ContractLeaf{
		ID: id, CodeHash: merkle.HashCode(code), OwnerHash: merkle.HashOwner(owner),
		Kind: merkle.Memory32, MemoryLen: merkle.WasmPageSize,
		MemoryRoot: memRoot, GlobalsHash: merkle.DomainGlobals.Sum(globals),
	})
	if err != nil {
		log.Fatal(err)
	}
	root := state.Commit(b) // stages the state nodes
	b.SetCommit(pagestore.CommitRecord{Root: root, Parent: merkle.EmptyState(), Time: 1, Changed: []merkle.ContractID{id}})
	b.SetHead(root)
	st, err := s.Commit(b)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("objects written:", st.Objects)

	leaf, _, err := merkle.NewStateTree(root, s).Get(id)
	if err != nil {
		log.Fatal(err)
	}
	h, err := merkle.NewMemTree(leaf.MemoryRoot, s).Page(0)
	if err != nil {
		log.Fatal(err)
	}
	p, err := s.Page(h)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("page 0: %s\n", p[:5])

	problems, err := s.Fsck(context.Background(), nil)
	fmt.Println("fsck problems:", len(problems), err)
	// Output:
	// objects written: 35
	// page 0: hello
	// fsck problems: 0 <nil>
}
