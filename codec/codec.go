package codec

import "strconv"

// Codec encodes values of type T to their rkyv archive and back.
type Codec[T any] interface {
	Encode(T) ([]byte, error)
	Decode([]byte) (T, error)
}

// Fixed is a Codec whose archives all have the same size. Every codec in
// this package is a Fixed.
type Fixed[T any] interface {
	Codec[T]
	// Size is the archived size in bytes.
	Size() int
	// Align is the archived alignment in bytes.
	Align() int
}

// ContractID is the archived form of a contract id: 32 bytes, alignment 1.
// It converts to and from any other [32]byte type, such as
// merkle.ContractID.
type ContractID = [32]byte

// Ready codecs for the primitive types.
var (
	U8  Fixed[uint8]  = intCodec[uint8]{"u8", 1}
	U16 Fixed[uint16] = intCodec[uint16]{"u16", 2}
	U32 Fixed[uint32] = intCodec[uint32]{"u32", 4}
	U64 Fixed[uint64] = intCodec[uint64]{"u64", 8}
	I8  Fixed[int8]   = intCodec[int8]{"i8", 1}
	I16 Fixed[int16]  = intCodec[int16]{"i16", 2}
	I32 Fixed[int32]  = intCodec[int32]{"i32", 4}
	I64 Fixed[int64]  = intCodec[int64]{"i64", 8}

	// Bool is one byte, 0 or 1.
	Bool Fixed[bool] = boolCodec{}
	// Unit is (): zero bytes.
	Unit Fixed[struct{}] = unitCodec{}
	// ID is a contract id: its 32 bytes.
	ID Fixed[ContractID] = idCodec{}
)

type integer interface {
	~uint8 | ~uint16 | ~uint32 | ~uint64 | ~int8 | ~int16 | ~int32 | ~int64
}

type intCodec[T integer] struct {
	name string
	size int
}

func (c intCodec[T]) Size() int  { return c.size }
func (c intCodec[T]) Align() int { return c.size }

func (c intCodec[T]) Encode(v T) ([]byte, error) {
	b := make([]byte, c.size)
	putLE(b, uint64(v))
	return b, nil
}

func (c intCodec[T]) Decode(b []byte) (T, error) {
	if len(b) != c.size {
		return 0, &DecodeError{Type: c.name, Want: c.size, Got: len(b)}
	}
	// Converting to a narrower or signed T keeps the low bits, which is
	// two's complement sign handling for the signed types.
	return T(getLE(b)), nil
}

// putLE writes the len(b) low bytes of v to b, little-endian.
func putLE(b []byte, v uint64) {
	for i := range b {
		b[i] = byte(v >> (8 * i))
	}
}

// getLE reads len(b) <= 8 little-endian bytes.
func getLE(b []byte) uint64 {
	var v uint64
	for i := len(b) - 1; i >= 0; i-- {
		v = v<<8 | uint64(b[i])
	}
	return v
}

type boolCodec struct{}

func (boolCodec) Size() int  { return 1 }
func (boolCodec) Align() int { return 1 }

func (boolCodec) Encode(v bool) ([]byte, error) {
	if v {
		return []byte{1}, nil
	}
	return []byte{0}, nil
}

func (boolCodec) Decode(b []byte) (bool, error) {
	if len(b) != 1 {
		return false, &DecodeError{Type: "bool", Want: 1, Got: len(b)}
	}
	switch b[0] {
	case 0:
		return false, nil
	case 1:
		return true, nil
	}
	return false, &ValueError{Type: "bool", Offset: 0, Byte: b[0], Reason: "invalid bool"}
}

type unitCodec struct{}

func (unitCodec) Size() int  { return 0 }
func (unitCodec) Align() int { return 1 }

func (unitCodec) Encode(struct{}) ([]byte, error) { return []byte{}, nil }

func (unitCodec) Decode(b []byte) (struct{}, error) {
	if len(b) != 0 {
		return struct{}{}, &DecodeError{Type: "()", Want: 0, Got: len(b)}
	}
	return struct{}{}, nil
}

type idCodec struct{}

func (idCodec) Size() int  { return 32 }
func (idCodec) Align() int { return 1 }

func (idCodec) Encode(id ContractID) ([]byte, error) {
	b := make([]byte, 32)
	copy(b, id[:])
	return b, nil
}

func (idCodec) Decode(b []byte) (ContractID, error) {
	var id ContractID
	if len(b) != 32 {
		return id, &DecodeError{Type: "ContractId", Want: 32, Got: len(b)}
	}
	copy(id[:], b)
	return id, nil
}

// Bytes returns a codec for a byte array of n bytes ([u8; n] in Rust) held
// in a Go slice. Encode fails with an EncodeError unless the slice has
// exactly n bytes; Decode returns a fresh copy. Bytes panics if n < 0.
func Bytes(n int) Fixed[[]byte] {
	if n < 0 {
		panic("codec: Bytes with negative length")
	}
	return bytesCodec(n)
}

type bytesCodec int

func (c bytesCodec) Size() int  { return int(c) }
func (c bytesCodec) Align() int { return 1 }

func (c bytesCodec) name() string { return "[u8; " + strconv.Itoa(int(c)) + "]" }

func (c bytesCodec) Encode(v []byte) ([]byte, error) {
	if len(v) != int(c) {
		return nil, &EncodeError{Type: c.name(), Want: int(c), Got: len(v)}
	}
	return append([]byte{}, v...), nil
}

func (c bytesCodec) Decode(b []byte) ([]byte, error) {
	if len(b) != int(c) {
		return nil, &DecodeError{Type: c.name(), Want: int(c), Got: len(b)}
	}
	return append([]byte{}, b...), nil
}
