package bench

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/syndtr/goleveldb/leveldb"
	"github.com/syndtr/goleveldb/leveldb/opt"
	"github.com/wasmstate/wasmstate/merkle"
	"github.com/wasmstate/wasmstate/pagestore"
)

const (
	writeAmpBatches   = 100
	writeAmpBatchSize = 1000
)

// BenchmarkWriteAmp measures the write amplification of the page store on
// goleveldb: 100,000 new 4 KiB pages committed through pagestore.Store in
// 100 synced batches of 1,000, with goleveldb's default options and with
// pagestore.LevelDBOptions (the backend's default), on random pages (the
// worst case: they neither compress nor deduplicate) and on compressible
// ones. Run with -benchtime 1x; each run writes 400 MiB. WRITEAMP_DIR puts
// the databases under another directory than the default temp dir.
//
// Metrics: wamp is bytes written to the database files (journal, tables,
// manifest: goleveldb's DBStats.IOWrite) per logical page byte, once
// background compaction has gone quiet after the last commit; wamp-commit is
// the same when the last commit returns; space-amp is the size of the
// directory per logical byte; MB/s is logical bytes per second of Commit.
func BenchmarkWriteAmp(b *testing.B) {
	defaults := func() *opt.Options { return &opt.Options{} }
	noCompression := func() *opt.Options {
		o := pagestore.LevelDBOptions()
		o.Compression = opt.NoCompression
		return o
	}
	runs := []struct {
		name  string
		opts  func() *opt.Options
		pages func(*rand.Rand, []byte)
	}{
		{"random/goleveldb-defaults", defaults, randomFill},
		{"random/tuned", pagestore.LevelDBOptions, randomFill},
		{"random/tuned-no-compression", noCompression, randomFill},
		{"compressible/goleveldb-defaults", defaults, compressibleFill},
		{"compressible/tuned", pagestore.LevelDBOptions, compressibleFill},
		{"compressible/tuned-no-compression", noCompression, compressibleFill},
	}
	for _, c := range runs {
		b.Run(c.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				writeAmp(b, c.opts(), c.pages)
			}
		})
	}
}

// randomFill fills p with random bytes: incompressible, the worst case.
func randomFill(r *rand.Rand, p []byte) {
	for j := 0; j < len(p); j += 8 {
		v := r.Uint64()
		for k := 0; k < 8; k++ {
			p[j+k] = byte(v >> (8 * k))
		}
	}
}

// compressibleFill imitates a used heap page: a random quarter, small
// integers (high bytes zero) in the next quarter, zeros after.
func compressibleFill(r *rand.Rand, p []byte) {
	clear(p)
	q := len(p) / 4
	randomFill(r, p[:q])
	for j := q; j < 2*q; j += 8 {
		p[j] = byte(r.IntN(256))
		p[j+1] = byte(r.IntN(4))
	}
}

func writeAmp(b *testing.B, o *opt.Options, fill func(*rand.Rand, []byte)) {
	b.StopTimer()
	dir := b.TempDir()
	if d := os.Getenv("WRITEAMP_DIR"); d != "" {
		var err error
		if dir, err = os.MkdirTemp(d, "writeamp-"); err != nil {
			b.Fatal(err)
		}
		defer os.RemoveAll(dir)
	}
	db, err := pagestore.OpenLevelDB(dir, o)
	if err != nil {
		b.Fatal(err)
	}
	s, err := pagestore.NewStore(db, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	ioWrite := func() uint64 {
		var st leveldb.DBStats
		if err := db.DB().Stats(&st); err != nil {
			b.Fatal(err)
		}
		return st.IOWrite
	}
	start := ioWrite()
	r := rand.New(rand.NewPCG(1, 2))
	pages := make([][]byte, writeAmpBatchSize)
	hashes := make([]merkle.Hash, writeAmpBatchSize)
	for i := range pages {
		pages[i] = make([]byte, merkle.PageSize)
	}
	logical := int64(0)
	var elapsed time.Duration
	for n := 0; n < writeAmpBatches; n++ {
		for i, p := range pages {
			fill(r, p)
			hashes[i] = merkle.HashPage(p)
		}
		t0 := time.Now()
		b.StartTimer()
		batch := pagestore.NewBatch()
		for i, p := range pages {
			batch.PutPage(hashes[i], p)
		}
		st, err := s.Commit(batch)
		b.StopTimer()
		elapsed += time.Since(t0)
		if err != nil {
			b.Fatal(err)
		}
		logical += int64(st.Bytes)
	}
	atCommit := ioWrite() - start
	// Wait for background compaction to go quiet, so its debt is counted.
	last, quiet := ioWrite(), 0
	for quiet < 5 {
		time.Sleep(200 * time.Millisecond)
		if w := ioWrite(); w == last {
			quiet++
		} else {
			last, quiet = w, 0
		}
	}
	settled := last - start
	var size int64
	filepath.Walk(dir, func(_ string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			size += fi.Size()
		}
		return nil
	})
	b.ReportMetric(float64(settled)/float64(logical), "wamp")
	b.ReportMetric(float64(atCommit)/float64(logical), "wamp-commit")
	b.ReportMetric(float64(size)/float64(logical), "space-amp")
	b.ReportMetric(float64(logical)/1e6/elapsed.Seconds(), "MB/s")
}
