package pagestore

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/wasmstate/wasmstate/merkle"
)

// history builds, over two contracts:
//
//	base ── mid ── tip      (mid rewrites pages of contract 1, tip again)
//	   └── side             (a sibling of mid: rewrites contract 2)
//
// and returns the roots and what each holds, plus the page hashes only mid
// references.
type history struct {
	base, mid, tip, side merkle.Hash
	snaps                map[merkle.Hash]snapshot
	onlyMid              []merkle.Hash
}

func buildHistory(t *testing.T, s *Store) *history {
	r := rand.New(rand.NewPCG(11, 12))
	h := &history{snaps: map[merkle.Hash]snapshot{}}
	w := newWorld(s, merkle.EmptyState())
	b := NewBatch()
	w.deploy(b, cid(1), []byte("code one"), []byte("alice"))
	w.deploy(b, cid(2), []byte("code two"), []byte("bob"))
	for i := uint64(0); i < 8; i++ {
		w.writePage(b, cid(1), i, randomPage(r))
		w.writePage(b, cid(2), i*3, randomPage(r))
	}
	h.base = w.commit(t, s, b, 1)
	h.snaps[h.base] = w.snapshot()

	side := w.fork()
	b = NewBatch()
	for i := uint64(0); i < 3; i++ {
		side.writePage(b, cid(2), 100+i, randomPage(r))
	}
	side.setGlobals(b, cid(2), []byte("side globals"))
	h.side = side.commit(t, s, b, 2)
	h.snaps[h.side] = side.snapshot()

	b = NewBatch()
	for i := uint64(0); i < 4; i++ {
		p := randomPage(r)
		h.onlyMid = append(h.onlyMid, merkle.HashPage(p))
		w.writePage(b, cid(1), 50+i, p)
	}
	w.setGlobals(b, cid(1), []byte("mid globals"))
	h.mid = w.commit(t, s, b, 3)
	h.snaps[h.mid] = w.snapshot()

	b = NewBatch()
	for i := uint64(0); i < 4; i++ { // overwrite every page only mid had
		w.writePage(b, cid(1), 50+i, randomPage(r))
	}
	w.writePage(b, cid(2), 0, randomPage(r))
	w.setGlobals(b, cid(1), []byte("tip globals"))
	h.tip = w.commit(t, s, b, 4)
	h.snaps[h.tip] = w.snapshot()
	return h
}

func (h *history) check(t *testing.T, s *Store, keep ...merkle.Hash) {
	t.Helper()
	for _, root := range keep {
		checkRoot(t, s, root, h.snaps[root])
	}
	problems, err := s.Fsck(context.Background(), nil)
	if err != nil || len(problems) != 0 {
		t.Fatalf("fsck: %v %v", problems, err)
	}
}

