package bench

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wasmstate/wasmstate/engine"
	"github.com/wasmstate/wasmstate/merkle"
)

// The node's workload, block after block (issue: warm, lazy execution):
// open a session from a root with block_height, one call writing 4 pages
// of a big contract (pagewriter, every 4 KiB page filled), one `add` on
// each of 20 counters, commit (synced, on-disk store), close.

// bigSizes are the big contract's memory sizes, in 64 KiB wasm pages.
var bigSizes = []struct {
	name  string
	pages uint32
}{{"64KiB", 1}, {"64MiB", 1024}, {"1GiB", 16384}}

const blockCounters = 20

// blockFixture is an on-disk store with one filled pagewriter of a size
// and 20 counters, and a chain of blocks on top.
type blockFixture struct {
	dir      string
	big      merkle.ContractID
	counters []merkle.ContractID
	pages    uint32        // 4 KiB pages of the big contract
	chain    []merkle.Hash // roots, oldest first
}

var blockFixtures sync.Map // size name -> *once[*blockFixture]

// preBlocks is the length of the chain built before timing, so that the
// reorg loop has old roots to fork from.
const preBlocks = 40

func blockStore(tb testing.TB, name string, pages uint32) *blockFixture {
	o, _ := blockFixtures.LoadOrStore(name, &once[*blockFixture]{})
	return o.(*once[*blockFixture]).get(tb, func() (*blockFixture, error) {
		t0 := time.Now()
		dir, _ := fixtureDir(tb, "block-"+name)
		e, err := engine.Open(context.Background(), dir, engine.Options{Logger: quiet})
		if err != nil {
			return nil, err
		}
		defer e.Close()
		s, err := e.NewSession(merkle.EmptyState(), engine.SessionOptions{})
		if err != nil {
			return nil, err
		}
		f := &blockFixture{dir: dir, pages: pages * 16}
		if f.big, err = deployPageWriter(s, pages, 0); err != nil {
			return nil, err
		}
		counter, err := compileWAT("counter")
		if err != nil {
			return nil, err
		}
		for i := range blockCounters {
			id, err := s.Deploy(context.Background(), counter, engine.DeployOptions{Nonce: uint64(i)})
			if err != nil {
				return nil, err
			}
			f.counters = append(f.counters, id)
		}
		root, err := s.Commit(context.Background())
		s.Close()
		if err != nil {
			return nil, err
		}
		f.chain = []merkle.Hash{root}
		for i := range preBlocks {
			r, _, err := runBlock(e, f, root, uint64(i+1))
			if err != nil {
				return nil, err
			}
			root = r
			f.chain = append(f.chain, r)
		}
		tb.Logf("fixture block-%s: built in %v", name, time.Since(t0))
		return f, nil
	})
}

// blockPhases are the wall times of one block's phases.
type blockPhases struct{ open, big, counters, commit time.Duration }

// runBlock runs one block on root at height h and returns the new root.
func runBlock(e *engine.Engine, f *blockFixture, root merkle.Hash, h uint64) (merkle.Hash, blockPhases, error) {
	var p blockPhases
	t := time.Now()
	s, err := e.NewSession(root, engine.SessionOptions{Metadata: map[string][]byte{
		"block_height": binary.LittleEndian.AppendUint64(nil, h)}})
	if err != nil {
		return root, p, err
	}
	defer s.Close()
	p.open = time.Since(t)
	t = time.Now()
	// 4 pages, spread over the memory, moving with the height.
	stride := max(1, (f.pages-1)/4)
	if _, err := s.Call(context.Background(), f.big, "write", u32s(4, stride, uint32(h*7)%stride), bigGas); err != nil {
		return root, p, fmt.Errorf("big write: %w", err)
	}
	p.big = time.Since(t)
	t = time.Now()
	arg := binary.LittleEndian.AppendUint64(nil, 1)
	for _, id := range f.counters {
		if _, err := s.Call(context.Background(), id, "add", arg, bigGas); err != nil {
			return root, p, fmt.Errorf("counter add: %w", err)
		}
	}
	p.counters = time.Since(t)
	t = time.Now()
	r, err := s.Commit(context.Background())
	p.commit = time.Since(t)
	return r, p, err
}

