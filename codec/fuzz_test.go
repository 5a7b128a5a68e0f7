package codec

import (
	"bytes"
	"errors"
	"testing"
)

func FuzzParseValue(f *testing.F) {
	for _, s := range []string{
		"u8:7", "u16:0x10", "u32:1", "u64:42", "i64:-1", "i8:-128", "bool:true",
		"id:" + hexID, "hex:0102", "0102", "()", "(u64:1,id:" + hexID + ")",
		"(u8:1,(bool:false,u32:2),)", "(u8:1", "u8:256", "((((()))))", "(,)",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out, err := ParseValue(in)
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) || !errors.Is(err, ErrParse) {
				t.Fatalf("%q: error %v is not a *ParseError", in, err)
			}
			if pe.Pos < 0 || pe.Pos > len(in) {
				t.Fatalf("%q: position %d out of range", in, pe.Pos)
			}
			return
		}
		// A value is its own 1-tuple, and a leading () changes nothing.
		for _, w := range []string{"(" + in + ")", "(" + in + ",)", "((), " + in + ")"} {
			got, err := ParseValue(w)
			if err != nil {
				var pe *ParseError
				if errors.As(err, &pe) && pe.Reason == "tuples nested too deeply" {
					continue
				}
				t.Fatalf("%q parses but %q does not: %v", in, w, err)
			}
			if !bytes.Equal(got, out) {
				t.Fatalf("%q = %x but %q = %x", in, out, w, got)
			}
		}
	})
}

func FuzzStructDecode(f *testing.F) {
	c := MustStruct[outer]()
	good, _ := c.Encode(outer{X: 1, In: inner{true, 2}, Neg: -1, Tag: [5]byte{'a'}, Last: true})
	f.Add(good)
	f.Add(make([]byte, c.Size()))
	f.Add([]byte{})
	f.Add(make([]byte, 16))
	bad := bytes.Clone(good)
	bad[1] = 1
	f.Add(bad)
	pair := MustStruct[u8u64]()
	f.Fuzz(func(t *testing.T, in []byte) {
		check := func(name string, size int, decode func([]byte) (any, error), encode func(any) []byte) {
			v, err := decode(in)
			if err != nil {
				if !errors.Is(err, ErrDecode) {
					t.Fatalf("%s: error %v does not match ErrDecode", name, err)
				}
				var de *DecodeError
				var ve *ValueError
				if len(in) != size && !errors.As(err, &de) {
					t.Fatalf("%s: wrong length gave %v", name, err)
				}
				if len(in) == size && (!errors.As(err, &ve) || ve.Offset < 0 || ve.Offset >= size || in[ve.Offset] != ve.Byte) {
					t.Fatalf("%s: bad ValueError %v", name, err)
				}
				return
			}
			if out := encode(v); !bytes.Equal(out, in) {
				t.Fatalf("%s: decode/encode not canonical: %x -> %x", name, in, out)
			}
		}
		check("outer", c.Size(),
			func(b []byte) (any, error) { return c.Decode(b) },
			func(v any) []byte { b, _ := c.Encode(v.(outer)); return b })
		check("(u8,u64)", pair.Size(),
			func(b []byte) (any, error) { return pair.Decode(b) },
			func(v any) []byte { b, _ := pair.Encode(v.(u8u64)); return b })
	})
}
