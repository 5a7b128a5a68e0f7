package pagestore

import (
	"fmt"

	"github.com/golang/snappy"
	"github.com/wasmstate/wasmstate/merkle"
)

// Stored page encoding (format version 2, SPEC.md §15). A page is stored
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
