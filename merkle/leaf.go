package merkle

import (
	"encoding/binary"
	"encoding/hex"
)

// ContractID identifies a contract: 32 bytes, chosen at deploy.
type ContractID [32]byte

// String returns the id in lower-case hex.
func (id ContractID) String() string { return hex.EncodeToString(id[:]) }

// ParseContractID decodes a 64-character hex string.
func ParseContractID(s string) (ContractID, error) {
	h, err := ParseHash(s)
	if err != nil {
		return ContractID{}, &FormatError{What: "contract id", Offset: -1, Reason: "want 64 hex characters"}
	}
	return ContractID(h), nil
}

// MemoryKind says whether a contract's memory is a wasm32 or a wasm64
// (memory64) memory.
type MemoryKind uint8

// The memory kinds, as encoded in a contract leaf.
const (
	Memory32 MemoryKind = 1
	Memory64 MemoryKind = 2
)

// String returns "wasm32" or "wasm64".
func (k MemoryKind) String() string {
	switch k {
	case Memory32:
		return "wasm32"
	case Memory64:
		return "wasm64"
	}
	return "invalid"
}

// MaxBytes is the largest memory length the kind allows.
func (k MemoryKind) MaxBytes() uint64 {
	if k == Memory32 {
		return 1 << 32
	}
	return MaxMemoryBytes
}

// ContractLeafSize is the size of an encoded contract leaf.
const ContractLeafSize = 32 + 32 + 32 + 1 + 8 + 32 + 32

// ContractLeaf is what the state tree commits to for one contract. Its
// encoding (SPEC.md §4) is the fields in this order, integers little-endian.
type ContractLeaf struct {
	ID          ContractID
	CodeHash    Hash       // HashCode of the wasm bytecode
	OwnerHash   Hash       // HashOwner of the owner bytes
	Kind        MemoryKind // wasm32 or wasm64
	MemoryLen   uint64     // memory length in bytes, a multiple of 64 KiB
	MemoryRoot  Hash       // root of the memory tree
	GlobalsHash Hash       // DomainGlobals hash of the persisted globals
}

// Encode returns the leaf's canonical encoding.
func (l *ContractLeaf) Encode() []byte {
	b := make([]byte, ContractLeafSize)
	l.put(b)
	return b
}

func (l *ContractLeaf) put(b []byte) {
	copy(b[0:32], l.ID[:])
	copy(b[32:64], l.CodeHash[:])
	copy(b[64:96], l.OwnerHash[:])
	b[96] = byte(l.Kind)
	binary.LittleEndian.PutUint64(b[97:105], l.MemoryLen)
	copy(b[105:137], l.MemoryRoot[:])
	copy(b[137:169], l.GlobalsHash[:])
}

// DecodeContractLeaf decodes and checks a leaf encoding.
func DecodeContractLeaf(b []byte) (ContractLeaf, error) {
	var l ContractLeaf
	if len(b) != ContractLeafSize {
		return l, malformed("contract leaf", -1, "length %d, want %d", len(b), ContractLeafSize)
	}
	copy(l.ID[:], b[0:32])
	copy(l.CodeHash[:], b[32:64])
	copy(l.OwnerHash[:], b[64:96])
	l.Kind = MemoryKind(b[96])
	l.MemoryLen = binary.LittleEndian.Uint64(b[97:105])
	copy(l.MemoryRoot[:], b[105:137])
	copy(l.GlobalsHash[:], b[137:169])
	return l, l.Validate()
}

// WasmPageSize is the size of a wasm memory page; memory lengths are
// multiples of it.
const WasmPageSize = 65536

// Validate checks the leaf's field ranges.
func (l *ContractLeaf) Validate() error {
	if l.Kind != Memory32 && l.Kind != Memory64 {
		return malformed("contract leaf", 96, "memory kind %d", l.Kind)
	}
	if l.MemoryLen%WasmPageSize != 0 || l.MemoryLen > l.Kind.MaxBytes() {
		return malformed("contract leaf", 97, "memory length %d", l.MemoryLen)
	}
	return nil
}

// Hash returns the leaf hash, H_contract(encoding).
func (l *ContractLeaf) Hash() Hash {
	var b [ContractLeafSize]byte
	l.put(b[:])
	return DomainContract.Sum(b[:])
}
