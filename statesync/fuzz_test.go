package statesync

import (
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
		nodes := []*node{{kind: pagestore.KindOwner, hash: ha}, {kind: pagestore.KindOwner, hash: hb}}
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
