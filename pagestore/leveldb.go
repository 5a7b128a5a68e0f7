package pagestore

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/syndtr/goleveldb/leveldb"
	lerrors "github.com/syndtr/goleveldb/leveldb/errors"
	"github.com/syndtr/goleveldb/leveldb/filter"
	"github.com/syndtr/goleveldb/leveldb/opt"
	"github.com/syndtr/goleveldb/leveldb/storage"
	"github.com/syndtr/goleveldb/leveldb/util"
)

// LevelDBOptions returns the options OpenLevelDB uses when given nil: goleveldb
// tuned for wasmstate's workload: pages (compressed, pagecodec.go: a few
// hundred bytes for typical contract memory, 4 KiB at most) and 64-byte
// tree nodes under random (hash) keys, about eight records per changed
// page, written in large synced batches. Compared with goleveldb's
// defaults:
//
//   - 8 MiB write buffer (default 4 MiB) and 32 MiB tables (default 2 MiB).
//     The memtable is a skip list that every record of a commit is inserted
//     into: since pages are stored compressed, a 32 MiB memtable held four
//     times the records and each insert walked colder nodes (the committing
//     thread's CPU per changed page went from 14 to 22 µs, BenchmarkCommitDisk).
//   - Level-0 compaction at 32 tables (default 4; writes slowed at 48 and
//     paused at 64). Random keys make every level-0 table overlap all of
//     level 1, so each level-0 compaction rewrites the whole of level 1:
//     waiting for 32 tables rewrites it an eighth as often (process CPU per
//     changed page over 400 commits of 256 pages: 22.8 µs at 4 tables, 17.2
//     at 16; over 2,000 commits, medians of 3: 21.2 at 16, 18.2 at 32).
//     A read checks each level-0 table's bloom filter first. More tables
//     with a smaller buffer (4 MiB, 48 tables) made the commits cheaper
//     over 80 commits but dearer over 2,000: goleveldb merges its inputs
//     by scanning every one of them per key.
//   - 16 KiB blocks (default 4 KiB): a compaction reads its input tables a
//     block per system call and allocation, and at 4 KiB those reads were
//     a fifth of its CPU (over 2,000 commits: 18.2 µs per changed page at 4 KiB, 17.4 at
//     16). A point read decodes 16 KiB instead of 4 (cold first calls,
//     BenchmarkFirstCall, unchanged).
//   - Level 1 of 320 MiB (default 10 MiB), x10 per level above it: a level 1
//     much larger than a level-0 compaction's input keeps the tree shallow
//     (100 MiB measured worse).
//   - Snappy compression of blocks kept: it compresses code, records and
//     blobs, and gives up quickly on blocks of hashes and compressed pages.
//   - A 10-bit bloom filter (none by default): the Has probe before each
//     write is usually a miss for a new page, which the filter answers
//     without reading a block.
//   - 32 MiB block cache (default 8 MiB).
//   - Seek-triggered compaction off: random tree reads across levels must
//     not cause rewrites.
//   - goleveldb's buffer pool off. The block cache charges a block the
//     capacity of its buffer, and the pool hands a small block a recycled
//     buffer of any larger size (up to a whole table's index block, MiBs):
//     one such block could charge the whole cache and flush it, and then
//     every Has read a table index of MiBs from the file again (measured:
//     commits of 256 pages taking 400 ms instead of 10 ms once the store
//     held 80 MB).
//
// Memory cost: up to two write buffers plus the block cache, about 48 MiB.
//
// Bytes written to disk per logical byte, compaction included
// (BenchmarkWriteAmp in bench/writeamp_test.go: 100,000 new pages in 100
// synced batches of 1,000; one run each, 1 Dec 2026): random pages 2.7
// (4.0 with level-0 compaction at 16 tables and 4 KiB blocks, as with the
// options and format before them: 32 MiB buffer, trigger 4, pages stored
// whole), heap-like pages 0.81 (1.1 at 16 tables, 2.3 before; disk used
// 0.40 x logical, was 0.46), at 150 and 207 MB/s of commits (168 and 227
// at 16 tables, in the same one-run comparison: bench/out/i10s2-writeamp-*).
//
// OpenLevelDB also writes table files through a buffer (tablefiles.go).
func LevelDBOptions() *opt.Options {
	return &opt.Options{
		WriteBuffer:            8 * opt.MiB,
		CompactionL0Trigger:    32,
		WriteL0SlowdownTrigger: 48,
		WriteL0PauseTrigger:    64,
		CompactionTableSize:    32 * opt.MiB,
		CompactionTotalSize:    320 * opt.MiB,
		Compression:            opt.SnappyCompression,
		Filter:                 filter.NewBloomFilter(10),
		BlockCacheCapacity:     32 * opt.MiB,
		DisableSeeksCompaction: true,
		DisableBufferPool:      true,
		BlockSize:              16 * opt.KiB,
	}
}

