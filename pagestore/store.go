// Package pagestore is wasmstate's content-addressed store: pages, memory-
// and state-tree nodes, code, owners and globals are stored under their
// hash, so identical values are stored once across contracts and commits,
// and every value read back is rehashed before it is returned. On top of the
// objects it keeps one commit record per state root, a head marker, a mark-
// and-sweep garbage collector and an integrity checker (Fsck).
//
// The store sits on a small Backend interface (get, has, atomic batch write
// with explicit sync, prefix iteration, close). LevelDB (goleveldb, one
// directory) is the default backend; MemoryBackend serves tests.
//
// # Key layout
//
// Every key starts with a one-byte prefix naming what it holds. Hashes are
// the 32-byte BLAKE3 domain hashes of package merkle; integers are
// little-endian.
//
//	key            value
//	'p' || hash    page: merkle.PageSize bytes, or 0x01 || snappy block of
//	               the page when shorter (pagecodec.go); DomainPage.Sum(page)
//	               == hash
//	'm' || hash    memory-tree inner node: left || right (64 bytes);
//	               DomainMemoryNode.Sum2(left, right) == hash
//	's' || hash    state-tree node: left || right (64 bytes, DomainStateNode.Sum2)
//	               or a contract leaf (merkle.ContractLeafSize bytes,
//	               DomainContract.Sum)
//	'c' || hash    wasm bytecode; DomainCode.Sum(value) == hash
//	'o' || hash    owner bytes; DomainOwner.Sum(value) == hash
//	'g' || hash    persisted globals; DomainGlobals.Sum(value) == hash
//	'r' || root    commit record of the state root (encoding below)
//	'H'            head: version (1 byte, = 1) || root (32) || CRC-32C (4)
//	'V'            format version: "WSPS" || uint32 FormatVersion; written when
//	               the database is created, checked at every open (1 is
//	               accepted and moved to 2 by a writer, see FormatVersion)
//	'G'            present only while a GC sweep runs: version (1 byte, = 1) ||
//	               n (uint32) || n pinned roots (32 each) || CRC-32C (4)
//	'x' || key     engine-owned opaque blob (e.g. compiled code):
//	               value || CRC-32C (4); GC leaves blobs alone unless told
//
// Never stored: the all-zero page (merkle.EmptyPageHash), every all-zero
// memory subtree (merkle.EmptyMemory(h)), and the empty state
// (merkle.EmptyState(), the zero hash). The getters answer for them without
// reading the backend.
//
// Every CRC-32C (Castagnoli) covers the key followed by the value bytes
// before it, so a record copied under another key is detected as well.
//
// # Commit record ('r' || root)
//
//	offset  size  field
//	0       1     record version, = 1
//	1       32    parent root (the zero hash: the empty state)
//	33      8     creation time, unix nanoseconds, int64
//	41      4     n, number of contracts changed, uint32
//	45      32*n  ids of the contracts changed, in the committer's order
//	45+32n  4     CRC-32C of key || bytes [0, 45+32n)
//
// # Invariants
//
// A commit is one synced backend batch, so a crash leaves it wholly present
// or wholly absent. Commit refuses a batch whose new nodes reference an
// object that is neither in the batch nor already stored, and objects are
// only deleted by GC, which deletes only what no commit record, the head nor
// a pinned root reaches. So every object reachable from a stored root is
// stored. GC marks its sweep with the 'G' key: if a process dies mid-sweep,
// the next open finishes the sweep before any commit can deduplicate
// against a half-deleted subtree.
package pagestore

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wasmstate/wasmstate/merkle"
)

// FormatVersion is the version of the key layout and record encodings this
// package writes. Version 2 may store a page compressed (pagecodec.go);
// a version 1 store is a valid version 2 store (its pages are all stored
// as they are), so Open reads one as it is and, when it opens it for
// writing, moves its version record to 2 before anything is written: from
// then on a build that reads only version 1 refuses it (ErrVersion)
// instead of misreading a compressed page as a damaged one.
const FormatVersion = 2

// minFormatVersion is the oldest format version Open accepts.
const minFormatVersion = 1

// versionMagic starts the 'V' record so that a foreign database with a 'V'
// key is not mistaken for an old pagestore.
const versionMagic = "WSPS"

// DefaultCacheBytes is the cache budget used when Options.CacheBytes is 0.
const DefaultCacheBytes = 64 << 20

