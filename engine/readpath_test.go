package engine

import (
	"context"
	"errors"
	"testing"

	"github.com/wasmstate/wasmstate/merkle"
)

// TestKnownRootsForgotten: a root proven once (so cached as known) and then
// deleted, directly or deferred behind a session, is unknown again.
func TestKnownRootsForgotten(t *testing.T) {
	e := testEngine(t, auto)
	s := newSession(t, e, merkle.EmptyState())
	ctr := deploy(t, s, "counter", DeployOptions{})
	r1 := commit(t, s)
	call(t, s, ctr, "increment", nil)
	r2 := commit(t, s)
	ctx := context.Background()
	for _, r := range []merkle.Hash{r1, r2} {
		if _, err := e.ProveContract(ctx, r, ctr); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.DeleteCommit(r1); err != nil {
		t.Fatal(err)
	}
	if _, err := e.ProveContract(ctx, r1, ctr); !errors.Is(err, ErrUnknownRoot) {
		t.Fatalf("deleted root still proves: %v", err)
	}
	// Deferred: the deletion happens when the last session on r2 closes.
	s.Close()
	user := newSession(t, e, r2)
	if deferred, err := e.DeleteCommit(r2); err != nil || !deferred {
		t.Fatalf("%v %v", deferred, err)
	}
	user.Close()
	if _, err := e.ProveContract(ctx, r2, ctr); !errors.Is(err, ErrUnknownRoot) {
		t.Fatalf("root deleted on session close still proves: %v", err)
	}
}

// TestRootCacheGeneration: a lookup that began before a deletion does not
// cache its answer after it.
func TestRootCacheGeneration(t *testing.T) {
	var c rootCache
	r := merkle.Hash{1}
	_, gen := c.has(r)
	c.forget() // a deletion between the lookup and its caching
	c.add(r, gen)
	if ok, _ := c.has(r); ok {
		t.Fatal("a stale lookup was cached")
	}
	_, gen = c.has(r)
	c.add(r, gen)
	if ok, _ := c.has(r); !ok {
		t.Fatal("a fresh lookup was not cached")
	}
}