// LevelDB is the default Backend: an embedded goleveldb database in one
// directory.
type LevelDB struct {
	db   *leveldb.DB
	stor storage.Storage // see openDB
	dir  string
	// settle: Close replays a large journal into a table (settle.go); set
	// for stores opened by Open, with LevelDBOptions.
	settle  bool
	wrote   atomic.Bool // a batch was written since the open
	batches sync.Pool   // *levelBatch, see releaseBatch
}

// OpenLevelDB opens (creating if needed) the goleveldb database in dir. A nil
// o means LevelDBOptions().
func OpenLevelDB(dir string, o *opt.Options) (*LevelDB, error) {
	if o == nil {
		o = LevelDBOptions()
	}
	db, stor, err := openDB(dir, o)
	if err != nil {
		return nil, openError(dir, err)
	}
	return &LevelDB{db: db, stor: stor, dir: dir}, nil
}

// openError wraps an error of goleveldb's OpenFile.
func openError(dir string, err error) error {
	if isLockHeld(err) {
		return fmt.Errorf("pagestore: open leveldb %s: %w: %v", dir, ErrLocked, err)
	}
	if lerrors.IsCorrupted(err) {
		return fmt.Errorf("pagestore: open leveldb %s: %w: %v%s", dir, ErrCorrupt, err, missingFiles(err))
	}
	return fmt.Errorf("pagestore: open leveldb %s: %w", dir, err)
}

// missingFiles names the files goleveldb found missing, which its error
// message ("file missing") leaves out.
func missingFiles(err error) string {
	c, ok := err.(*lerrors.ErrCorrupted)
	if !ok {
		return ""
	}
	m, ok := c.Err.(*lerrors.ErrMissingFiles)
	if !ok || len(m.Fds) == 0 {
		return ""
	}
	names := make([]string, len(m.Fds))
	for i, fd := range m.Fds {
		names[i] = fd.String()
	}
	return " (" + strings.Join(names, ", ") + ")"
}

// DB returns the underlying goleveldb handle, for statistics
// (GetProperty, Stats) and benchmarks. Writing through it bypasses the
// Store's checks.
func (l *LevelDB) DB() *leveldb.DB { return l.db }

// mapErr turns goleveldb's errors into the package's sentinels so that the
// Store can tell a missing key and a damaged one apart whatever the backend.
func (l *LevelDB) mapErr(op string, key []byte, err error) error {
	switch {
	case errors.Is(err, leveldb.ErrNotFound):
		return fmt.Errorf("pagestore: leveldb: %s %x: %w", op, key, ErrNotFound)
	case errors.Is(err, leveldb.ErrClosed):
		return fmt.Errorf("pagestore: leveldb: %s %x: %w", op, key, ErrClosed)
	case errors.Is(err, leveldb.ErrReadOnly):
		return fmt.Errorf("pagestore: leveldb: %s %x: %w", op, key, ErrReadOnly)
	case lerrors.IsCorrupted(err):
		return fmt.Errorf("pagestore: leveldb: %s %x: %w: %v", op, key, ErrCorrupt, err)
	}
	return fmt.Errorf("pagestore: leveldb: %s %x: %w", op, key, err)
}

