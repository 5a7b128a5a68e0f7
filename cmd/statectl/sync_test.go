package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wasmstate/wasmstate/internal/servetest"
	"github.com/wasmstate/wasmstate/merkle"
	"github.com/wasmstate/wasmstate/pagestore"
	"github.com/wasmstate/wasmstate/serve"
)

// TestSyncKillResume kills `statectl sync` (SIGKILL) while it fetches a
// 4 MiB contract from a slow peer, then runs it again: the store it left
// passes fsck, the second run fetches nothing the first one stored (as
// objects; packs stop at the first stored subtree they run into, so only
// a few stored objects come again), and the replica ends at the root.
func TestSyncKillResume(t *testing.T) {
	f := servetest.New(t, "", 3, 64) // 1,024 non-zero pages
	root := f.Head()
	total, err := servetest.Reachable(f.E.Store().(*pagestore.Store), root)
	if err != nil {
		t.Fatal(err)
	}
	for _, mode := range []string{"off", "on"} {
		t.Run("packs="+mode, func(t *testing.T) { syncKillResume(t, f, root, len(total), mode) })
	}
}

func syncKillResume(t *testing.T, f *servetest.Fixture, root merkle.Hash, total int, packs string) {
	// Packs of 64 KiB: the state takes about 70 of them.
	h := serve.New(f.E, serve.Config{Logger: servetest.Quiet, PackBytes: 64 << 10})
	var slowRequests atomic.Int64
	killNow := make(chan struct{})
	var once sync.Once
	var mu sync.Mutex
	var requested []string // object keys asked for, "p<hash>"
	slow := true
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		s := slow
		mu.Unlock()
		if k, hs, ok := strings.Cut(strings.TrimPrefix(r.URL.Path, "/v1/objects/"), "/"); ok && strings.HasPrefix(r.URL.Path, "/v1/objects/") {
			prefix := map[string]string{"page": "p", "memory-node": "m", "state-node": "s", "code": "c", "owner": "o", "globals": "g"}[k]
			mu.Lock()
			for _, hh := range strings.Split(hs, ",") {
				requested = append(requested, prefix+hh)
			}
			mu.Unlock()
			if k != "page" {
				s = false
			}
		}
		if s && (strings.HasPrefix(r.URL.Path, "/v1/objects/") || strings.HasPrefix(r.URL.Path, "/v1/packs/")) {
			time.Sleep(100 * time.Millisecond)
			if slowRequests.Add(1) == 28 { // > 2 s of pages: a flush happened
				once.Do(func() { close(killNow) })
			}
		}
		h.ServeHTTP(w, r)
	}))
	defer srv.Close()
	defer h.Close()

	db := filepath.Join(t.TempDir(), "replica")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, statectlBin, "sync", "--from", srv.URL, "--root", root.String(), "--db", db, "--parallel", "1", "--packs", packs)
	cmd.Env = env()
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-killNow:
		cmd.Process.Kill()
		<-done
	case err := <-done:
		t.Fatalf("sync ended before the kill: %v\n%s", err, out.String())
	}

	// What the killed run left: sound, no head, some objects.
	st, err := pagestore.Open(context.Background(), db, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := st.Head(); ok {
		t.Error("a killed sync set the head")
	}
	if p, err := st.Fsck(context.Background(), nil); err != nil || len(p) > 0 {
		t.Fatalf("fsck after the kill: %v %v", err, p)
	}
	stored := map[string]bool{}
	for _, k := range []byte("pmscog") {
		st.Backend().Iterate([]byte{k}, func(key, _ []byte) error {
			stored[string(key[0])+merkle.Hash(key[1:]).String()] = true
			return nil
		})
	}
	st.Close()
	if len(stored) < 100 {
		t.Fatalf("the killed run kept only %d objects", len(stored))
	}

	mu.Lock()
	requested, slow = nil, false
	mu.Unlock()
	var sum struct{ Objects, Redundant int }
	okJSON(t, db, &sum, "sync", "--from", srv.URL, "--root", root.String(), "--packs", packs)
	mu.Lock()
	again := 0
	for _, k := range requested {
		if stored[k] {
			again++
		}
	}
	mu.Unlock()
	// A pack brings again at most one stored object per node left
	// incomplete on the killed run's path (its one request in flight):
	// the stored subtree it stops at, or a stored page.
	if again != 0 || sum.Redundant > 2*merkle.MemoryTreeHeight || sum.Objects+len(stored) != total {
		t.Errorf("the resumed sync fetched %d stored objects again as objects, %d in packs; %d + %d stored, the state has %d",
			again, sum.Redundant, sum.Objects, len(stored), total)
	}
	t.Logf("killed run kept %d objects; the resumed run fetched %d (%d redundant)", len(stored), sum.Objects, sum.Redundant)
	ok(t, db, "fsck")
	if got := strings.TrimSpace(ok(t, db, "root").stdout); got != root.String() {
		t.Errorf("replica root %s, want %s", got, root)
	}
}

// TestSyncProgress shows the progress line on a terminal, and none when
// stderr is not one.
func TestSyncProgress(t *testing.T) {
	f := servetest.New(t, "", 2, 4)
	h := serve.New(f.E, serve.Config{Logger: servetest.Quiet})
	srv := httptest.NewServer(h)
	defer srv.Close()
	defer h.Close()
	for _, tty := range []bool{true, false} {
		var stdout bytes.Buffer
		db := filepath.Join(t.TempDir(), "r")
		code, stderr := inProcess(false, tty, &stdout, "sync", "--from", srv.URL, "--root", f.Head().String(), "--db", db)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		if tty != strings.Contains(stderr, "objects of") || tty != strings.Contains(stderr, "ETA") {
			t.Errorf("tty=%v: stderr %q", tty, stderr)
		}
		if !strings.Contains(stdout.String(), "synced "+f.Head().String()) {
			t.Errorf("stdout %q", stdout.String())
		}
	}
}
