package codec

import (
	"bytes"
	"errors"
	"strconv"
	"strings"
	"testing"
)

const hexID = "a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf"

func TestParseValue(t *testing.T) {
	for _, c := range []struct {
		in   string
		want string
	}{
		{"u8:7", "07"},
		{"u8:255", "ff"},
		{"u16:0x1234", "3412"},
		{"u32:4294967295", "ffffffff"},
		{"u64:42", "2a00000000000000"},
		{"u64:1_000", "e803000000000000"},
		{"i8:-128", "80"},
		{"i16:-2", "feff"},
		{"i32:-1", "ffffffff"},
		{"i64:-1", "ffffffffffffffff"},
		{"i64:9223372036854775807", "ffffffffffffff7f"},
		{"bool:true", "01"},
		{"bool:false", "00"},
		{"id:" + hexID, hexID},
		{"hex:0102ff", "0102ff"},
		{"hex:", ""},
		{"0102ff", "0102ff"},
		{"0xABcd", "abcd"},
		{"()", ""},
		{" ( ) ", ""},
		{"(u64:1)", "0100000000000000"},
		{"(u64:1,)", "0100000000000000"},
		{"(id:" + hexID + ",u64:1000)", hexID + "e803000000000000"},
		{"(id:" + hexID + ", u64:1000)", hexID + "e803000000000000"},
		{"(u8:7,u64:1)", "07000000000000000100000000000000"},
		{"(u64:1,u8:7)", "01000000000000000700000000000000"},
		{"(u8:1,u16:2)", "01000200"},
		{"(bool:true,u32:5,u8:9)", "010000000500000009000000"},
		{"(u16:0x0102,hex:010203)", "020101020300"},
		{"(u8:1,(u8:2,u32:3))", "010000000200000003000000"},
		{"((),u8:1)", "01"},
		{"(u8:1, ( ), 02)", "0102"},
		{" u64 : 5 ", "0500000000000000"},
	} {
		got, err := ParseValue(c.in)
		if err != nil {
			t.Errorf("%q: %v", c.in, err)
			continue
		}
		want := unhex(t, c.want)
		if !bytes.Equal(got, want) {
			t.Errorf("%q: got %x, want %x", c.in, got, want)
		}
	}
}

// ParseValue lays tuples out exactly like Struct.
func TestParseMatchesStruct(t *testing.T) {
	id := seqID(0xa0)
	a, _ := ParseValue("(u8:7, (bool:true, u32:2), u16:3)")
	type in struct {
		F bool
		N uint32
	}
	b, _ := MustStruct[T3[uint8, in, uint16]]().Encode(T3[uint8, in, uint16]{7, in{true, 2}, 3})
	if !bytes.Equal(a, b) {
		t.Fatalf("parse %x, struct %x", a, b)
	}
	a, _ = ParseValue("(id:" + hexID + ",u64:1000)")
	b, _ = MustStruct[transferArg]().Encode(transferArg{id, 1000})
	if !bytes.Equal(a, b) {
		t.Fatalf("parse %x, struct %x", a, b)
	}
}

func TestParseErrors(t *testing.T) {
	for _, c := range []struct {
		in     string
		pos    int
		reason string // substring
		err    error  // wrapped, or nil
	}{
		{"", 0, "empty input", nil},
		{"   ", 0, "empty input", nil},
		{"u8:256", 3, "bad u8", strconv.ErrRange},
		{"u8:-1", 3, "bad u8", strconv.ErrSyntax},
		{"u64:", 4, "bad u64", strconv.ErrSyntax},
		{"u64:18446744073709551616", 4, "bad u64", strconv.ErrRange},
		{"i8:128", 3, "bad i8", strconv.ErrRange},
		{"i64:abc", 4, "bad i64", strconv.ErrSyntax},
		{"bool:1", 5, "bad bool", nil},
		{"bool:yes", 5, "bad bool", nil},
		{"id:00", 3, "want 64 hex digits", nil},
		{"id:" + hexID + "00", 3, "want 64 hex digits", nil},
		{"id:zz", 3, "bad hex", nil},
		{"hex:abc", 4, "odd number", nil},
		{"hex:zz", 4, "bad hex", nil},
		{"xyz", 0, "odd number", nil},
		{"u64", 0, "odd number", nil},
		{"zz", 0, "bad hex", nil},
		{"true", 0, "typed values", nil},
		{"f64:1.5", 0, "unknown type", nil},
		{"(", 1, "missing value", nil},
		{"(u8:1", 0, "unclosed", nil},
		{"(u8:1 u8:2)", 4, "bad u8", strconv.ErrSyntax},
		{"(u8:1;u8:2)", 4, "bad u8", strconv.ErrSyntax},
		{"(,)", 1, "missing value", nil},
		{"(u8:1,,u8:2)", 6, "missing value", nil},
		{"u8:1)", 4, "unexpected", nil},
		{"u8:1,u8:2", 4, "unexpected", nil},
		{"()()", 2, "unexpected", nil},
		{")", 0, "missing value", nil},
		{strings.Repeat("(", 40) + "u8:1" + strings.Repeat(")", 40), 32, "nested too deeply", nil},
	} {
		_, err := ParseValue(c.in)
		var pe *ParseError
		if !errors.As(err, &pe) || !errors.Is(err, ErrParse) {
			t.Errorf("%q: err = %v, want *ParseError", c.in, err)
			continue
		}
		if pe.Pos != c.pos || !strings.Contains(pe.Reason, c.reason) || pe.Input != c.in {
			t.Errorf("%q: got pos %d reason %q, want pos %d reason ~%q", c.in, pe.Pos, pe.Reason, c.pos, c.reason)
		}
		if c.err != nil && !errors.Is(err, c.err) {
			t.Errorf("%q: err %v does not wrap %v", c.in, err, c.err)
		}
	}
}
