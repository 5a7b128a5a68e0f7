package bench

import (
	"context"
	"fmt"
	"runtime"
	"testing"

	"github.com/wasmstate/wasmstate/engine"
	"github.com/wasmstate/wasmstate/engine/dirty"
	"github.com/wasmstate/wasmstate/merkle"
)

// Commit, Root and a page-writing call, per dirty tracker, in pagewriter
// contracts of 64 KiB and 64 MiB whose pages are all non-zero (the memory
// tree is full). The store is in memory, so the figures are CPU cost: no
// fsync (BenchmarkCommitDisk has the synced on-disk commit). Every write
// makes the pages' contents new (never seen by the store), so every commit
// writes its pages and their tree paths.

// pageWriterSession is an in-memory engine with one committed pagewriter
// contract of wasmPages × 64 KiB, in an open session.
type pageWriterSession struct {
	e     *engine.Engine
	s     *engine.Session
	id    merkle.ContractID
	pages uint32 // 4 KiB pages
}

func newPageWriterSession(tb testing.TB, dir string, kind dirty.Kind, wasmPages uint32) *pageWriterSession {
	e := openEngine(tb, dir, kind)
	s := newSession(tb, e, merkle.EmptyState())
	id, err := deployPageWriter(s, wasmPages, 0)
	if err != nil {
		tb.Fatal(err)
	}
	commit(tb, s)
	return &pageWriterSession{e: e, s: s, id: id, pages: wasmPages * 16}
}

func (p *pageWriterSession) close() { p.s.Close(); p.e.Close() }

// writeArg is the argument of "write" for n pages spread evenly over the
// memory.
func (p *pageWriterSession) writeArg(n uint32) []byte { return u32s(n, p.pages/n, 0) }

func (p *pageWriterSession) write(tb testing.TB, arg []byte) {
	if _, err := p.s.Call(context.Background(), p.id, "write", arg, bigGas); err != nil {
		tb.Fatal(err)
	}
}

// small remembers, per benchmark (key: the name without the memory size),
// the last 64 KiB figures of this process, so that the 64 MiB case can
// report its ratio to them (x-64KiB on wall time, cpu-x-64KiB on CPU
// time).
var small = map[string][2]float64{}

// sizeRatio records the 64 KiB figures (wall and CPU ns/op) of key, or
// reports the 64 MiB case's ratios to them.
func sizeRatio(b *testing.B, size, key string, wall, cpu float64) {
	if size == "64KiB" {
		small[key] = [2]float64{wall, cpu}
		return
	}
	if r, ok := small[key]; ok && r[0] > 0 {
		b.ReportMetric(wall/r[0], "x-64KiB")
		if r[1] > 0 && cpu > 0 {
			b.ReportMetric(cpu/r[1], "cpu-x-64KiB")
		}
	}
}

var commitSizes = []struct {
	name      string
	wasmPages uint32
}{{"64KiB", 1}, {"64MiB", 1024}}

// BenchmarkCommit: a call writes n pages (not timed), then Commit (timed:
// ns/op and cpu-ns/op are the commit alone). cpu-ns/page is the commit's
// process CPU per changed page, the figure of the <= 10 µs per changed
// page target (the garbage collector's workers included);
// thread-cpu-ns/page is the committing thread's own CPU per page;
// cycle-cpu-ns/page is the process CPU of the call and the commit per
// changed page (tracking, copying, hashing, tree path, store). A 64 KiB
// memory has 16 pages: pages=256 runs only at 64 MiB.
func BenchmarkCommit(b *testing.B) {
	for _, kind := range trackers() {
		for _, sz := range commitSizes {
			for _, n := range []uint32{1, 16, 256} {
				if n > sz.wasmPages*16 {
					continue
				}
				b.Run(fmt.Sprintf("%s/%s/pages=%d", kind, sz.name, n), func(b *testing.B) {
					p := newPageWriterSession(b, "", kind, sz.wasmPages)
					defer p.close()
					arg := p.writeArg(n)
					runtime.LockOSThread()
					defer runtime.UnlockOSThread()
					cyc := lap{}
					com := lap{thread: true}
					for b.Loop() {
						cyc.start()
						p.write(b, arg)
						com.start()
						_, err := p.s.Commit(context.Background())
						com.stop()
						cyc.stop()
						if err != nil {
							b.Fatal(err)
						}
					}
					wall, cpu := com.nsPerOp(b)
					b.ReportMetric(cpu/float64(n), "cpu-ns/page")
					b.ReportMetric(float64(com.tcpu.Nanoseconds())/float64(b.N)/float64(n), "thread-cpu-ns/page")
					b.ReportMetric(float64(cyc.cpu.Nanoseconds())/float64(b.N)/float64(n), "cycle-cpu-ns/page")
					sizeRatio(b, sz.name, fmt.Sprintf("commit/%s/%d", kind, n), wall, cpu)
				})
			}
		}
	}
}

