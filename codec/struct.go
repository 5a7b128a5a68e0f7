package codec

import "reflect"

// StructCodec encodes a Go type T with the archived layout of the
// corresponding Rust type. T may be an unsigned or signed fixed-width
// integer (uint8..uint64, int8..int64), a bool, an array of such types
// ([N]byte, [32]byte ids, ...), or a struct of exported fields of such
// types, nested structs included; struct{} is (). Named types are fine.
// See the package documentation for the layout rules.
type StructCodec[T any] struct {
	n *node
}

// Struct returns the codec for T, or a TypeError (matching
// ErrUnsupported) when T has a field this package cannot lay out: int,
// uint, uintptr, floats, strings, slices, maps, pointers, interfaces,
// channels, functions, or unexported fields.
func Struct[T any]() (*StructCodec[T], error) {
	t := reflect.TypeFor[T]()
	n, err := layoutOf(t, t.String(), "")
	if err != nil {
		return nil, err
	}
	return &StructCodec[T]{n: n}, nil
}

// MustStruct is like Struct but panics on an unsupported type. It is meant
// for package-level variables.
func MustStruct[T any]() *StructCodec[T] {
	c, err := Struct[T]()
	if err != nil {
		panic(err)
	}
	return c
}

// Size is the archived size of T in bytes.
func (c *StructCodec[T]) Size() int { return c.n.size }

// Align is the archived alignment of T in bytes.
func (c *StructCodec[T]) Align() int { return c.n.align }

// Encode returns the archive of v: Size() bytes, padding zeroed.
func (c *StructCodec[T]) Encode(v T) ([]byte, error) {
	b := make([]byte, c.n.size)
	c.n.put(b, reflect.ValueOf(&v).Elem())
	return b, nil
}

// Decode reads an archive of exactly Size() bytes. It fails with a
// DecodeError for any other length and a ValueError for a bool byte other
// than 0 or 1 or a non-zero padding byte.
func (c *StructCodec[T]) Decode(b []byte) (T, error) {
	var v T
	if len(b) != c.n.size {
		return v, &DecodeError{Type: c.n.name, Want: c.n.size, Got: len(b)}
	}
	ctx := decodeCtx{typ: c.n.name}
	if err := c.n.get(&ctx, b, 0, reflect.ValueOf(&v).Elem(), ""); err != nil {
		var zero T
		return zero, err
	}
	return v, nil
}

// Field describes where one field of a struct lies in its archive.
type Field struct {
	Name   string // Go field name
	Type   string // rkyv-style type name: "u64", "[u8; 32]", or a Go struct name
	Offset int
	Size   int
	Align  int
}

// Fields lists T's top-level fields with their archived offsets, in
// declaration order; nil when T is not a struct.
func (c *StructCodec[T]) Fields() []Field {
	var out []Field
	for _, f := range c.n.fields {
		out = append(out, Field{Name: f.name, Type: f.n.name, Offset: f.off, Size: f.n.size, Align: f.n.align})
	}
	return out
}

// T2 is a Rust 2-tuple (A, B).
type T2[A, B any] struct {
	A A
	B B
}

// T3 is a Rust 3-tuple (A, B, C).
type T3[A, B, C any] struct {
	A A
	B B
	C C
}

// Tuple2 returns the codec for the tuple (A, B), e.g.
// Tuple2[ContractID, uint64]() for (ContractId, u64): 40 bytes.
func Tuple2[A, B any]() (*StructCodec[T2[A, B]], error) { return Struct[T2[A, B]]() }

// Tuple3 returns the codec for the tuple (A, B, C).
func Tuple3[A, B, C any]() (*StructCodec[T3[A, B, C]], error) { return Struct[T3[A, B, C]]() }
