package wasmbin

import (
	"fmt"
	"unicode/utf8"
)

// reader decodes the module bytes b from pos up to end, the end of the
// section or function body being decoded. Positions are offsets in the whole
// module, so errors carry them as they are. Every read checks its bounds.
type reader struct {
	b   []byte
	pos int
	end int
	sec SectionID
}

// fail returns a ValidationError of the given kind at offset off in the
// current section.
func (r *reader) fail(kind error, off int, format string, args ...any) error {
	return &ValidationError{Section: r.sec, Offset: off, Reason: fmt.Sprintf(format, args...), Err: kind}
}

func (r *reader) eof() error {
	return r.fail(ErrMalformed, r.pos, "unexpected end of %v section", r.sec)
}

// left is the number of bytes left before end.
func (r *reader) left() int { return r.end - r.pos }

func (r *reader) byte() (byte, error) {
	if r.pos >= r.end {
		return 0, r.eof()
	}
	c := r.b[r.pos]
	r.pos++
	return c, nil
}

// bytes returns the next n bytes, aliasing the module.
func (r *reader) bytes(n uint32) ([]byte, error) {
	if uint64(n) > uint64(r.left()) {
		return nil, r.eof()
	}
	s := r.b[r.pos : r.pos+int(n) : r.pos+int(n)]
	r.pos += int(n)
	return s, nil
}

// name reads a length-prefixed UTF-8 name, aliasing the module.
func (r *reader) name() ([]byte, error) {
	off := r.pos
	n, err := r.u32()
	if err != nil {
		return nil, err
	}
	s, err := r.bytes(n)
	if err != nil {
		return nil, err
	}
	if !utf8.Valid(s) {
		return nil, r.fail(ErrMalformed, off, "name is not valid UTF-8")
	}
	return s, nil
}

// u32 reads an unsigned LEB128 of at most 5 bytes whose value fits in 32
// bits. An over-long encoding, or unused bits set in the fifth byte, is
// malformed.
func (r *reader) u32() (uint32, error) {
	off := r.pos
	var v uint32
	for i := 0; ; i++ {
		c, err := r.byte()
		if err != nil {
			return 0, err
		}
		if i == 4 {
			if c&0xF0 != 0 {
				return 0, r.fail(ErrMalformed, off, "u32 LEB128 too long or too large")
			}
			return v | uint32(c)<<28, nil
		}
		v |= uint32(c&0x7F) << (7 * i)
		if c&0x80 == 0 {
			return v, nil
		}
	}
}

// u64 reads an unsigned LEB128 of at most 10 bytes whose value fits in 64
// bits.
func (r *reader) u64() (uint64, error) {
	off := r.pos
	var v uint64
	for i := 0; ; i++ {
		c, err := r.byte()
		if err != nil {
			return 0, err
		}
		if i == 9 {
			if c&0xFE != 0 {
				return 0, r.fail(ErrMalformed, off, "u64 LEB128 too long or too large")
			}
			return v | uint64(c)<<63, nil
		}
		v |= uint64(c&0x7F) << (7 * i)
		if c&0x80 == 0 {
			return v, nil
		}
	}
}

// s32 reads a signed LEB128 of at most 5 bytes whose value fits in 32 bits:
// the unused bits of a fifth byte must repeat the sign bit.
func (r *reader) s32() (int32, error) {
	off := r.pos
	var v uint32
	for i := 0; ; i++ {
		c, err := r.byte()
		if err != nil {
			return 0, err
		}
		if i == 4 {
			if c&0x80 != 0 || (c&0x08 == 0 && c&0x70 != 0) || (c&0x08 != 0 && c&0x70 != 0x70) {
				return 0, r.fail(ErrMalformed, off, "s32 LEB128 too long or too large")
			}
			return int32(v | uint32(c&0x0F)<<28), nil
		}
		v |= uint32(c&0x7F) << (7 * i)
		if c&0x80 == 0 {
			if c&0x40 != 0 {
				v |= ^uint32(0) << (7 * (i + 1))
			}
			return int32(v), nil
		}
	}
}

// s64 reads a signed LEB128 of at most 10 bytes whose value fits in 64 bits.
func (r *reader) s64() (int64, error) {
	off := r.pos
	var v uint64
	for i := 0; ; i++ {
		c, err := r.byte()
		if err != nil {
			return 0, err
		}
		if i == 9 {
			if c != 0x00 && c != 0x7F {
				return 0, r.fail(ErrMalformed, off, "s64 LEB128 too long or too large")
			}
			return int64(v | uint64(c&1)<<63), nil
		}
		v |= uint64(c&0x7F) << (7 * i)
		if c&0x80 == 0 {
			if c&0x40 != 0 {
				v |= ^uint64(0) << (7 * (i + 1))
			}
			return int64(v), nil
		}
	}
}

// count reads the length of a vector whose elements take at least one byte
// each. It rejects a count above limit with ErrLimit, and one that cannot fit
// in the rest of the section with ErrMalformed, so that callers may size
// allocations by it.
func (r *reader) count(limit uint32, what string) (uint32, error) {
	off := r.pos
	n, err := r.u32()
	if err != nil {
		return 0, err
	}
	if n > limit {
		return 0, r.fail(ErrLimit, off, "%d %s, limit %d", n, what, limit)
	}
	if uint64(n) > uint64(r.left()) {
		return 0, r.fail(ErrMalformed, off, "%d %s cannot fit in %d bytes", n, what, r.left())
	}
	return n, nil
}

// appendULEB appends v as an unsigned LEB128 of minimal length.
func appendULEB(b []byte, v uint64) []byte {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

// lenULEB is the length of v as an unsigned LEB128 of minimal length.
func lenULEB(v uint64) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}
