package bench

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/wasmstate/wasmstate/merkle"
	"github.com/zeebo/blake3"
)

// BenchmarkPageHash measures BLAKE3 (keyed, as the page domain hashes) on
// the candidate page sizes, for the page-size decision in SPEC.md §2.
func BenchmarkPageHash(b *testing.B) {
	key := merkle.DomainPage.Key()
	for _, size := range []int{4 << 10, 8 << 10, 16 << 10} {
		b.Run(fmt.Sprintf("%dKiB", size>>10), func(b *testing.B) {
			h, _ := blake3.NewKeyed(key[:])
			page := make([]byte, size)
			page[7] = 1
			var out [32]byte
			b.SetBytes(int64(size))
			cpu0 := cpuTime()
			for b.Loop() {
				h.Reset()
				h.Write(page)
				h.Sum(out[:0])
			}
			// The cost that matters is per 4 KiB of memory written. CPU
			// time too: wall time on the shared machine varies by ±30 %.
			cpu := float64(cpuTime() - cpu0)
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(size/4096), "ns/4KiB")
			b.ReportMetric(cpu/float64(b.N), "cpu-ns/page")
			b.ReportMetric(cpu/float64(b.N)/float64(size/4096), "cpu-ns/4KiB")
		})
	}
}

// BenchmarkMemTreeUpdate measures an incremental update of a 64 MiB
// memory's tree: k pages change, each is hashed, and the union of their
// paths is rehashed. ns/page is the per-changed-page CPU cost, path
// included (target: <= 10 µs).
func BenchmarkMemTreeUpdate(b *testing.B) {
	const pages = 64 << 20 / merkle.PageSize
	for _, k := range []int{1, 16, 256} {
		b.Run(fmt.Sprintf("pages=%d", k), func(b *testing.B) {
			src := merkle.NewMapSource()
			mt := merkle.NewMemTree(merkle.EmptyMemoryRoot(), src)
			for i := uint64(0); i < pages; i++ {
				mt.SetPage(i, merkle.Hash{byte(i), byte(i >> 8), 1})
			}
			mt.Root()
			r := rand.New(rand.NewPCG(1, 2))
			page := make([]byte, merkle.PageSize)
			cpu0 := cpuTime()
			for b.Loop() {
				for j := 0; j < k; j++ {
					page[0]++
					mt.SetPage(r.Uint64N(pages), merkle.HashPage(page))
				}
				mt.Root()
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*k), "ns/page")
			// CPU time, not wall time: the figure the target is about, and
			// steadier than wall time on a shared machine.
			b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N*k), "cpu-ns/page")
		})
	}
}

// BenchmarkStateTreeUpdate measures updating one contract leaf in a state
// of 10,000 contracts and recomputing the root.
func BenchmarkStateTreeUpdate(b *testing.B) {
	st, ids := bigState(10000)
	r := rand.New(rand.NewPCG(3, 4))
	for b.Loop() {
		l, _, _ := st.Get(ids[r.IntN(len(ids))])
		l.MemoryRoot[0]++
		st.Update(l)
		st.Root()
	}
}

// proofState is the state of the proof benchmarks: bigState(10000) with
// the first contract's memory 64 MiB whose 16,384 pages are all non-zero
// and distinct, its memory tree over src, and a reader of the pages.
func proofState(b *testing.B) (*merkle.StateTree, *merkle.MemTree, *merkle.MapSource, merkle.ContractLeaf, merkle.PageReader) {
	const pages = 64 << 20 / merkle.PageSize
	src := merkle.NewMapSource()
	mt := merkle.NewMemTree(merkle.EmptyMemoryRoot(), src)
	content := map[merkle.Hash][]byte{}
	for i := uint64(0); i < pages; i++ {
		p := make([]byte, merkle.PageSize)
		p[0], p[1], p[2] = byte(i), byte(i>>8), 1
		h := merkle.HashPage(p)
		content[h] = p
		mt.SetPage(i, h)
	}
	mroot, err := mt.Commit(src)
	if err != nil {
		b.Fatal(err)
	}
	st, ids := bigState(10000)
	leaf, _, _ := st.Get(ids[0])
	leaf.MemoryRoot, leaf.MemoryLen = mroot, 64<<20
	st.Update(leaf)
	return st, mt, src, leaf, func(h merkle.Hash) ([]byte, error) { return content[h], nil }
}

func bigState(n int) (*merkle.StateTree, []merkle.ContractID) {
	st := merkle.NewStateTree(merkle.EmptyState(), nil)
	r := rand.New(rand.NewPCG(5, 6))
	var ids []merkle.ContractID
	for i := 0; i < n; i++ {
		var id merkle.ContractID
		for j := range id {
			id[j] = byte(r.Uint32())
		}
		ids = append(ids, id)
		st.Update(merkle.ContractLeaf{ID: id, Kind: merkle.Memory32, MemoryLen: 1 << 16, MemoryRoot: merkle.EmptyMemoryRoot()})
	}
	st.Root()
	return st, ids
}

// BenchmarkProof measures proving and verifying one page and a 10 KiB
// range of a 64 MiB memory in a state of 10,000 contracts, and reports
// the encoded proof size.
func BenchmarkProof(b *testing.B) {
	st, mt, _, leaf, read := proofState(b)
	root := st.Root()
	for _, c := range []struct {
		name        string
		off, length uint64
	}{{"page", 1000 * merkle.PageSize, merkle.PageSize}, {"range10KiB", 1000*merkle.PageSize + 100, 10 << 10}} {
		p, err := merkle.ProveRange(st, leaf, mt, read, c.off, c.length)
		if err != nil {
			b.Fatal(err)
		}
		bin, _ := p.MarshalBinary()
		b.Run("prove/"+c.name, func(b *testing.B) {
			for b.Loop() {
				p, _ := merkle.ProveRange(st, leaf, mt, read, c.off, c.length)
				p.MarshalBinary()
			}
			b.ReportMetric(float64(len(bin)), "proof-bytes")
			b.ReportMetric(float64(len(bin)-int(c.length)), "overhead-bytes")
		})
		b.Run("verify/"+c.name, func(b *testing.B) {
			for b.Loop() {
				p, err := merkle.DecodeProof(bin)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := merkle.VerifyRange(root, leaf.ID, c.off, c.length, p); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