func TestGCKeepsOtherRoots(t *testing.T) {
	backends(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		h := buildHistory(t, s)
		st, err := s.GC(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		if st.ReclaimedObjects != 0 || st.Roots != 4 || st.LiveObjects == 0 {
			t.Fatalf("GC with every root retained: %+v", st)
		}

		// Delete a root with an ancestor, a descendant and (via base) a
		// sibling; the others stay fully readable.
		if err := s.DeleteCommit(h.mid); err != nil {
			t.Fatal(err)
		}
		st, err = s.GC(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		if st.ReclaimedObjects == 0 || st.ReclaimedBytes < 4*merkle.PageSize {
			t.Fatalf("GC after deleting mid reclaimed too little: %+v", st)
		}
		for _, ph := range h.onlyMid {
			if ok, _ := s.Has(KindPage, ph); ok {
				t.Fatalf("page %s only mid reached survived", ph)
			}
			if _, err := s.Page(ph); !errors.Is(err, ErrNotFound) {
				t.Fatalf("reclaimed page: %v", err)
			}
		}
		if ok, _ := s.Has(KindGlobals, merkle.DomainGlobals.Sum([]byte("mid globals"))); ok {
			t.Fatal("globals only mid reached survived")
		}
		if _, err := s.StateNode(h.mid); !errors.Is(err, ErrNotFound) {
			t.Fatalf("mid's root node survived: %v", err)
		}
		h.check(t, s, h.base, h.tip, h.side)

		// Delete the ancestor of everything.
		if err := s.DeleteCommit(h.base); err != nil {
			t.Fatal(err)
		}
		if _, err := s.GC(ctx, nil); err != nil {
			t.Fatal(err)
		}
		h.check(t, s, h.tip, h.side)

		// A pinned root keeps its objects without a record.
		if err := s.DeleteCommit(h.side); err != nil {
			t.Fatal(err)
		}
		if _, err := s.GC(ctx, []merkle.Hash{h.side}); err != nil {
			t.Fatal(err)
		}
		checkRoot(t, s, h.side, h.snaps[h.side])
		h.check(t, s, h.tip)

		// Nothing retained: everything goes.
		s.DeleteCommit(h.tip)
		st, err = s.GC(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		if st.LiveObjects != 0 || st.Roots != 0 {
			t.Fatalf("GC of an empty history: %+v", st)
		}
		for _, k := range objectKinds {
			if n := countKeys(t, s.Backend(), k); n != 0 {
				t.Fatalf("%d %s keys left", n, k)
			}
		}
		if n := countKeys(t, s.Backend(), KindGCMarker); n != 0 {
			t.Fatal("gc marker left behind")
		}
	})
}

func TestGCBlobs(t *testing.T) {
	s := newMemStore(t, nil)
	h := buildHistory(t, s)
	code1, code2 := merkle.HashCode([]byte("code one")), merkle.HashCode([]byte("code two"))
	s.PutBlob(append([]byte("wasmtime/"), code1[:]...), []byte("machine code 1"))
	s.PutBlob(append([]byte("wasmtime/"), code2[:]...), []byte("machine code 2"))
	// By default GC leaves blobs alone, even of dead code.
	for _, r := range []merkle.Hash{h.base, h.mid, h.tip, h.side} {
		s.DeleteCommit(r)
	}
	if _, err := s.GC(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	if n := countKeys(t, s.Backend(), KindBlob); n != 2 {
		t.Fatalf("%d blobs after a plain GC", n)
	}
	// With DropBlob, the engine drops compiled code of dead code only.
	b := NewBatch()
	w := newWorld(s, merkle.EmptyState())
	w.deploy(b, cid(1), []byte("code one"), nil)
	w.commit(t, s, b, 5)
	st, err := s.GCWithOptions(context.Background(), GCOptions{
		DropBlob: func(key []byte, codeLive func(merkle.Hash) bool) bool {
			return !codeLive(merkle.Hash(key[len("wasmtime/"):]))
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if st.ReclaimedBlobs != 1 {
		t.Fatalf("%+v", st)
	}
	if _, err := s.Blob(append([]byte("wasmtime/"), code1[:]...)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Blob(append([]byte("wasmtime/"), code2[:]...)); !errors.Is(err, ErrNotFound) {
		t.Fatalf("dead code's blob: %v", err)
	}
}

func TestGCRefusesOnDamage(t *testing.T) {
	kv := NewMemoryBackend()
	s, _ := NewStore(kv, &Options{CacheBytes: -1})
	h := buildHistory(t, s)
	s.DeleteCommit(h.mid)
	leaf, _, _ := merkle.NewStateTree(h.tip, s).Get(cid(1))
	overwrite(t, kv, KindMemoryNode, leaf.MemoryRoot, nil)
	n := 0
	kv.Iterate(nil, func(_, _ []byte) error { n++; return nil })
	if _, err := s.GC(context.Background(), nil); !errors.Is(err, ErrNotFound) {
		t.Fatalf("GC over a missing node: %v", err)
	}
	m := 0
	kv.Iterate(nil, func(_, _ []byte) error { m++; return nil })
	if m != n {
		t.Fatalf("GC deleted %d keys although mark failed", n-m)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.GC(ctx, nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled GC: %v", err)
	}
}

// TestGCResume simulates a process that died in a sweep: the marker is
// present and only part of the garbage is gone. Opening finishes the sweep.
func TestGCResume(t *testing.T) {
	kv := NewMemoryBackend()
	s, _ := NewStore(kv, nil)
	h := buildHistory(t, s)
	s.DeleteCommit(h.mid)
	s.DeleteCommit(h.side)
	b := kv.NewBatch()
	b.Put([]byte{byte(KindGCMarker)}, encodeGCMarker([]merkle.Hash{h.side}))
	mk := makeKey(KindPage, h.onlyMid[0])
	b.Delete(mk[:]) // the part of the sweep that made it to disk
	kv.Write(b, true)

	s2, err := NewStore(kv, nil)
	if err != nil {
		t.Fatal(err)
	}
	if n := countKeys(t, kv, KindGCMarker); n != 0 {
		t.Fatal("marker survives the resumed GC")
	}
	for _, ph := range h.onlyMid {
		if ok, _ := s2.Has(KindPage, ph); ok {
			t.Fatal("resumed GC left garbage")
		}
	}
	checkRoot(t, s2, h.side, h.snaps[h.side]) // pinned by the marker
	h.check(t, s2, h.base, h.tip)

	// A resume that cannot finish leaves the store readable but refuses
	// commits until a GC succeeds.
	b.Reset()
	b.Put([]byte{byte(KindGCMarker)}, encodeGCMarker([]merkle.Hash{{0xee}}))
	kv.Write(b, true)
	s3, err := NewStore(kv, nil)
	if err != nil {
		t.Fatal(err)
	}
	checkRoot(t, s3, h.tip, h.snaps[h.tip])
	nb := NewBatch()
	nb.PutCode(merkle.HashCode([]byte("new")), []byte("new"))
	if _, err := s3.Commit(nb); !errors.Is(err, ErrGCPending) {
		t.Fatalf("commit with a pending GC: %v", err)
	}
	problems, err := s3.Fsck(context.Background(), nil)
	if err != nil || len(problems) != 1 || !errors.Is(problems[0].Err, ErrGCPending) {
		t.Fatalf("fsck with a pending GC: %v %v", problems, err)
	}
	if _, err := s3.GC(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s3.Commit(nb); err != nil {
		t.Fatal(err)
	}
}

func TestFsck(t *testing.T) {
	kv := NewMemoryBackend()
	s, _ := NewStore(kv, &Options{CacheBytes: -1})
	h := buildHistory(t, s)
	var calls, lastDone, lastTotal int
	progress := func(done, total int) {
		calls++
		if done < lastDone || done > total {
			t.Fatalf("progress %d/%d after %d/%d", done, total, lastDone, lastTotal)
		}
		lastDone, lastTotal = done, total
	}
	problems, err := s.Fsck(context.Background(), progress)
	if err != nil || len(problems) != 0 {
		t.Fatalf("clean store: %v %v", problems, err)
	}
	if calls == 0 || lastDone != lastTotal || lastTotal == 0 {
		t.Fatalf("progress: %d calls, last %d/%d", calls, lastDone, lastTotal)
	}

	// Inject one fault of each sort.
	tree := merkle.NewStateTree(h.tip, s)
	leaf1, _, _ := tree.Get(cid(1))
	leaf2, _, _ := tree.Get(cid(2))
	var pages []merkle.Hash
	merkle.NewMemTree(leaf2.MemoryRoot, s).ForEachPage(func(_ uint64, ph merkle.Hash) error {
		pages = append(pages, ph)
		return nil
	})
	l, r, _ := s.MemoryNode(leaf1.MemoryRoot)
	want := map[objKey]bool{
		makeKey(KindPage, pages[0]):             true, // missing
		makeKey(KindPage, pages[1]):             true, // flipped bit
		makeKey(KindMemoryNode, l):              true, // swapped children
		makeKey(KindCode, leaf2.CodeHash):       true, // wrong bytes
		makeKey(KindGlobals, leaf1.GlobalsHash): true, // missing
		makeKey(KindCommit, h.side):             true, // damaged record
	}
	overwrite(t, kv, KindPage, pages[0], nil)
	p, _ := kv.Get(append([]byte{byte(KindPage)}, pages[1][:]...))
	p[7] ^= 0x80
	overwrite(t, kv, KindPage, pages[1], p)
	lv, _ := kv.Get(append([]byte{byte(KindMemoryNode)}, l[:]...))
	overwrite(t, kv, KindMemoryNode, l, append(lv[32:], lv[:32]...))
	overwrite(t, kv, KindCode, leaf2.CodeHash, []byte("not the code"))
	overwrite(t, kv, KindGlobals, leaf1.GlobalsHash, nil)
	rec, _ := kv.Get(append([]byte{byte(KindCommit)}, h.side[:]...))
	rec[10] ^= 1
	overwrite(t, kv, KindCommit, h.side, rec)
	_ = r

	problems, err = s.Fsck(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	got := map[objKey]bool{}
	for _, p := range problems {
		k := makeKey(p.Kind, p.Key)
		if !want[k] {
			t.Errorf("unexpected problem %v", p)
		}
		if got[k] {
			t.Errorf("problem reported twice: %v", p)
		}
		got[k] = true
		if !errors.Is(p.Err, ErrNotFound) && !errors.Is(p.Err, ErrCorrupt) {
			t.Errorf("problem error %v", p.Err)
		}
		if !bytes.Contains([]byte(p.String()), []byte(p.Key.String())) {
			t.Errorf("problem %q does not name its key", p)
		}
	}
	for k := range want {
		if !got[k] {
			t.Errorf("fault in %s %s not found", k.kind(), k.hash())
		}
	}
	// A head naming a root without a record is a problem too.
	b := kv.NewBatch()
	b.Put([]byte{byte(KindHead)}, encodeHead(merkle.Hash{0xab}))
	kv.Write(b, true)
	problems, _ = s.Fsck(context.Background(), nil)
	found := false
	for _, p := range problems {
		found = found || p.Kind == KindHead && p.Key == merkle.Hash{0xab}
	}
	if !found {
		t.Fatal("dangling head not reported")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Fsck(ctx, nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled fsck: %v", err)
	}
}
