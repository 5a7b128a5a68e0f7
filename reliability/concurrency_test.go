package reliability

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wasmstate/wasmstate/engine"
	"github.com/wasmstate/wasmstate/merkle"
)

// Concurrency: 16 goroutines open sessions on a shared root and on their
// own and each other's roots, call, commit, delete commits and run GC at
// once; every acknowledged root must read back at the end, every deleted
// one must be gone, and Fsck must be clean.

type ackRoot struct {
	expect string
	owner  int
}

func TestConcurrencyStress(t *testing.T) {
	const workers = 16
	dur := 3 * time.Second
	if os.Getenv(longEnv) != "" {
		dur = 60 * time.Second
	}
	dir := shmDir(t, "wasmstate-stress-")
	e, err := engine.Open(context.Background(), dir, engine.Options{Logger: quiet, Queries: testQueries()})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	s0 := session(t, e, merkle.EmptyState())
	deployFixed(t, s0)
	shared := commit(t, s0)
	m0, err := readModel(s0)
	if err != nil {
		t.Fatal(err)
	}
	s0.Close()

	var mu sync.Mutex
	acked := map[merkle.Hash]ackRoot{shared: {m0.expect(), -1}}
	deleted := map[merkle.Hash]bool{}  // DeleteCommit returned, not deferred
	deferred := map[merkle.Hash]bool{} // deletion deferred: gone once unpinned
	var commits, deletes, deferrals, gcs, sessions, calls atomic.Int64
	stop := time.Now().Add(dur)
	errc := make(chan error, workers)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			errc <- stressWorker(w, e, shared, m0, stop, &mu, acked, deleted, deferred,
				&commits, &deletes, &deferrals, &gcs, &sessions, &calls)
		}(w)
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		if err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("%d workers for %v: %d sessions, %d calls, %d commits, %d deletes (%d deferred), %d GCs",
		workers, dur, sessions.Load(), calls.Load(), commits.Load(), deletes.Load(), deferrals.Load(), gcs.Load())
	// Every session is closed: deferred deletions have happened.
	checked := 0
	for root, a := range acked {
		if deleted[root] || deferred[root] {
			s, err := e.NewSession(root, engine.SessionOptions{})
			if err == nil {
				s.Close()
				t.Fatalf("deleted root %s (worker %d) still opens", short(root), a.owner)
			}
			if !errors.Is(err, engine.ErrUnknownRoot) {
				t.Fatal(err)
			}
			continue
		}
		if err := checkRoot(e, root, a.expect); err != nil {
			t.Fatalf("acknowledged root %s (worker %d): %v", short(root), a.owner, err)
		}
		checked++
	}
	problems, err := e.Store().Fsck(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("fsck: %v", p)
	}
	if _, err := e.GC(context.Background()); err != nil {
		t.Fatal(err)
	}
	if problems, err := e.Store().Fsck(context.Background(), nil); err != nil || len(problems) > 0 {
		t.Fatalf("fsck after the last GC: %v %v", err, problems)
	}
	t.Logf("%d acknowledged roots read back exactly, %d deleted ones gone", checked, len(acked)-checked)
}

func stressWorker(w int, e *engine.Engine, shared merkle.Hash, m0 *model, stop time.Time,
	mu *sync.Mutex, acked map[merkle.Hash]ackRoot, deleted, deferred map[merkle.Hash]bool,
	commits, deletes, deferrals, gcs, sessions, calls *atomic.Int64) error {
	r := rand.New(rand.NewPCG(uint64(w), 99))
	type own struct {
		root merkle.Hash
		m    *model
	}
	var mine []own // this worker's live roots with their models (the last few)
	clone := func(m *model) *model {
		c := &model{mem: maps.Clone(m.mem), ctr: m.ctr, glb: m.glb}
		for id, b := range c.mem {
			c.mem[id] = append([]byte(nil), b...)
		}
		return c
	}
	for i := 0; time.Now().Before(stop); i++ {
		// Base: the shared root, one of ours, or someone else's.
		base, m := shared, clone(m0)
		switch x := r.IntN(10); {
		case x < 4 && len(mine) > 0:
			o := mine[r.IntN(len(mine))]
			base, m = o.root, clone(o.m)
		case x < 6:
			mu.Lock()
			for root, a := range acked {
				if a.owner != w && !deleted[root] && !deferred[root] {
					base, m = root, nil
					break
				}
			}
			mu.Unlock()
		}
		s, err := e.NewSession(base, engine.SessionOptions{})
		if err != nil {
			mu.Lock()
			gone := deleted[base] || deferred[base]
			mu.Unlock()
			if errors.Is(err, engine.ErrUnknownRoot) && gone {
				continue // deleted by its owner meanwhile
			}
			return fmt.Errorf("worker %d: session at %s: %w", w, short(base), err)
		}
		sessions.Add(1)
		if m == nil { // someone else's root: read what it holds, and check it
			if m, err = readModel(s); err != nil {
				s.Close()
				return fmt.Errorf("worker %d: read %s: %w", w, short(base), err)
			}
			mu.Lock()
			want := acked[base].expect
			mu.Unlock()
			if got := m.expect(); got != want {
				s.Close()
				return fmt.Errorf("worker %d: root %s holds %s, want %s", w, short(base), got, want)
			}
		}
		if err := mutate(r, s, m); err != nil {
			s.Close()
			return fmt.Errorf("worker %d: %w", w, err)
		}
		// A worker-unique value, so no two workers commit the same state.
		tag := uint64(w)<<32 | uint64(i)
		if _, err := s.Call(context.Background(), counterID, "set_global", u64(tag), gas); err != nil {
			s.Close()
			return err
		}
		m.glb = tag
		calls.Add(8)
		root, err := s.Commit(context.Background())
		if err != nil {
			s.Close()
			return fmt.Errorf("worker %d: commit: %w", w, err)
		}
		mu.Lock()
		acked[root] = ackRoot{m.expect(), w}
		mu.Unlock()
		commits.Add(1)
		mine = append(mine, own{root, m})
		// Keep a few roots; delete the oldest (perhaps while another
		// worker has a session on it: then the deletion is deferred).
		if len(mine) > 3 {
			victim := mine[0].root
			mine = mine[1:]
			mu.Lock()
			d, err := e.DeleteCommit(victim)
			if err == nil {
				if d {
					deferred[victim] = true
					deferrals.Add(1)
				} else {
					deleted[victim] = true
				}
			}
			mu.Unlock()
			if err != nil {
				s.Close()
				return fmt.Errorf("worker %d: delete %s: %w", w, short(victim), err)
			}
			deletes.Add(1)
		}
		s.Close()
		if r.IntN(25) == 0 {
			if _, err := e.GC(context.Background()); err != nil {
				diag := ""
				if m := hexHash.FindString(err.Error()); m != "" {
					h, _ := merkle.ParseHash(m)
					hasRec, _ := e.Store().HasRoot(h)
					hasNode, _ := e.Store().Has('s', h)
					head, _ := e.Head()
					mu.Lock()
					a, ok := acked[h]
					diag = fmt.Sprintf(" [root %s: record %v, node %v, head %v, acked %v (owner %d), deleted %v, deferred %v]",
						short(h), hasRec, hasNode, head == h, ok, a.owner, deleted[h], deferred[h])
					mu.Unlock()
				}
				return fmt.Errorf("worker %d: gc: %w%s", w, err, diag)
			}
			gcs.Add(1)
		}
	}
	return nil
}
