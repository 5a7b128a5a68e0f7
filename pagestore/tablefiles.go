package pagestore

import (
	"bufio"
	"sync"

	"github.com/syndtr/goleveldb/leveldb"
	"github.com/syndtr/goleveldb/leveldb/opt"
	"github.com/syndtr/goleveldb/leveldb/storage"
)

// Table file I/O. goleveldb writes a table one block at a time straight to
// its file: with 4 KiB blocks and 4 KiB pages, one write system call per
// page each time a flush or a compaction rewrites it, the largest single
// cost of compaction on the project machine (bench/README.md). The storage
// below buffers table writes; the journal and the manifest are written as
// goleveldb writes them (their writes are what a crash must find).

// tableWriteBuffer is the buffer of a table file being written.
const tableWriteBuffer = 256 << 10

// tableStorage is goleveldb's file storage with buffered table writes.
type tableStorage struct {
	storage.Storage
}

// openDB opens the goleveldb database in dir over tableStorage. Closing
// the returned DB does not close the storage: call closeDB.
func openDB(dir string, o *opt.Options) (*leveldb.DB, storage.Storage, error) {
	fs, err := storage.OpenFile(dir, o.GetReadOnly())
	if err != nil {
		return nil, nil, err
	}
	stor := tableStorage{fs}
	db, err := leveldb.Open(stor, o)
	if err != nil {
		fs.Close()
		return nil, nil, err
	}
	return db, stor, nil
}

// closeDB closes db, then its storage (which releases the directory's
// lock).
func closeDB(db *leveldb.DB, stor storage.Storage) error {
	err := db.Close()
	if serr := stor.Close(); err == nil {
		err = serr
	}
	return err
}

var tableBuffers = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, tableWriteBuffer) }}

// Create implements storage.Storage.
func (s tableStorage) Create(fd storage.FileDesc) (storage.Writer, error) {
	w, err := s.Storage.Create(fd)
	if err != nil || fd.Type != storage.TypeTable {
		return w, err
	}
	b := tableBuffers.Get().(*bufio.Writer)
	b.Reset(w)
	return &tableWriter{w: w, b: b}, nil
}

// tableWriter buffers a table file's writes. goleveldb syncs a finished
// table before it records it in the manifest: Sync writes the buffer out
// first.
type tableWriter struct {
	w storage.Writer
	b *bufio.Writer
}

func (t *tableWriter) Write(p []byte) (int, error) { return t.b.Write(p) }

func (t *tableWriter) Sync() error {
	if err := t.b.Flush(); err != nil {
		return err
	}
	return t.w.Sync()
}

func (t *tableWriter) Close() error {
	if t.b == nil {
		return t.w.Close()
	}
	err := t.b.Flush()
	if cerr := t.w.Close(); err == nil {
		err = cerr
	}
	t.b.Reset(nil)
	tableBuffers.Put(t.b)
	t.b = nil
	return err
}
