package pagestore

import (
	"math/rand/v2"
	"testing"
)

// TestObjIndex runs random adds, lookups and deletes against a Go map,
// over few enough keys that probe runs wrap around the table and deletes
// shift runs back, and checks every key after each step's delete.
func TestObjIndex(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	var keys []objKey // slot -> key; slot 0 unused
	keys = append(keys, objKey{})
	x := newObjIndex(func(i int32) *objKey { return &keys[i] })
	model := map[objKey]int32{}
	pool := make([]objKey, 300)
	for i := range pool {
		pool[i][0] = byte(KindMemoryNode)
		for j := 1; j < keyLen; j++ {
			pool[i][j] = byte(r.Uint32())
		}
	}
	for step := 0; step < 50000; step++ {
		k := pool[r.IntN(len(pool))]
		switch op := r.IntN(10); {
		case op < 5:
			slot, added := x.upsert(&k, func() int32 {
				keys = append(keys, k)
				return int32(len(keys) - 1)
			})
			want, had := model[k]
			if added == had || (had && slot != want) {
				t.Fatalf("step %d: upsert: slot %d added %v, model %d %v", step, slot, added, want, had)
			}
			if added {
				model[k] = slot
			}
		case op < 8:
			got := x.del(&k)
			if want := model[k]; got != want {
				t.Fatalf("step %d: del: slot %d, model %d", step, got, want)
			}
			delete(model, k)
			// A delete shifts entries: all must still be found.
			for mk, ms := range model {
				if got := x.get(&mk); got != ms {
					t.Fatalf("step %d: after a delete, get: slot %d, want %d", step, got, ms)
				}
			}
		default:
			if got, want := x.get(&k), model[k]; got != want {
				t.Fatalf("step %d: get: slot %d, want %d", step, got, want)
			}
		}
		if x.len() != len(model) {
			t.Fatalf("step %d: %d keys, model %d", step, x.len(), len(model))
		}
	}
	x.reset()
	if x.len() != 0 || x.get(&pool[0]) != 0 {
		t.Fatal("reset left keys")
	}
}
