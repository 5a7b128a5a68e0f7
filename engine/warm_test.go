package engine

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"slices"
	"testing"

	"github.com/wasmstate/wasmstate/merkle"
)

// Tests of what warm sets (warm.go) and memory images (image.go) risk:
// state leaking between sessions, an instance handed to the wrong root,
// a load that misses or invents a page.

func u32s(vs ...uint32) []byte {
	var b []byte
	for _, v := range vs {
		b = binary.LittleEndian.AppendUint32(b, v)
	}
	return b
}

// pageWriter deploys pagewriter.wat grown to wasmPages × 64 KiB with every
// 4 KiB page filled, and commits.
func pageWriter(t *testing.T, e *Engine, wasmPages uint32) (merkle.ContractID, merkle.Hash) {
	t.Helper()
	s := newSession(t, e, merkle.EmptyState())
	id := deploy(t, s, "pagewriter", DeployOptions{})
	steps := []struct {
		fn  string
		arg []byte
	}{{"grow", u32s(wasmPages - 1)}, {"fill", u32s(0, wasmPages*16)}}
	for _, st := range steps {
		if st.fn == "grow" && wasmPages == 1 {
			continue
		}
		if _, err := s.Call(context.Background(), id, st.fn, st.arg, 1<<40); err != nil {
			t.Fatalf("%s: %v", st.fn, err)
		}
	}
	r, err := s.Commit(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return id, r
}

// writePages makes pagewriter write n pages start, start+stride, ...
func writePages(t *testing.T, s *Session, id merkle.ContractID, n, stride, start uint32) {
	t.Helper()
	call(t, s, id, "write", u32s(n, stride, start))
}

// checkLive compares contract id's live memory, memory tree, length and
// globals in s with what the store holds for it at root: every page.
func checkLive(t *testing.T, s *Session, id merkle.ContractID, root merkle.Hash) {
	t.Helper()
	c, ok := s.contracts[id]
	if !ok {
		t.Fatalf("contract %s not loaded", short(id))
	}
	leaf, ok, err := merkle.NewStateTree(root, s.e.store).Get(id)
	if err != nil || !ok {
		t.Fatalf("leaf at %s: %v %v", root, ok, err)
	}
	mem := c.refresh()
	if uint64(len(mem)) != leaf.MemoryLen {
		t.Fatalf("live memory %d bytes, stored %d", len(mem), leaf.MemoryLen)
	}
	mt := merkle.NewMemTree(leaf.MemoryRoot, s.e.store)
	for i := uint64(0); i < leaf.MemoryLen/merkle.PageSize; i++ {
		h, err := mt.Page(i)
		if err != nil {
			t.Fatal(err)
		}
		want := make([]byte, merkle.PageSize)
		if err := s.e.store.ReadPage(h, want); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(mem[i*merkle.PageSize:(i+1)*merkle.PageSize], want) {
			t.Fatalf("page %d of the live memory differs from the store at %s", i, root)
		}
		// The contract's own tree (which may share an image's nodes) too.
		if got, err := c.mt.Page(i); err != nil || got != h {
			t.Fatalf("page %d: the contract's memory tree has %s (%v), the store %s", i, got, err, h)
		}
	}
	enc, err := s.e.store.Globals(leaf.GlobalsHash)
	if err != nil {
		t.Fatal(err)
	}
	want, err := decodeGlobals(enc, c.mod.info.MutableGlobals)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.readGlobals(nil); !slices.Equal(got, want) {
		t.Fatalf("live globals %v, stored %v", got, want)
	}
}

func TestWarmHandOff(t *testing.T) {
	forEachTracker(t, func(t *testing.T, kind mode) {
		e := testEngine(t, kind)
		id, r0 := pageWriter(t, e, 32) // 2 MiB: large enough for images by default

		// Block 1: write 4 pages, commit, close: the set stays warm at r1.
		s1, _ := e.NewSession(r0, SessionOptions{})
		writePages(t, s1, id, 4, 7, 3)
		r1, err := s1.Commit(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		s1.Close()
		hits := e.Stats().WarmHits

		// Two sessions forked from r1: the first takes the warm set, the
		// second loads cold. Each writes the same page; each sees only its
		// own write and they commit different roots.
		a, _ := e.NewSession(r1, SessionOptions{})
		b, _ := e.NewSession(r1, SessionOptions{})
		defer b.Close()
		if kind.load != "cold" && e.Stats().WarmHits != hits+1 {
			t.Fatalf("warm hits %d, want %d: the set of r1 was not taken", e.Stats().WarmHits, hits+1)
		}
		writePages(t, a, id, 1, 1, 3)
		writePages(t, b, id, 1, 1, 3)
		writePages(t, b, id, 1, 1, 3)
		ra, err := a.Commit(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		rb, err := b.Commit(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if ra == rb || ra == r1 || rb == r1 {
			t.Fatalf("roots: a %s b %s base %s", ra, rb, r1)
		}
		checkLive(t, a, id, ra)
		checkLive(t, b, id, rb)
		a.Close()

		// A session at the older root r0 must not get r1's or ra's
		// instance: it sees r0's memory.
		old := newSession(t, e, r0)
		if _, err := old.Call(context.Background(), id, "read", u32s(3), gas); err != nil {
			t.Fatal(err)
		}
		checkLive(t, old, id, r0)

		// The warm set of ra: a failed call in it leaves the root as it was.
		w := newSession(t, e, ra)
		if _, err := w.Call(context.Background(), id, "write", u32s(1, 1, 1000), gas); !errors.Is(err, ErrTrap) {
			t.Fatalf("write out of bounds: %v, want a trap", err)
		}
		if got := root(t, w); got != ra {
			t.Fatalf("root after a failed call %s, want %s", got, ra)
		}
		checkLive(t, w, id, ra)
	})
}

// TestWarmCloseWithoutCommit: a session that changed pages and globals and
// closed without committing hands on instances exactly at its base.
func TestWarmCloseWithoutCommit(t *testing.T) {
	forEachTracker(t, func(t *testing.T, kind mode) {
		e := testEngine(t, kind)
		id, r0 := pageWriter(t, e, 32)
		s := newSession(t, e, r0)
		cid := deploy(t, s, "counter", DeployOptions{})
		r1, err := s.Commit(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		s.Close()

		s2, _ := e.NewSession(r1, SessionOptions{})
		writePages(t, s2, id, 8, 3, 1)
		call(t, s2, cid, "add", u64(41))
		call(t, s2, cid, "set_global", u64(7))
		if _, err := s2.Root(); err != nil { // the trees take the changes too
			t.Fatal(err)
		}
		writePages(t, s2, id, 2, 1, 100)
		s2.Close()

		s3 := newSession(t, e, r1)
		if kind.load != "cold" {
			if _, ok := s3.contracts[id]; !ok {
				t.Fatal("the set was not handed on")
			}
			// Before any call: the live instances are the store's r1.
			checkLive(t, s3, id, r1)
			checkLive(t, s3, cid, r1)
		}
		// The same calls in a session that loads cold (s3 holds the warm
		// set) give the same results and root.
		ref := newSession(t, e, r1)
		for _, ss := range []*Session{s3, ref} {
			if v := readU64(t, call(t, ss, cid, "read_value", nil)); v != 0xfc {
				t.Fatalf("counter %d, want 0xfc", v)
			}
			if v := readU64(t, call(t, ss, cid, "get_global", nil)); v != 0 {
				t.Fatalf("global %d, want 0", v)
			}
		}
		if got, want := root(t, s3), root(t, ref); got != want {
			t.Fatalf("root %s after the calls on the warm set, %s on a cold load", got, want)
		}
	})
}

// TestImageOverlay: loads of one big contract at many roots, with the
// image built at one of them and rebuilt when too far, each see exactly
// their root's memory.
func TestImageOverlay(t *testing.T) {
	for _, load := range []string{"image", "cold"} {
		t.Run(load, func(t *testing.T) {
			e := testEngine(t, mode{tracker: auto.tracker, load: load})
			id, r := pageWriter(t, e, 32)
			roots := []merkle.Hash{r}
			for i := range 12 {
				s, _ := e.NewSession(r, SessionOptions{})
				writePages(t, s, id, uint32(1+i*20), 1, uint32(i*7))
				var err error
				if r, err = s.Commit(context.Background()); err != nil {
					t.Fatal(err)
				}
				s.Close()
				roots = append(roots, r)
			}
			// Cold loads in an order that drifts far from every image.
			for _, i := range []int{0, 12, 1, 11, 6, 0, 12} {
				s, _ := e.NewSession(roots[i], SessionOptions{})
				if _, err := s.Call(context.Background(), id, "read", u32s(0), gas); err != nil {
					t.Fatal(err)
				}
				checkLive(t, s, id, roots[i])
				s.Close()
			}
			if st := e.Stats(); st.ImageBuilds < 2 {
				t.Fatalf("%d image builds: the rebuild path did not run", st.ImageBuilds)
			}
		})
	}
}

// TestWarmSetContractCap: a chain of sessions each loading other contracts
// does not pile their instances up in one store past warmMaxContracts
// (wasmtime refuses more than 10,000 instances per store): the set that
// grows past it is dropped, and the next session starts afresh.
func TestWarmSetContractCap(t *testing.T) {
	defer func(n int) { warmMaxContracts = n }(warmMaxContracts)
	warmMaxContracts = 8
	e := testEngine(t, auto)
	root := merkle.EmptyState()
	for round := range 4 {
		s, err := e.NewSession(root, SessionOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if n := len(s.contracts); n > warmMaxContracts {
			t.Fatalf("round %d: the session took a warm set of %d contracts (cap %d)", round, n, warmMaxContracts)
		}
		for i := range 5 {
			deploy(t, s, "counter", DeployOptions{Nonce: uint64(round*10 + i)})
		}
		root = commit(t, s)
		s.Close()
	}
	if e.Stats().WarmHits == 0 {
		t.Fatal("no session took a warm set: the test does not exercise the hand-off")
	}
}

// TestImageTreeShared: contracts loaded from an image share its memory
// tree (merkle.MemTree.Rebase). Sessions writing through shared trees, at
// the image's root and at roots that differ from it, commit exactly the
// roots an engine loading eagerly commits, and leave the image's tree as
// it was.
func TestImageTreeShared(t *testing.T) {
	run := func(load string) []merkle.Hash {
		e := testEngine(t, mode{tracker: auto.tracker, load: load})
		id, r0 := pageWriter(t, e, 32)
		roots := []merkle.Hash{r0}
		// Each session forks from an earlier root: the first at the
		// image's, later ones at roots that differ from it.
		for i := range 8 {
			base := roots[i/2]
			s := newSession(t, e, base)
			writePages(t, s, id, uint32(3+i), uint32(5+i), uint32(i))
			if i%3 == 0 { // a failed call in between: reverted
				if _, err := s.Call(context.Background(), id, "write", u32s(3, 200, 300), gas); err == nil { // pages 300, 500, then 700 traps
					t.Fatal("write past the memory succeeded")
				}
			}
			writePages(t, s, id, 2, 64, uint32(i))
			r, err := s.Commit(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			checkLive(t, s, id, r)
			s.Close()
			roots = append(roots, r)
		}
		for _, r := range roots {
			s := newSession(t, e, r)
			call(t, s, id, "read", u32s(7))
			checkLive(t, s, id, r)
			s.Close()
		}
		if load != "eager" {
			img := e.images.acquire(id)
			if img == nil {
				t.Fatal("no image")
			}
			defer e.images.release(img)
			if img.tree.Root() != img.root {
				t.Fatal("the image's tree changed its root")
			}
			fresh := merkle.NewMemTree(img.root, e.store)
			for i := range uint64(32 * 16) {
				a, err := img.tree.Page(i)
				if err != nil {
					t.Fatal(err)
				}
				if b, _ := fresh.Page(i); a != b {
					t.Fatalf("the image's tree changed page %d", i)
				}
			}
		}
		return roots
	}
	want := run("eager")
	for _, load := range []string{"image", "cold"} {
		if got := run(load); !slices.Equal(got, want) {
			t.Fatalf("%s: roots %v, eager %v", load, got, want)
		}
	}
}
