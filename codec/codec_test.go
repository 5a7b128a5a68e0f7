package codec

import (
	"bytes"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func seqID(start byte) ContractID {
	var id ContractID
	for i := range id {
		id[i] = start + byte(i)
	}
	return id
}

func TestPrimitives(t *testing.T) {
	check := func(name string, got []byte, err error, want string) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if w := unhex(t, want); !bytes.Equal(got, w) {
			t.Fatalf("%s: got %x, want %x", name, got, w)
		}
	}
	b, err := U8.Encode(7)
	check("u8", b, err, "07")
	b, err = U16.Encode(0x1234)
	check("u16", b, err, "3412")
	b, err = U32.Encode(0xdeadbeef)
	check("u32", b, err, "efbeadde")
	b, err = U64.Encode(42)
	check("u64", b, err, "2a00000000000000")
	b, err = I8.Encode(-2)
	check("i8", b, err, "fe")
	b, err = I16.Encode(-2)
	check("i16", b, err, "feff")
	b, err = I32.Encode(-2)
	check("i32", b, err, "feffffff")
	b, err = I64.Encode(-1)
	check("i64", b, err, "ffffffffffffffff")
	b, err = Bool.Encode(true)
	check("bool", b, err, "01")
	b, err = Bool.Encode(false)
	check("bool", b, err, "00")
	b, err = Unit.Encode(struct{}{})
	check("unit", b, err, "")
	b, err = ID.Encode(seqID(0))
	check("id", b, err, "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f")
	b, err = Bytes(3).Encode([]byte{1, 2, 3})
	check("bytes", b, err, "010203")

	if v, err := I64.Decode(unhex(t, "feffffffffffffff")); err != nil || v != -2 {
		t.Fatalf("i64 decode: %d %v", v, err)
	}
	if v, err := I8.Decode([]byte{0x80}); err != nil || v != -128 {
		t.Fatalf("i8 decode: %d %v", v, err)
	}
	if v, err := U64.Decode(unhex(t, "ffffffffffffffff")); err != nil || v != ^uint64(0) {
		t.Fatalf("u64 decode: %d %v", v, err)
	}
}

func TestSizes(t *testing.T) {
	for _, c := range []struct {
		name        string
		size, align int
		gotS, gotA  int
	}{
		{"u8", 1, 1, U8.Size(), U8.Align()},
		{"u16", 2, 2, U16.Size(), U16.Align()},
		{"u32", 4, 4, U32.Size(), U32.Align()},
		{"u64", 8, 8, U64.Size(), U64.Align()},
		{"i8", 1, 1, I8.Size(), I8.Align()},
		{"i64", 8, 8, I64.Size(), I64.Align()},
		{"bool", 1, 1, Bool.Size(), Bool.Align()},
		{"unit", 0, 1, Unit.Size(), Unit.Align()},
		{"id", 32, 1, ID.Size(), ID.Align()},
		{"bytes5", 5, 1, Bytes(5).Size(), Bytes(5).Align()},
	} {
		if c.gotS != c.size || c.gotA != c.align {
			t.Errorf("%s: size/align %d/%d, want %d/%d", c.name, c.gotS, c.gotA, c.size, c.align)
		}
	}
}

func TestDecodeWrongLength(t *testing.T) {
	cases := []struct {
		name string
		err  error
		typ  string
		want int
		got  int
	}{}
	add := func(name string, err error, typ string, want, got int) {
		cases = append(cases, struct {
			name string
			err  error
			typ  string
			want int
			got  int
		}{name, err, typ, want, got})
	}
	_, err := U64.Decode(make([]byte, 7))
	add("u64 short", err, "u64", 8, 7)
	_, err = U64.Decode(make([]byte, 9))
	add("u64 long", err, "u64", 8, 9)
	_, err = U8.Decode(nil)
	add("u8 empty", err, "u8", 1, 0)
	_, err = Bool.Decode([]byte{0, 0})
	add("bool long", err, "bool", 1, 2)
	_, err = Unit.Decode([]byte{0})
	add("unit", err, "()", 0, 1)
	_, err = ID.Decode(make([]byte, 31))
	add("id", err, "ContractId", 32, 31)
	_, err = Bytes(4).Decode(make([]byte, 3))
	add("bytes", err, "[u8; 4]", 4, 3)
	_, err = MustStruct[transferArg]().Decode(make([]byte, 39))
	add("struct", err, "codec.transferArg", 40, 39)
	for _, c := range cases {
		var de *DecodeError
		if !errors.As(c.err, &de) || !errors.Is(c.err, ErrDecode) {
			t.Errorf("%s: err = %v, want *DecodeError", c.name, c.err)
			continue
		}
		if de.Type != c.typ || de.Want != c.want || de.Got != c.got {
			t.Errorf("%s: got %+v, want {%s %d %d}", c.name, *de, c.typ, c.want, c.got)
		}
	}
}

func TestBoolRejects(t *testing.T) {
	for _, b := range []byte{2, 0x80, 0xff} {
		_, err := Bool.Decode([]byte{b})
		var ve *ValueError
		if !errors.As(err, &ve) || !errors.Is(err, ErrDecode) || ve.Byte != b || ve.Reason != "invalid bool" {
			t.Errorf("bool %#x: err = %v", b, err)
		}
	}
}

func TestBytesEncodeLength(t *testing.T) {
	_, err := Bytes(4).Encode([]byte{1, 2, 3})
	var ee *EncodeError
	if !errors.As(err, &ee) || !errors.Is(err, ErrEncode) || ee.Want != 4 || ee.Got != 3 {
		t.Fatalf("err = %v", err)
	}
	// Decode copies.
	in := []byte{1, 2}
	out, _ := Bytes(2).Decode(in)
	in[0] = 9
	if out[0] != 1 {
		t.Fatal("Bytes.Decode aliases its input")
	}
}
