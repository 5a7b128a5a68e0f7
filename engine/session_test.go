package engine

import (
	"testing"

	"github.com/wasmstate/wasmstate/merkle"
)

func TestCounterRoundTrip(t *testing.T) {
	forEachTracker(t, func(t *testing.T, kind mode) {
		e := testEngine(t, kind)
		s := newSession(t, e, merkle.EmptyState())
		id := deploy(t, s, "counter", DeployOptions{Owner: []byte("alice")})
		if v := readU64(t, call(t, s, id, "read_value", nil)); v != 0xfc {
			t.Fatalf("initial value %d", v)
		}
		call(t, s, id, "increment", nil)
		if v := readU64(t, call(t, s, id, "add", u64(10))); v != 0xfc+11 {
			t.Fatalf("after add: %d", v)
		}
		call(t, s, id, "set_global", u64(77))
		r1 := root(t, s)
		c1 := commit(t, s)
		if r1 != c1 {
			t.Fatal("Commit differs from Root")
		}
		// A fresh session reads the committed state, globals included.
		s2 := newSession(t, e, c1)
		if v := readU64(t, call(t, s2, id, "read_value", nil)); v != 0xfc+11 {
			t.Fatalf("reloaded value %d", v)
		}
		if v := readU64(t, call(t, s2, id, "get_global", nil)); v != 77 {
			t.Fatalf("reloaded global %d", v)
		}
		call(t, s2, id, "increment", nil)
		c2 := commit(t, s2)
		// The old root still reads the old value.
		s3 := newSession(t, e, c1)
		if v := readU64(t, call(t, s3, id, "read_value", nil)); v != 0xfc+11 {
			t.Fatalf("old root value %d", v)
		}
		s4 := newSession(t, e, c2)
		if v := readU64(t, call(t, s4, id, "read_value", nil)); v != 0xfc+12 {
			t.Fatalf("new root value %d", v)
		}
	})
}
