// Package merkle defines wasmstate's commitment scheme: how pages, memories,
// contracts and the whole state are hashed, and how proofs about them are
// built, encoded and verified.
//
// The package imports only the standard library and github.com/zeebo/blake3,
// so a light client can verify proofs without cgo, wasmtime or a database.
//
// # Verifying
//
// There is one way to verify: state the claim. A client knows what it asked
// for, so it calls the verifier of that claim with the root it trusts and
// the decoded proof, and gets the proven data or an error:
//
//	VerifyPage(root, id, index, p)            page index of id's memory
//	VerifyRange(root, id, offset, length, p)  bytes of id's memory
//	VerifyContract(root, id, p)               id's leaf (code, owner, memory root...)
//	VerifyAbsence(root, id, p)                no contract id
//
// Decode the proof first with DecodeProof (binary, SPEC.md §7.3) or
// DecodeProofJSON (§7.5). Package lightclient wraps exactly these for
// callers holding encoded bytes (its VerifyPage takes []byte and accepts
// either encoding). VerifyAny checks a proof about whatever it claims and
// reports what that is: for tools that display proofs, not for
// clients, which would then have to compare the claim themselves. Every
// failure matches ErrMalformed, ErrProofInvalid or ErrOutOfRange (SPEC.md
// §7.4 says which, in which order).
package merkle

import (
	"encoding/hex"
	"sync"

	"github.com/zeebo/blake3"
)

// HashSize is the size in bytes of every hash in wasmstate.
const HashSize = 32

// Hash is a 32-byte BLAKE3 digest.
type Hash [HashSize]byte

// String returns the hash in lower-case hex.
func (h Hash) String() string { return hex.EncodeToString(h[:]) }

// IsZero reports whether h is all zero bytes.
func (h Hash) IsZero() bool { return h == Hash{} }

// ParseHash decodes a 64-character hex string into a Hash.
func ParseHash(s string) (Hash, error) {
	var h Hash
	if len(s) != 2*HashSize {
		return h, &FormatError{What: "hash", Offset: -1, Reason: "want 64 hex characters"}
	}
	if _, err := hex.Decode(h[:], []byte(s)); err != nil {
		return h, &FormatError{What: "hash", Offset: -1, Reason: "not hex"}
	}
	return h, nil
}

// Domain is one of the hash domains of wasmstate. Every domain hashes with
// BLAKE3 in keyed mode; the key of a domain is
// BLAKE3-derive_key(context = DomainContextPrefix + name, key material = "").
// Keyed mode costs no extra input bytes (a 4 KiB page stays four chunks)
// and no input of one domain can be read as another's, as the keys differ.
//
// Only the eight constants below are domains. Key, Sum and Sum2 panic for
// any other value (Domain(8) and up), as an out-of-range index does: it is
// a programming error, never a consequence of input (TestDomainOutOfRange).
type Domain uint8

// The hash domains, in the order SPEC.md lists them.
const (
	DomainPage       Domain = iota // a page of linear memory (PageSize bytes)
	DomainMemoryNode               // an inner node of a memory tree: left || right
	DomainContract                 // a contract leaf (ContractLeafSize bytes)
	DomainStateNode                // an inner node of the state tree: left || right
	DomainStateKey                 // a contract id, giving its path in the state tree
	DomainOwner                    // a contract's owner bytes
	DomainGlobals                  // a contract's persisted mutable globals
	DomainCode                     // a contract's wasm bytecode
	numDomains
)

// DomainContextPrefix is the common prefix of every domain's derive_key context.
const DomainContextPrefix = "wasmstate v1 "

var domainNames = [numDomains]string{
	DomainPage:       "page",
	DomainMemoryNode: "memory node",
	DomainContract:   "contract leaf",
	DomainStateNode:  "state node",
	DomainStateKey:   "state key",
	DomainOwner:      "owner",
	DomainGlobals:    "globals",
	DomainCode:       "code",
}

// String returns the domain's name, as used in its derive_key context.
func (d Domain) String() string {
	if d < numDomains {
		return domainNames[d]
	}
	return "unknown"
}

var (
	domainKeys  [numDomains][32]byte
	hasherPools [numDomains]sync.Pool
)

func init() {
	for d := Domain(0); d < numDomains; d++ {
		blake3.DeriveKey(DomainContextPrefix+domainNames[d], nil, domainKeys[d][:])
		key := domainKeys[d]
		hasherPools[d].New = func() any {
			h, err := blake3.NewKeyed(key[:])
			if err != nil {
				panic(err) // unreachable: the key is 32 bytes
			}
			return h
		}
	}
	initKeyWords()
	initEmpty()
}

// Key returns the 32-byte BLAKE3 key of the domain.
func (d Domain) Key() [32]byte { return domainKeys[d] }

// Sum hashes data in domain d.
func (d Domain) Sum(data []byte) Hash {
	h := hasherPools[d].Get().(*blake3.Hasher)
	h.Reset()
	h.Write(data)
	var out Hash
	h.Sum(out[:0])
	hasherPools[d].Put(h)
	return out
}

// Sum2 hashes left || right in domain d: one BLAKE3 compression.
func (d Domain) Sum2(left, right Hash) Hash { return sum2(d, &left, &right) }

// HashPage returns the leaf hash of a page. page must be PageSize bytes;
// shorter input is hashed as if padded with zeros, so that the last page of
// an odd-sized buffer and an absent page hash consistently.
func HashPage(page []byte) Hash {
	if len(page) == PageSize {
		return DomainPage.Sum(page)
	}
	var buf [PageSize]byte
	copy(buf[:], page)
	return DomainPage.Sum(buf[:])
}

// HashCode returns the code hash of a contract's wasm bytecode.
func HashCode(code []byte) Hash { return DomainCode.Sum(code) }

// HashOwner returns the hash of a contract's owner bytes.
func HashOwner(owner []byte) Hash { return DomainOwner.Sum(owner) }

// StateKey returns the path of a contract id in the state tree.
func StateKey(id ContractID) Hash { return DomainStateKey.Sum(id[:]) }