// BenchmarkBlockLoop runs the node's block loop on the on-disk store, per
// size of the big contract's memory:
//   - node: each block opens a session from the root the previous block
//     committed (the warm set of that root is taken over);
//   - reorg: each block forks from a root 2 to 33 blocks old and commits
//     a side branch (cold: memories map their images, which the loads
//     overlay with the pages where the old root differs);
//   - nowarm: the node's loop with warm sets off (every block loads cold).
//
// ns/op and cpu-ns/op are per block; open-ns, big-ns, counters-ns and
// commit-ns split the wall time into its phases.
func BenchmarkBlockLoop(b *testing.B) {
	for _, sz := range bigSizes {
		b.Run(sz.name, func(b *testing.B) {
			f := blockStore(b, sz.name, sz.pages)
			for _, variant := range []string{"node", "reorg", "nowarm"} {
				b.Run(variant, func(b *testing.B) {
					o := engine.Options{Logger: quiet}
					if variant == "nowarm" {
						o.WarmSets = -1
					}
					e, err := engine.Open(context.Background(), f.dir, o)
					if err != nil {
						b.Fatal(err)
					}
					defer e.Close()
					head := f.chain[len(f.chain)-1]
					h := uint64(len(f.chain))
					// One block untimed: the process's first load of each
					// contract (compiling is cached on disk; images are
					// built once per process).
					if head, _, err = runBlock(e, f, head, h); err != nil {
						b.Fatal(err)
					}
					runtime.LockOSThread()
					defer runtime.UnlockOSThread()
					var sum blockPhases
					l := lap{thread: true}
					i := 0
					for b.Loop() {
						h++
						base := head
						if variant == "reorg" {
							base = f.chain[len(f.chain)-2-i%32]
						}
						l.start()
						r, p, err := runBlock(e, f, base, h)
						l.stop()
						if err != nil {
							b.Fatal(err)
						}
						if variant != "reorg" {
							head = r
						}
						sum.open += p.open
						sum.big += p.big
						sum.counters += p.counters
						sum.commit += p.commit
						i++
					}
					wall, cpu := l.nsPerOp(b)
					n := float64(b.N)
					b.ReportMetric(float64(sum.open)/n, "open-ns")
					b.ReportMetric(float64(sum.big)/n, "big-ns")
					b.ReportMetric(float64(sum.counters)/n, "counters-ns")
					b.ReportMetric(float64(sum.commit)/n, "commit-ns")
					csvRow("blockloop", fmt.Sprintf("%d,%s,%.0f,%.0f,%.0f,%.0f,%.0f,%.0f", uint64(sz.pages)*65536, variant,
						wall, cpu, float64(sum.open)/n, float64(sum.big)/n, float64(sum.counters)/n, float64(sum.commit)/n))
				})
			}
		})
	}
}

// csvHeaders are the columns of the CSV files the sweeps write into
// bench/out/ (plot-friendly: one row per configuration, the last run of
// each benchmark).
var csvHeaders = map[string]string{
	"blockloop": "memory_bytes,variant,block_ns,block_cpu_ns,open_ns,big_call_ns,counters_ns,commit_ns",
	"firstcall": "memory_bytes,root,call,pages_touched,ns,cpu_ns",
	"gascal":    "shape,gas_per_op,ns_per_gas,x_plain_loop",
}

var csvData struct {
	sync.Mutex
	rows map[string]map[string]string // file -> key (all columns but the figures) -> row
}

// csvRow records a row for bench/out/<file>.csv; a later row with the same
// leading columns (a longer run of the same benchmark) replaces it.
func csvRow(file, row string) {
	csvData.Lock()
	defer csvData.Unlock()
	if csvData.rows == nil {
		csvData.rows = map[string]map[string]string{}
	}
	if csvData.rows[file] == nil {
		csvData.rows[file] = map[string]string{}
	}
	key := strings.Join(strings.Split(row, ",")[:2], ",")
	if file == "gascal" {
		key = strings.Split(row, ",")[0]
	}
	if file == "firstcall" {
		key = strings.Join(strings.Split(row, ",")[:4], ",")
	}
	csvData.rows[file][key] = row
}

// writeCSVs writes the recorded rows to bench/out/.
func writeCSVs() {
	csvData.Lock()
	defer csvData.Unlock()
	for file, rows := range csvData.rows {
		if err := os.MkdirAll("out", 0o755); err != nil {
			fmt.Fprintln(os.Stderr, "bench: csv:", err)
			return
		}
		var lines []string
		for _, r := range rows {
			lines = append(lines, r)
		}
		sort.Strings(lines)
		body := csvHeaders[file] + "\n" + strings.Join(lines, "\n") + "\n"
		if err := os.WriteFile(filepath.Join("out", file+".csv"), []byte(body), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "bench: csv:", err)
		}
	}
}
