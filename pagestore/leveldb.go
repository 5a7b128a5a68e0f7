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
	"github.com/syndtr/goleveldb/leveldb/util"
)

// LevelDBOptions returns the options OpenLevelDB uses when given nil: goleveldb
// tuned for wasmstate's workload, which is mostly 4 KiB values under random
// (hash) keys, written in large synced batches and probed with Has before
// every write. Compared with goleveldb's defaults:
//
//   - 32 MiB write buffer and 32 MiB tables (defaults 4 and 2 MiB): fewer,
//     larger flushes and compactions, so each byte is rewritten fewer times;
//     16 MiB measured worse, 64 MiB no better.
//   - Level 1 of 320 MiB (default 10 MiB), x10 per level above it: random
//     keys make every level-0 table overlap all of level 1, and a level 1
//     ten times the write buffer keeps the tree shallow (100 MiB measured
//     worse).
//   - Snappy compression kept: on random pages it costs nothing measurable
//     (snappy gives up on incompressible blocks quickly), and on pages that
//     look like used heap it halves both bytes written and disk space.
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
// Memory cost: up to two write buffers plus the block cache, about 96 MiB.
//
// Bytes written to disk per logical byte, compaction included, measured by
// BenchmarkWriteAmp in bench/writeamp_test.go (100,000 new pages in 100
// synced batches of 1,000; goleveldb v1.0.1-0.20210819022825; two runs
// each):
//
//	                       random pages   compressible pages
//	goleveldb defaults     8.0-8.4        5.6
//	these options          4.0            2.3 (disk used: 0.46 x logical)
//	these, no compression  4.0            4.0 (disk used: 1.03 x logical)
//
// Commit throughput was 3 to 5 times that of the defaults in every run.
func LevelDBOptions() *opt.Options {
	return &opt.Options{
		WriteBuffer:            32 * opt.MiB,
		CompactionTableSize:    32 * opt.MiB,
		CompactionTotalSize:    320 * opt.MiB,
		Compression:            opt.SnappyCompression,
		Filter:                 filter.NewBloomFilter(10),
		BlockCacheCapacity:     32 * opt.MiB,
		DisableSeeksCompaction: true,
		DisableBufferPool:      true,
	}
}

// LevelDB is the default Backend: an embedded goleveldb database in one
// directory.
type LevelDB struct {
	db  *leveldb.DB
	dir string
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
	db, err := leveldb.OpenFile(dir, o)
	if err != nil {
		return nil, openError(dir, err)
	}
	return &LevelDB{db: db, dir: dir}, nil
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
	if err := l.db.Close(); err != nil {
		return l.mapErr("close", []byte(l.dir), err)
	}
	if l.settle && l.wrote.Load() {
		settleJournal(l.dir)
	}
	return nil
}
