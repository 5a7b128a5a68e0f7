package codec

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
)

type transferArg struct {
	To     ContractID
	Amount uint64
}

type u8u64 struct {
	A uint8
	B uint64
}

type u64u8 struct {
	A uint64
	B uint8
}

type inner struct {
	Flag bool
	N    uint32
}

type outer struct {
	X     uint8
	In    inner
	Y     uint16
	Arr   [3]uint16
	Ins   [2]inner
	Tag   [5]byte
	Neg   int32
	Empty struct{}
	Last  bool
}

type amount uint64
type myID [32]byte

type named struct {
	Who myID
	Amt amount
	I8  int8
}

// layoutCase: a Go type's codec, a value, and its expected archive.
type layoutCase struct {
	name   string
	size   int
	align  int
	encode func() ([]byte, error)
	decode func([]byte) (any, error)
	value  any
	want   string // hex, spaces ignored
}

func mk[T any](name string, size, align int, v T, want string) layoutCase {
	c := MustStruct[T]()
	return layoutCase{
		name: name, size: size, align: align, value: v, want: want,
		encode: func() ([]byte, error) { return c.Encode(v) },
		decode: func(b []byte) (any, error) { return c.Decode(b) },
	}
}

func layoutCases() []layoutCase {
	id := seqID(0xa0)
	idHex := "a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf"
	return []layoutCase{
		mk("(ContractId, u64)", 40, 8, transferArg{id, 1000}, idHex+"e803000000000000"),
		mk("(u8, u64)", 16, 8, u8u64{7, 1}, "07 00000000000000 0100000000000000"),
		mk("(u64, u8)", 16, 8, u64u8{1, 7}, "0100000000000000 07 00000000000000"),
		mk("T2[u8,u16]", 4, 2, T2[uint8, uint16]{1, 2}, "01 00 0200"),
		mk("T3[bool,u32,u8]", 12, 4, T3[bool, uint32, uint8]{true, 5, 9}, "01 000000 05000000 09 000000"),
		mk("T2[u16,[3]byte]", 6, 2, T2[uint16, [3]byte]{0x0102, [3]byte{1, 2, 3}}, "0201 010203 00"),
		mk("T2[i64,i8]", 16, 8, T2[int64, int8]{-1, -1}, "ffffffffffffffff ff 00000000000000"),
		mk("unit", 0, 1, struct{}{}, ""),
		mk("u64", 8, 8, uint64(42), "2a00000000000000"),
		mk("id", 32, 1, id, idHex),
		mk("[2]u32", 8, 4, [2]uint32{1, 2}, "01000000 02000000"),
		mk("named", 48, 8, named{myID(id), 3, -3}, idHex+"0300000000000000 fd 00000000000000"),
		mk("outer", 52, 4, outer{
			X:    1,
			In:   inner{true, 2},
			Y:    3,
			Arr:  [3]uint16{4, 5, 6},
			Ins:  [2]inner{{false, 7}, {true, 8}},
			Tag:  [5]byte{'h', 'e', 'l', 'l', 'o'},
			Neg:  -1,
			Last: true,
		},
			// X @0, pad 1..4, In @4 (Flag @4, pad 5..8, N @8), Y @12,
			// Arr @14..20, Ins @20 (8 bytes each) ..36, Tag @36..41,
			// pad 41..44, Neg @44, Empty @48 (0 bytes), Last @48, pad 49..52.
			"01 000000 01 000000 02000000 0300 0400 0500 0600"+
				"00 000000 07000000 01 000000 08000000"+
				"68656c6c6f 000000 ffffffff 01 000000"),
	}
}

func TestStructLayouts(t *testing.T) {
	for _, c := range layoutCases() {
		t.Run(c.name, func(t *testing.T) {
			want := unhex(t, c.want)
			if len(want) != c.size {
				t.Fatalf("test bug: want has %d bytes, size %d", len(want), c.size)
			}
			got, err := c.encode()
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("encode:\n got %x\nwant %x", got, want)
			}
			back, err := c.decode(got)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(back, c.value) {
				t.Fatalf("round trip: got %+v, want %+v", back, c.value)
			}
		})
	}
}

func TestStructSizeAlign(t *testing.T) {
	check := func(name string, size, align, wantSize, wantAlign int) {
		t.Helper()
		if size != wantSize || align != wantAlign {
			t.Errorf("%s: size/align %d/%d, want %d/%d", name, size, align, wantSize, wantAlign)
		}
	}
	c1 := MustStruct[transferArg]()
	check("transfer", c1.Size(), c1.Align(), 40, 8)
	c2 := MustStruct[outer]()
	check("outer", c2.Size(), c2.Align(), 52, 4)
	c3, err := Tuple2[ContractID, uint64]()
	if err != nil {
		t.Fatal(err)
	}
	check("tuple2", c3.Size(), c3.Align(), 40, 8)
	c4 := MustStruct[[0]uint64]()
	check("[0]u64", c4.Size(), c4.Align(), 0, 8)

	f := MustStruct[u8u64]().Fields()
	want := []Field{{"A", "u8", 0, 1, 1}, {"B", "u64", 8, 8, 8}}
	if !reflect.DeepEqual(f, want) {
		t.Errorf("Fields = %+v", f)
	}
}

