package codec

import (
	"encoding/hex"
	"strconv"
	"strings"
)

// maxParseDepth bounds tuple nesting in ParseValue.
const maxParseDepth = 32

// ParseValue reads a typed literal, as typed on a command line, and
// returns its rkyv archive. The grammar:
//
//	value  = "()" | tuple | typed | hex
//	tuple  = "(" value { "," value } [ "," ] ")"
//	typed  = ("u8"|"u16"|"u32"|"u64"|"i8"|"i16"|"i32"|"i64") ":" integer
//	       | "bool:" ("true"|"false")
//	       | "id:" 64 hex digits
//	       | "hex:" hex digits (an even number, possibly none)
//	hex    = hex digits (an even number, at least two), optionally after "0x"
//
// Integers are decimal, or Go-style 0x/0o/0b prefixed, underscores allowed,
// with a leading "-" for the signed types. Spaces around elements are
// ignored. Tuples are laid out like structs (see the package
// documentation): each element at its alignment (integers: their size;
// bool, ids and hex bytes: 1), the tuple padded to its largest alignment.
// A one-element tuple is its element. Errors are *ParseError, matching
// ErrParse.
func ParseValue(s string) ([]byte, error) {
	p := &parser{in: s}
	p.skipSpace()
	if p.pos == len(s) {
		return nil, p.errf(0, "empty input", nil)
	}
	v, err := p.value(0)
	if err != nil {
		return nil, err
	}
	p.skipSpace()
	if p.pos != len(s) {
		return nil, p.errf(p.pos, "unexpected "+strconv.Quote(s[p.pos:p.pos+1])+" after value", nil)
	}
	return v.b, nil
}

type parsed struct {
	b     []byte
	align int
}

type parser struct {
	in  string
	pos int
}

func (p *parser) errf(pos int, reason string, err error) error {
	return &ParseError{Input: p.in, Pos: pos, Reason: reason, Err: err}
}

func (p *parser) skipSpace() {
	for p.pos < len(p.in) && (p.in[p.pos] == ' ' || p.in[p.pos] == '\t' || p.in[p.pos] == '\n' || p.in[p.pos] == '\r') {
		p.pos++
	}
}

func (p *parser) value(depth int) (parsed, error) {
	p.skipSpace()
	if p.pos == len(p.in) {
		return parsed{}, p.errf(p.pos, "missing value", nil)
	}
	switch p.in[p.pos] {
	case '(':
		return p.tuple(depth)
	case ')', ',':
		return parsed{}, p.errf(p.pos, "missing value", nil)
	}
	start := p.pos
	for p.pos < len(p.in) && !strings.ContainsRune("(),", rune(p.in[p.pos])) {
		p.pos++
	}
	tok := strings.TrimRight(p.in[start:p.pos], " \t\r\n")
	return p.scalar(tok, start)
}

func (p *parser) tuple(depth int) (parsed, error) {
	open := p.pos
	if depth >= maxParseDepth {
		return parsed{}, p.errf(open, "tuples nested too deeply", nil)
	}
	p.pos++ // '('
	p.skipSpace()
	if p.pos < len(p.in) && p.in[p.pos] == ')' {
		p.pos++
		return parsed{b: []byte{}, align: 1}, nil // ()
	}
	var elems []parsed
	for {
		v, err := p.value(depth + 1)
		if err != nil {
			return parsed{}, err
		}
		elems = append(elems, v)
		p.skipSpace()
		if p.pos == len(p.in) {
			return parsed{}, p.errf(open, "unclosed (", nil)
		}
		c := p.in[p.pos]
		if c == ')' {
			p.pos++
			break
		}
		if c != ',' {
			return parsed{}, p.errf(p.pos, "want , or )", nil)
		}
		p.pos++
		p.skipSpace()
		if p.pos < len(p.in) && p.in[p.pos] == ')' { // trailing comma
			p.pos++
			break
		}
	}
	if len(elems) == 1 {
		return elems[0], nil
	}
	align := 1
	size := 0
	for _, e := range elems {
		align = max(align, e.align)
		size = alignUp(size, e.align) + len(e.b)
	}
	out := make([]byte, alignUp(size, align))
	off := 0
	for _, e := range elems {
		off = alignUp(off, e.align)
		off += copy(out[off:], e.b)
	}
	return parsed{b: out, align: align}, nil
}

