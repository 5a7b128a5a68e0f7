package wasmbin

import (
	"math"
	"testing"
)

func TestLEB(t *testing.T) {
	type tc struct {
		in   []byte
		want int64 // as the reader returns it, converted
		ok   bool
	}
	run := func(t *testing.T, name string, cases []tc, read func(*reader) (int64, error)) {
		t.Run(name, func(t *testing.T) {
			for _, c := range cases {
				r := reader{b: c.in, end: len(c.in)}
				got, err := read(&r)
				if !c.ok {
					if err == nil {
						t.Errorf("% x: got %d, want an error", c.in, got)
					} else {
						wantErr(t, err, ErrMalformed)
					}
					continue
				}
				if err != nil || got != c.want || r.pos != len(c.in) {
					t.Errorf("% x: got %d (pos %d), %v; want %d", c.in, got, r.pos, err, c.want)
				}
			}
		})
	}
	run(t, "u32", []tc{
		{[]byte{0x00}, 0, true},
		{[]byte{0x7F}, 127, true},
		{[]byte{0x80, 0x01}, 128, true},
		{[]byte{0x80, 0x00}, 0, true}, // non-minimal within 5 bytes is allowed
		{[]byte{0xFF, 0xFF, 0xFF, 0xFF, 0x0F}, math.MaxUint32, true},
		{[]byte{0xFF, 0xFF, 0xFF, 0xFF, 0x1F}, 0, false}, // 33 bits
		{[]byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x00}, 0, false},
		{[]byte{0x80}, 0, false},
		{nil, 0, false},
	}, func(r *reader) (int64, error) { v, err := r.u32(); return int64(v), err })
	run(t, "u64", []tc{
		{[]byte{0xE5, 0x8E, 0x26}, 624485, true},
		{[]byte{0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01}, -1, true},
		{[]byte{0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x02}, 0, false},
		{[]byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00}, 0, false},
		{[]byte{0xFF, 0xFF}, 0, false},
	}, func(r *reader) (int64, error) { v, err := r.u64(); return int64(v), err })
	run(t, "s32", []tc{
		{[]byte{0x00}, 0, true},
		{[]byte{0x7F}, -1, true},
		{[]byte{0x3F}, 63, true},
		{[]byte{0x40}, -64, true},
		{[]byte{0xC0, 0xBB, 0x78}, -123456, true},
		{[]byte{0xFF, 0xFF, 0xFF, 0xFF, 0x07}, math.MaxInt32, true},
		{[]byte{0x80, 0x80, 0x80, 0x80, 0x78}, math.MinInt32, true},
		{[]byte{0xFF, 0xFF, 0xFF, 0xFF, 0x0F}, 0, false}, // bit 31 set but positive
		{[]byte{0x80, 0x80, 0x80, 0x80, 0x70}, 0, false}, // bit 31 clear but negative
		{[]byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x00}, 0, false},
		{[]byte{0xC0}, 0, false},
	}, func(r *reader) (int64, error) { v, err := r.s32(); return int64(v), err })
	run(t, "s64", []tc{
		{[]byte{0x7F}, -1, true},
		{[]byte{0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x00}, math.MaxInt64, true},
		{[]byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x7F}, math.MinInt64, true},
		{[]byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01}, 0, false},
		{[]byte{0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7E}, 0, false},
		{[]byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00}, 0, false},
	}, func(r *reader) (int64, error) { v, err := r.s64(); return v, err })
}

func TestAppendULEB(t *testing.T) {
	for _, v := range []uint64{0, 1, 127, 128, 16383, 16384, math.MaxUint32, math.MaxUint64} {
		b := appendULEB(nil, v)
		if len(b) != lenULEB(v) {
			t.Errorf("%d: %d bytes, lenULEB says %d", v, len(b), lenULEB(v))
		}
		r := reader{b: b, end: len(b)}
		got, err := r.u64()
		if err != nil || got != v {
			t.Errorf("%d: read back %d, %v", v, got, err)
		}
	}
}

func TestReaderBounds(t *testing.T) {
	b := []byte{3, 'a', 'b'}
	r := reader{b: b, end: len(b)}
	if _, err := r.name(); err == nil {
		t.Fatal("name longer than the input was read")
	}
	r = reader{b: []byte{2, 0xC3, 0x28}, end: 3}
	_, err := r.name()
	wantErr(t, err, ErrMalformed)
	// end, not len(b), bounds reads.
	r = reader{b: []byte{1, 2, 3}, end: 1}
	if _, err := r.bytes(2); err == nil {
		t.Fatal("read past end")
	}
	// A count is checked against the limit, then against the bytes left.
	_, err = r.count(10, "things")
	wantErr(t, err, ErrMalformed)
	r = reader{b: []byte{11, 0}, end: 2}
	_, err = r.count(10, "things")
	wantErr(t, err, ErrLimit)
}
