package pagestore

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"

	"github.com/wasmstate/wasmstate/merkle"
)

// backends runs f over a memory store and a leveldb store.
func backends(t *testing.T, f func(t *testing.T, s *Store)) {
	t.Run("memory", func(t *testing.T) { f(t, newMemStore(t, nil)) })
	t.Run("leveldb", func(t *testing.T) {
		s, err := Open(context.Background(), t.TempDir(), nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		f(t, s)
	})
}

func TestRoundTrip(t *testing.T) {
	backends(t, func(t *testing.T, s *Store) {
		r := rand.New(rand.NewPCG(1, 2))
		w := newWorld(s, merkle.EmptyState())
		b := NewBatch()
		for i := 0; i < 3; i++ {
			w.deploy(b, cid(i), []byte{0, 'a', 's', 'm', byte(i)}, []byte{'o', byte(i)})
			for j := 0; j < 5; j++ {
				if err := w.writePage(b, cid(i), uint64(r.IntN(testPages)), randomPage(r)); err != nil {
					t.Fatal(err)
				}
			}
			if err := w.setGlobals(b, cid(i), []byte{byte(i), 1, 2, 3}); err != nil {
				t.Fatal(err)
			}
		}
		root := w.commit(t, s, b, 1)
		checkRoot(t, s, root, w.snapshot())

		// Implicit values answer without being stored.
		p, err := s.Page(merkle.EmptyPageHash())
		if err != nil || !bytes.Equal(p, make([]byte, merkle.PageSize)) {
			t.Fatalf("zero page: %v", err)
		}
		l, rr, err := s.MemoryNode(merkle.EmptyMemory(7))
		if err != nil || l != merkle.EmptyMemory(6) || rr != l {
			t.Fatalf("empty memory node: %v", err)
		}
		if _, err := s.StateNode(merkle.EmptyState()); !errors.Is(err, ErrNotFound) {
			t.Fatalf("empty state node: %v", err)
		}
		var missing merkle.Hash
		missing[0] = 1
		_, err = s.Page(missing)
		var nf *NotFoundError
		if !errors.Is(err, ErrNotFound) || !errors.As(err, &nf) || nf.Kind != KindPage || nf.Key != missing {
			t.Fatalf("missing page: %v", err)
		}
		if err := s.ReadPage(missing, make([]byte, 10)); !errors.Is(err, ErrInvalid) {
			t.Fatalf("short buffer: %v", err)
		}
		// Returned slices are copies: scribbling on one does not reach the cache.
		st, err := s.StateNode(root)
		if err != nil {
			t.Fatal(err)
		}
		clear(st)
		if _, err := s.StateNode(root); err != nil {
			t.Fatal(err)
		}
		if ok, err := s.Has(KindStateNode, root); !ok || err != nil {
			t.Fatalf("has root: %v %v", ok, err)
		}
	})
}

func TestDedupe(t *testing.T) {
	backends(t, func(t *testing.T, s *Store) {
		r := rand.New(rand.NewPCG(3, 4))
		shared := randomPage(r)
		w := newWorld(s, merkle.EmptyState())
		b := NewBatch()
		w.deploy(b, cid(1), []byte("code"), []byte("owner"))
		w.writePage(b, cid(1), 3, shared)
		w.writePage(b, cid(1), 4, shared) // twice in one contract
		w.commit(t, s, b, 1)
		if n := countKeys(t, s.Backend(), KindPage); n != 1 {
			t.Fatalf("%d pages stored, want 1", n)
		}
		// The same page in another contract and another commit; the same
		// code and owner for a second contract.
		b = NewBatch()
		w.deploy(b, cid(2), []byte("code"), []byte("owner"))
		w.writePage(b, cid(2), 9, shared)
		root, _, err := w.stage(b)
		if err != nil {
			t.Fatal(err)
		}
		b.SetCommit(CommitRecord{Root: root, Parent: w.root, Time: 2})
		st, err := s.Commit(b)
		if err != nil {
			t.Fatal(err)
		}
		w.root = root
		if st.Skipped < 3 { // page, code, owner at least
			t.Fatalf("commit stats %+v: want the shared page, code and owner skipped", st)
		}
		if n := countKeys(t, s.Backend(), KindPage); n != 1 {
			t.Fatalf("%d pages stored, want 1", n)
		}
		if n := countKeys(t, s.Backend(), KindCode); n != 1 {
			t.Fatalf("%d codes stored, want 1", n)
		}
		checkRoot(t, s, root, w.snapshot())
	})
}

func TestZeroPageNeverStored(t *testing.T) {
	s := newMemStore(t, nil)
	w := newWorld(s, merkle.EmptyState())
	b := NewBatch()
	w.deploy(b, cid(1), []byte("c"), []byte("o"))
	zero := make([]byte, merkle.PageSize)
	for i := uint64(0); i < 8; i++ {
		w.writePage(b, cid(1), i, zero)
	}
	b.PutPage(merkle.EmptyPageHash(), zero)
	for h := 1; h <= merkle.MemoryTreeHeight; h++ {
		b.PutMemoryNode(merkle.EmptyMemory(h), merkle.EmptyMemory(h-1), merkle.EmptyMemory(h-1))
	}
	root := w.commit(t, s, b, 1)
	if n := countKeys(t, s.Backend(), KindPage); n != 0 {
		t.Fatalf("%d pages stored, want none", n)
	}
	if n := countKeys(t, s.Backend(), KindMemoryNode); n != 0 {
		t.Fatalf("%d memory nodes stored, want none", n)
	}
	checkRoot(t, s, root, w.snapshot())
	// Writing a page and zeroing it again stores the page once but the
	// final tree references no page.
	b = NewBatch()
	w.writePage(b, cid(1), 5, []byte{1})
	w.writePage(b, cid(1), 5, zero)
	root = w.commit(t, s, b, 2)
	checkRoot(t, s, root, w.snapshot())
}

func TestIntegrityMemory(t *testing.T) {
	kv := NewMemoryBackend()
	s, err := NewStore(kv, &Options{CacheBytes: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	r := rand.New(rand.NewPCG(5, 6))
	w := newWorld(s, merkle.EmptyState())
	b := NewBatch()
	w.deploy(b, cid(1), []byte("code"), []byte("owner"))
	page := randomPage(r)
	w.writePage(b, cid(1), 1, page)
	root := w.commit(t, s, b, 1)
	leaf := w.contracts[cid(1)].leaf
	ph := merkle.HashPage(page)

	bad := slices.Clone(page)
	bad[100] ^= 1
	overwrite(t, kv, KindPage, ph, bad)
	_, err = s.Page(ph)
	mustCorrupt(t, err, KindPage, ph)
	overwrite(t, kv, KindPage, ph, page[:100])
	_, err = s.Page(ph)
	mustCorrupt(t, err, KindPage, ph)

	overwrite(t, kv, KindMemoryNode, leaf.MemoryRoot, make([]byte, 64))
	_, _, err = s.MemoryNode(leaf.MemoryRoot)
	mustCorrupt(t, err, KindMemoryNode, leaf.MemoryRoot)
	// Read through a tree, the fault surfaces as merkle's missing-node error
	// that still matches ErrCorrupt.
	err = merkle.NewMemTree(leaf.MemoryRoot, s).ForEachPage(func(uint64, merkle.Hash) error { return nil })
	if !errors.Is(err, ErrCorrupt) || !errors.Is(err, merkle.ErrMissingNode) {
		t.Fatalf("tree read over a corrupt node: %v", err)
	}

	overwrite(t, kv, KindStateNode, root, make([]byte, 100))
	_, err = s.StateNode(root)
	mustCorrupt(t, err, KindStateNode, root)
	overwrite(t, kv, KindCode, leaf.CodeHash, []byte("edoc"))
	_, err = s.Code(leaf.CodeHash)
	mustCorrupt(t, err, KindCode, leaf.CodeHash)
	overwrite(t, kv, KindOwner, leaf.OwnerHash, []byte("x"))
	_, err = s.Owner(leaf.OwnerHash)
	mustCorrupt(t, err, KindOwner, leaf.OwnerHash)
	overwrite(t, kv, KindGlobals, leaf.GlobalsHash, []byte("x"))
	_, err = s.Globals(leaf.GlobalsHash)
	mustCorrupt(t, err, KindGlobals, leaf.GlobalsHash)
}

func TestCacheHoldsOnlyVerified(t *testing.T) {
	kv := NewMemoryBackend()
	s, err := NewStore(kv, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	page := randomPage(rand.New(rand.NewPCG(1, 1)))
	h := merkle.HashPage(page)
	b := NewBatch()
	b.PutPage(h, page)
	if _, err := s.Commit(b); err != nil {
		t.Fatal(err)
	}
	overwrite(t, kv, KindPage, h, make([]byte, merkle.PageSize))
	for i := 0; i < 2; i++ {
		if _, err := s.Page(h); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("read %d: %v", i, err)
		}
	}
	if st := s.Stats(); st.CacheEntries != 0 {
		t.Fatalf("a corrupt value was cached: %+v", st)
	}
}

func TestCache(t *testing.T) {
	const pages = 50
	budget := int64(10 * (merkle.PageSize + entryOverhead))
	s := newMemStore(t, &Options{CacheBytes: budget})
	r := rand.New(rand.NewPCG(7, 8))
	var hs []merkle.Hash
	b := NewBatch()
	for i := 0; i < pages; i++ {
		p := randomPage(r)
		h := merkle.HashPage(p)
		hs = append(hs, h)
		b.PutPage(h, p)
	}
	if _, err := s.Commit(b); err != nil {
		t.Fatal(err)
	}
	for _, h := range hs {
		if _, err := s.Page(h); err != nil {
			t.Fatal(err)
		}
		if st := s.Stats(); st.CacheBytes > budget {
			t.Fatalf("cache holds %d bytes, budget %d", st.CacheBytes, budget)
		}
	}
	st := s.Stats()
	if st.CacheMisses != pages || st.CacheHits != 0 || st.CacheEntries != 10 || st.CacheBudget != budget {
		t.Fatalf("after %d cold reads: %+v", pages, st)
	}
	// The last ten are cached, the first is not.
	for _, h := range hs[pages-10:] {
		s.Page(h)
	}
	if st := s.Stats(); st.CacheHits != 10 || st.CacheMisses != pages {
		t.Fatalf("after ten warm reads: %+v", st)
	}
	s.Page(hs[0])
	if st := s.Stats(); st.CacheMisses != pages+1 || st.CacheEntries != 10 {
		t.Fatalf("after an evicted read: %+v", st)
	}

	// A disabled cache counts nothing and holds nothing.
	s2 := newMemStore(t, &Options{CacheBytes: -1})
	b = NewBatch()
	b.PutPage(hs[0], mustPage(t, s, hs[0]))
	s2.Commit(b)
	s2.Page(hs[0])
	if st := s2.Stats(); st != (Stats{}) {
		t.Fatalf("disabled cache: %+v", st)
	}
}

func mustPage(t *testing.T, s *Store, h merkle.Hash) []byte {
	t.Helper()
	p, err := s.Page(h)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestCacheModel checks the cache against a plain LRU list over random
// adds, gets, removes and purges: same contents, same order of eviction,
// same byte count.
func TestCacheModel(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	const budget = 40 * (64 + entryOverhead)
	c := newCache(budget)
	type ent struct {
		k objKey
		n int
	}
	var model []ent // most recent first
	find := func(k objKey) int {
		return slices.IndexFunc(model, func(e ent) bool { return e.k == k })
	}
	for step := 0; step < 20000; step++ {
		var k objKey
		k[0] = byte(r.IntN(80))
		switch op := r.IntN(100); {
		case op < 50:
			n := 16 + r.IntN(200)
			c.add(k, make([]byte, n))
			if i := find(k); i >= 0 {
				model = slices.Delete(model, i, i+1)
			}
			model = slices.Insert(model, 0, ent{k, n})
			bytes := 0
			for _, e := range model {
				bytes += e.n + entryOverhead
			}
			for bytes > budget {
				last := model[len(model)-1]
				bytes -= last.n + entryOverhead
				model = model[:len(model)-1]
			}
		case op < 90:
			v, ok := c.get(k)
			i := find(k)
			if ok != (i >= 0) {
				t.Fatalf("step %d: get %d: cache %v, model %v", step, k[0], ok, i >= 0)
			}
			if ok {
				if len(v) != model[i].n {
					t.Fatalf("step %d: value of %d bytes, want %d", step, len(v), model[i].n)
				}
				e := model[i]
				model = slices.Insert(slices.Delete(model, i, i+1), 0, e)
			}
		case op < 99:
			c.remove(k)
			if i := find(k); i >= 0 {
				model = slices.Delete(model, i, i+1)
			}
		default:
			c.purge()
			model = model[:0]
		}
		want := int64(0)
		for _, e := range model {
			want += int64(e.n) + entryOverhead
		}
		if c.bytes != want || c.index.len() != len(model) {
			t.Fatalf("step %d: %d bytes in %d entries, model %d in %d", step, c.bytes, c.index.len(), want, len(model))
		}
		// The list runs newest to oldest, as the model.
		i := c.entries[0].next
		for j, e := range model {
			if i == 0 || c.entries[i].key != e.k {
				t.Fatalf("step %d: list position %d differs from the model", step, j)
			}
			i = c.entries[i].next
		}
		if i != 0 {
			t.Fatalf("step %d: list longer than the model", step)
		}
	}
}

func TestCacheUnit(t *testing.T) {
	c := newCache(2000)
	var k [5]objKey
	for i := range k {
		k[i][0] = byte(i)
	}
	c.add(k[0], make([]byte, 100))
	c.add(k[0], make([]byte, 200)) // replace: charged once
	if c.bytes != 200+entryOverhead || c.index.len() != 1 {
		t.Fatalf("replace: %d bytes, %d entries", c.bytes, c.index.len())
	}
	for _, key := range k[1:] {
		c.add(key, make([]byte, 350))
		if c.bytes > c.budget {
			t.Fatalf("%d bytes over budget %d", c.bytes, c.budget)
		}
	}
	if c.contains(k[0]) || !c.contains(k[1]) || !c.contains(k[4]) {
		t.Fatal("did not evict the least recently used")
	}
	if c.bytes != 4*(350+entryOverhead) {
		t.Fatalf("%d bytes charged", c.bytes)
	}
	c.add(k[0], make([]byte, 600)) // more than a quarter: not cached
	if c.contains(k[0]) {
		t.Fatal("cached an oversized value")
	}
	c.remove(k[3])
	if c.bytes != 3*(350+entryOverhead) {
		t.Fatalf("%d bytes charged after remove", c.bytes)
	}
	c.purge()
	if c.bytes != 0 || c.index.len() != 0 {
		t.Fatalf("after purge: %d bytes", c.bytes)
	}
	var nilCache *cache // disabled: every method is a no-op
	nilCache.add(k[0], nil)
	if _, ok := nilCache.get(k[0]); ok {
		t.Fatal("nil cache hit")
	}
}

func TestCommitRecords(t *testing.T) {
	backends(t, func(t *testing.T, s *Store) {
		w := newWorld(s, merkle.EmptyState())
		var roots []merkle.Hash
		times := []int64{30, 10, 20, 20}
		for i, tm := range times {
			b := NewBatch()
			w.deploy(b, cid(i), []byte{byte(i)}, nil)
			roots = append(roots, w.commit(t, s, b, tm))
		}
		recs, err := s.Commits()
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) != len(times) {
			t.Fatalf("%d records", len(recs))
		}
		for i := 1; i < len(recs); i++ {
			a, b := recs[i-1], recs[i]
			if a.Time > b.Time || a.Time == b.Time && bytes.Compare(a.Root[:], b.Root[:]) > 0 {
				t.Fatalf("records out of order: %v", recs)
			}
		}
		rec, err := s.CommitRecord(roots[2])
		if err != nil {
			t.Fatal(err)
		}
		if rec.Root != roots[2] || rec.Parent != roots[1] || rec.Time != 20 || !slices.Equal(rec.Changed, []merkle.ContractID{cid(2)}) {
			t.Fatalf("record %+v", rec)
		}
		rec, _ = s.CommitRecord(roots[0])
		if rec.Parent != merkle.EmptyState() {
			t.Fatalf("first record's parent %s", rec.Parent)
		}
		if ok, err := s.HasRoot(merkle.EmptyState()); !ok || err != nil {
			t.Fatal("the empty state must always exist")
		}
		if _, err := s.CommitRecord(merkle.EmptyState()); !errors.Is(err, ErrNotFound) {
			t.Fatalf("record of the empty state: %v", err)
		}
		// Committing an existing root again keeps its first record.
		b := NewBatch()
		b.SetCommit(CommitRecord{Root: roots[1], Parent: roots[3], Time: 99})
		if _, err := s.Commit(b); err != nil {
			t.Fatal(err)
		}
		if rec, _ := s.CommitRecord(roots[1]); rec.Time != 10 {
			t.Fatalf("record replaced: %+v", rec)
		}
	})
}

func TestRecordEncoding(t *testing.T) {
	rec := CommitRecord{Root: merkle.Hash{1}, Parent: merkle.Hash{2}, Time: -5, Changed: []merkle.ContractID{{3}, {4}}}
	v := rec.encode()
	if len(v) != 45+64+4 || v[0] != 1 || v[1] != 2 || int64(binary.LittleEndian.Uint64(v[33:41])) != -5 ||
		binary.LittleEndian.Uint32(v[41:45]) != 2 || v[45] != 3 || v[77] != 4 {
		t.Fatalf("encoding %x", v)
	}
	got, err := decodeRecord(rec.Root, v)
	if err != nil || got.Parent != rec.Parent || got.Time != rec.Time || !slices.Equal(got.Changed, rec.Changed) {
		t.Fatalf("decode: %+v %v", got, err)
	}
	// The checksum covers the key: the same bytes under another root fail.
	if _, err := decodeRecord(merkle.Hash{9}, v); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("moved record: %v", err)
	}
	for i := range v {
		bad := slices.Clone(v)
		bad[i] ^= 0x40
		if _, err := decodeRecord(rec.Root, bad); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("flip at %d not detected", i)
		}
	}
	if _, err := decodeRecord(rec.Root, v[:10]); !errors.Is(err, ErrCorrupt) {
		t.Fatal("short record")
	}
}

func TestHead(t *testing.T) {
	s := newMemStore(t, nil)
	if _, ok, err := s.Head(); ok || err != nil {
		t.Fatalf("new store has a head: %v", err)
	}
	w := newWorld(s, merkle.EmptyState())
	b := NewBatch()
	w.deploy(b, cid(1), []byte("a"), nil)
	r1 := w.commit(t, s, b, 1)
	b = NewBatch()
	w.deploy(b, cid(2), []byte("b"), nil)
	r2 := w.commit(t, s, b, 2)
	if h, ok, _ := s.Head(); !ok || h != r2 {
		t.Fatal("head not set by commit")
	}
	if err := s.SetHead(r1); err != nil {
		t.Fatal(err)
	}
	if h, _, _ := s.Head(); h != r1 {
		t.Fatal("SetHead")
	}
	if err := s.SetHead(merkle.Hash{7}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("head to an unknown root: %v", err)
	}
	if err := s.SetHead(merkle.EmptyState()); err != nil {
		t.Fatal(err)
	}
	if h, ok, _ := s.Head(); !ok || h != merkle.EmptyState() {
		t.Fatal("head to the empty state")
	}
	// Deleting the head moves it to the parent...
	s.SetHead(r2)
	if err := s.DeleteCommit(r2); err != nil {
		t.Fatal(err)
	}
	if h, ok, _ := s.Head(); !ok || h != r1 {
		t.Fatalf("head after deleting it: %s %v", h, ok)
	}
	// ... to the empty state when that is the parent ...
	if err := s.DeleteCommit(r1); err != nil {
		t.Fatal(err)
	}
	if h, ok, _ := s.Head(); !ok || h != merkle.EmptyState() {
		t.Fatalf("head after deleting the first commit: %s %v", h, ok)
	}
	// ... and to none when the parent is gone.
	b = NewBatch()
	b.SetCommit(CommitRecord{Root: r2, Parent: r1, Time: 3})
	b.SetHead(r2)
	if _, err := s.Commit(b); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteCommit(r2); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := s.Head(); ok || err != nil {
		t.Fatalf("head should be cleared: %v", err)
	}
	if err := s.DeleteCommit(r2); !errors.Is(err, ErrNotFound) {
		t.Fatalf("deleting twice: %v", err)
	}
	// With the parent gone but other commits left, the head moves to the
	// newest of them rather than to the empty state.
	b = NewBatch()
	b.SetCommit(CommitRecord{Root: r1, Parent: merkle.EmptyState(), Time: 4})
	if _, err := s.Commit(b); err != nil {
		t.Fatal(err)
	}
	b = NewBatch()
	b.SetCommit(CommitRecord{Root: r2, Parent: merkle.Hash{9}, Time: 5})
	b.SetHead(r2)
	if _, err := s.Commit(b); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteCommit(r2); err != nil {
		t.Fatal(err)
	}
	if h, ok, _ := s.Head(); !ok || h != r1 {
		t.Fatalf("head after deleting it with its parent gone: %s %v, want %s", h, ok, r1)
	}
}

func TestCommitRejects(t *testing.T) {
	s := newMemStore(t, nil)
	page := make([]byte, merkle.PageSize)
	page[0] = 1
	ph := merkle.HashPage(page)
	before := func() int {
		n := 0
		s.Backend().Iterate(nil, func(_, _ []byte) error { n++; return nil })
		return n
	}
	n0 := before()
	cases := map[string]func(b *Batch){
		"wrong hash": func(b *Batch) { b.PutPage(merkle.Hash{1}, page) },
		"long page": func(b *Batch) {
			long := append(slices.Clone(page), 0)
			b.PutPage(merkle.DomainPage.Sum(long), long)
		},
		"dangling memory child": func(b *Batch) {
			l, r := ph, merkle.Hash{5}
			b.PutPage(ph, page)
			b.PutMemoryNode(merkle.DomainMemoryNode.Sum2(l, r), l, r)
		},
		"dangling state child": func(b *Batch) {
			l, r := merkle.Hash{5}, merkle.EmptyState()
			v := append(l[:], r[:]...)
			b.PutStateNode(merkle.DomainStateNode.Sum2(l, r), v)
		},
		"leaf without code": func(b *Batch) {
			leaf := merkle.ContractLeaf{Kind: merkle.Memory32, MemoryRoot: merkle.EmptyMemoryRoot(), CodeHash: merkle.HashCode([]byte("x"))}
			b.PutOwner(leaf.OwnerHash, nil)
			b.PutGlobals(leaf.GlobalsHash, nil)
			b.PutStateNode(leaf.Hash(), leaf.Encode())
		},
		"root not stored":    func(b *Batch) { b.SetCommit(CommitRecord{Root: merkle.Hash{3}}) },
		"empty-state record": func(b *Batch) { b.SetCommit(CommitRecord{Root: merkle.EmptyState()}) },
		"head unknown": func(b *Batch) {
			b.PutPage(ph, page)
			b.SetHead(merkle.Hash{4})
		},
	}
	for name, f := range cases {
		b := NewBatch()
		f(b)
		n := b.Len()
		if _, err := s.Commit(b); err == nil {
			t.Errorf("%s: commit succeeded", name)
		} else if !errors.Is(err, ErrInvalid) && !errors.Is(err, ErrNotFound) {
			t.Errorf("%s: %v", name, err)
		}
		if b.Len() != n {
			t.Errorf("%s: a failed commit changed the batch", name)
		}
		if before() != n0 {
			t.Fatalf("%s: a failed commit wrote", name)
		}
	}
}

func TestVersion(t *testing.T) {
	kv := NewMemoryBackend()
	s, err := NewStore(kv, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewStore(kv, nil); err != nil { // reopen
		t.Fatal(err)
	}
	b := kv.NewBatch()
	b.Put([]byte{'V'}, binary.LittleEndian.AppendUint32([]byte(versionMagic), 7))
	kv.Write(b, true)
	_, err = NewStore(kv, nil)
	var ve *VersionError
	if !errors.Is(err, ErrVersion) || !errors.As(err, &ve) || ve.Found != 7 || ve.Want != FormatVersion {
		t.Fatalf("wrong version: %v", err)
	}
	b.Reset()
	b.Delete([]byte{'V'})
	b.Put([]byte("p-some-page"), []byte("x"))
	kv.Write(b, true)
	if _, err := NewStore(kv, nil); !errors.Is(err, ErrVersion) {
		t.Fatalf("missing version in a non-empty store: %v", err)
	}
	s.Close()

	dir := t.TempDir()
	ls, err := Open(context.Background(), dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	b = ls.Backend().NewBatch()
	b.Put([]byte{'V'}, []byte("SQLite format 3"))
	ls.Backend().Write(b, true)
	ls.Close()
	if _, err := Open(context.Background(), dir, nil); !errors.Is(err, ErrVersion) {
		t.Fatalf("foreign version record: %v", err)
	}
}

func TestBlobs(t *testing.T) {
	backends(t, func(t *testing.T, s *Store) {
		if _, err := s.Blob([]byte("k")); !errors.Is(err, ErrNotFound) {
			t.Fatalf("missing blob: %v", err)
		}
		if err := s.PutBlob([]byte("k"), []byte("compiled")); err != nil {
			t.Fatal(err)
		}
		if v, err := s.Blob([]byte("k")); err != nil || string(v) != "compiled" {
			t.Fatalf("blob: %q %v", v, err)
		}
		b := s.Backend().NewBatch()
		b.Put([]byte("xk"), []byte("compiled\x00\x00\x00\x00"))
		s.Backend().Write(b, true)
		if _, err := s.Blob([]byte("k")); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("corrupt blob: %v", err)
		}
		if err := s.DeleteBlob([]byte("k")); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Blob([]byte("k")); !errors.Is(err, ErrNotFound) {
			t.Fatalf("deleted blob: %v", err)
		}
	})
}

// TestConcurrent runs readers beside commits, head moves, deletes and GCs,
// for the race detector, and checks every retained root afterwards.
func TestConcurrent(t *testing.T) {
	s := newMemStore(t, &Options{CacheBytes: 1 << 20})
	w := newWorld(s, merkle.EmptyState())
	b := NewBatch()
	for i := 0; i < 4; i++ {
		w.deploy(b, cid(i), []byte{byte(i)}, nil)
	}
	base := w.commit(t, s, b, 0)
	baseSnap := w.snapshot()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if err := readRoot(s, base, baseSnap); err != nil {
					t.Error(err)
					return
				}
				s.Stats()
			}
		}()
	}
	r := rand.New(rand.NewPCG(9, 9))
	var roots []merkle.Hash
	snaps := map[merkle.Hash]snapshot{}
	for i := 1; i <= 40; i++ {
		b := NewBatch()
		for j := 0; j < 3; j++ {
			w.writePage(b, cid(r.IntN(4)), uint64(r.IntN(testPages)), sparsePage(r))
		}
		root := w.commit(t, s, b, int64(i))
		roots = append(roots, root)
		snaps[root] = w.snapshot()
		if i%5 == 0 {
			victim := roots[r.IntN(len(roots)-1)]
			if err := s.DeleteCommit(victim); err == nil {
				delete(snaps, victim)
			}
			go s.Fsck(context.Background(), nil)
			if _, err := s.GC(context.Background(), nil); err != nil {
				t.Fatal(err)
			}
		}
	}
	close(stop)
	wg.Wait()
	for root, snap := range snaps {
		checkRoot(t, s, root, snap)
	}
	checkRoot(t, s, base, baseSnap)
}

// TestNoCachingAcrossSweep: a value read while a sweep runs is not cached,
// lest a reader of garbage re-cache what the sweep deletes and a later
// commit skip writing it.
func TestNoCachingAcrossSweep(t *testing.T) {
	s := newMemStore(t, nil)
	page := randomPage(rand.New(rand.NewPCG(4, 4)))
	h := merkle.HashPage(page)
	b := NewBatch()
	b.PutPage(h, page)
	if _, err := s.Commit(b); err != nil {
		t.Fatal(err)
	}
	s.sweepGen.Add(1)
	mustPage(t, s, h)
	if n := s.Stats().CacheEntries; n != 0 {
		t.Fatalf("cached during a sweep: %d", n)
	}
	s.sweepGen.Add(1)
	mustPage(t, s, h)
	if n := s.Stats().CacheEntries; n != 1 {
		t.Fatalf("not cached after the sweep: %d", n)
	}
}
