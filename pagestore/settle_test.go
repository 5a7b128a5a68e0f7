package pagestore

import (
	"bytes"
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/wasmstate/wasmstate/internal/crashtest"
	"github.com/wasmstate/wasmstate/merkle"
)

// settleStore opens a store in dir and commits random pages until its
// journal holds more than settleMinJournal bytes. It returns the store,
// open, and every root with what it holds.
func settleStore(t *testing.T, dir string) (*Store, map[merkle.Hash]snapshot) {
	t.Helper()
	s, err := Open(context.Background(), dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(11, 12))
	w := newWorld(s, merkle.EmptyState())
	snaps := map[merkle.Hash]snapshot{}
	for i := 0; journalBytes(dir) <= settleMinJournal; i++ {
		b := NewBatch()
		if w.root == merkle.EmptyState() {
			w.deploy(b, cid(0), []byte("code"), []byte("owner"))
		}
		for p := 0; p < 16; p++ {
			if err := w.writePage(b, cid(0), uint64(r.IntN(testPages)), randomPage(r)); err != nil {
				t.Fatal(err)
			}
		}
		snaps[w.commit(t, s, b, int64(i+1))] = w.snapshot()
	}
	return s, snaps
}

// TestCloseSettlesJournal: a clean Close after a journal's worth of commits
// replays the journal into a table, and every commit reads back after the
// next open, which finds nothing to report.
func TestCloseSettlesJournal(t *testing.T) {
	dir := t.TempDir()
	s, snaps := settleStore(t, dir)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if n := journalBytes(dir); n != 0 {
		t.Fatalf("journal of %d bytes left after Close", n)
	}
	s, err := Open(context.Background(), dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if rep := s.JournalReport(); rep != nil {
		t.Fatalf("open after a settled close reports %+v", rep)
	}
	for root, want := range snaps {
		checkRoot(t, s, root, want)
	}
	if probs, err := s.Fsck(context.Background(), nil); err != nil || len(probs) > 0 {
		t.Fatalf("fsck: %v, %v", probs, err)
	}
	// A store opened and closed without writing is not settled again (its
	// journal is empty anyway) and stays as it was.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if n := journalBytes(dir); n != 0 {
		t.Fatalf("journal of %d bytes after a close without writes", n)
	}
}

// TestSettleRefusesDamagedJournal: settling a damaged journal fails and
// touches nothing, so that the next Open finds and reports the damage
// exactly as it would have.
func TestSettleRefusesDamagedJournal(t *testing.T) {
	dir := t.TempDir()
	s, _ := settleStore(t, dir)
	crashed := filepath.Join(t.TempDir(), "s")
	copyTree(t, dir, crashed) // as a crash leaves it: the journal unflushed
	s.Close()
	journal := journalFile(t, crashed)
	crashtest.DamageFile(t, rand.New(rand.NewPCG(1, 2)), journal, "flip8")
	before, err := os.ReadFile(journal)
	if err != nil {
		t.Fatal(err)
	}
	if settleJournal(crashed) {
		t.Fatal("a damaged journal was settled")
	}
	after, err := os.ReadFile(journal)
	if err != nil || !bytes.Equal(before, after) {
		t.Fatalf("settling a damaged journal changed it (%v)", err)
	}
	s, err = Open(context.Background(), crashed, nil)
	if err == nil {
		defer s.Close()
		if s.JournalReport() == nil {
			t.Fatal("open of the damaged store reports nothing")
		}
	}
}
