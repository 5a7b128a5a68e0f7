package pagestore

import (
	"encoding/binary"
	"fmt"
	"math/bits"

	"github.com/golang/snappy"
	"github.com/wasmstate/wasmstate/merkle"
)

// Stored page encoding (format version 2, SPEC.md §8). A page is stored
// under the hash of its PageSize bytes either as those bytes or, when that
// is shorter, compressed: the tag pageSnappy followed by the snappy block
// encoding of the page. The two cannot be confused: a compressed value is
// shorter than a page. The key, the hash and so sharing between commits
// are those of the page itself, whatever its stored form.
//
// Contract memory is mostly zeros and small integers: a changed page
// compresses to a few hundred bytes, and every byte saved is a byte the
// goleveldb journal, memtable and every later compaction do not copy
// (bench/README.md). Only a backend that asks for it (LevelDB) is given
// compressed pages; readers accept both forms from any backend.

// pageSnappy tags a snappy-compressed page.
const pageSnappy = 0x01

// pageCompressor is a Backend that stores pages compressed.
type pageCompressor interface {
	compressPages()
}

// compressPages reports whether kv stores pages compressed.
func compressPages(kv Backend) bool {
	_, ok := kv.(pageCompressor)
	return ok
}

// encodePage returns the stored form of page (PageSize bytes), built in
// scratch when compressed (scratch grows as needed and is returned for
// reuse), else page itself.
func encodePage(scratch, page []byte) (stored, newScratch []byte) {
	n := 1 + snappy.MaxEncodedLen(len(page))
	if cap(scratch) < n {
		scratch = make([]byte, n)
	}
	scratch = scratch[:n]
	if c, ok := encodeSparse(scratch[1:1], page); ok {
		scratch[0] = pageSnappy
		return scratch[:1+len(c)], scratch
	}
	c := snappy.Encode(scratch[1:], page)
	if 1+len(c) >= len(page) {
		return page, scratch
	}
	scratch[0] = pageSnappy
	return scratch[:1+len(c)], scratch
}

// decodePage returns the page a stored value holds: the value itself if
// it is PageSize bytes, else the page it decompresses to. Any other value
// is an error (a damaged value).
func decodePage(v []byte) ([]byte, error) {
	if len(v) == merkle.PageSize {
		return v, nil
	}
	if len(v) < 2 || v[0] != pageSnappy {
		return nil, fmt.Errorf("length %d, want %d or a compressed page", len(v), merkle.PageSize)
	}
	n, err := snappy.DecodedLen(v[1:])
	if err != nil {
		return nil, fmt.Errorf("compressed page: %v", err)
	}
	if n != merkle.PageSize {
		return nil, fmt.Errorf("compressed page of %d bytes, want %d", n, merkle.PageSize)
	}
	p, err := snappy.Decode(make([]byte, merkle.PageSize), v[1:])
	if err != nil {
		return nil, fmt.Errorf("compressed page: %v", err)
	}
	return p, nil
}

// maxSparseLiteral bounds the non-zero bytes of a page that encodeSparse
// encodes: beyond it, snappy's search for repeats may find what a zero-run
// encoding cannot.
const maxSparseLiteral = 128

// encodeSparse appends to dst the snappy block encoding of page (a
// multiple of 8 bytes long) when its non-zero 8-byte words are at most
// maxSparseLiteral bytes: the non-zero bytes as literals, and each run of
// more than 4 zeros as copies of the zero byte before it (offset 1). That
// is about what snappy.Encode makes of such a page, at about half the CPU
// (snappy hashes its way through every run of zeros): ≈ 195 against ≈ 350
// ns for the commit benchmarks' page (BenchmarkEncodePage). Any snappy
// decoder reads it.
func encodeSparse(dst, page []byte) ([]byte, bool) {
	n := len(page)
	if n%8 != 0 || n == 0 {
		return nil, false
	}
	dst = binary.AppendUvarint(dst, uint64(n))
	// The pending literal is page[lit:end]; zeros follow it up to the
	// next non-zero byte. lit < 0: nothing pending (only zeros so far).
	lit, end := -1, 0
	flush := func(next int) {
		z := next - end
		switch {
		case lit < 0 && z == 0:
			lit = 0
		case z <= 4:
			// Zeros kept in the literal cost fewer bytes than a copy
			// and a new literal's tag.
			if lit < 0 {
				lit = 0
			}
		default:
			if lit < 0 {
				lit = 0
			}
			dst = appendLiteral(dst, page[lit:end+1]) // with the run's first zero
			dst = appendZeroCopies(dst, z-1)
			lit = next
		}
	}
	nonzero := 0
	for o := 0; o+8 <= n; {
		if o+32 <= n {
			w := page[o : o+32]
			if binary.LittleEndian.Uint64(w)|binary.LittleEndian.Uint64(w[8:])|
				binary.LittleEndian.Uint64(w[16:])|binary.LittleEndian.Uint64(w[24:]) == 0 {
				o += 32
				continue
			}
		}
		v := binary.LittleEndian.Uint64(page[o:])
		if v != 0 {
			if nonzero += 8; nonzero > maxSparseLiteral {
				return nil, false
			}
			flush(o + bits.TrailingZeros64(v)/8)
			end = o + 8 - bits.LeadingZeros64(v)/8
		}
		o += 8
	}
	flush(n)
	if lit < n {
		dst = appendLiteral(dst, page[lit:n])
	}
	return dst, true
}

// appendLiteral appends a snappy literal element of lit (1 to 65,536
// bytes; nothing when empty).
func appendLiteral(dst, lit []byte) []byte {
	switch n := len(lit) - 1; {
	case n < 0:
		return dst
	case n < 60:
		dst = append(dst, byte(n)<<2)
	case n < 1<<8:
		dst = append(dst, 60<<2, byte(n))
	default:
		dst = append(dst, 61<<2, byte(n), byte(n>>8))
	}
	return append(dst, lit...)
}

// appendZeroCopies appends snappy copy elements of n bytes at offset 1.
func appendZeroCopies(dst []byte, n int) []byte {
	for n > 64 {
		dst = append(dst, 63<<2|2, 1, 0) // copy, 2-byte offset, length 64
		n -= 64
	}
	switch {
	case n >= 4 && n <= 11:
		dst = append(dst, byte(n-4)<<2|1, 1) // copy, 1-byte offset
	case n > 0:
		dst = append(dst, byte(n-1)<<2|2, 1, 0)
	}
	return dst
}
