package serve_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wasmstate/wasmstate/internal/servetest"
	"github.com/wasmstate/wasmstate/lightclient"
	"github.com/wasmstate/wasmstate/pagestore"
	"github.com/wasmstate/wasmstate/serve"
	"github.com/wasmstate/wasmstate/statesync"
)

func findNginx(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("nginx"); err == nil {
		return p
	}
	if _, err := os.Stat("/usr/sbin/nginx"); err == nil {
		return "/usr/sbin/nginx"
	}
	if os.Getenv("CI") != "" {
		t.Fatal("no nginx (scripts/setup.sh installs it)")
	}
	t.Skip("no nginx; ./scripts/setup.sh installs it")
	return ""
}

const nginxConf = `
%s
daemon off;
worker_processes 1;
pid %[2]s/nginx.pid;
error_log %[2]s/error.log warn;
events { worker_connections 256; }
http {
	log_format cache '$upstream_cache_status $status $request_uri';
	access_log %[2]s/access.log cache;
	client_body_temp_path %[2]s/body;
	proxy_temp_path %[2]s/proxy;
	fastcgi_temp_path %[2]s/fastcgi;
	uwsgi_temp_path %[2]s/uwsgi;
	scgi_temp_path %[2]s/scgi;
	proxy_cache_path %[2]s/cache levels=1:2 keys_zone=wasmstate:10m max_size=256m inactive=1h use_temp_path=off;
	server {
		listen 127.0.0.1:%[3]d;
		location / {
			proxy_pass http://%[4]s;
			proxy_http_version 1.1;
			proxy_set_header Connection "";
			proxy_cache wasmstate;
			# Proofs vary by Accept (binary or JSON).
			proxy_cache_key "$request_uri|$http_accept";
			proxy_cache_lock on;
		}
		location = /v1/heads {
			proxy_pass http://%[4]s;
			proxy_http_version 1.1;
			proxy_buffering off;
		}
	}
}
`

// startNginx runs nginx as a caching proxy in front of upstream on
// 127.0.0.1, and returns its URL and a function that reads its cache log.
func startNginx(t *testing.T, upstream string) (string, func() []string) {
	t.Helper()
	bin := findNginx(t)
	dir := t.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	user := ""
	if os.Geteuid() == 0 {
		user = "user root root;" // workers must write the test's temp dir
	}
	conf := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(conf, []byte(fmt.Sprintf(nginxConf, user, dir, port, upstream)), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute) // stops by itself
	cmd := exec.CommandContext(ctx, bin, "-p", dir, "-c", conf, "-e", filepath.Join(dir, "error.log"))
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		cancel()
	})
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	for i := 0; ; i++ {
		resp, err := http.Get(url + "/v1/head")
		if err == nil {
			resp.Body.Close()
			break
		}
		if i == 100 {
			b, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			t.Fatalf("nginx did not start: %v\n%s\n%s", err, out.String(), b)
		}
		time.Sleep(50 * time.Millisecond)
	}
	readLog := func() []string {
		f, err := os.Open(filepath.Join(dir, "access.log"))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		var lines []string
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			lines = append(lines, sc.Text())
		}
		return lines
	}
	return url, readLog
}

// count counts log lines with the cache status and a URI prefix.
func count(lines []string, status, prefix string) int {
	n := 0
	for _, l := range lines {
		f := strings.Fields(l)
		if len(f) == 3 && f[0] == status && strings.HasPrefix(f[2], prefix) {
			n++
		}
	}
	return n
}