// Options configure a Store. The zero value is usable.
type Options struct {
	// CacheBytes bounds the LRU cache of verified values, in bytes; 0 means
	// DefaultCacheBytes and a negative value disables the cache.
	CacheBytes int64
	// RecoverJournal lets Open recover from a damaged goleveldb journal
	// that loses acknowledged commits: they are dropped and listed in
	// Store.JournalReport. Without it Open fails with a *JournalError
	// naming them (journal.go).
	RecoverJournal bool
	// ReadOnly opens an existing store for reading only: the backend takes
	// a shared lock, so several read-only opens may run at once (but not
	// beside a writer), and every write fails with ErrReadOnly. An
	// interrupted GC is not finished (Commit would fail anyway).
	ReadOnly bool
	// NoCreate makes Open fail with ErrNoStore rather than create a store
	// in a missing or empty directory.
	NoCreate bool
	// LockWait is how long Open retries while another process holds the
	// store's lock, before failing with ErrLocked (0: fail at once).
	LockWait time.Duration
}

// Stats are counters of a Store's cache.
type Stats struct {
	CacheHits    int64 // reads answered from the cache
	CacheMisses  int64 // reads that went to the backend
	CacheEntries int   // values cached now
	CacheBytes   int64 // bytes charged to the cache now (values + overhead)
	CacheBudget  int64 // the cache's byte bound
}

// Store is the typed, verifying store. It is safe for concurrent use:
// reads never block each other; Commit, SetHead, DeleteCommit and GC are
// serialised by one store-wide write lock; Fsck excludes only GC.
type Store struct {
	kv    Backend
	cache *cache

	// mu serialises every writer of objects, records and the head, and is
	// held for the whole of GC, so no commit interleaves with a sweep.
	mu sync.Mutex
	// gcMu lets Fsck run beside commits but not beside a sweep, which
	// would make live-but-garbage objects look missing.
	gcMu sync.RWMutex
	// gcPending holds the error of an interrupted GC that could not be
	// finished at open; Commit refuses to run while it is set.
	gcPending error
	// sweepGen is odd while a GC sweep deletes. A reader caches what it
	// read only if no sweep ran meanwhile: otherwise a reader of garbage
	// (an unpinned, deleted root) could re-cache an object the sweep just
	// deleted, and a later commit would skip writing it as present.
	sweepGen atomic.Uint64

	// empty maps the hash of every all-zero memory subtree to its height
	// (0 is the zero page); such subtrees are never stored.
	empty map[merkle.Hash]int

	// clog records acknowledged commits, so that Open can tell when a
	// damaged journal lost some (journal.go); nil for custom backends.
	clog          *commitLog
	journalReport *JournalReport
	// readOnly: opened with Options.ReadOnly.
	readOnly bool
	// pageScratch holds a page being compressed for the backend (under mu).
	pageScratch []byte
	// partial is the backend of a partial store (partial.go), read
	// directly: its objects were hashed when staged.
	partial *MemoryBackend
}