func (p *parser) scalar(tok string, pos int) (parsed, error) {
	if tok == "" {
		return parsed{}, p.errf(pos, "missing value", nil)
	}
	typ, lit, typed := strings.Cut(tok, ":")
	if !typed {
		b, err := p.hexBytes(tok, pos, false)
		if err != nil {
			pe := err.(*ParseError)
			pe.Reason += " (typed values are written TYPE:VALUE, e.g. u64:42)"
			return parsed{}, pe
		}
		return parsed{b: b, align: 1}, nil
	}
	typ = strings.TrimSpace(typ)
	litPos := pos + len(tok) - len(lit)
	lit = strings.TrimSpace(lit)
	switch typ {
	case "u8", "u16", "u32", "u64":
		bits, _ := strconv.Atoi(typ[1:])
		u, err := strconv.ParseUint(lit, 0, bits)
		if err != nil {
			return parsed{}, p.errf(litPos, "bad "+typ+" "+strconv.Quote(lit), numErr(err))
		}
		b := make([]byte, bits/8)
		putLE(b, u)
		return parsed{b: b, align: bits / 8}, nil
	case "i8", "i16", "i32", "i64":
		bits, _ := strconv.Atoi(typ[1:])
		i, err := strconv.ParseInt(lit, 0, bits)
		if err != nil {
			return parsed{}, p.errf(litPos, "bad "+typ+" "+strconv.Quote(lit), numErr(err))
		}
		b := make([]byte, bits/8)
		putLE(b, uint64(i))
		return parsed{b: b, align: bits / 8}, nil
	case "bool":
		switch lit {
		case "true":
			return parsed{b: []byte{1}, align: 1}, nil
		case "false":
			return parsed{b: []byte{0}, align: 1}, nil
		}
		return parsed{}, p.errf(litPos, "bad bool "+strconv.Quote(lit)+": want true or false", nil)
	case "id":
		b, err := p.hexBytes(lit, litPos, true)
		if err != nil {
			return parsed{}, err
		}
		if len(b) != 32 {
			return parsed{}, p.errf(litPos, "bad id: want 64 hex digits, got "+strconv.Itoa(2*len(b)), nil)
		}
		return parsed{b: b, align: 1}, nil
	case "hex":
		b, err := p.hexBytes(lit, litPos, true)
		return parsed{b: b, align: 1}, err
	}
	return parsed{}, p.errf(pos, "unknown type "+strconv.Quote(typ), nil)
}

// numErr strips strconv's *NumError wrapper (which repeats the input) but
// keeps its sentinel (strconv.ErrRange or strconv.ErrSyntax).
func numErr(err error) error {
	if ne, ok := err.(*strconv.NumError); ok {
		return ne.Err
	}
	return err
}

func (p *parser) hexBytes(s string, pos int, allowEmpty bool) ([]byte, error) {
	if strings.HasPrefix(s, "0x") || strings.HasPrefix(s, "0X") {
		s = s[2:]
		pos += 2
	}
	if s == "" && !allowEmpty {
		return nil, p.errf(pos, "missing hex digits", nil)
	}
	if len(s)%2 != 0 {
		return nil, p.errf(pos, "odd number of hex digits", nil)
	}
	b, err := hex.DecodeString(s)
	if err != nil {
		off := pos
		if ie, ok := err.(hex.InvalidByteError); ok {
			off = pos + strings.IndexByte(s, byte(ie))
		}
		return nil, p.errf(off, "bad hex "+strconv.Quote(s), err)
	}
	return b, nil
}
