package instrument

import "fmt"

// reader decodes b from pos up to end (a section's or a body's end).
// Positions are offsets in the whole module. Every read checks its bounds
// and LEB128 is read as strictly as the binary format requires, so that
// the rewrite never turns bytes a validator would reject into bytes it
// accepts.
type reader struct {
	b   []byte
	pos int
	end int
}

func (r *reader) fail(kind error, off int, format string, args ...any) error {
	return &Error{Offset: off, Reason: fmt.Sprintf(format, args...), Err: kind}
}

func (r *reader) byte() (byte, error) {
	if r.pos >= r.end {
		return 0, r.fail(ErrMalformed, r.pos, "unexpected end")
	}
	c := r.b[r.pos]
	r.pos++
	return c, nil
}

func (r *reader) skip(n uint64) error {
	if n > uint64(r.end-r.pos) {
		return r.fail(ErrMalformed, r.pos, "unexpected end")
	}
	r.pos += int(n)
	return nil
}

// leb reads an LEB128 of at most bits bits. For an unsigned one, the
// unused bits of its last possible byte must be zero; for a signed one,
// they must repeat the sign bit. The value comes back as raw bits
// (sign-extended to 64 for signed reads).
func (r *reader) leb(bits uint, signed bool) (uint64, error) {
	off := r.pos
	var v uint64
	var shift uint
	for {
		c, err := r.byte()
		if err != nil {
			return 0, err
		}
		if shift+7 >= bits {
			// The last byte the encoding may take: no continuation, and
			// the bits above the value's width zero (or the sign's).
			used := bits - shift
			rest := c & 0x7F >> used
			ok := c&0x80 == 0 && rest == 0
			if signed {
				sign := c >> (used - 1) & 1
				ok = c&0x80 == 0 && rest == byte(sign*(0x7F>>used))
			}
			if !ok {
				return 0, r.fail(ErrMalformed, off, "LEB128 too long or out of range for %d bits", bits)
			}
			v |= uint64(c&0x7F) << shift
			shift += 7
			break
		}
		v |= uint64(c&0x7F) << shift
		shift += 7
		if c&0x80 == 0 {
			break
		}
	}
	if signed && shift < 64 && v>>(shift-1)&1 != 0 {
		v |= ^uint64(0) << shift
	}
	return v, nil
}

func (r *reader) u32() (uint32, error) {
	v, err := r.leb(32, false)
	return uint32(v), err
}

func (r *reader) u64() (uint64, error) { return r.leb(64, false) }

// s33 reads a signed 33-bit LEB128 (block types, heap types).
func (r *reader) s33() (int64, error) {
	v, err := r.leb(33, true)
	return int64(v), err
}

// name skips a length-prefixed name.
func (r *reader) name() error {
	n, err := r.u32()
	if err != nil {
		return err
	}
	return r.skip(uint64(n))
}

// appendULEB appends v as an unsigned LEB128 of minimal length.
func appendULEB(b []byte, v uint64) []byte {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}
