package pagestore

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"slices"

	"github.com/wasmstate/wasmstate/merkle"
)

// Batch stages one commit: objects, at most one commit record and at most
// one head change. It copies every value it is given, so the caller may
// reuse its buffers (such as live linear memory) at once. Staging the same
// object twice keeps one copy. A Batch is not safe for concurrent use. A
// successful Store.Commit empties it; a failed one leaves it as it was.
//
// Objects are staged under the hash the caller computed (it has them from
// building the tree); Commit rehashes each object it actually writes and
// refuses the batch if one does not match, so a bug upstream cannot store a
// value under a wrong key.
type Batch struct {
	hashed bool // see NewHashedBatch
	objs   []staged
	index  objIndex // objs[slot-1]; nil table until the first object
	bytes  int
	record *CommitRecord
	head   *merkle.Hash
}

type staged struct {
	key   objKey
	value []byte
}

// NewBatch returns an empty batch.
func NewBatch() *Batch {
	return &Batch{}
}

// NewHashedBatch returns an empty batch whose objects the caller hashed
// itself from the very bytes it stages, and whose memory nodes reference
// only staged objects or children the caller read from this store, as the
// engine's trees do. Commit trusts those hashes instead of hashing every
// object a second time (at 4 KiB, a page's hash is a third of what
// committing it costs) and does not look up memory nodes' children; the
// references of state nodes and contract leaves are still checked. Its
// pages, globals and owners are new content nearly always, so Commit asks
// only the cache whether they are stored, not the backend. Every
// read verifies what it reads, so a wrong key would be found at the first
// read of the object.
func NewHashedBatch() *Batch {
	b := NewBatch()
	b.hashed = true
	return b
}

func (b *Batch) put(k Kind, h merkle.Hash, value []byte) {
	b.putOwned(k, h, value, false)
}

// putOwned stages value itself when owned, else a copy of it.
func (b *Batch) putOwned(k Kind, h merkle.Hash, value []byte, owned bool) {
	b.initIndex()
	key := makeKey(k, h)
	_, added := b.index.upsert(&key, func() int32 {
		if len(b.objs) >= maxIndexed {
			return 0
		}
		b.objs = append(b.objs, staged{key: key})
		return int32(len(b.objs))
	})
	if !added {
		return // staged already (or a batch of 2^31 objects)
	}
	if !owned {
		value = append([]byte(nil), value...)
	}
	b.objs[len(b.objs)-1].value = value
	b.bytes += len(value)
}

func (b *Batch) initIndex() {
	if b.index.tab == nil {
		b.index = newObjIndex(func(i int32) *objKey { return &b.objs[i-1].key })
	}
}

// Grow makes room for n more objects, so that staging a large commit does
// not grow the batch's tables step by step.
func (b *Batch) Grow(n int) {
	if n <= 0 {
		return
	}
	b.initIndex()
	b.objs = slices.Grow(b.objs, n)
	b.index.reserve(n)
}

func (b *Batch) lookup(key objKey) ([]byte, bool) {
	if b.index.tab == nil {
		return nil, false
	}
	i := b.index.get(&key)
	if i == 0 {
		return nil, false
	}
	return b.objs[i-1].value, true
}

// PutPage stages the page with hash h (merkle.HashPage(page)). Like
// HashPage, it pads a short page with zeros. The zero page is never stored
// and is ignored.
func (b *Batch) PutPage(h merkle.Hash, page []byte) {
	if h == merkle.EmptyPageHash() {
		return
	}
	if len(page) < merkle.PageSize {
		p := make([]byte, merkle.PageSize)
		copy(p, page)
		page = p
	}
	b.put(KindPage, h, page)
}

// PutPageOwned is PutPage without the copy, for a caller done with the
// buffer: the batch keeps page itself (and, once committed, the store may
// keep it too), so the caller must never modify it again. The engine hands
// over its session copies of the pages it commits this way: a 4 KiB copy
// per page less.
func (b *Batch) PutPageOwned(h merkle.Hash, page []byte) {
	if h == merkle.EmptyPageHash() {
		return
	}
	if len(page) != merkle.PageSize {
		b.PutPage(h, page)
		return
	}
	b.putOwned(KindPage, h, page, true)
}

// PutMemoryNode stages the inner memory-tree node h =
// DomainMemoryNode.Sum2(left, right). All-zero subtrees are never stored
// and are ignored.
func (b *Batch) PutMemoryNode(h, left, right merkle.Hash) {
	if _, ok := emptyInner[h]; ok {
		return
	}
	var v [2 * merkle.HashSize]byte
	copy(v[:32], left[:])
	copy(v[32:], right[:])
	b.put(KindMemoryNode, h, v[:])
}

