package codec

import (
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
)

// FormatValue decodes the archive b as the type typ and writes it as the
// literal ParseValue reads, so that ParseValue(FormatValue(typ, b)) == b.
// typ uses the literal's type names without values:
//
//	type   = "()" | "(" type { "," type } [ "," ] ")" | scalar
//	scalar = "u8"|"u16"|"u32"|"u64"|"i8"|"i16"|"i32"|"i64"|"bool"|"id"|"hex"
//
// "hex" takes every remaining byte, so it may only come last. The layout is
// ParseValue's (each element at its alignment, tuples padded to their
// largest). b must be exactly the type's size, padding zero and bools 0 or
// 1; otherwise the error matches ErrDecode. A malformed typ matches
// ErrParse.
func FormatValue(typ string, b []byte) (string, error) {
	t, err := parseType(typ)
	if err != nil {
		return "", err
	}
	f := &formatter{b: b}
	s, err := f.value(t, true)
	if err != nil {
		return "", err
	}
	if end := alignUp(f.pos, t.align()); end != len(b) {
		return "", fmt.Errorf("%w: %s is %d bytes, got %d", ErrDecode, typ, end, len(b))
	}
	return s, nil
}

// typeNode is a parsed type: a scalar name, or a tuple of elements.
type typeNode struct {
	scalar string
	elems  []*typeNode // tuple (scalar == "")
}

var scalarSizes = map[string]int{"u8": 1, "u16": 2, "u32": 4, "u64": 8, "i8": 1, "i16": 2, "i32": 4, "i64": 8, "bool": 1, "id": 32, "hex": -1}

func (t *typeNode) align() int {
	if t.scalar == "" {
		a := 1
		for _, e := range t.elems {
			a = max(a, e.align())
		}
		return a
	}
	switch t.scalar {
	case "u16", "i16":
		return 2
	case "u32", "i32":
		return 4
	case "u64", "i64":
		return 8
	}
	return 1
}

func parseType(s string) (*typeNode, error) {
	p := &parser{in: s}
	t, err := p.typ(0)
	if err != nil {
		return nil, err
	}
	p.skipSpace()
	if p.pos != len(s) {
		return nil, p.errf(p.pos, "unexpected "+strconv.Quote(s[p.pos:p.pos+1])+" after type", nil)
	}
	return t, nil
}

func (p *parser) typ(depth int) (*typeNode, error) {
	p.skipSpace()
	if p.pos == len(p.in) {
		return nil, p.errf(p.pos, "missing type", nil)
	}
	if p.in[p.pos] == '(' {
		open := p.pos
		if depth >= maxParseDepth {
			return nil, p.errf(open, "tuples nested too deeply", nil)
		}
		p.pos++
		t := &typeNode{}
		for {
			p.skipSpace()
			if p.pos < len(p.in) && p.in[p.pos] == ')' {
				p.pos++
				break
			}
			e, err := p.typ(depth + 1)
			if err != nil {
				return nil, err
			}
			t.elems = append(t.elems, e)
			p.skipSpace()
			if p.pos == len(p.in) {
				return nil, p.errf(open, "unclosed (", nil)
			}
			if p.in[p.pos] == ',' {
				p.pos++
			} else if p.in[p.pos] != ')' {
				return nil, p.errf(p.pos, "want , or )", nil)
			}
		}
		if len(t.elems) == 1 {
			return t.elems[0], nil
		}
		return t, nil
	}
	start := p.pos
	for p.pos < len(p.in) && !strings.ContainsRune("(), \t\r\n", rune(p.in[p.pos])) {
		p.pos++
	}
	name := p.in[start:p.pos]
	if _, ok := scalarSizes[name]; !ok {
		return nil, p.errf(start, "unknown type "+strconv.Quote(name)+" (want u8..u64, i8..i64, bool, id, hex or a tuple)", nil)
	}
	return &typeNode{scalar: name}, nil
}

type formatter struct {
	b   []byte
	pos int
}

func (f *formatter) take(n int, what string) ([]byte, error) {
	if n > len(f.b)-f.pos {
		return nil, fmt.Errorf("%w: %s at offset %d: %d bytes left", ErrDecode, what, f.pos, len(f.b)-f.pos)
	}
	v := f.b[f.pos : f.pos+n]
	f.pos += n
	return v, nil
}

// skipPadding moves to the next multiple of align, requiring zero bytes.
func (f *formatter) skipPadding(align int) error {
	end := alignUp(f.pos, align)
	if end > len(f.b) {
		return fmt.Errorf("%w: padding at offset %d past the end", ErrDecode, f.pos)
	}
	for ; f.pos < end; f.pos++ {
		if f.b[f.pos] != 0 {
			return fmt.Errorf("%w: padding byte %d is %#x, not 0", ErrDecode, f.pos, f.b[f.pos])
		}
	}
	return nil
}

func (f *formatter) value(t *typeNode, last bool) (string, error) {
	if err := f.skipPadding(t.align()); err != nil {
		return "", err
	}
	if t.scalar == "" {
		if len(t.elems) == 0 {
			return "()", nil
		}
		parts := make([]string, len(t.elems))
		for i, e := range t.elems {
			s, err := f.value(e, last && i == len(t.elems)-1)
			if err != nil {
				return "", err
			}
			parts[i] = s
		}
		if err := f.skipPadding(t.align()); err != nil {
			return "", err
		}
		return "(" + strings.Join(parts, ",") + ")", nil
	}
	if t.scalar == "hex" {
		if !last {
			return "", fmt.Errorf("%w: hex takes the remaining bytes, so it must come last", ErrParse)
		}
		v := f.b[f.pos:]
		f.pos = len(f.b)
		return "hex:" + hex.EncodeToString(v), nil
	}
	v, err := f.take(scalarSizes[t.scalar], t.scalar)
	if err != nil {
		return "", err
	}
	var u uint64
	for i := len(v) - 1; i >= 0; i-- {
		u = u<<8 | uint64(v[i])
	}
	switch t.scalar {
	case "u8", "u16", "u32", "u64":
		return t.scalar + ":" + strconv.FormatUint(u, 10), nil
	case "i8":
		return "i8:" + strconv.FormatInt(int64(int8(u)), 10), nil
	case "i16":
		return "i16:" + strconv.FormatInt(int64(int16(u)), 10), nil
	case "i32":
		return "i32:" + strconv.FormatInt(int64(int32(u)), 10), nil
	case "i64":
		return "i64:" + strconv.FormatInt(int64(u), 10), nil
	case "bool":
		switch v[0] {
		case 0:
			return "bool:false", nil
		case 1:
			return "bool:true", nil
		}
		return "", fmt.Errorf("%w: bool byte %#x at offset %d", ErrDecode, v[0], f.pos-1)
	case "id":
		return "id:" + hex.EncodeToString(v), nil
	}
	return "", fmt.Errorf("%w: type %s", ErrUnsupported, t.scalar)
}
