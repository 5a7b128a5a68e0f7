package pagestore

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/syndtr/goleveldb/leveldb/util"

	"github.com/wasmstate/wasmstate/internal/crashtest"
	"github.com/wasmstate/wasmstate/merkle"
)

// journalTrialsEnv sets the number of trials of TestJournalDamageNeverSilent
// (default 40, 20 under -race; the long run in RELIABILITY.md used 300).
const journalTrialsEnv = "PAGESTORE_JOURNAL_TRIALS"

// journalStore builds a leveldb store whose first commits are compacted
// into tables and whose last ones live only in the journal, as a crash
// leaves it (the files copied while the store is open: journal damage is
// what follows an unclean stop). It returns the directory and every root with what it
// holds.
func journalStore(t *testing.T) (string, map[merkle.Hash]snapshot, []merkle.Hash) {
	t.Helper()
	dir := t.TempDir()
	s, err := Open(context.Background(), dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(7, 8))
	w := newWorld(s, merkle.EmptyState())
	snaps := map[merkle.Hash]snapshot{}
	var roots []merkle.Hash
	commitN := func(n int) {
		for i := 0; i < n; i++ {
			b := NewBatch()
			if w.root == merkle.EmptyState() {
				for c := 0; c < 3; c++ {
					w.deploy(b, cid(c), []byte(fmt.Sprintf("code %d", c)), []byte("owner"))
				}
			}
			for p := 0; p < 3; p++ {
				if err := w.writePage(b, cid(r.IntN(3)), uint64(r.IntN(testPages)), randomPage(r)); err != nil {
					t.Fatal(err)
				}
			}
			root := w.commit(t, s, b, int64(len(roots)+1))
			roots = append(roots, root)
			snaps[root] = w.snapshot()
		}
	}
	commitN(4)
	if err := s.Backend().(*LevelDB).DB().CompactRange(util.Range{}); err != nil {
		t.Fatal(err)
	}
	commitN(6) // these stay in the journal
	crashed := t.TempDir()
	copyTree(t, dir, crashed)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return crashed, snaps, roots
}

func journalFile(t *testing.T, dir string) string {
	t.Helper()
	logs, _ := filepath.Glob(filepath.Join(dir, "*.log"))
	var js []string
	for _, l := range logs {
		if filepath.Base(l) != "LOG" {
			js = append(js, l)
		}
	}
	slices.Sort(js)
	if len(js) == 0 {
		t.Fatalf("no journal in %s", dir)
	}
	return js[len(js)-1]
}

// TestJournalDamageNeverSilent damages the goleveldb journal of a store
// holding acknowledged commits (bits flipped, truncated, zeroed, garbage
// appended, deleted) and opens it. Every trial must end in one of: every
// commit intact; Open failing with a *JournalError that names exactly the
// commits a recovery then drops; or (damage losing no commit) an open that
// reports the damage. A commit missing after an open that reported nothing
// is a silent loss and fails the test.
func TestJournalDamageNeverSilent(t *testing.T) {
	n := 40
	if raceEnabled {
		n = 20
	}
	if v := os.Getenv(journalTrialsEnv); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil {
			t.Fatalf("%s=%q", journalTrialsEnv, v)
		}
	}
	pristine, snaps, roots := journalStore(t)
	seed := rand.Uint64()
	t.Logf("%d trials; seed %d", n, seed)
	r := rand.New(rand.NewPCG(seed, 1))
	faults := []string{"flip1", "flip8", "truncate", "zero4k", "append", "delete"}
	outcomes := map[string]int{}
	for i := 0; i < n; i++ {
		fault := faults[i%len(faults)]
		dir := filepath.Join(t.TempDir(), "s")
		copyTree(t, pristine, dir)
		crashtest.DamageFile(t, r, journalFile(t, dir), fault)
		outcomes[journalTrial(t, dir, snaps, roots, fault)]++
	}
	t.Logf("outcomes: %v", outcomes)
	if outcomes["silent-loss"] > 0 {
		t.Fatalf("%d silent losses in %d trials", outcomes["silent-loss"], n)
	}
	// The trials must actually have lost commits, or they test nothing.
	if outcomes["refused"] == 0 {
		t.Fatalf("no trial lost a commit: the injection does not reach the journal (%v)", outcomes)
	}
}