// emptyInner holds the hashes of the all-zero memory subtrees of height 1
// and more, which are never stored.
var emptyInner = func() map[merkle.Hash]struct{} {
	m := make(map[merkle.Hash]struct{}, merkle.MemoryTreeHeight)
	for ht := 1; ht <= merkle.MemoryTreeHeight; ht++ {
		m[merkle.EmptyMemory(ht)] = struct{}{}
	}
	return m
}()

// PutStateNode stages the state-tree node h: an inner node (64 bytes,
// left || right) or a contract leaf (merkle.ContractLeafSize bytes).
func (b *Batch) PutStateNode(h merkle.Hash, value []byte) {
	if h == merkle.EmptyState() {
		return
	}
	b.put(KindStateNode, h, value)
}

// PutCode stages wasm bytecode under h = merkle.HashCode(code).
func (b *Batch) PutCode(h merkle.Hash, code []byte) { b.put(KindCode, h, code) }

// PutOwner stages owner bytes under h = merkle.HashOwner(owner).
func (b *Batch) PutOwner(h merkle.Hash, owner []byte) { b.put(KindOwner, h, owner) }

// PutGlobals stages persisted globals under h = DomainGlobals.Sum(globals).
func (b *Batch) PutGlobals(h merkle.Hash, globals []byte) { b.put(KindGlobals, h, globals) }

// SetCommit stages the commit record of rec.Root. Committing a root that
// already has a record keeps the existing record: the state is the same,
// and its first record is its history.
func (b *Batch) SetCommit(rec CommitRecord) {
	r := rec
	r.Changed = append([]merkle.ContractID(nil), rec.Changed...)
	b.record = &r
}

// SetHead stages moving the head to root, which must be the empty state,
// a stored commit root or the root of this batch's record.
func (b *Batch) SetHead(root merkle.Hash) {
	r := root
	b.head = &r
}

// Len is the number of distinct objects staged.
func (b *Batch) Len() int { return len(b.objs) }

// Bytes is the total size of the values staged.
func (b *Batch) Bytes() int { return b.bytes }

// CommitStats describes what a Commit wrote.
type CommitStats struct {
	Objects int // objects written
	Bytes   int // value bytes written (a page counts PageSize bytes, however stored)
	Skipped int // staged objects already stored
}