// BenchmarkCommitDisk is BenchmarkCommit with the store on disk (goleveldb,
// one synced batch per commit) and the engine's default tracker. cpu-ns
// counts every thread of the process, goleveldb's background compaction
// included; thread-cpu-ns the committing thread alone (the batch, the
// journal write and its fsync, not the compaction it causes).
func BenchmarkCommitDisk(b *testing.B) {
	for _, sz := range commitSizes {
		for _, n := range []uint32{1, 16, 256} {
			if n > sz.wasmPages*16 {
				continue
			}
			b.Run(fmt.Sprintf("%s/pages=%d", sz.name, n), func(b *testing.B) {
				p := newPageWriterSession(b, b.TempDir(), dirty.Auto, sz.wasmPages)
				defer p.close()
				arg := p.writeArg(n)
				runtime.LockOSThread()
				defer runtime.UnlockOSThread()
				cyc := lap{}
				com := lap{thread: true}
				for b.Loop() {
					cyc.start()
					p.write(b, arg)
					com.start()
					_, err := p.s.Commit(context.Background())
					com.stop()
					cyc.stop()
					if err != nil {
						b.Fatal(err)
					}
				}
				_, cpu := com.nsPerOp(b)
				b.ReportMetric(cpu/float64(n), "cpu-ns/page")
				b.ReportMetric(float64(com.tcpu.Nanoseconds())/float64(b.N)/float64(n), "thread-cpu-ns/page")
				b.ReportMetric(float64(cyc.cpu.Nanoseconds())/float64(b.N)/float64(n), "cycle-cpu-ns/page")
			})
		}
	}
}

// BenchmarkRoot: a call writes one page (not timed), then Session.Root
// (timed): hash the page, rehash its path and the contract's leaf path.
func BenchmarkRoot(b *testing.B) {
	for _, kind := range trackers() {
		for _, sz := range commitSizes {
			b.Run(fmt.Sprintf("%s/%s", kind, sz.name), func(b *testing.B) {
				p := newPageWriterSession(b, "", kind, sz.wasmPages)
				defer p.close()
				arg := p.writeArg(1)
				l := lap{}
				for b.Loop() {
					p.write(b, arg)
					l.start()
					_, err := p.s.Root()
					l.stop()
					if err != nil {
						b.Fatal(err)
					}
				}
				wall, cpu := l.nsPerOp(b)
				sizeRatio(b, sz.name, "root/"+kind.String(), wall, cpu)
			})
		}
	}
}

// BenchmarkCallWritePage: one call that writes one page (the write counter
// of page 0 += 1), per tracker and memory size; the session is never
// committed.
func BenchmarkCallWritePage(b *testing.B) {
	for _, kind := range trackers() {
		for _, sz := range commitSizes {
			b.Run(fmt.Sprintf("%s/%s", kind, sz.name), func(b *testing.B) {
				p := newPageWriterSession(b, "", kind, sz.wasmPages)
				defer p.close()
				arg := p.writeArg(1)
				wall, cpu := benchCalls(b, func() { p.write(b, arg) })
				sizeRatio(b, sz.name, "call/"+kind.String(), wall, cpu)
			})
		}
	}
}
