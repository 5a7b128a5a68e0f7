package pagestore

import (
	"math/rand/v2"
	"runtime"
	"syscall"
	"testing"
)

func threadCPU() int64 {
	var ru syscall.Rusage
	syscall.Getrusage(1, &ru) // RUSAGE_THREAD
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// BenchmarkCacheCommitNodes: a full 64 MiB cache takes the 2,000 new
// 64-byte nodes of a commit (per op), evicting as many.
func BenchmarkCacheCommitNodes(b *testing.B) {
	c := newCache(DefaultCacheBytes)
	r := rand.New(rand.NewPCG(1, 2))
	mk := func() []staged {
		objs := make([]staged, 2000)
		for i := range objs {
			objs[i].key[0] = byte(KindMemoryNode)
			for j := 1; j < keyLen; j += 8 {
				v := r.Uint64()
				for k := 0; k < 8 && j+k < keyLen; k++ {
					objs[i].key[j+k] = byte(v >> (8 * k))
				}
			}
			objs[i].value = make([]byte, 64)
		}
		return objs
	}
	for c.bytes < c.budget-(64+entryOverhead)*4000 {
		c.addStaged(mk())
	}
	batches := make([][]staged, 256) // 512,000 keys: more than the cache holds, so every add evicts
	for i := range batches {
		batches[i] = mk()
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	t0 := threadCPU()
	for i := 0; b.Loop(); i++ {
		c.addStaged(batches[i%len(batches)])
	}
	b.ReportMetric(float64(threadCPU()-t0)/float64(b.N)/2000, "cpu-ns/node")
}