// Primitive codecs and Struct agree.
func TestStructMatchesPrimitives(t *testing.T) {
	a, _ := MustStruct[int16]().Encode(-300)
	b, _ := I16.Encode(-300)
	if !bytes.Equal(a, b) {
		t.Fatalf("%x != %x", a, b)
	}
	v, err := MustStruct[int16]().Decode(b)
	if err != nil || v != -300 {
		t.Fatal(v, err)
	}
}

func TestStructRejects(t *testing.T) {
	good, _ := MustStruct[outer]().Encode(outer{In: inner{Flag: true}})
	cases := []struct {
		name   string
		off    int
		val    byte
		reason string
		field  string
	}{
		{"padding after X", 1, 1, "non-zero padding", ""},
		{"padding after X last", 3, 0x80, "non-zero padding", ""},
		{"padding inside In", 5, 1, "non-zero padding", ""},
		{"padding inside Ins[1]", 29, 1, "non-zero padding", ""},
		{"padding after Tag", 43, 1, "non-zero padding", ""},
		{"tail padding", 51, 1, "non-zero padding", ""},
		{"bool In.Flag", 4, 2, "invalid bool", "In.Flag"},
		{"bool Ins[0].Flag", 20, 0xff, "invalid bool", "Ins[0].Flag"},
		{"bool Last", 48, 3, "invalid bool", "Last"},
	}
	for _, c := range cases {
		b := bytes.Clone(good)
		b[c.off] = c.val
		_, err := MustStruct[outer]().Decode(b)
		var ve *ValueError
		if !errors.As(err, &ve) || !errors.Is(err, ErrDecode) {
			t.Errorf("%s: err = %v", c.name, err)
			continue
		}
		if ve.Offset != c.off || ve.Byte != c.val || ve.Reason != c.reason || ve.Field != c.field {
			t.Errorf("%s: got %+v", c.name, *ve)
		}
	}
	// (u8, u64): each of the 7 padding bytes is checked.
	for i := 1; i < 8; i++ {
		b := make([]byte, 16)
		b[i] = 1
		if _, err := MustStruct[u8u64]().Decode(b); !errors.Is(err, ErrDecode) {
			t.Errorf("(u8,u64) padding byte %d accepted", i)
		}
	}
	for i := 9; i < 16; i++ {
		b := make([]byte, 16)
		b[i] = 1
		if _, err := MustStruct[u64u8]().Decode(b); !errors.Is(err, ErrDecode) {
			t.Errorf("(u64,u8) padding byte %d accepted", i)
		}
	}
}

func TestStructUnsupported(t *testing.T) {
	type withString struct{ S string }
	type withInt struct{ N int }
	type withSlice struct{ B []byte }
	type withPtr struct{ P *uint64 }
	type withFloat struct{ F float64 }
	type withUnexported struct {
		A uint8
		b uint8
	}
	type nestedBad struct {
		Ok  uint8
		Bad [2]struct{ X uintptr }
	}
	check := func(name string, err error, field string) {
		t.Helper()
		var te *TypeError
		if !errors.As(err, &te) || !errors.Is(err, ErrUnsupported) {
			t.Errorf("%s: err = %v", name, err)
			return
		}
		if te.Field != field {
			t.Errorf("%s: field %q, want %q", name, te.Field, field)
		}
	}
	_, err := Struct[withString]()
	check("string", err, "S")
	_, err = Struct[withInt]()
	check("int", err, "N")
	_, err = Struct[withSlice]()
	check("slice", err, "B")
	_, err = Struct[withPtr]()
	check("ptr", err, "P")
	_, err = Struct[withFloat]()
	check("float", err, "F")
	_, err = Struct[withUnexported]()
	check("unexported", err, "b")
	_, err = Struct[nestedBad]()
	check("nested", err, "Bad[].X")
	_, err = Struct[string]()
	check("top-level", err, "")
	defer func() {
		if recover() == nil {
			t.Error("MustStruct did not panic")
		}
	}()
	MustStruct[withString]()
}

// Decode followed by Encode is the identity on accepted input.
func TestDecodeCanonical(t *testing.T) {
	c := MustStruct[outer]()
	in, _ := c.Encode(outer{X: 9, In: inner{true, 77}, Neg: -5, Tag: [5]byte{1}})
	v, err := c.Decode(in)
	if err != nil {
		t.Fatal(err)
	}
	out, _ := c.Encode(v)
	if !bytes.Equal(in, out) {
		t.Fatal("not canonical")
	}
}
