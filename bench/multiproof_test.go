package bench

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/wasmstate/wasmstate/merkle"
)

// BenchmarkMultiProofSize compares, for k = 1, 4, 16, 64 and 256 random
// pages of a 64 MiB contract whose 16,384 pages are all non-zero and
// distinct, in a state of 10,000 contracts (proofState, as BenchmarkProof;
// built with package merkle in memory), one multiproof of the k pages
// (SPEC.md §7.6) with k single page proofs (§7.3).
//
//	multi-bytes, singles-bytes: encoded sizes, and ratio = multi / singles
//	multi-overhead, singles-overhead: the same minus the k pages' bytes,
//	                and overhead-ratio
//
// The timed loop verifies as a light client does: the multiproof
// (merkle.DecodeProof, then merkle.VerifyMulti with the claim), or in the
// "singles" sub-benchmark the k single proofs (DecodeProof, VerifyPage
// each).
func BenchmarkMultiProofSize(b *testing.B) {
	const npages = 64 << 20 / merkle.PageSize
	st, mt, src, leaf, read := proofState(b)
	root := st.Root()
	for _, k := range []int{1, 4, 16, 64, 256} {
		r := rand.New(rand.NewPCG(uint64(k), 7))
		seen := map[uint64]bool{}
		var claim merkle.MultiClaim
		for len(claim.Ranges) < k {
			i := r.Uint64N(npages)
			if !seen[i] {
				seen[i] = true
				claim.Ranges = append(claim.Ranges, merkle.ByteRange{ID: leaf.ID, Offset: i * merkle.PageSize, Length: merkle.PageSize})
			}
		}
		mp, err := merkle.ProveMulti(st, src, read, claim)
		if err != nil {
			b.Fatal(err)
		}
		multi, err := mp.MarshalBinary()
		if err != nil {
			b.Fatal(err)
		}
		var singles [][]byte
		total := 0
		for _, rg := range claim.Ranges {
			p, err := merkle.ProveRange(st, leaf, mt, read, rg.Offset, rg.Length)
			if err != nil {
				b.Fatal(err)
			}
			bin, err := p.MarshalBinary()
			if err != nil {
				b.Fatal(err)
			}
			singles = append(singles, bin)
			total += len(bin)
		}
		pageBytes := k * merkle.PageSize
		report := func(b *testing.B) {
			b.ReportMetric(float64(len(multi)), "multi-bytes")
			b.ReportMetric(float64(total), "singles-bytes")
			b.ReportMetric(float64(len(multi))/float64(total), "ratio")
			b.ReportMetric(float64(len(multi)-pageBytes), "multi-overhead")
			b.ReportMetric(float64(total-pageBytes), "singles-overhead")
			b.ReportMetric(float64(len(multi)-pageBytes)/float64(total-pageBytes), "overhead-ratio")
		}
		b.Run(fmt.Sprintf("k=%d/multi", k), func(b *testing.B) {
			cpu := startCPU()
			for b.Loop() {
				p, err := merkle.DecodeProof(multi)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := merkle.VerifyMulti(root, p, claim); err != nil {
					b.Fatal(err)
				}
			}
			cpu.report(b)
			report(b)
		})
		b.Run(fmt.Sprintf("k=%d/singles", k), func(b *testing.B) {
			cpu := startCPU()
			for b.Loop() {
				for i, bin := range singles {
					p, err := merkle.DecodeProof(bin)
					if err != nil {
						b.Fatal(err)
					}
					if _, err := merkle.VerifyPage(root, leaf.ID, claim.Ranges[i].Offset/merkle.PageSize, p); err != nil {
						b.Fatal(err)
					}
				}
			}
			cpu.report(b)
			report(b)
		})
	}
}
