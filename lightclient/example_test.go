package lightclient_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/wasmstate/wasmstate/lightclient"
	"github.com/wasmstate/wasmstate/merkle"
)

// fullNode stands in for the node that holds the state and answers a
// light client's questions. It keeps contracts' memories in merkle's
// in-memory trees (a MapSource instead of the page store) and proves with
// merkle.ProveRange, exactly as the engine does over its store.
type fullNode struct {
	src    *merkle.MapSource
	pages  map[merkle.Hash][]byte // page contents by hash, for proving
	state  *merkle.StateTree
	mems   map[merkle.ContractID]*merkle.MemTree
	leaves map[merkle.ContractID]merkle.ContractLeaf
}

func newFullNode() *fullNode {
	return &fullNode{src: merkle.NewMapSource(), pages: map[merkle.Hash][]byte{},
		state: merkle.NewStateTree(merkle.EmptyState(), nil),
		mems:  map[merkle.ContractID]*merkle.MemTree{}, leaves: map[merkle.ContractID]merkle.ContractLeaf{}}
}

// write stores data at offset of contract id's memory (one wasm page of
// 64 KiB), creating the contract on first use.
func (n *fullNode) write(id merkle.ContractID, offset uint64, data []byte) {
	mt, ok := n.mems[id]
	if !ok {
		mt = merkle.NewMemTree(merkle.EmptyMemoryRoot(), n.src)
		n.mems[id] = mt
		n.leaves[id] = merkle.ContractLeaf{ID: id, CodeHash: merkle.HashCode([]byte("code")),
			OwnerHash: merkle.HashOwner(nil), Kind: merkle.Memory32, MemoryLen: merkle.WasmPageSize,
			GlobalsHash: merkle.DomainGlobals.Sum([]byte{0, 0, 0, 0})}
	}
	for len(data) > 0 {
		index, at := offset/merkle.PageSize, offset%merkle.PageSize
		page := make([]byte, merkle.PageSize)
		if h, _ := mt.Page(index); h != merkle.EmptyPageHash() {
			copy(page, n.pages[h])
		}
		k := copy(page[at:], data)
		h := merkle.HashPage(page)
		n.pages[h] = page
		mt.SetPage(index, h)
		data, offset = data[k:], offset+uint64(k)
	}
}

// commit folds the changed memories into their leaves and returns the new
// state root.
func (n *fullNode) commit() merkle.Hash {
	for id, mt := range n.mems {
		l := n.leaves[id]
		l.MemoryRoot, _ = mt.Commit(n.src)
		n.leaves[id] = l
		n.state.Update(l)
	}
	return n.state.Commit(n.src)
}

func (n *fullNode) readPage(h merkle.Hash) ([]byte, error) { return n.pages[h], nil }

// proveRange proves bytes of contract id's memory under any root the node
// committed, in the binary encoding.
func (n *fullNode) proveRange(root merkle.Hash, id merkle.ContractID, offset, length uint64) []byte {
	st := merkle.NewStateTree(root, n.src)
	leaf, _, _ := st.Get(id)
	p, err := merkle.ProveRange(st, leaf, merkle.NewMemTree(leaf.MemoryRoot, n.src), n.readPage, offset, length)
	if err != nil {
		panic(err)
	}
	b, _ := p.MarshalBinary()
	return b
}

func (n *fullNode) provePage(root merkle.Hash, id merkle.ContractID, index uint64) []byte {
	return n.proveRange(root, id, index*merkle.PageSize, merkle.PageSize)
}

// proveContract proves a contract's leaf, or its absence.
func (n *fullNode) proveContract(root merkle.Hash, id merkle.ContractID) []byte {
	p, err := merkle.ProveContract(merkle.NewStateTree(root, n.src), id)
	if err != nil {
		panic(err)
	}
	b, _ := p.MarshalBinary()
	return b
}

var (
	alice = merkle.ContractID{0x01}
	bob   = merkle.ContractID{0x02}
)

func u64(v uint64) []byte { return binary.LittleEndian.AppendUint64(nil, v) }

// A light client asks a full node for page 0 of a contract and checks the
// answer against the state root it trusts.
func ExampleVerifyPage() {
	node := newFullNode()
	node.write(alice, 0, []byte("balance:"))
	node.write(alice, 8, u64(1000))
	root := node.commit()

	proof := node.provePage(root, alice, 0)

	page, err := lightclient.VerifyPage(root, alice, 0, proof)
	if err != nil {
		fmt.Println("rejected:", err)
		return
	}
	fmt.Printf("%s %d\n", page[:8], binary.LittleEndian.Uint64(page[8:16]))
	// Output: balance: 1000
}

