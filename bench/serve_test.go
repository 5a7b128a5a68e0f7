package bench

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wasmstate/wasmstate/engine"
	"github.com/wasmstate/wasmstate/engine/dirty"
	"github.com/wasmstate/wasmstate/internal/servetest"
	"github.com/wasmstate/wasmstate/lightclient"
	"github.com/wasmstate/wasmstate/merkle"
	"github.com/wasmstate/wasmstate/pagestore"
	"github.com/wasmstate/wasmstate/serve"
	"github.com/wasmstate/wasmstate/statesync"
)

// serveFixture serves the states fixture (10,000 counters and a 64 MiB
// contract) on 127.0.0.1 with package serve and the configuration statectl
// serve uses by default (cfg's zero fields), quiet; the server stops when
// the benchmark ends.
func serveFixture(b *testing.B, e *engine.Engine, cfg serve.Config) string {
	b.Helper()
	cfg.Logger = quiet
	h := serve.New(e, cfg)
	srv := httptest.NewServer(h)
	b.Cleanup(func() { h.Close(); srv.Close() })
	return srv.URL
}

// BenchmarkServeProofs is the loopback load test: 1, 16 and 64 clients,
// each a lightclient.Client, ask a statectl-serve handler for page proofs
// under the root of 10,001 contracts (half a random page of the 64 MiB
// contract, half page 0 of a random counter: 26,384 distinct proofs) and
// verify every answer. proofs/s is verified proofs per second of wall time
// (client, server and verification share the 2 cores), p50-ms and p99-ms
// the latency of one fetch-and-verify. The server has statectl serve's
// defaults: a 256 MiB store cache, a 64 MiB cache of answers (which holds
// about 12,000 of the proofs), 64 requests at once. clients=64/no-answers
// turns the answer cache off, so that every proof is computed. The goal
// (issue 14): >= 10,000 proofs/s with 64 clients, p99 <= 20 ms. b.N bounds
// the requests.
func BenchmarkServeProofs(b *testing.B) {
	f := states(b)
	e, err := engine.Open(context.Background(), f.dir, engine.Options{Logger: quiet, CacheBytes: 256 << 20})
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	root := f.proveRoot
	cached := serveFixture(b, e, serve.Config{})
	uncached := serveFixture(b, e, serve.Config{AnswerCacheBytes: -1})
	for _, c := range []struct {
		name    string
		clients int
		url     string
	}{{"clients=1", 1, cached}, {"clients=16", 16, cached}, {"clients=64", 64, cached}, {"clients=64/no-answers", 64, uncached}} {
		clients, url := c.clients, c.url
		b.Run(c.name, func(b *testing.B) {
			tr := http.DefaultTransport.(*http.Transport).Clone()
			tr.MaxIdleConnsPerHost = clients
			defer tr.CloseIdleConnections()
			c, err := lightclient.NewClient(url, &lightclient.ClientOptions{HTTPClient: &http.Client{Transport: tr}})
			if err != nil {
				b.Fatal(err)
			}
			lat := make([][]time.Duration, clients)
			var wg sync.WaitGroup
			ctx := context.Background()
			cpu := startCPU()
			start := time.Now()
			b.ResetTimer()
			for w := 0; w < clients; w++ {
				n := b.N / clients
				if w < b.N%clients {
					n++
				}
				wg.Add(1)
				go func(w, n int) {
					defer wg.Done()
					rng := rand.New(rand.NewPCG(uint64(w), 1))
					for i := 0; i < n; i++ {
						id, page := f.big, uint64(rng.IntN(16384))
						if i%2 == 1 {
							id, page = f.counters[rng.IntN(len(f.counters))], 0
						}
						t0 := time.Now()
						if _, err := c.Page(ctx, root, id, page); err != nil {
							b.Error(err)
							return
						}
						lat[w] = append(lat[w], time.Since(t0))
					}
				}(w, n)
			}
			wg.Wait()
			el := time.Since(start)
			b.StopTimer()
			cpu.report(b)
			all := slices.Concat(lat...)
			slices.Sort(all)
			if len(all) > 0 {
				b.ReportMetric(float64(len(all))/el.Seconds(), "proofs/s")
				b.ReportMetric(float64(all[len(all)/2].Microseconds())/1000, "p50-ms")
				b.ReportMetric(float64(all[len(all)*99/100].Microseconds())/1000, "p99-ms")
			}
		})
	}
}