// TestCachingProxy puts Debian's nginx with proxy_cache between clients and
// a server: a second replica's sync and repeated proofs come from the
// cache (counted in nginx's log and at the origin), the head is never
// cached, and every client still verifies what it gets.
func TestCachingProxy(t *testing.T) {
	f := servetest.New(t, "", 10, 4)
	var originObjects, originPacks atomic.Int64
	h := serve.New(f.E, serve.Config{Logger: servetest.Quiet})
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasPrefix(r.URL.Path, "/v1/objects/"):
			originObjects.Add(1)
		case strings.HasPrefix(r.URL.Path, "/v1/packs/"):
			originPacks.Add(1)
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(func() { h.Close(); origin.Close() })
	proxy, readLog := startNginx(t, strings.TrimPrefix(origin.URL, "http://"))
	ctx := context.Background()
	root := f.Head()

	syncOnce := func(mode statesync.PackMode) statesync.Stats {
		st, err := pagestore.Open(context.Background(), t.TempDir(), nil)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		stats, err := statesync.Sync(ctx, st, proxy, root, &statesync.Options{Parallel: 8, Packs: mode})
		if err != nil {
			t.Fatal(err)
		}
		if p, err := st.Fsck(ctx, nil); err != nil || len(p) > 0 {
			t.Fatalf("fsck: %v %v", err, p)
		}
		return stats
	}
	// New replicas fill from packs (the state is one pack here), or from
	// batches of objects; either way the second replica's sync asks for
	// exactly the first's URLs, all answered from the cache.
	for _, c := range []struct {
		name   string
		mode   statesync.PackMode
		prefix string
		origin *atomic.Int64
	}{{"packs", statesync.PacksAuto, "/v1/packs/", &originPacks}, {"objects", statesync.PacksOff, "/v1/objects/", &originObjects}} {
		first := syncOnce(c.mode)
		fromOrigin := c.origin.Load()
		second := syncOnce(c.mode)
		lines := readLog()
		if c.origin.Load() != fromOrigin {
			t.Errorf("%s: the second sync reached the origin for %d requests", c.name, c.origin.Load()-fromOrigin)
			for _, l := range lines {
				if !strings.HasPrefix(l, "HIT") && !strings.HasPrefix(l, "MISS") {
					t.Log(l)
				}
			}
		}
		hits, misses := count(lines, "HIT", c.prefix), count(lines, "MISS", c.prefix)
		if misses == 0 || hits != misses || int64(misses) != fromOrigin || first.Fetched != second.Fetched {
			t.Errorf("%s: first sync %d misses (%d at the origin), second %d hits; objects %d and %d",
				c.name, misses, fromOrigin, hits, first.Fetched, second.Fetched)
		}
		t.Logf("sync through nginx from %s: %d objects in %d requests, first from the origin, second all from the cache", c.name, second.Fetched, hits)
	}

	// Repeated proofs, binary and JSON, verified every time.
	for _, js := range []bool{false, true} {
		c, err := lightclient.NewClient(proxy, &lightclient.ClientOptions{JSON: js})
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 10; i++ {
			if _, err := c.Page(ctx, root, f.Writer, 2); err != nil {
				t.Fatal(err)
			}
			if _, err := c.Contract(ctx, root, f.Counters[3]); err != nil {
				t.Fatal(err)
			}
		}
	}
	lines := readLog()
	pagePath := fmt.Sprintf("/v1/roots/%s/contracts/%s/pages/2/proof", root, f.Writer)
	if hits, misses := count(lines, "HIT", pagePath), count(lines, "MISS", pagePath); hits != 18 || misses != 2 {
		t.Errorf("page proofs: %d hits, %d misses; want 18 and 2 (one miss per encoding)", hits, misses)
	}
	// The head is never served from the cache.
	for i := 0; i < 3; i++ {
		resp, err := http.Get(proxy + "/v1/head")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	if hits := count(readLog(), "HIT", "/v1/head"); hits != 0 {
		t.Errorf("the head was served from the cache %d times", hits)
	}
	// The head stream passes through, unbuffered.
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(sctx, "GET", proxy+"/v1/heads", nil)
	req.Header.Set("Accept", "text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	got := ""
	for sc.Scan() && got == "" {
		if d, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
			got = d
		}
	}
	if !strings.Contains(got, root.String()) {
		t.Errorf("head stream through nginx: %q", got)
	}
}
