package merkle

import (
	"runtime"
	"sync"
)

// pagesPerWorker is the fewest pages worth a goroutine of their own:
// hashing a page costs about 2 µs, starting a goroutine about 1.
const pagesPerWorker = 32

// hashPages sets hs[i] to the hash of data[i] (nil: the zero page; the
// caller checked the lengths). Many pages are hashed on up to GOMAXPROCS
// goroutines: the same CPU time, less wall time.
func hashPages(hs []Hash, data [][]byte) {
	k := min(runtime.GOMAXPROCS(0), len(data)/pagesPerWorker)
	if k < 2 {
		hashPageRange(hs, data)
		return
	}
	var wg sync.WaitGroup
	per := (len(data) + k - 1) / k
	for lo := per; lo < len(data); lo += per {
		hi := min(lo+per, len(data))
		wg.Go(func() { hashPageRange(hs[lo:hi], data[lo:hi]) })
	}
	hashPageRange(hs[:per], data[:per])
	wg.Wait()
}

func hashPageRange(hs []Hash, data [][]byte) {
	for i, pg := range data {
		if pg == nil {
			hs[i] = emptyMemory[0]
		} else {
			hs[i] = DomainPage.Sum(pg)
		}
	}
}