func dirBytes(tb testing.TB, dir string) int64 {
	var n int64
	filepath.Walk(dir, func(_ string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() {
			n += fi.Size()
		}
		return nil
	})
	return n
}

// BenchmarkSyncVsCopy makes a replica of the 10,001-contract state (64 MiB
// of non-zero pages in one contract, 10,000 counters) over loopback with
// statesync's defaults (a new replica: packs, 16 requests in flight, every
// object verified, synced batches) from a server with statectl serve's
// pack size, and in the same iteration copies the source's store directory
// with cp -r. sync-s includes opening and closing the new store (what
// statectl sync costs), sync-only-s is statesync.Sync alone. sync/cp is the
// ratio of wall times (goal <= 3); sync-MB/s counts the bytes of the objects
// fetched (the store directory is smaller: goleveldb compresses pages).
func BenchmarkSyncVsCopy(b *testing.B) {
	f := states(b)
	e := openEngine(b, f.dir, dirty.Auto)
	defer e.Close()
	url := serveFixture(b, e, serve.Config{})
	ctx := context.Background()
	var syncT, cpT, onlyT time.Duration
	var bytes int64
	cpu := startCPU()
	for i := 0; i < b.N; i++ {
		tmp := b.TempDir()
		t0 := time.Now()
		if out, err := exec.Command("cp", "-r", f.dir, filepath.Join(tmp, "copy")).CombinedOutput(); err != nil {
			b.Fatalf("cp: %v %s", err, out)
		}
		cpT += time.Since(t0)
		t0 = time.Now()
		st, err := pagestore.Open(context.Background(), filepath.Join(tmp, "replica"), nil)
		if err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		stats, err := statesync.Sync(ctx, st, url, f.proveRoot, nil)
		onlyT += time.Since(t1)
		st.Close()
		if err != nil {
			b.Fatal(err)
		}
		syncT += time.Since(t0)
		bytes = stats.Bytes
		if i == 0 {
			b.Logf("sync: %d objects, %.1f MB, %d requests; store dir %.1f MB", stats.Fetched, float64(stats.Bytes)/1e6, stats.Requests, float64(dirBytes(b, f.dir))/1e6)
		}
	}
	cpu.report(b)
	b.ReportMetric(syncT.Seconds()/float64(b.N), "sync-s")
	b.ReportMetric(cpT.Seconds()/float64(b.N), "cp-s")
	b.ReportMetric(onlyT.Seconds()/float64(b.N), "sync-only-s")
	b.ReportMetric(float64(syncT)/float64(cpT), "sync/cp")
	b.ReportMetric(float64(bytes)*float64(b.N)/1e6/syncT.Seconds(), "sync-MB/s")
}

