package merkle

import (
	"math/rand/v2"
	"testing"
)

func TestSum2MatchesBLAKE3(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 9))
	for i := 0; i < 1000; i++ {
		var l, rr Hash
		for j := range l {
			l[j], rr[j] = byte(r.Uint32()), byte(r.Uint32())
		}
		for d := Domain(0); d < numDomains; d++ {
			if got, want := d.Sum2(l, rr), d.Sum(append(l[:], rr[:]...)); got != want {
				t.Fatalf("domain %v: %s, want %s", d, got, want)
			}
		}
	}
}