// Commit writes the batch as one synced backend batch: after a crash it is
// wholly visible or not at all. Objects already stored are skipped (checked
// through the cache) so a commit costs in proportion to its new data. Each
// object written is rehashed, and every reference from a new node (children,
// a leaf's memory root, code, owner and globals) must resolve to the batch
// or the store; a commit root must be the zero hash or a stored or staged
// state node.
//
// Objects staged without a record are not reachable from any root: a GC
// that runs before a record references them reclaims them unless their
// root is pinned.
func (s *Store) Commit(b *Batch) (CommitStats, error) {
	var st CommitStats
	if b == nil {
		return st, fmt.Errorf("pagestore: commit: %w: nil batch", ErrInvalid)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.gcPending != nil {
		return st, fmt.Errorf("pagestore: commit: %w: %v", ErrGCPending, s.gcPending)
	}
	wb := newBatchSized(s.kv, len(b.objs), b.bytes+64*len(b.objs))
	// Staged values are the batch's own and never modified: a backend
	// that can keep them need not copy them.
	put := wb.Put
	if op, ok := wb.(ownedPutter); ok {
		put = op.putOwned
	}
	compress := compressPages(s.kv)
	for _, oi := range writeOrder(s.kv, b.objs) {
		o := b.objs[oi]
		k, h := o.key.kind(), o.key.hash()
		// Tree nodes are small: writing one again costs less than asking
		// the backend whether it has it (a miss reads through every level
		// of the LSM tree), so only the cache is asked, and not even that
		// for a hashed batch. A hashed batch's pages, globals and owners
		// are content the engine has just made, nearly always new: on
		// leveldb, a lookup that misses cost about as much CPU as writing
		// the 4 KiB page (≈ 9 µs each, bench/README.md), so only the cache
		// is asked, and a page the store had already is written again
		// (compaction keeps one copy). Code, large and often deployed
		// again, and the objects of other batches are looked up, so that
		// such a commit writes only the bytes it lacks.
		var present bool
		switch {
		case k == KindMemoryNode || k == KindStateNode:
			if !b.hashed {
				present = s.cache.contains(o.key)
			}
		case b.hashed && k != KindCode:
			present = s.cache.contains(o.key)
		default:
			var err error
			if present, err = s.has(o.key); err != nil {
				return st, fmt.Errorf("pagestore: commit: %w", err)
			}
		}
		if present {
			st.Skipped++
			continue
		}
		if !b.hashed {
			if cerr := verify(k, h, o.value); cerr != nil {
				return st, fmt.Errorf("pagestore: commit: staged %s %s: %s: %w", k, h, cerr.Reason, ErrInvalid)
			}
		}
		// A hashed batch's memory nodes come from a tree that read its
		// unchanged children from this store: looking each one up again
		// would cost a backend read per level of every changed page.
		if !b.hashed || k != KindMemoryNode {
			if err := s.checkRefs(b, o); err != nil {
				return st, fmt.Errorf("pagestore: commit: %w", err)
			}
		}
		if k == KindPage && compress {
			var v []byte
			v, s.pageScratch = encodePage(s.pageScratch, o.value)
			wb.Put(o.key[:], v)
		} else {
			put(o.key[:], o.value)
		}
		st.Objects++
		st.Bytes += len(o.value)
	}
	if r := b.record; r != nil {
		if r.Root == merkle.EmptyState() {
			return st, fmt.Errorf("pagestore: commit: %w: a record for the empty state", ErrInvalid)
		}
		if err := s.requireState(b, r.Root); err != nil {
			return st, fmt.Errorf("pagestore: commit %s: root: %w", r.Root, err)
		}
		key := makeKey(KindCommit, r.Root)
		ok, err := s.kv.Has(key[:])
		if err != nil {
			return st, fmt.Errorf("pagestore: commit %s: %w", r.Root, err)
		}
		if !ok {
			wb.Put(key[:], r.encode())
		}
	}
	if b.head != nil {
		if b.record == nil || b.record.Root != *b.head {
			if err := s.requireRoot(*b.head); err != nil {
				return st, fmt.Errorf("pagestore: commit: set head: %w", err)
			}
		}
		wb.Put([]byte{byte(KindHead)}, encodeHead(*b.head))
	}
	if wb.Len() > 0 {
		err := s.kv.Write(wb, true)
		if r, ok := s.kv.(batchReleaser); ok {
			r.releaseBatch(wb)
		}
		if err != nil {
			return st, fmt.Errorf("pagestore: commit: write: %w", err)
		}
	}
	if r := b.record; r != nil && s.clog != nil {
		if _, logged := s.clog.live[r.Root]; !logged {
			if err := s.clog.append(logCommit, LostCommit{Root: r.Root, Parent: r.Parent, Time: r.Time}); err != nil {
				return st, fmt.Errorf("pagestore: commit %s: %w", r.Root, err)
			}
		}
	}
	// Nodes are what trees read over and over, and what the next commit's
	// presence checks hit; pages are left out so one commit cannot flush
	// the cache. (Staged nodes that were skipped as cached are cached
	// already: adding them again only refreshes them.) Over a backend that
	// holds its values in memory, a memory node read back costs a lookup
	// and a 64-byte hash, less than caching each of the thousands a commit
	// writes (bench/README.md), so only state nodes are cached there.
	_, resident := s.kv.(memoryResident)
	nodes := b.objs[:0]
	for _, o := range b.objs {
		if k := o.key.kind(); k == KindStateNode || (k == KindMemoryNode && !resident) {
			nodes = append(nodes, o)
		}
	}
	s.cache.addStaged(nodes)
	b.objs, b.index, b.bytes, b.record, b.head = nil, objIndex{}, 0, nil, nil
	return st, nil
}

// checkRefs checks that everything new object o references is implicit,
// staged or stored, so that a commit never points at a missing object.
// Stored objects have complete subtrees (see the package invariants), so one
// level suffices and the cost stays proportional to the new data.
func (s *Store) checkRefs(b *Batch, o staged) error {
	h := o.key.hash()
	switch o.key.kind() {
	case KindMemoryNode:
		for _, c := range [2]merkle.Hash{merkle.Hash(o.value[:32]), merkle.Hash(o.value[32:])} {
			if _, ok := s.empty[c]; ok {
				continue
			}
			found := false
			for _, k := range [2]Kind{KindMemoryNode, KindPage} {
				ok, err := s.present(b, makeKey(k, c))
				if err != nil {
					return err
				}
				if ok {
					found = true
					break
				}
			}
			if !found {
				return fmt.Errorf("memory node %s: child %s: %w", h, c, &NotFoundError{Kind: KindMemoryNode, Key: c})
			}
		}
	case KindStateNode:
		if len(o.value) == 2*merkle.HashSize {
			for _, c := range [2]merkle.Hash{merkle.Hash(o.value[:32]), merkle.Hash(o.value[32:])} {
				if err := s.requireState(b, c); err != nil {
					return fmt.Errorf("state node %s: child: %w", h, err)
				}
			}
			return nil
		}
		leaf, err := merkle.DecodeContractLeaf(o.value)
		if err != nil {
			return fmt.Errorf("%w: contract leaf %s: %v", ErrInvalid, h, err)
		}
		if _, ok := s.empty[leaf.MemoryRoot]; !ok {
			if err := s.require(b, KindMemoryNode, leaf.MemoryRoot); err != nil {
				return fmt.Errorf("contract leaf %s: memory root: %w", h, err)
			}
		}
		for _, r := range [...]struct {
			k Kind
			h merkle.Hash
		}{{KindCode, leaf.CodeHash}, {KindOwner, leaf.OwnerHash}, {KindGlobals, leaf.GlobalsHash}} {
			if err := s.require(b, r.k, r.h); err != nil {
				return fmt.Errorf("contract leaf %s: %w", h, err)
			}
		}
	}
	return nil
}

// present reports whether key is staged in b or stored.
func (s *Store) present(b *Batch, key objKey) (bool, error) {
	if _, ok := b.lookup(key); ok {
		return true, nil
	}
	return s.has(key)
}

func (s *Store) require(b *Batch, k Kind, h merkle.Hash) error {
	ok, err := s.present(b, makeKey(k, h))
	if err != nil {
		return err
	}
	if !ok {
		return &NotFoundError{Kind: k, Key: h}
	}
	return nil
}

func (s *Store) requireState(b *Batch, h merkle.Hash) error {
	if h == merkle.EmptyState() {
		return nil
	}
	return s.require(b, KindStateNode, h)
}

// sortedWriter is a Backend that inserts a batch faster in key order:
// goleveldb puts each record into a skip list, and a commit's keys are
// random hashes, so each insert walked cold nodes of a list of a few
// hundred thousand (1.3 µs an insert, ten per changed page); in order,
// consecutive inserts walk the same path.
type sortedWriter interface {
	sortedWrites()
}

// writeOrder returns the order in which to write objs: key order for a
// sortedWriter (by the kind and the first 7 bytes of the hash, which
// orders all but colliding prefixes), else as staged.
func writeOrder(kv Backend, objs []staged) []int32 {
	order := make([]int32, len(objs))
	for i := range order {
		order[i] = int32(i)
	}
	if _, ok := kv.(sortedWriter); !ok || len(objs) < 2 {
		return order
	}
	// Sorted as plain integers (a third of the time of a sort with a
	// comparison function): the key's first 8 bytes with the low bits
	// replaced by the object's index, which keys differing only there
	// (one in 2^(64-8-indexBits) of a batch) then follow in staging order.
	if len(objs) > 1<<orderIndexBits {
		return sortedByKey(objs, order)
	}
	r := make([]uint64, len(objs))
	for i := range objs {
		r[i] = binary.BigEndian.Uint64(objs[i].key[:8])&^(1<<orderIndexBits-1) | uint64(i)
	}
	slices.Sort(r)
	for i := range r {
		order[i] = int32(r[i] & (1<<orderIndexBits - 1))
	}
	return order
}

// orderIndexBits is the width of the index writeOrder packs into a rank.
const orderIndexBits = 24

// sortedByKey sorts order (0..len(objs)-1) by the first 8 bytes of the
// objects' keys, for batches too large for writeOrder's packed ranks.
func sortedByKey(objs []staged, order []int32) []int32 {
	slices.SortFunc(order, func(a, b int32) int {
		return cmp.Compare(binary.BigEndian.Uint64(objs[a].key[:8]), binary.BigEndian.Uint64(objs[b].key[:8]))
	})
	return order
}

// batchReleaser is a Backend that reuses the batches given back to it
// after Write.
type batchReleaser interface {
	releaseBatch(WriteBatch)
}

// memoryResident is a Backend that holds its values in memory.
type memoryResident interface {
	memoryResident()
}

// ownedPutter is a WriteBatch that can take a value without copying it,
// for values nobody modifies afterwards.
type ownedPutter interface {
	putOwned(key, value []byte)
}

// sizedBatcher is a Backend that can preallocate a batch for ops
// operations of about bytes in all: goleveldb grows a large batch in small
// steps, copying it each time.
type sizedBatcher interface {
	newBatchSized(ops, bytes int) WriteBatch
}

func newBatchSized(kv Backend, ops, bytes int) WriteBatch {
	if sb, ok := kv.(sizedBatcher); ok {
		return sb.newBatchSized(ops, bytes)
	}
	return kv.NewBatch()
}
