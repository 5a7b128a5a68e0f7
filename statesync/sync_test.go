package statesync

import (
	"bytes"
	"context"
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
	var h http.Handler = serve.New(f.E, serve.Config{Logger: servetest.Quiet})
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
	dir := filepath.Join(t.TempDir(), "replica")
	ctx := context.Background()
	root1 := f.Head()

	st := openStore(t, dir)
	var progress []Progress
	stats, err := Sync(ctx, st, srv.URL, root1, &Options{Progress: func(p Progress) { progress = append(progress, p) }})
	if err != nil {
		t.Fatal(err)
	}
	want := reachable(t, f.E.Store().(*pagestore.Store), root1)
	if stats.Fetched != int64(len(want)) || stats.Root != root1 {
		t.Errorf("fetched %d objects, the state has %d", stats.Fetched, len(want))
	}
	if got := storedObjects(t, st); len(got) != len(want) {
		t.Errorf("stored %d objects, want %d", len(got), len(want))
	}
	if len(progress) == 0 || progress[len(progress)-1].Fetched != stats.Fetched {
		t.Errorf("progress %v", progress)
	}
	st.Close()
	checkReplica(t, dir, f, root1)

	// Incremental: 5 pages and one counter change; exactly the new objects
	// are fetched.
	root2 := f.Write(t, 5, 3, 1, true)
	diff := 0
	old := reachable(t, f.E.Store().(*pagestore.Store), root1)
	for k := range reachable(t, f.E.Store().(*pagestore.Store), root2) {
		if !old[k] {
			diff++
		}
	}
	st = openStore(t, dir)
	stats, err = Sync(ctx, st, srv.URL, root2, nil)
	if err != nil {
		t.Fatal(err)
	}
	if stats.Fetched != int64(diff) {
		t.Errorf("incremental sync fetched %d objects, the diff has %d", stats.Fetched, diff)
	}
	t.Logf("incremental: %d objects fetched (diff %d), %d requests", stats.Fetched, diff, stats.Requests)
	// Syncing the same root again fetches nothing.
	stats, err = Sync(ctx, st, srv.URL, root2, nil)
	if err != nil || stats.Fetched != 0 {
		t.Errorf("resync: %d fetched, %v", stats.Fetched, err)
	}
	st.Close()
	checkReplica(t, dir, f, root2)
}

// fault makes a peer misbehave on the n-th object request.
func fault(n int64, do func(w http.ResponseWriter, r *http.Request, next http.Handler)) func(http.Handler) http.Handler {
	var count atomic.Int64
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.HasPrefix(r.URL.Path, "/v1/objects/") && count.Add(1) == n {
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

func TestSyncMaliciousPeers(t *testing.T) {
	f := servetest.New(t, "", 10, 4)
	root := f.Head()
	honest := peer(t, f, nil)
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
	cases := []struct {
		name string
		at   int64
		do   func(w http.ResponseWriter, r *http.Request, next http.Handler)
		want error
	}{
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
		{"truncated body", 3, func(w http.ResponseWriter, r *http.Request, next http.Handler) {
			b := body(next, r)
			w.Header().Set("Content-Length", fmt.Sprint(len(b)+10))
			w.Write(b)
		}, ErrTransport},
		{"endless stream", 2, func(w http.ResponseWriter, r *http.Request, next http.Handler) {
			chunk := make([]byte, 64<<10)
			for i := 0; i < 256; i++ { // 16 MiB at most: bounded
				if _, err := w.Write(chunk); err != nil {
					return
				}
			}
		}, ErrBadObject},
		{"404 midway", 5, func(w http.ResponseWriter, r *http.Request, next http.Handler) {
			http.NotFound(w, r)
		}, ErrMissing},
		{"server error", 4, func(w http.ResponseWriter, r *http.Request, next http.Handler) {
			http.Error(w, "boom", 500)
		}, ErrTransport},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			st := openStore(t, dir)
			defer st.Close()
			bad := peer(t, f, fault(c.at, c.do))
			_, err := Sync(context.Background(), st, bad.URL, root, &Options{Parallel: 4, Retries: -1})
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
			// Resume from an honest peer: nothing stored is fetched again.
			before := storedObjects(t, st)
			var refetched atomic.Int64
			var mu sync.Mutex
			seen := peer(t, f, func(next http.Handler) http.Handler {
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
			_ = honest
			stats, err := Sync(context.Background(), st, seen.URL, root, nil)
			if err != nil {
				t.Fatal(err)
			}
			if refetched.Load() != 0 {
				t.Errorf("resume fetched %d stored objects again", refetched.Load())
			}
			if int(stats.Fetched)+len(before) != len(reachable(t, f.E.Store().(*pagestore.Store), root)) {
				t.Errorf("resume fetched %d + %d stored != %d", stats.Fetched, len(before), len(reachable(t, f.E.Store().(*pagestore.Store), root)))
			}
			if head, ok, _ := st.Head(); !ok || head != root {
				t.Error("resume did not set the head")
			}
		})
	}
	// A peer without the root.
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

func TestSyncCancelResume(t *testing.T) {
	f := servetest.New(t, "", 5, 16)
	defer func(n int) { batchObjects = n }(batchObjects)
	batchObjects = 64
	// A full sync first, to count its requests; the pages come last.
	scratch := openStore(t, t.TempDir())
	full, err := Sync(context.Background(), scratch, peer(t, f, nil).URL, f.Head(), &Options{Parallel: 1})
	scratch.Close()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var served atomic.Int64
	srv := peer(t, f, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if served.Add(1) == full.Requests-1 { // the last page batch
				cancel()
			}
			next.ServeHTTP(w, r)
		})
	})
	st := openStore(t, t.TempDir())
	defer st.Close()
	_, err = Sync(ctx, st, srv.URL, f.Head(), &Options{Parallel: 1})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled sync: %v", err)
	}
	if _, ok, _ := st.Head(); ok {
		t.Error("a cancelled sync set the head")
	}
	stats, err := Sync(context.Background(), st, srv.URL, f.Head(), nil)
	if err != nil {
		t.Fatal(err)
	}
	total := len(reachable(t, f.E.Store().(*pagestore.Store), f.Head()))
	if stats.Fetched >= int64(total) {
		t.Errorf("resume fetched %d of %d objects: nothing was kept", stats.Fetched, total)
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
