package statesync

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/wasmstate/wasmstate/engine"
	"github.com/wasmstate/wasmstate/internal/servetest"
	"github.com/wasmstate/wasmstate/merkle"
	"github.com/wasmstate/wasmstate/pagestore"
	"github.com/wasmstate/wasmstate/serve"
)

func peer(t *testing.T, f *servetest.Fixture, wrap func(http.Handler) http.Handler) *httptest.Server {
	t.Helper()
	return peerWith(t, f, serve.Config{}, wrap)
}

// peerWith serves f with cfg (its logger made quiet), behind wrap if set.
func peerWith(t *testing.T, f *servetest.Fixture, cfg serve.Config, wrap func(http.Handler) http.Handler) *httptest.Server {
	t.Helper()
	cfg.Logger = servetest.Quiet
	var h http.Handler = serve.New(f.E, cfg)
	if wrap != nil {
		h = wrap(h)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

func openStore(t *testing.T, dir string) *pagestore.Store {
	t.Helper()
	st, err := pagestore.Open(context.Background(), dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// reachable lists every stored object reachable from root in st.
func reachable(t *testing.T, st *pagestore.Store, root merkle.Hash) map[string]bool {
	t.Helper()
	out, err := servetest.Reachable(st, root)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// storedObjects lists the object keys in st's backend.
func storedObjects(t *testing.T, st *pagestore.Store) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	for _, k := range []byte("pmscog") {
		err := st.Backend().Iterate([]byte{k}, func(key, _ []byte) error {
			out[string(key[0])+merkle.Hash(key[1:]).String()] = true
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// checkReplica checks that dir holds root as its head, passes fsck, and
// proves what the source proves, byte for byte.
func checkReplica(t *testing.T, dir string, f *servetest.Fixture, root merkle.Hash) {
	t.Helper()
	e, err := engine.Open(context.Background(), dir, engine.Options{Logger: servetest.Quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if head, err := e.Head(); err != nil || head != root {
		t.Fatalf("replica head %s (%v), want %s", head, err, root)
	}
	problems, err := e.Store().Fsck(context.Background(), nil)
	if err != nil || len(problems) > 0 {
		t.Fatalf("fsck: %v %v", err, problems)
	}
	same := func(what string, a, b merkle.Proof, errA, errB error) {
		t.Helper()
		if errA != nil || errB != nil {
			t.Fatalf("%s: %v / %v", what, errA, errB)
		}
		ba, _ := a.MarshalBinary()
		bb, _ := b.MarshalBinary()
		if !bytes.Equal(ba, bb) {
			t.Errorf("%s: proofs differ", what)
		}
	}
	for _, p := range []uint64{0, 1, uint64(f.WriterPages) - 1} {
		a, errA := f.E.ProvePage(context.Background(), root, f.Writer, p)
		b, errB := e.ProvePage(context.Background(), root, f.Writer, p)
		same(fmt.Sprintf("page %d", p), a, b, errA, errB)
	}
	for _, id := range f.Counters[:min(3, len(f.Counters))] {
		a, errA := f.E.ProveContract(context.Background(), root, id)
		b, errB := e.ProveContract(context.Background(), root, id)
		same("contract", a, b, errA, errB)
	}
	// The replica runs contracts too: the counter's value is there.
	s, err := e.NewSession(root, engine.SessionOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Call(context.Background(), f.Counters[0], "read_value", nil, servetest.Gas); err != nil {
		t.Fatal(err)
	}
}

func TestSyncFullAndIncremental(t *testing.T) {
	f := servetest.New(t, "", 30, 8)
	srv := peer(t, f, nil)
	ctx := context.Background()
	root1 := f.Head()
	want := reachable(t, f.E.Store().(*pagestore.Store), root1)
	root2 := f.Write(t, 5, 3, 1, true)
	diff := 0
	for k := range reachable(t, f.E.Store().(*pagestore.Store), root2) {
		if !want[k] {
			diff++
		}
	}
	// A new replica fills from packs (auto) or from batches of objects;
	// either way it holds exactly the state, and a later root fetches
	// exactly the diff, as single objects.
	for _, mode := range []struct {
		name  string
		packs PackMode
	}{{"packs", PacksAuto}, {"objects", PacksOff}} {
		t.Run(mode.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "replica")
			st := openStore(t, dir)
			var progress []Progress
			stats, err := Sync(ctx, st, srv.URL, root1, &Options{Packs: mode.packs, Progress: func(p Progress) { progress = append(progress, p) }})
			if err != nil {
				t.Fatal(err)
			}
			if stats.Fetched != int64(len(want)) || stats.Root != root1 {
				t.Errorf("fetched %d objects, the state has %d", stats.Fetched, len(want))
			}
			if got := storedObjects(t, st); len(got) != len(want) {
				t.Errorf("stored %d objects, want %d", len(got), len(want))
			}
			if len(progress) == 0 || progress[len(progress)-1].Fetched != stats.Fetched {
				t.Errorf("progress %v", progress)
			}
			if (stats.Packs > 0) != (mode.packs == PacksAuto) {
				t.Errorf("%d packs in %d requests", stats.Packs, stats.Requests)
			}
			t.Logf("full: %d objects, %d requests (%d packs), %d redundant", stats.Fetched, stats.Requests, stats.Packs, stats.Redundant)
			st.Close()
			checkReplica(t, dir, f, root1)

			// Incremental: 5 pages and one counter change; exactly the new
			// objects are fetched.
			st = openStore(t, dir)
			stats, err = Sync(ctx, st, srv.URL, root2, nil)
			if err != nil {
				t.Fatal(err)
			}
			if stats.Fetched != int64(diff) || stats.Packs != 0 || stats.Redundant != 0 {
				t.Errorf("incremental sync fetched %d objects (%d packs, %d redundant), the diff has %d", stats.Fetched, stats.Packs, stats.Redundant, diff)
			}
			t.Logf("incremental: %d objects fetched (diff %d), %d requests", stats.Fetched, diff, stats.Requests)
			// Syncing the same root again fetches nothing.
			stats, err = Sync(ctx, st, srv.URL, root2, nil)
			if err != nil || stats.Fetched != 0 {
				t.Errorf("resync: %d fetched, %v", stats.Fetched, err)
			}
			st.Close()
			checkReplica(t, dir, f, root2)
		})
	}
}

// TestSyncPartialPacks: a server that cuts its packs small (and the
// packs of a replica whose first sync stopped early) still gives the whole
// state, every object once.
func TestSyncPartialPacks(t *testing.T) {
	f := servetest.New(t, "", 40, 4)
	root := f.Head()
	want := reachable(t, f.E.Store().(*pagestore.Store), root)
	for _, size := range []int{1, 3000, 20000} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			srv := peerWith(t, f, serve.Config{PackBytes: size}, nil)
			dir := filepath.Join(t.TempDir(), "replica")
			st := openStore(t, dir)
			stats, err := Sync(context.Background(), st, srv.URL, root, &Options{Parallel: 3})
			if err != nil {
				t.Fatal(err)
			}
			if stats.Fetched != int64(len(want)) {
				t.Errorf("fetched %d objects, the state has %d", stats.Fetched, len(want))
			}
			if got := storedObjects(t, st); len(got) != len(want) {
				t.Errorf("stored %d objects, want %d", len(got), len(want))
			}
			t.Logf("packs of %d bytes: %d requests (%d packs), %d redundant", size, stats.Requests, stats.Packs, stats.Redundant)
			st.Close()
			checkReplica(t, dir, f, root)
		})
	}
}

// fault makes a peer misbehave on the n-th request whose path starts with
// prefix.
func fault(prefix string, n int64, do func(w http.ResponseWriter, r *http.Request, next http.Handler)) func(http.Handler) http.Handler {
	var count atomic.Int64
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.HasPrefix(r.URL.Path, prefix) && count.Add(1) == n {
				do(w, r, next)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

func body(next http.Handler, r *http.Request) []byte {
	rec := httptest.NewRecorder()
	next.ServeHTTP(rec, r)
	return rec.Body.Bytes()
}

// splitPack cuts a pack body into its records and trailer status.
func splitPack(t *testing.T, b []byte) ([][]byte, byte) {
	t.Helper()
	var recs [][]byte
	for {
		if len(b) < 4 {
			t.Fatalf("pack without a trailer")
		}
		n := binary.LittleEndian.Uint32(b)
		if n == packEnd {
			return recs, b[4]
		}
		recs = append(recs, b[4:4+n])
		b = b[4+n:]
	}
}

// joinPack is the inverse of splitPack.
func joinPack(recs [][]byte, status byte) []byte {
	var out []byte
	for _, r := range recs {
		out = binary.LittleEndian.AppendUint32(out, uint32(len(r)))
		out = append(out, r...)
	}
	out = binary.LittleEndian.AppendUint32(out, packEnd)
	return append(out, status)
}

// editPack serves the honest pack passed through edit.
func editPack(t *testing.T, edit func(recs [][]byte, status byte) []byte) func(w http.ResponseWriter, r *http.Request, next http.Handler) {
	return func(w http.ResponseWriter, r *http.Request, next http.Handler) {
		recs, status := splitPack(t, body(next, r))
		w.Write(edit(recs, status))
	}
}

func TestSyncMaliciousPeers(t *testing.T) {
	f := servetest.New(t, "", 10, 4)
	root := f.Head()
	var pageHash merkle.Hash
	leaf, err := f.E.Inspect(context.Background(), root, f.Writer)
	if err != nil {
		t.Fatal(err)
	}
	merkle.NewMemTree(leaf.Leaf.MemoryRoot, f.E.Store()).ForEachPage(func(_ uint64, h merkle.Hash) error {
		pageHash = h
		return nil
	})
	pageBytes, _ := f.E.Store().Page(pageHash)
	endless := func(w http.ResponseWriter, r *http.Request, next http.Handler) {
		chunk := make([]byte, 64<<10)
		for i := 0; i < 256; i++ { // 16 MiB at most: bounded
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	}
	cutBody := func(w http.ResponseWriter, r *http.Request, next http.Handler) {
		b := body(next, r)
		w.Header().Set("Content-Length", fmt.Sprint(len(b)+10))
		w.Write(b)
	}
	notFound := func(w http.ResponseWriter, r *http.Request, next http.Handler) { http.NotFound(w, r) }
	serverError := func(w http.ResponseWriter, r *http.Request, next http.Handler) { http.Error(w, "boom", 500) }
	type fcase struct {
		name string
		at   int64
		do   func(w http.ResponseWriter, r *http.Request, next http.Handler)
		want error
	}
	objects := []fcase{
		{"wrong bytes", 4, func(w http.ResponseWriter, r *http.Request, next http.Handler) {
			b := body(next, r)
			b[len(b)-1] ^= 1
			w.Write(b)
		}, ErrBadObject},
		{"object of another kind", 5, func(w http.ResponseWriter, r *http.Request, next http.Handler) {
			w.Write(pageBytes)
		}, ErrBadObject},
		{"truncated object", 3, func(w http.ResponseWriter, r *http.Request, next http.Handler) {
			b := body(next, r)
			w.Write(b[:len(b)-1])
		}, ErrBadObject},
		{"truncated body", 3, cutBody, ErrTransport},
		{"endless stream", 2, endless, ErrBadObject},
		{"404 midway", 5, notFound, ErrMissing},
		{"server error", 4, serverError, ErrTransport},
	}
	// Packs of at most 2,000 bytes: the state takes a few dozen, and the
	// faults hit one in the middle.
	packs := []fcase{
		{"wrong bytes", 3, editPack(t, func(recs [][]byte, st byte) []byte {
			last := recs[len(recs)-1]
			last[len(last)-1] ^= 1
			return joinPack(recs, st)
		}), ErrBadObject},
		{"record of another kind", 4, editPack(t, func(recs [][]byte, st byte) []byte {
			recs[0] = pageBytes
			return joinPack(recs, st)
		}), ErrBadObject},
		{"truncated record", 3, editPack(t, func(recs [][]byte, st byte) []byte {
			recs[0] = recs[0][:len(recs[0])-1]
			return joinPack(recs, st)
		}), ErrBadObject},
		{"records of another subtree", 3, func(w http.ResponseWriter, r *http.Request, next http.Handler) {
			r2 := r.Clone(r.Context())
			r2.URL.Path = "/v1/packs/state-node/" + root.String()
			w.Write(body(next, r2))
		}, ErrBadObject},
		{"complete but short", 2, editPack(t, func(recs [][]byte, st byte) []byte {
			return joinPack(recs[:1], packComplete)
		}), ErrBadObject},
		{"a record too many", 2, editPack(t, func(recs [][]byte, st byte) []byte {
			return joinPack(append(recs, recs[0]), packComplete)
		}), ErrBadObject},
		{"partial without a record", 2, editPack(t, func(recs [][]byte, st byte) []byte {
			return joinPack(nil, packPartial)
		}), ErrBadObject},
		{"bad trailer", 2, editPack(t, func(recs [][]byte, st byte) []byte {
			return joinPack(recs, 7)
		}), ErrBadObject},
		{"bytes after the trailer", 2, editPack(t, func(recs [][]byte, st byte) []byte {
			return append(joinPack(recs, st), 0)
		}), ErrBadObject},
		{"cut short", 3, cutBody, ErrTransport},
		{"cut after a record", 3, editPack(t, func(recs [][]byte, st byte) []byte {
			b := joinPack(recs, st)
			return b[:4+len(recs[0])+2] // the handler's writer sends it chunked: no trailer
		}), ErrTransport},
		{"endless stream", 2, endless, ErrBadObject},
		{"server error", 3, serverError, ErrTransport},
	}
	// Small batches, so that a failed sync leaves objects stored.
	defer func(n int) { batchObjects = n }(batchObjects)
	batchObjects = 16
	cfg := serve.Config{PackBytes: 2000}
	// What a pack sync brings twice from a peer that cuts packs this small:
	// the subtrees the counters share (code, memory), once per pack.
	fresh, err := Sync(context.Background(), openStore(t, t.TempDir()), peerWith(t, f, cfg, nil).URL, root, &Options{Packs: PacksOn})
	if err != nil {
		t.Fatal(err)
	}
	run := func(t *testing.T, c fcase, mode PackMode, wrap func(http.Handler) http.Handler) {
		dir := t.TempDir()
		st := openStore(t, dir)
		defer st.Close()
		bad := peerWith(t, f, cfg, wrap)
		_, err := Sync(context.Background(), st, bad.URL, root, &Options{Parallel: 4, Retries: -1, Packs: mode})
		var oe *ObjectError
		if !errors.Is(err, c.want) || !errors.As(err, &oe) {
			t.Fatalf("got %v, want %v in an *ObjectError", err, c.want)
		}
		if _, ok, _ := st.Head(); ok {
			t.Error("a failed sync set the head")
		}
		if recs, _ := st.Commits(); len(recs) != 0 {
			t.Error("a failed sync wrote a commit record")
		}
		if problems, err := st.Fsck(context.Background(), nil); err != nil || len(problems) > 0 {
			t.Errorf("fsck after a failed sync: %v %v", err, problems)
		}
		// Resume from an honest peer, in the same mode: nothing stored is
		// fetched again as an object; a pack stops at the first stored
		// subtree it runs into, so at most a few stored objects come again.
		before := storedObjects(t, st)
		var refetched atomic.Int64
		var mu sync.Mutex
		seen := peerWith(t, f, cfg, func(next http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if k, hs, ok := strings.Cut(strings.TrimPrefix(r.URL.Path, "/v1/objects/"), "/"); ok {
					prefix := map[string]string{"page": "p", "memory-node": "m", "state-node": "s", "code": "c", "owner": "o", "globals": "g"}[k]
					mu.Lock()
					for _, h := range strings.Split(hs, ",") {
						if before[prefix+h] {
							refetched.Add(1)
						}
					}
					mu.Unlock()
				}
				next.ServeHTTP(w, r)
			})
		})
		stats, err := Sync(context.Background(), st, seen.URL, root, &Options{Packs: mode})
		if err != nil {
			t.Fatal(err)
		}
		if refetched.Load() != 0 {
			t.Errorf("resume fetched %d stored objects again", refetched.Load())
		}
		if extra := stats.Redundant - fresh.Redundant; extra > int64(len(before)/2+32) {
			t.Errorf("resume brought %d redundant objects, %d more than a new sync (%d were stored)", stats.Redundant, extra, len(before))
		}
		total := len(reachable(t, f.E.Store().(*pagestore.Store), root))
		if int(stats.Fetched)+len(before) != total {
			t.Errorf("resume fetched %d + %d stored != %d", stats.Fetched, len(before), total)
		}
		if head, ok, _ := st.Head(); !ok || head != root {
			t.Error("resume did not set the head")
		}
		t.Logf("stored before %d, resume fetched %d, %d redundant, %d requests", len(before), stats.Fetched, stats.Redundant, stats.Requests)
	}
	for _, c := range objects {
		t.Run("objects/"+c.name, func(t *testing.T) { run(t, c, PacksOff, fault("/v1/objects/", c.at, c.do)) })
	}
	for _, c := range packs {
		t.Run("packs/"+c.name, func(t *testing.T) { run(t, c, PacksOn, fault("/v1/packs/", c.at, c.do)) })
	}
	// A peer with no packs (404) is read object by object; one that lacks
	// the objects too fails with ErrMissing.
	t.Run("packs/404 then objects", func(t *testing.T) {
		st := openStore(t, t.TempDir())
		defer st.Close()
		noPacks := peer(t, f, func(next http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if strings.HasPrefix(r.URL.Path, "/v1/packs/") {
					http.NotFound(w, r)
					return
				}
				next.ServeHTTP(w, r)
			})
		})
		stats, err := Sync(context.Background(), st, noPacks.URL, root, &Options{Packs: PacksOn})
		if err != nil || stats.Fetched != int64(len(reachable(t, f.E.Store().(*pagestore.Store), root))) {
			t.Fatalf("%+v %v", stats, err)
		}
	})
	t.Run("packs/404 midway", func(t *testing.T) {
		c := fcase{"404 midway", 3, nil, ErrMissing}
		var n atomic.Int64
		run(t, c, PacksOn, func(next http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if strings.HasPrefix(r.URL.Path, "/v1/packs/") || strings.HasPrefix(r.URL.Path, "/v1/objects/") {
					if n.Add(1) >= c.at {
						http.NotFound(w, r)
						return
					}
				}
				next.ServeHTTP(w, r)
			})
		})
	})
	// A peer without the root.
	honest := peer(t, f, nil)
	st := openStore(t, t.TempDir())
	defer st.Close()
	var unknown merkle.Hash
	unknown[0] = 3
	if _, err := Sync(context.Background(), st, honest.URL, unknown, nil); !errors.Is(err, ErrMissing) {
		t.Errorf("unknown root: %v", err)
	}
	if _, err := Sync(context.Background(), st, "not a url", root, nil); !errors.Is(err, ErrTransport) {
		t.Errorf("bad URL: %v", err)
	}
}

// TestSyncCancelResume cancels a sync midway, then resumes it: what the
// first run stored is kept, and not fetched again (objects), or only the
// first object of each stored subtree a pack runs into comes again (packs).
func TestSyncCancelResume(t *testing.T) {
	f := servetest.New(t, "", 5, 16)
	defer func(n int) { batchObjects = n }(batchObjects)
	batchObjects = 64
	cfg := serve.Config{PackBytes: 16 << 10}
	total := len(reachable(t, f.E.Store().(*pagestore.Store), f.Head()))
	for _, mode := range []PackMode{PacksOff, PacksOn} {
		t.Run(map[PackMode]string{PacksOff: "objects", PacksOn: "packs"}[mode], func(t *testing.T) {
			o := &Options{Parallel: 1, Packs: mode}
			// A full sync first, to count its requests and what it brings
			// twice; in objects mode the pages come last.
			scratch := openStore(t, t.TempDir())
			full, err := Sync(context.Background(), scratch, peerWith(t, f, cfg, nil).URL, f.Head(), o)
			scratch.Close()
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			var served atomic.Int64
			at := full.Requests - 1
			if mode == PacksOn {
				at = full.Requests / 2
			}
			srv := peerWith(t, f, cfg, func(next http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if served.Add(1) == at {
						cancel()
					}
					next.ServeHTTP(w, r)
				})
			})
			st := openStore(t, t.TempDir())
			defer st.Close()
			_, err = Sync(ctx, st, srv.URL, f.Head(), o)
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("cancelled sync: %v", err)
			}
			if _, ok, _ := st.Head(); ok {
				t.Error("a cancelled sync set the head")
			}
			before := len(storedObjects(t, st))
			stats, err := Sync(context.Background(), st, srv.URL, f.Head(), o)
			if err != nil {
				t.Fatal(err)
			}
			if before == 0 || int(stats.Fetched)+before != total {
				t.Errorf("resume fetched %d, %d were stored, the state has %d", stats.Fetched, before, total)
			}
			if extra := stats.Redundant - full.Redundant; extra > 8 {
				t.Errorf("resume brought %d objects twice, %d more than a full sync", stats.Redundant, extra)
			}
			t.Logf("full sync %d requests, %d redundant; cancelled run kept %d of %d; resume fetched %d in %d requests, %d redundant",
				full.Requests, full.Redundant, before, total, stats.Fetched, stats.Requests, stats.Redundant)
		})
	}
}

func TestSyncEmptyState(t *testing.T) {
	f := servetest.New(t, "", 1, 1)
	srv := peer(t, f, nil)
	st := openStore(t, t.TempDir())
	defer st.Close()
	stats, err := Sync(context.Background(), st, srv.URL, merkle.EmptyState(), nil)
	if err != nil || stats.Fetched != 0 || stats.Requests != 0 {
		t.Fatalf("%+v %v", stats, err)
	}
	if head, ok, _ := st.Head(); !ok || head != merkle.EmptyState() {
		t.Errorf("head %s %v", head, ok)
	}
}

func TestKindNamesMatchServe(t *testing.T) {
	if maxBatch != serve.MaxBatch {
		t.Errorf("batch of %d objects; the server takes %d", maxBatch, serve.MaxBatch)
	}
	for k, n := range kindNames {
		if serve.KindName(k) != n {
			t.Errorf("%s: statesync says %q, serve %q", k, n, serve.KindName(k))
		}
	}
}