// BenchmarkIncrementalSync follows the chain: a replica holds the root of
// 10,001 contracts; the source commits a block that changes 100 pages of
// the 64 MiB contract (spread over its memory) and one counter; the
// replica syncs the new root. objects is what it fetched, diff-objects the
// objects reachable from the new root and not from the old (counted by
// walking both trees at the source); they must be equal.
func BenchmarkIncrementalSync(b *testing.B) {
	f := states(b)
	src := filepath.Join(b.TempDir(), "src")
	if err := copyDir(src, f.dir); err != nil {
		b.Fatal(err)
	}
	e := openEngine(b, src, dirty.Auto)
	defer e.Close()
	url := serveFixture(b, e, serve.Config{})
	ctx := context.Background()
	st, err := pagestore.Open(context.Background(), filepath.Join(b.TempDir(), "replica"), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	if _, err := statesync.Sync(ctx, st, url, f.proveRoot, nil); err != nil {
		b.Fatal(err)
	}
	prev := f.proveRoot
	var fetched, diff int64
	cpu := startCPU()
	var syncT time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		s, err := e.NewSession(prev, engine.SessionOptions{})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := s.Call(context.Background(), f.big, "write", u32s(100, 163, uint32(i%100)), bigGas); err != nil {
			b.Fatal(err)
		}
		if _, err := s.Call(context.Background(), f.counters[i%len(f.counters)], "increment", nil, bigGas); err != nil {
			b.Fatal(err)
		}
		next, err := s.Commit(context.Background())
		s.Close()
		if err != nil {
			b.Fatal(err)
		}
		d := newObjects(b, e.Store().(*pagestore.Store), prev, next)
		b.StartTimer()
		t0 := time.Now()
		stats, err := statesync.Sync(ctx, st, url, next, nil)
		syncT += time.Since(t0)
		if err != nil {
			b.Fatal(err)
		}
		if stats.Fetched != d {
			b.Fatalf("fetched %d objects, the diff has %d", stats.Fetched, d)
		}
		fetched += stats.Fetched
		diff += d
		prev = next
	}
	cpu.report(b)
	b.ReportMetric(float64(fetched)/float64(b.N), "objects")
	b.ReportMetric(float64(diff)/float64(b.N), "diff-objects")
	b.ReportMetric(syncT.Seconds()*1000/float64(b.N), "sync-ms")
}

// newObjects counts the stored objects reachable from b and not from a.
func newObjects(tb testing.TB, st *pagestore.Store, a, b merkle.Hash) int64 {
	old, err := servetest.Reachable(st, a)
	if err != nil {
		tb.Fatal(err)
	}
	now, err := servetest.Reachable(st, b)
	if err != nil {
		tb.Fatal(err)
	}
	var n int64
	for k := range now {
		if !old[k] {
			n++
		}
	}
	return n
}

// stateObjects reads every object reachable from root in st, in pack
// order (pre-order, each object once), with its ref.
func stateObjects(tb testing.TB, st *pagestore.Store, root merkle.Hash) ([]pagestore.Ref, [][]byte) {
	var refs []pagestore.Ref
	var vals [][]byte
	seen := map[pagestore.Ref]bool{}
	stack := []pagestore.Ref{{Kind: pagestore.KindStateNode, Hash: root}}
	for len(stack) > 0 {
		r := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if r.Implicit() || seen[r] {
			continue
		}
		seen[r] = true
		v, err := st.ReadObject(r.Kind, r.Hash)
		if err != nil {
			tb.Fatal(err)
		}
		refs, vals = append(refs, r), append(vals, v)
		kids, err := pagestore.AppendChildren(nil, r, v)
		if err != nil {
			tb.Fatal(err)
		}
		for i := len(kids) - 1; i >= 0; i-- {
			stack = append(stack, kids[i])
		}
	}
	return refs, vals
}