// A range proof carries every page the range touches: these 16 bytes
// straddle pages 0 and 1.
func ExampleVerifyRange() {
	node := newFullNode()
	node.write(alice, 4088, []byte("across two pages"))
	root := node.commit()

	proof := node.proveRange(root, alice, 4088, 16)

	data, err := lightclient.VerifyRange(root, alice, 4088, 16, proof)
	fmt.Printf("%q %v\n", data, err)

	// The same proof does not answer a question about other bytes.
	_, err = lightclient.VerifyRange(root, alice, 4096, 8, proof)
	fmt.Println(errors.Is(err, lightclient.ErrInvalid))
	// Output:
	// "across two pages" <nil>
	// true
}

// A contract proof establishes a contract's leaf: its code hash, owner
// hash, memory kind, length and root.
func ExampleVerifyContract() {
	node := newFullNode()
	node.write(alice, 0, []byte{1})
	root := node.commit()

	leaf, err := lightclient.VerifyContract(root, alice, node.proveContract(root, alice))
	fmt.Println(leaf.Kind, leaf.MemoryLen, err)
	// Output: wasm32 65536 <nil>
}

// Absence is provable too: the proof ends at an empty subtree or at another
// contract's leaf where bob's would have to be.
func ExampleVerifyAbsence() {
	node := newFullNode()
	node.write(alice, 0, []byte{1})
	root := node.commit()

	fmt.Println(lightclient.VerifyAbsence(root, bob, node.proveContract(root, bob)))

	// A proof of alice's leaf says nothing about bob.
	err := lightclient.VerifyAbsence(root, bob, node.proveContract(root, alice))
	fmt.Println(errors.Is(err, lightclient.ErrInvalid))
	// Output:
	// <nil>
	// true
}

// A light client follows one page of a contract over three commits.
func ExampleVerifyChain() {
	node := newFullNode()
	var steps []lightclient.Step
	for height, counter := range []uint64{7, 8, 8} {
		node.write(alice, 0, u64(counter))
		node.write(bob, 0, u64(uint64(height))) // another contract changes at every commit
		root := node.commit()
		steps = append(steps, lightclient.Step{Height: uint64(100 + height), Root: root, Proof: node.provePage(root, alice, 0)})
	}

	versions, err := lightclient.VerifyChain(alice, 0, steps)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, v := range versions {
		fmt.Printf("height %d: counter %d, changed %v\n", v.Height, binary.LittleEndian.Uint64(v.Page), v.Changed)
	}
	fmt.Println("changed at steps", lightclient.Changes(versions))

	// Replaying an older root after a newer one is rejected.
	_, err = lightclient.VerifyChain(alice, 0, []lightclient.Step{steps[1], steps[0]})
	fmt.Println(errors.Is(err, lightclient.ErrOutOfOrder))
	// Output:
	// height 100: counter 7, changed false
	// height 101: counter 8, changed true
	// height 102: counter 8, changed false
	// changed at steps [1]
	// true
}

// Decode accepts both encodings; a JSON proof is accepted exactly when its
// binary form is.
func ExampleDecode() {
	node := newFullNode()
	node.write(alice, 0, []byte("hi"))
	root := node.commit()

	p, _ := lightclient.Decode(node.provePage(root, alice, 0))
	js, _ := p.(*merkle.RangeProof).MarshalJSON()

	page, err := lightclient.VerifyPage(root, alice, 0, js)
	fmt.Println(lightclient.IsJSON(js), string(page[:2]), err)
	// Output: true hi <nil>
}

// Every byte of a proof is bound to the root: flipping one anywhere makes
// it malformed or invalid.
func Example_tampering() {
	node := newFullNode()
	node.write(alice, 0, []byte("pay 10"))
	root := node.commit()
	proof := node.provePage(root, alice, 0)

	forged := bytes.Replace(proof, []byte("pay 10"), []byte("pay 99"), 1)
	_, err := lightclient.VerifyPage(root, alice, 0, forged)
	fmt.Println(errors.Is(err, lightclient.ErrInvalid))
	// Output: true
}