// Open opens a store in a goleveldb database in dir, with LevelDBOptions.
// ctx bounds what opening may have to do at length: finishing a GC sweep
// a crash interrupted (if ctx ends first, the store opens with commits
// refused until a later open or GC finishes it).
// It creates the store if dir is missing or empty (unless o.NoCreate or
// o.ReadOnly), and refuses with ErrNotStore a directory that holds files but
// no database; a database of another program fails with ErrVersion. See
// Options for read-only opens and waiting for the lock.
func Open(ctx context.Context, dir string, o *Options) (*Store, error) {
	if o == nil {
		o = &Options{}
	}
	st, err := ProbeDir(dir)
	if err != nil {
		return nil, err
	}
	switch st {
	case DirMissing, DirEmpty:
		if o.NoCreate || o.ReadOnly {
			return nil, fmt.Errorf("pagestore: open %s: %w", dir, ErrNoStore)
		}
	case DirOther:
		return nil, fmt.Errorf("pagestore: open %s: %w: it holds files but no store", dir, ErrNotStore)
	case DirDatabase:
		if err := checkCurrent(dir); err != nil {
			return nil, err
		}
	}
	if o.ReadOnly {
		// A read-only open writes nothing: no journal recovery and no
		// commit log (journal.go), which only writers keep.
		lo := LevelDBOptions()
		lo.ReadOnly = true
		db, err := openLevelDBWait(dir, lo, o.LockWait)
		if err != nil {
			return nil, err
		}
		// It still checks, without writing, that no acknowledged commit
		// was lost: a reader must not be shown a state that silently
		// lacks them either.
		if err := checkCommitLog(dir, db); err != nil {
			db.Close()
			return nil, err
		}
		s, err := newStore(ctx, db, o)
		if err != nil {
			db.Close()
			return nil, err
		}
		return s, nil
	}
	var db *LevelDB
	var cl *commitLog
	var rep *JournalReport
	deadline := time.Now().Add(o.LockWait)
	for {
		db, cl, rep, err = openLevelDBChecked(dir, o)
		if err == nil || !errors.Is(err, ErrLocked) || !time.Now().Before(deadline) {
			break
		}
		time.Sleep(min(lockRetry, time.Until(deadline)))
	}
	if err != nil {
		if errors.Is(err, ErrLocked) && o.LockWait > 0 {
			err = fmt.Errorf("%w (waited %v)", err, o.LockWait)
		}
		return nil, err
	}
	s, err := newStore(ctx, db, o)
	if err != nil {
		db.Close()
		return nil, err
	}
	if err := s.attachCommitLog(dir, cl, rep); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// NewStore returns a store over kv, which it then owns (Close closes it).
// An empty backend is initialised with the version record; a non-empty one
// must carry this FormatVersion. If the backend holds the marker of an
// interrupted GC, NewStore finishes that GC first; should that fail, the
// store still opens for reading and Fsck, but Commit fails with ErrGCPending
// until a GC succeeds.
func NewStore(kv Backend, o *Options) (*Store, error) {
	return newStore(context.Background(), kv, o)
}

func newStore(ctx context.Context, kv Backend, o *Options) (*Store, error) {
	if kv == nil {
		return nil, fmt.Errorf("pagestore: new store: %w: nil backend", ErrInvalid)
	}
	if o == nil {
		o = &Options{}
	}
	budget := o.CacheBytes
	if budget == 0 {
		budget = DefaultCacheBytes
	}
	s := &Store{
		kv:    kv,
		cache: newCache(budget),
		empty: make(map[merkle.Hash]int, merkle.MemoryTreeHeight+1),
	}
	for h := 0; h <= merkle.MemoryTreeHeight; h++ {
		s.empty[merkle.EmptyMemory(h)] = h
	}
	s.readOnly = o.ReadOnly
	if err := s.checkVersion(); err != nil {
		return nil, err
	}
	if s.readOnly {
		if has, err := s.kv.Has([]byte{byte(KindGCMarker)}); err == nil && has {
			s.gcPending = fmt.Errorf("pagestore: %w: open the store for writing to finish it", ErrGCPending)
		}
		return s, nil
	}
	if err := s.resumeGC(ctx); err != nil {
		s.gcPending = err
	}
	return s, nil
}

func encodeVersion() []byte {
	return binary.LittleEndian.AppendUint32([]byte(versionMagic), FormatVersion)
}

// checkVersion writes the version record into an empty backend, and checks
// it in any other.
func (s *Store) checkVersion() error {
	key := []byte{byte(KindVersion)}
	v, err := s.kv.Get(key)
	if errors.Is(err, ErrNotFound) {
		empty := true
		errStop := errors.New("stop")
		if err := s.kv.Iterate(nil, func(_, _ []byte) error { empty = false; return errStop }); err != nil && err != errStop {
			return fmt.Errorf("pagestore: open: check version: %w", err)
		}
		if !empty {
			return &VersionError{Want: FormatVersion, Reason: "no version record in a non-empty database: not a pagestore"}
		}
		if s.readOnly {
			return fmt.Errorf("pagestore: open: %w: empty database", ErrNoStore)
		}
		b := s.kv.NewBatch()
		b.Put(key, encodeVersion())
		if err := s.kv.Write(b, true); err != nil {
			return fmt.Errorf("pagestore: open: write version record: %w", err)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("pagestore: open: read version record: %w", err)
	}
	if len(v) != len(versionMagic)+4 || string(v[:len(versionMagic)]) != versionMagic {
		return &VersionError{Want: FormatVersion, Reason: fmt.Sprintf("version record %x is not a pagestore's", v)}
	}
	got := binary.LittleEndian.Uint32(v[len(versionMagic):])
	if got < minFormatVersion || got > FormatVersion {
		return &VersionError{Found: got, Want: FormatVersion}
	}
	if got < FormatVersion && !s.readOnly {
		b := s.kv.NewBatch()
		b.Put(key, encodeVersion())
		if err := s.kv.Write(b, true); err != nil {
			return fmt.Errorf("pagestore: open: upgrade format version %d to %d: %w", got, FormatVersion, err)
		}
	}
	return nil
}

// Close closes the store and its backend. It waits for a running commit or
// GC to finish.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cache.purge()
	s.clog.close()
	if err := s.kv.Close(); err != nil {
		return fmt.Errorf("pagestore: close: %w", err)
	}
	return nil
}

// Backend returns the store's backend, for statistics and tests. Writing to
// it bypasses every check the store makes.
func (s *Store) Backend() Backend { return s.kv }

// Stats returns the cache counters.
func (s *Store) Stats() Stats {
	var st Stats
	s.cache.stats(&st)
	return st
}

// get reads the value of kind k under h: from the cache if there, else from
// the backend, verified before it is returned or cached. The returned slice
// is shared with the cache and must not be modified.
func (s *Store) get(k Kind, h merkle.Hash) ([]byte, error) {
	key := makeKey(k, h)
	if s.partial != nil && k != KindCode {
		return s.partialGet(key)
	}
	if v, ok := s.cache.get(key); ok {
		return v, nil
	}
	gen := s.sweepGen.Load()
	v, err := s.read(key)
	if err != nil {
		return nil, err
	}
	if gen&1 == 0 {
		s.cache.addIf(key, v, func() bool { return s.sweepGen.Load() == gen })
	}
	return v, nil
}

// read reads and verifies a value from the backend, bypassing the cache.
func (s *Store) read(key objKey) ([]byte, error) {
	k, h := key.kind(), key.hash()
	v, err := s.kv.Get(key[:])
	switch {
	case errors.Is(err, ErrNotFound):
		return nil, &NotFoundError{Kind: k, Key: h}
	case errors.Is(err, ErrCorrupt):
		return nil, &CorruptionError{Kind: k, Key: h, Reason: "backend reports damage", Err: err}
	case err != nil:
		return nil, fmt.Errorf("pagestore: read %s %s: %w", k, h, err)
	}
	if k == KindPage {
		if v, err = decodePage(v); err != nil {
			return nil, &CorruptionError{Kind: k, Key: h, Reason: err.Error()}
		}
	}
	if cerr := verify(k, h, v); cerr != nil {
		return nil, cerr
	}
	return v, nil
}

// has reports whether an object is stored, asking the cache first.
func (s *Store) has(key objKey) (bool, error) {
	if s.cache.contains(key) {
		return true, nil
	}
	ok, err := s.kv.Has(key[:])
	if err != nil {
		return false, fmt.Errorf("pagestore: has %s %s: %w", key.kind(), key.hash(), err)
	}
	return ok, nil
}

// Has reports whether an object of kind k is stored under h. Implicit empty
// values (the zero page, all-zero memory subtrees, the empty state) count as
// present. It does not verify the value.
func (s *Store) Has(k Kind, h merkle.Hash) (bool, error) {
	if !isObjectKind(k) {
		return false, fmt.Errorf("pagestore: has %s %s: %w: not an object kind", k, h, ErrInvalid)
	}
	if s.isEmpty(k, h) {
		return true, nil
	}
	return s.has(makeKey(k, h))
}

// isEmpty reports whether h names an implicit, never-stored empty value of
// kind k.
func (s *Store) isEmpty(k Kind, h merkle.Hash) bool {
	switch k {
	case KindPage:
		return h == merkle.EmptyPageHash()
	case KindMemoryNode:
		ht, ok := s.empty[h]
		return ok && ht > 0
	case KindStateNode:
		return h == merkle.EmptyState()
	}
	return false
}

// Page returns a copy of the page with hash h. The zero page is returned
// without a read.
func (s *Store) Page(h merkle.Hash) ([]byte, error) {
	p := make([]byte, merkle.PageSize)
	if err := s.ReadPage(h, p); err != nil {
		return nil, err
	}
	return p, nil
}

// ReadPage copies the page with hash h into dst, which must be PageSize
// bytes; it lets the engine load a page straight into linear memory.
func (s *Store) ReadPage(h merkle.Hash, dst []byte) error {
	if len(dst) != merkle.PageSize {
		return fmt.Errorf("pagestore: read page %s: %w: buffer of %d bytes", h, ErrInvalid, len(dst))
	}
	if h == merkle.EmptyPageHash() {
		clear(dst)
		return nil
	}
	v, err := s.get(KindPage, h)
	if err != nil {
		return err
	}
	copy(dst, v)
	return nil
}

// ReadPageUncached is ReadPage for bulk reads, such as building a
// memory image: a page not in the cache is read and verified but not
// added to it, so one scan of a large memory does not flush the cache.
func (s *Store) ReadPageUncached(h merkle.Hash, dst []byte) error {
	if len(dst) != merkle.PageSize {
		return fmt.Errorf("pagestore: read page %s: %w: buffer of %d bytes", h, ErrInvalid, len(dst))
	}
	if h == merkle.EmptyPageHash() {
		clear(dst)
		return nil
	}
	key := makeKey(KindPage, h)
	v, ok := s.cache.peek(key)
	if !ok {
		var err error
		if v, err = s.read(key); err != nil {
			return err
		}
	}
	copy(dst, v)
	return nil
}

// MemoryNode returns the children of the inner memory-tree node h,
// implementing merkle.Source. An all-zero subtree of height k ≥ 1 answers
// with the all-zero subtrees of height k-1, which are not stored.
func (s *Store) MemoryNode(h merkle.Hash) (left, right merkle.Hash, err error) {
	if ht, ok := s.empty[h]; ok && ht > 0 {
		e := merkle.EmptyMemory(ht - 1)
		return e, e, nil
	}
	v, err := s.get(KindMemoryNode, h)
	if err != nil {
		return left, right, err
	}
	return merkle.Hash(v[:32]), merkle.Hash(v[32:]), nil
}

// StateNode returns a copy of the state-tree node h, implementing
// merkle.Source: 64 bytes (left || right) for an inner node, ContractLeafSize
// bytes for a contract leaf. The empty state (the zero hash) has no node
// and gives an error matching ErrNotFound.
func (s *Store) StateNode(h merkle.Hash) ([]byte, error) {
	return s.getCopy(KindStateNode, h)
}

// Code returns a copy of the wasm bytecode with hash h.
func (s *Store) Code(h merkle.Hash) ([]byte, error) { return s.getCopy(KindCode, h) }

// Owner returns a copy of the owner bytes with hash h.
func (s *Store) Owner(h merkle.Hash) ([]byte, error) { return s.getCopy(KindOwner, h) }

// Globals returns a copy of the persisted globals with hash h.
func (s *Store) Globals(h merkle.Hash) ([]byte, error) { return s.getCopy(KindGlobals, h) }

// getCopy returns a private copy so callers cannot corrupt the cache.
func (s *Store) getCopy(k Kind, h merkle.Hash) ([]byte, error) {
	v, err := s.get(k, h)
	if err != nil {
		return nil, err
	}
	return append([]byte(nil), v...), nil
}

// blobKey builds 'x' || key.
func blobKey(key []byte) []byte {
	return append([]byte{byte(KindBlob)}, key...)
}

// PutBlob stores an engine-owned opaque value (such as compiled code) under
// key, in the 'x' keyspace. Blobs are not content addressed; a CRC-32C
// trailer makes damage detectable on every backend. The write is not
// synced: a blob lost in a crash is only a cache miss. GC keeps blobs unless
// GCOptions.DropBlob says otherwise.
func (s *Store) PutBlob(key, value []byte) error {
	k := blobKey(key)
	b := s.kv.NewBatch()
	b.Put(k, appendCRC(append([]byte(nil), value...), k))
	if err := s.kv.Write(b, false); err != nil {
		return fmt.Errorf("pagestore: put blob %x: %w", key, err)
	}
	return nil
}

// Blob returns the blob stored under key; a missing blob gives an error
// matching ErrNotFound, a damaged one an error matching ErrCorrupt.
func (s *Store) Blob(key []byte) ([]byte, error) {
	k := blobKey(key)
	v, err := s.kv.Get(k)
	if err != nil {
		return nil, fmt.Errorf("pagestore: blob %x: %w", key, err)
	}
	body, ok := checkCRC(v, k)
	if !ok {
		return nil, fmt.Errorf("pagestore: blob %x: %w: checksum mismatch", key, ErrCorrupt)
	}
	return body, nil
}

// DeleteBlob removes the blob under key; deleting a missing blob is not an
// error.
func (s *Store) DeleteBlob(key []byte) error {
	b := s.kv.NewBatch()
	b.Delete(blobKey(key))
	if err := s.kv.Write(b, false); err != nil {
		return fmt.Errorf("pagestore: delete blob %x: %w", key, err)
	}
	return nil
}