// Get implements Backend.
func (l *LevelDB) Get(key []byte) ([]byte, error) {
	v, err := l.db.Get(key, nil)
	if err != nil {
		return nil, l.mapErr("get", key, err)
	}
	return v, nil
}

// Has implements Backend.
func (l *LevelDB) Has(key []byte) (bool, error) {
	ok, err := l.db.Has(key, nil)
	if err != nil {
		return false, l.mapErr("has", key, err)
	}
	return ok, nil
}

type levelBatch struct{ b leveldb.Batch }

func (b *levelBatch) Put(key, value []byte) { b.b.Put(key, value) }
func (b *levelBatch) Delete(key []byte)     { b.b.Delete(key) }
func (b *levelBatch) Len() int              { return b.b.Len() }
func (b *levelBatch) Size() int             { return len(b.b.Dump()) }
func (b *levelBatch) Reset()                { b.b.Reset() }

// NewBatch implements Backend.
func (l *LevelDB) NewBatch() WriteBatch { return &levelBatch{} }

// NewBatchSize returns a batch with room for about bytes of keys and values.
func (l *LevelDB) NewBatchSize(bytes int) WriteBatch {
	return &levelBatch{b: *leveldb.MakeBatch(bytes)}
}

func (l *LevelDB) newBatchSized(_, bytes int) WriteBatch {
	if b, ok := l.batches.Get().(*levelBatch); ok {
		if cap(b.b.Dump()) >= bytes {
			return b
		}
	}
	return l.NewBatchSize(bytes)
}

// maxPooledBatch bounds the batches kept for reuse (a GC sweep's or a large
// deploy's batch is let go).
const maxPooledBatch = 16 << 20

// releaseBatch takes back a batch written (or abandoned) by a commit: a
// commit's batch is a megabyte or more, and a fresh one costs its
// allocation and the page faults of zeroed memory every time (2 µs per
// changed page in BenchmarkCommitDisk). goleveldb has copied what it needs
// when Write returns.
func (l *LevelDB) releaseBatch(wb WriteBatch) {
	if b, ok := wb.(*levelBatch); ok && cap(b.b.Dump()) <= maxPooledBatch {
		b.b.Reset()
		l.batches.Put(b)
	}
}

func (l *LevelDB) sortedWrites() {}

func (l *LevelDB) compressPages() {}

// Write implements Backend: one goleveldb batch, journaled and (with sync)
// fsynced before Write returns.
func (l *LevelDB) Write(wb WriteBatch, sync bool) error {
	b, ok := wb.(*levelBatch)
	if !ok {
		return fmt.Errorf("pagestore: leveldb: write: batch of type %T: %w", wb, ErrInvalid)
	}
	l.wrote.Store(true)
	if err := l.db.Write(&b.b, &opt.WriteOptions{Sync: sync}); err != nil {
		return l.mapErr("write", nil, err)
	}
	return nil
}

// Iterate implements Backend over an implicit goleveldb snapshot.
func (l *LevelDB) Iterate(prefix []byte, fn func(key, value []byte) error) error {
	var r *util.Range
	if len(prefix) > 0 {
		r = util.BytesPrefix(prefix)
	}
	it := l.db.NewIterator(r, &opt.ReadOptions{DontFillCache: true})
	defer it.Release()
	for it.Next() {
		if err := fn(it.Key(), it.Value()); err != nil {
			return err
		}
	}
	if err := it.Error(); err != nil {
		return l.mapErr("iterate", prefix, err)
	}
	return nil
}

// Close implements Backend. After a clean close of a store that wrote a
// large journal, it settles the journal (settle.go).
func (l *LevelDB) Close() error {
	if err := closeDB(l.db, l.stor); err != nil {
		return l.mapErr("close", []byte(l.dir), err)
	}
	if l.settle && l.wrote.Load() {
		settleJournal(l.dir)
	}
	return nil
}