// BenchmarkSyncFloor measures, on the state BenchmarkSyncVsCopy syncs,
// what any sync must do without a network, each part alone: read-ms is
// reading every object from the source store (the server's part), hash-ms
// checking every object against its hash (the replica's), write-ms
// writing them into a new store the way statesync does (a
// pagestore.Loader, synced batches of 4 MiB, then one synced commit with
// the record and the head; opening and closing the store included), and
// hash+write-ms both in one goroutine, the floor of the replica's side.
// cp-ms is cp -r of the source directory, as in SyncVsCopy.
func BenchmarkSyncFloor(b *testing.B) {
	f := states(b)
	src, err := pagestore.Open(context.Background(), f.dir, nil)
	if err != nil {
		b.Fatal(err)
	}
	refs, vals := stateObjects(b, src, f.proveRoot)
	rec, err := src.CommitRecord(f.proveRoot)
	if err != nil {
		b.Fatal(err)
	}
	var total int64
	for _, v := range vals {
		total += int64(len(v))
	}
	hash := func() {
		for i, r := range refs {
			if err := pagestore.CheckObject(r.Kind, r.Hash, vals[i]); err != nil {
				b.Fatal(err)
			}
		}
	}
	write := func(dir string, check bool) {
		st, err := pagestore.Open(context.Background(), dir, nil)
		if err != nil {
			b.Fatal(err)
		}
		load := st.NewLoader(5 << 20)
		for i, r := range refs {
			if check {
				if err := pagestore.CheckObject(r.Kind, r.Hash, vals[i]); err != nil {
					b.Fatal(err)
				}
			}
			load.Put(r, vals[i])
			if load.Bytes() >= 4<<20 || i == len(refs)-1 {
				if err := load.Write(); err != nil {
					b.Fatal(err)
				}
			}
		}
		batch := pagestore.NewBatch()
		batch.SetCommit(rec)
		batch.SetHead(f.proveRoot)
		if _, err := st.Commit(batch); err != nil {
			b.Fatal(err)
		}
		if err := st.Close(); err != nil {
			b.Fatal(err)
		}
	}
	var readT, hashT, writeT, bothT, cpT time.Duration
	cpu := startCPU()
	for i := 0; i < b.N; i++ {
		tmp := b.TempDir()
		t0 := time.Now()
		stateObjects(b, src, f.proveRoot)
		readT += time.Since(t0)
		t0 = time.Now()
		hash()
		hashT += time.Since(t0)
		t0 = time.Now()
		write(filepath.Join(tmp, "w"), false)
		writeT += time.Since(t0)
		t0 = time.Now()
		write(filepath.Join(tmp, "hw"), true)
		bothT += time.Since(t0)
		t0 = time.Now()
		if out, err := exec.Command("cp", "-r", f.dir, filepath.Join(tmp, "copy")).CombinedOutput(); err != nil {
			b.Fatalf("cp: %v %s", err, out)
		}
		cpT += time.Since(t0)
	}
	cpu.report(b)
	src.Close()
	n := float64(b.N)
	b.ReportMetric(readT.Seconds()*1000/n, "read-ms")
	b.ReportMetric(hashT.Seconds()*1000/n, "hash-ms")
	b.ReportMetric(writeT.Seconds()*1000/n, "write-ms")
	b.ReportMetric(bothT.Seconds()*1000/n, "hash+write-ms")
	b.ReportMetric(cpT.Seconds()*1000/n, "cp-ms")
	b.ReportMetric(float64(bothT)/float64(cpT), "floor/cp")
	b.Logf("%d objects, %.1f MB", len(refs), float64(total)/1e6)
}

// BenchmarkProveMix is the server's part of BenchmarkServeProofs without
// HTTP: Engine.ProvePage and MarshalBinary over the same mix of proofs
// (half a random page of the 64 MiB contract, half page 0 of a random
// counter), from 2 goroutines per core, with engine.Open's default store
// cache (64 MiB) and with 256 MiB.
func BenchmarkProveMix(b *testing.B) {
	f := states(b)
	for _, mb := range []int64{64, 256} {
		b.Run(fmt.Sprintf("cache=%dMiB", mb), func(b *testing.B) {
			e, err := engine.Open(context.Background(), f.dir, engine.Options{Logger: quiet, CacheBytes: mb << 20})
			if err != nil {
				b.Fatal(err)
			}
			defer e.Close()
			var seed atomic.Uint64
			b.SetParallelism(2)
			cpu := startCPU()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				rng := rand.New(rand.NewPCG(seed.Add(1), 2))
				for i := 0; pb.Next(); i++ {
					id, page := f.big, uint64(rng.IntN(16384))
					if i%2 == 1 {
						id, page = f.counters[rng.IntN(len(f.counters))], 0
					}
					p, err := e.ProvePage(context.Background(), f.proveRoot, id, page)
					if err != nil {
						b.Fatal(err)
					}
					if _, err := p.MarshalBinary(); err != nil {
						b.Fatal(err)
					}
				}
			})
			cpu.report(b)
		})
	}
}
