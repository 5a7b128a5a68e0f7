package statesync

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/wasmstate/wasmstate/merkle"
	"github.com/wasmstate/wasmstate/pagestore"
)

// FuzzDecodeBatch feeds arbitrary peer bytes to the batch decoder: it must
// never panic, and it returns values only when every one of them hashes to
// the hash asked for (anything else is an ErrBadObject).
func FuzzDecodeBatch(f *testing.F) {
	a, b := []byte("owner a"), []byte("owner b")
	ha, hb := merkle.HashOwner(a), merkle.HashOwner(b)
	good := binary.LittleEndian.AppendUint32(nil, uint32(len(a)))
	good = append(good, a...)
	good = binary.LittleEndian.AppendUint32(good, uint32(len(b)))
	good = append(good, b...)
	f.Add(good)
	f.Add(good[:len(good)-1])
	f.Add(append(good, 0))
	f.Add([]byte{})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, body []byte) {
		nodes := []*node{{ref: pagestore.Ref{Kind: pagestore.KindOwner, Hash: ha}}, {ref: pagestore.Ref{Kind: pagestore.KindOwner, Hash: hb}}}
		vs, err := decodeBatch(pagestore.KindOwner, nodes, body, 1024)
		if err != nil {
			if !errors.Is(err, ErrBadObject) {
				t.Fatalf("error %v is not ErrBadObject", err)
			}
			return
		}
		if len(vs) != 2 || merkle.HashOwner(vs[0]) != ha || merkle.HashOwner(vs[1]) != hb {
			t.Fatal("accepted values that do not match their hashes")
		}
	})
}

// testPack is a small state (an inner node over two contract leaves that
// share their code and globals) and its honest pack.
func testPack() (root merkle.Hash, pack []byte) {
	code, globals := []byte("code"), []byte{0, 0, 0, 0}
	var leaves [][]byte
	for i := byte(0); i < 2; i++ {
		l := merkle.ContractLeaf{ID: merkle.ContractID{i}, CodeHash: merkle.HashCode(code), OwnerHash: merkle.HashOwner([]byte{i}),
			Kind: merkle.Memory32, MemoryRoot: merkle.EmptyMemory(merkle.MemoryTreeHeight), GlobalsHash: merkle.DomainGlobals.Sum(globals)}
		leaves = append(leaves, l.Encode())
	}
	a, b := merkle.DomainContract.Sum(leaves[0]), merkle.DomainContract.Sum(leaves[1])
	inner := append(a[:], b[:]...)
	root = merkle.DomainStateNode.Sum2(merkle.Hash(inner[:32]), merkle.Hash(inner[32:]))
	// Pre-order; the second leaf's code and globals are in the pack already.
	recs := [][]byte{inner, leaves[0], code, {0}, globals, leaves[1], {1}}
	for _, r := range recs {
		pack = binary.LittleEndian.AppendUint32(pack, uint32(len(r)))
		pack = append(pack, r...)
	}
	pack = binary.LittleEndian.AppendUint32(pack, packEnd)
	return root, append(pack, packComplete)
}

// FuzzReadPack feeds arbitrary peer bytes to the pack reader: it must
// never panic; every record it returns hashes to the hash its place in the
// subtree's pre-order names; anything else is an ErrBadObject, or an
// ErrTransport for a body that ends early.
func FuzzReadPack(f *testing.F) {
	root, good := testPack()
	f.Add(good)
	f.Add(good[:len(good)-1])
	f.Add(good[:len(good)-6])
	f.Add(append(good[:len(good)-1], packPartial))
	f.Add(append(good, 0))
	f.Add([]byte{})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 1})
	f.Fuzz(func(t *testing.T, body []byte) {
		s := &syncer{opts: Options{MaxObject: 1024, MaxPack: 1 << 16}, fresh: true}
		req := &request{pack: &node{ref: pagestore.Ref{Kind: pagestore.KindStateNode, Hash: root}}}
		out := make(chan result, 16)
		last, _, err := s.readPack(bufio.NewReader(bytes.NewReader(body)), req, out)
		close(out)
		var refs []pagestore.Ref
		var vals [][]byte
		for r := range out {
			refs, vals = append(refs, r.refs...), append(vals, r.vals...)
		}
		refs, vals = append(refs, last.refs...), append(vals, last.vals...)
		if err != nil && !errors.Is(err, ErrBadObject) && !errors.Is(err, ErrTransport) {
			t.Fatalf("error %v is neither ErrBadObject nor ErrTransport", err)
		}
		if bytes.Equal(body, good) && (err != nil || len(refs) != 7) {
			t.Fatalf("the honest pack gave %d records", len(refs))
		}
		for i, r := range refs {
			if pagestore.CheckObject(r.Kind, r.Hash, vals[i]) != nil {
				t.Fatalf("record %d does not match %s %s", i, r.Kind, r.Hash)
			}
		}
		if len(refs) > 0 && refs[0].Hash != root {
			t.Fatal("the first record is not the root")
		}
	})
}
