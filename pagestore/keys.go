package pagestore

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"

	"github.com/wasmstate/wasmstate/merkle"
)

// Kind is the kind of a stored value. Its byte value is the one-byte key
// prefix the value is stored under (see the key layout in store.go).
type Kind byte

// The kinds of stored values, with their key prefixes.
const (
	KindPage       Kind = 'p' // a page of memory, PageSize bytes
	KindMemoryNode Kind = 'm' // an inner memory-tree node, left || right
	KindStateNode  Kind = 's' // a state-tree node: left || right, or a contract leaf
	KindCode       Kind = 'c' // a contract's wasm bytecode
	KindOwner      Kind = 'o' // a contract's owner bytes
	KindGlobals    Kind = 'g' // a contract's persisted globals
	KindCommit     Kind = 'r' // a commit record, keyed by its state root
	KindHead       Kind = 'H' // the head marker (a single key)
	KindVersion    Kind = 'V' // the format version record (a single key)
	KindGCMarker   Kind = 'G' // present while a GC sweep is under way
	KindBlob       Kind = 'x' // an opaque engine-owned blob
)

// String returns the kind's name.
func (k Kind) String() string {
	switch k {
	case KindPage:
		return "page"
	case KindMemoryNode:
		return "memory node"
	case KindStateNode:
		return "state node"
	case KindCode:
		return "code"
	case KindOwner:
		return "owner"
	case KindGlobals:
		return "globals"
	case KindCommit:
		return "commit record"
	case KindHead:
		return "head"
	case KindVersion:
		return "version record"
	case KindGCMarker:
		return "gc marker"
	case KindBlob:
		return "blob"
	}
	return fmt.Sprintf("kind(%#x)", byte(k))
}

// objectKinds are the content-addressed kinds, in the order GC sweeps them:
// parents (state nodes, memory nodes) before what they reference.
var objectKinds = [...]Kind{KindStateNode, KindMemoryNode, KindPage, KindCode, KindOwner, KindGlobals}

func isObjectKind(k Kind) bool {
	for _, o := range objectKinds {
		if o == k {
			return true
		}
	}
	return false
}

// keyLen is the length of the key of a content-addressed object or commit record.
const keyLen = 1 + merkle.HashSize

// objKey is the store key of a hash-keyed value: prefix || hash. It is an
// array so it can key maps and the cache without allocating.
type objKey [keyLen]byte

func makeKey(k Kind, h merkle.Hash) objKey {
	var o objKey
	o[0] = byte(k)
	copy(o[1:], h[:])
	return o
}

func (o objKey) kind() Kind        { return Kind(o[0]) }
func (o objKey) hash() merkle.Hash { return merkle.Hash(o[1:]) }

// parseKey splits a backend key into an objKey; ok is false if it has the
// wrong length.
func parseKey(key []byte) (objKey, bool) {
	var o objKey
	if len(key) != keyLen {
		return o, false
	}
	copy(o[:], key)
	return o, true
}

// verify checks that value is a well-formed value of kind k hashing to h.
// It returns a *CorruptionError describing the first fault, or nil.
func verify(k Kind, h merkle.Hash, value []byte) *CorruptionError {
	var got merkle.Hash
	switch k {
	case KindPage:
		if len(value) != merkle.PageSize {
			return &CorruptionError{Kind: k, Key: h, Reason: fmt.Sprintf("length %d, want %d", len(value), merkle.PageSize)}
		}
		got = merkle.DomainPage.Sum(value)
	case KindMemoryNode:
		if len(value) != 2*merkle.HashSize {
			return &CorruptionError{Kind: k, Key: h, Reason: fmt.Sprintf("length %d, want %d", len(value), 2*merkle.HashSize)}
		}
		got = merkle.DomainMemoryNode.Sum2(merkle.Hash(value[:32]), merkle.Hash(value[32:]))
	case KindStateNode:
		switch len(value) {
		case 2 * merkle.HashSize:
			got = merkle.DomainStateNode.Sum2(merkle.Hash(value[:32]), merkle.Hash(value[32:]))
		case merkle.ContractLeafSize:
			got = merkle.DomainContract.Sum(value)
		default:
			return &CorruptionError{Kind: k, Key: h, Reason: fmt.Sprintf("length %d, want %d or %d", len(value), 2*merkle.HashSize, merkle.ContractLeafSize)}
		}
	case KindCode:
		got = merkle.DomainCode.Sum(value)
	case KindOwner:
		got = merkle.DomainOwner.Sum(value)
	case KindGlobals:
		got = merkle.DomainGlobals.Sum(value)
	default:
		return &CorruptionError{Kind: k, Key: h, Reason: "not a content-addressed kind"}
	}
	if got != h {
		return &CorruptionError{Kind: k, Key: h, Reason: "value hashes to " + got.String()}
	}
	return nil
}

// castagnoli checksums the records that are not content addressed, so that
// every backend (not only leveldb, whose blocks carry their own CRC) detects
// a damaged record.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func appendCRC(b []byte, prefix []byte) []byte {
	c := crc32.Update(0, castagnoli, prefix)
	c = crc32.Update(c, castagnoli, b)
	return binary.LittleEndian.AppendUint32(b, c)
}

// checkCRC verifies the trailing CRC-32C of b (computed over prefix || body)
// and returns the body.
func checkCRC(b []byte, prefix []byte) ([]byte, bool) {
	if len(b) < 4 {
		return nil, false
	}
	body := b[:len(b)-4]
	c := crc32.Update(0, castagnoli, prefix)
	c = crc32.Update(c, castagnoli, body)
	return body, c == binary.LittleEndian.Uint32(b[len(b)-4:])
}
