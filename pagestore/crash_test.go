package pagestore

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wasmstate/wasmstate/internal/crashtest"
	"github.com/wasmstate/wasmstate/merkle"
)

// The crash test re-executes the test binary as a child that commits in a
// loop on a leveldb store, and kills it with SIGKILL at random moments.
const (
	crashDirEnv   = "PAGESTORE_CRASH_DIR"   // set in the child: the store's directory
	crashSeedEnv  = "PAGESTORE_CRASH_SEED"  // set in the child: its random seed
	crashKillsEnv = "PAGESTORE_CRASH_KILLS" // set by a user: number of kills (default 20)
)

// The child's protocol, one line each, written after the event:
//
//	R          store open, about to commit
//	c <root>   about to Commit root        C <root>   Commit returned
//	d <root>   about to DeleteCommit root  D <root>   DeleteCommit returned
//	g          about to GC                 G          GC returned
//	E <error>  failed (the child then exits 1)

const crashContracts = 6

// TestCrashChild is the child half of TestCrash; it is skipped unless the
// parent started it.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv(crashDirEnv)
	if dir == "" {
		t.Skip("run by TestCrash")
	}
	seed, _ := strconv.ParseUint(os.Getenv(crashSeedEnv), 10, 64)
	if err := crashChild(dir, seed); err != nil {
		fmt.Printf("E %v\n", err)
		os.Exit(1)
	}
	os.Exit(0)
}

func crashChild(dir string, seed uint64) error {
	s, err := Open(context.Background(), dir, nil)
	if err != nil {
		return err
	}
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	head, ok, err := s.Head()
	if err != nil {
		return err
	}
	if !ok {
		head = merkle.EmptyState()
	}
	w := newWorld(s, head)
	// A pool of pages shared by all runs and contracts, to exercise dedupe.
	pool := make([][]byte, 8)
	for i := range pool {
		pool[i] = sparsePage(rand.New(rand.NewPCG(uint64(i), 1)))
	}
	fmt.Println("R")
	deadline := time.Now().Add(60 * time.Second) // in case the parent is gone
	for i := 1; time.Now().Before(deadline); i++ {
		b := NewBatch()
		if head == merkle.EmptyState() && i == 1 {
			for c := 0; c < crashContracts; c++ {
				w.deploy(b, cid(c), []byte(fmt.Sprintf("code %d", c%3)), []byte("owner"))
			}
		}
		for n := 1 + r.IntN(3); n > 0; n-- {
			id := cid(r.IntN(crashContracts))
			for p := 1 + r.IntN(4); p > 0; p-- {
				var page []byte
				switch x := r.IntN(10); {
				case x < 2:
					page = pool[r.IntN(len(pool))]
				case x < 3:
					page = make([]byte, merkle.PageSize) // clears the page
				default:
					page = randomPage(r)
				}
				if err := w.writePage(b, id, uint64(r.IntN(testPages)), page); err != nil {
					return err
				}
			}
			if r.IntN(3) == 0 {
				if err := w.setGlobals(b, id, []byte(fmt.Sprint(r.Uint64()))); err != nil {
					return err
				}
			}
		}
		root, changed, err := w.stage(b)
		if err != nil {
			return err
		}
		b.SetCommit(CommitRecord{Root: root, Parent: w.root, Time: time.Now().UnixNano(), Changed: changed})
		b.SetHead(root)
		fmt.Printf("c %s\n", root)
		if _, err := s.Commit(b); err != nil {
			return err
		}
		fmt.Printf("C %s\n", root)
		w.root = root

		if i%2 == 0 {
			// Keep about a dozen records, so GC has garbage to reclaim
			// and the store stays small.
			recs, err := s.Commits()
			if err != nil {
				return err
			}
			if len(recs) > 12 {
				victim := recs[r.IntN(len(recs)-1)].Root // never the newest
				if victim != root {
					fmt.Printf("d %s\n", victim)
					if err := s.DeleteCommit(victim); err != nil {
						return err
					}
					fmt.Printf("D %s\n", victim)
				}
			}
		}
		if i%13 == 0 {
			fmt.Println("g")
			if _, err := s.GC(context.Background(), nil); err != nil {
				return err
			}
			fmt.Println("G")
		}
	}
	return s.Close()
}

func TestCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test in -short mode")
	}
	kills := 20
	if v := os.Getenv(crashKillsEnv); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			t.Fatalf("%s=%q", crashKillsEnv, v)
		}
		kills = n
	}
	dir := crashDir(t)
	r := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	announced := map[string]bool{} // c: a commit of the root may have landed
	committed := map[string]bool{} // C: the commit landed
	deleting := map[string]bool{}  // d: a delete may have landed
	deleted := map[string]bool{}   // D: the delete landed
	var gcs, lastCommitted int
	cut := map[string]int{} // the event each kill interrupted
	for k := 0; k < kills; k++ {
		env := []string{crashDirEnv + "=" + dir, fmt.Sprintf("%s=%d", crashSeedEnv, r.Uint64())}
		// Half the kills at a random moment (most of the child's time
		// goes to GC), half just after the child announced its n-th
		// commit: inside Commit, or just after it.
		kill := crashtest.Kill{Delay: time.Duration(r.IntN(400)) * time.Millisecond}
		if k%2 == 1 {
			kill = crashtest.Kill{Trigger: "c", Nth: 1 + r.IntN(20), After: time.Duration(r.IntN(3000)) * time.Microsecond}
		}
		got := crashtest.Run(t, "TestCrashChild", env, kill)

		if len(got) > 0 {
			switch last := got[len(got)-1]; last[0] {
			case 'c', 'd', 'g':
				cut[last[:1]]++
			}
		}
		for _, line := range got {
			tag, arg, _ := strings.Cut(line, " ")
			switch tag {
			case "c":
				announced[arg] = true
			case "C":
				committed[arg] = true
				lastCommitted++
			case "d":
				deleting[arg] = true
			case "D":
				deleted[arg] = true
			case "G":
				gcs++
			}
		}
		crashCheck(t, dir, announced, committed, deleting, deleted)
	}
	t.Logf("%d kills, %d commits, %d deletes, %d GCs completed; kills inside Commit %d, DeleteCommit %d, GC %d",
		kills, lastCommitted, len(deleted), gcs, cut["c"], cut["d"], cut["g"])
	if lastCommitted < kills {
		t.Fatalf("only %d commits in %d runs: the child hardly ran", lastCommitted, kills)
	}
}

// crashDir returns the directory for the crash test's store: on tmpfs
// when there is one (crashtest.Dir says why).
func crashDir(t *testing.T) string { return crashtest.Dir(t, "pagestore-crash-") }

// crashCheck reopens the store after a kill and checks that exactly the
// reported history is there, complete.
func crashCheck(t *testing.T, dir string, announced, committed, deleting, deleted map[string]bool) {
	t.Helper()
	s, err := Open(context.Background(), dir, nil) // finishes a GC the kill interrupted
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	recs, err := s.Commits()
	if err != nil {
		t.Fatal(err)
	}
	present := map[string]bool{}
	for _, rec := range recs {
		root := rec.Root.String()
		present[root] = true
		if !announced[root] {
			t.Fatalf("record %s was never committed", root)
		}
		if deleted[root] {
			t.Fatalf("record %s was deleted", root)
		}
	}
	for root := range committed {
		if !present[root] && !deleting[root] {
			t.Fatalf("committed root %s lost", root)
		}
	}
	head, ok, err := s.Head()
	if err != nil {
		t.Fatal(err)
	}
	if ok && head != merkle.EmptyState() && !present[head.String()] {
		t.Fatalf("head %s has no record", head)
	}
	// Every object of every record rehashes: no commit is half there.
	problems, err := s.Fsck(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("after kill: %v", p)
	}
	if t.Failed() {
		t.FailNow()
	}
	// And the head reads back through the trees.
	if ok {
		err := merkle.NewStateTree(head, s).ForEach(func(leaf merkle.ContractLeaf) error {
			return merkle.NewMemTree(leaf.MemoryRoot, s).ForEachPage(func(_ uint64, h merkle.Hash) error {
				_, err := s.Page(h)
				return err
			})
		})
		if err != nil {
			t.Fatalf("head %s: %v", head, err)
		}
	}
}