// journalTrial opens a damaged store and classifies the outcome.
func journalTrial(t *testing.T, dir string, snaps map[merkle.Hash]snapshot, roots []merkle.Hash, what string) string {
	t.Helper()
	s, err := Open(context.Background(), dir, nil)
	if err != nil {
		var je *JournalError
		if !errors.As(err, &je) || !errors.Is(err, ErrCorrupt) {
			// Damage goleveldb refuses outright (no recovery possible
			// through us) must still be typed.
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("%s: open: untyped error %v", what, err)
			}
			t.Logf("%s: other: %v", what, err)
			return "refused-other"
		}
		if len(je.Lost) == 0 || !strings.Contains(err.Error(), je.Lost[0].Root.String()) {
			t.Fatalf("%s: JournalError names no lost commit: %v", what, err)
		}
		// Recovery drops exactly what the error named.
		s, err = Open(context.Background(), dir, &Options{RecoverJournal: true})
		if err != nil {
			t.Fatalf("%s: recover: %v", what, err)
		}
		defer s.Close()
		rep := s.JournalReport()
		if rep == nil || !slices.Equal(rep.Dropped, je.Lost) {
			t.Fatalf("%s: recovery dropped %+v, the error named %+v", what, rep, je.Lost)
		}
		checkAfterJournal(t, s, snaps, roots, lostSet(je.Lost), what)
		// The next open is clean: the log no longer lists what was dropped.
		s.Close()
		if s, err = Open(context.Background(), dir, nil); err != nil {
			t.Fatalf("%s: open after recovery: %v", what, err)
		}
		if s.JournalReport() != nil {
			t.Fatalf("%s: open after recovery reports %+v", what, s.JournalReport())
		}
		return "refused"
	}
	defer s.Close()
	var dropped map[merkle.Hash]bool
	if rep := s.JournalReport(); rep != nil {
		dropped = lostSet(rep.Dropped)
	}
	if n := checkAfterJournal(t, s, snaps, roots, dropped, what); n > 0 {
		return "silent-loss"
	}
	if s.JournalReport() != nil {
		return "recovered-no-loss"
	}
	return "intact"
}

func lostSet(ls []LostCommit) map[merkle.Hash]bool {
	m := map[merkle.Hash]bool{}
	for _, l := range ls {
		m[l.Root] = true
	}
	return m
}

// checkAfterJournal reads every root: those not in dropped must read back
// exactly; it returns how many of them are gone (silent losses).
func checkAfterJournal(t *testing.T, s *Store, snaps map[merkle.Hash]snapshot, roots []merkle.Hash, dropped map[merkle.Hash]bool, what string) int {
	t.Helper()
	silent := 0
	for _, root := range roots {
		ok, err := s.HasRoot(root)
		if err != nil {
			t.Fatalf("%s: HasRoot: %v", what, err)
		}
		switch {
		case dropped[root] && ok:
			t.Fatalf("%s: %s reported dropped but present", what, root)
		case dropped[root]:
		case !ok:
			t.Logf("%s: commit %s gone, nothing reported", what, root)
			silent++
		default:
			if err := readRoot(s, root, snaps[root]); err != nil {
				t.Fatalf("%s: root %s: %v", what, root, err)
			}
		}
	}
	return silent
}

func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	if err := os.MkdirAll(dst, 0o755); err != nil {
		t.Fatal(err)
	}
	es, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range es {
		if e.Name() == "LOCK" {
			continue
		}
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestCommitLogFollowsDeletes: a deleted commit is not a loss, a damaged
// commit log is a typed error, and a store without a log gets one built.
func TestCommitLogFollowsDeletes(t *testing.T) {
	dir, _, roots := journalStore(t)
	s, err := Open(context.Background(), dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteCommit(roots[2]); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if s, err = Open(context.Background(), dir, nil); err != nil {
		t.Fatalf("open after DeleteCommit: %v", err)
	}
	s.Close()

	// A record deleted behind the store's back is named.
	db, err := OpenLevelDB(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	key := makeKey(KindCommit, roots[5])
	if err := db.DB().Delete(key[:], nil); err != nil {
		t.Fatal(err)
	}
	db.Close()
	_, err = Open(context.Background(), dir, nil)
	var je *JournalError
	if !errors.As(err, &je) || len(je.Lost) != 1 || je.Lost[0].Root != roots[5] {
		t.Fatalf("open with a record missing: %v", err)
	}

	// A damaged log is refused; recovery rebuilds it from the records.
	logPath := filepath.Join(dir, CommitLogName)
	b, _ := os.ReadFile(logPath)
	b[10] ^= 1
	os.WriteFile(logPath, b, 0o644)
	if _, err := Open(context.Background(), dir, nil); !errors.As(err, &je) || je.File != CommitLogName {
		t.Fatalf("open with a damaged commit log: %v", err)
	}
	if s, err = Open(context.Background(), dir, &Options{RecoverJournal: true}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	// A missing log (a store from before it existed) is built at open.
	os.Remove(logPath)
	if s, err = Open(context.Background(), dir, nil); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, err := os.Stat(logPath); err != nil {
		t.Fatalf("commit log not rebuilt: %v", err)
	}
	if s, err = Open(context.Background(), dir, nil); err != nil {
		t.Fatal(err)
	}
	s.Close()
}
