package codec

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestFormatValueRoundTrip(t *testing.T) {
	id := strings.Repeat("ab", 32)
	for _, c := range []struct{ typ, lit string }{
		{"u64", "u64:42"},
		{"i32", "i32:-1"},
		{"i8", "i8:-128"},
		{"i16", "i16:-300"},
		{"bool", "bool:true"},
		{"id", "id:" + id},
		{"()", "()"},
		{"(u8,u64)", "(u8:1,u64:2)"},
		{"(id,u64)", "(id:" + id + ",u64:10)"},
		{"(u64,(u8,u32),bool)", "(u64:1,(u8:2,u32:3),bool:false)"},
		{"(u8,hex)", "(u8:7,hex:0a0b0c)"},
		{"hex", "hex:"},
	} {
		b, err := ParseValue(c.lit)
		if err != nil {
			t.Fatalf("%s: %v", c.lit, err)
		}
		got, err := FormatValue(c.typ, b)
		if err != nil || got != c.lit {
			t.Errorf("FormatValue(%s, %x) = %q, %v; want %q", c.typ, b, got, err, c.lit)
			continue
		}
		if again, _ := ParseValue(got); !bytes.Equal(again, b) {
			t.Errorf("%s: round trip changed the bytes", c.lit)
		}
	}
	for _, c := range []struct {
		typ  string
		b    []byte
		want error
	}{
		{"u64", []byte{1, 2, 3}, ErrDecode},
		{"u32", []byte{1, 2, 3, 4, 5}, ErrDecode},
		{"bool", []byte{2}, ErrDecode},
		{"(u8,u64)", append([]byte{1, 9}, make([]byte, 14)...), ErrDecode}, // non-zero padding
		{"(hex,u8)", []byte{1, 2}, ErrParse},
		{"u65", []byte{1}, ErrParse},
		{"(u8", []byte{1}, ErrParse},
		{"", nil, ErrParse},
	} {
		if _, err := FormatValue(c.typ, c.b); !errors.Is(err, c.want) {
			t.Errorf("FormatValue(%q, %x): %v, want %v", c.typ, c.b, err, c.want)
		}
	}
}
