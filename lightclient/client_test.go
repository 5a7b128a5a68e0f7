package lightclient_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wasmstate/wasmstate/internal/servetest"
	"github.com/wasmstate/wasmstate/lightclient"
	"github.com/wasmstate/wasmstate/merkle"
	"github.com/wasmstate/wasmstate/serve"
)

func startServer(t *testing.T, f *servetest.Fixture, cfg serve.Config) *httptest.Server {
	t.Helper()
	cfg.Logger = servetest.Quiet
	h := serve.New(f.E, cfg)
	srv := httptest.NewServer(h)
	t.Cleanup(func() { h.Close(); srv.Close() })
	return srv
}

func newClient(t *testing.T, url string, o *lightclient.ClientOptions) *lightclient.Client {
	t.Helper()
	c, err := lightclient.NewClient(url, o)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestClientReadsVerified(t *testing.T) {
	f := servetest.New(t, "", 3, 2)
	srv := startServer(t, f, serve.Config{})
	ctx := context.Background()
	root := f.Head()
	for _, js := range []bool{false, true} {
		c := newClient(t, srv.URL, &lightclient.ClientOptions{JSON: js})
		page, err := c.Page(ctx, root, f.Writer, 5)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := f.E.ProvePage(context.Background(), root, f.Writer, 5)
		if !bytes.Equal(page, want.Pages[0]) {
			t.Error("page bytes differ from the engine's")
		}
		data, err := c.Range(ctx, root, f.Writer, 4096*5+2040, 4200)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(data[8:12], page[2048:2052]) {
			t.Error("range bytes differ from the page's")
		}
		leaf, err := c.Contract(ctx, root, f.Counters[1])
		if err != nil || leaf.ID != f.Counters[1] {
			t.Fatal(leaf, err)
		}
		var missing merkle.ContractID
		missing[31] = 7
		if err := c.Absence(ctx, root, missing); err != nil {
			t.Fatal(err)
		}
		if _, present, err := c.Lookup(ctx, root, missing); err != nil || present {
			t.Fatal(present, err)
		}
		if err := c.Absence(ctx, root, f.Writer); !errors.Is(err, lightclient.ErrInvalid) {
			t.Errorf("absence of a present contract: %v", err)
		}
		if _, err := c.Contract(ctx, root, missing); !errors.Is(err, lightclient.ErrServer) {
			t.Errorf("contract of a missing id: %v", err)
		}
		head, err := c.Head(ctx)
		if err != nil || head != root {
			t.Fatal(head, err)
		}
	}
	// A server error carries the API's code.
	c := newClient(t, srv.URL, nil)
	var unknown merkle.Hash
	unknown[0] = 9
	_, err := c.Page(ctx, unknown, f.Writer, 0)
	var se *lightclient.ServerError
	if !errors.As(err, &se) || se.Code != serve.CodeUnknownRoot || se.Status != 404 || !errors.Is(err, lightclient.ErrServer) {
		t.Errorf("unknown root: %v", err)
	}
	if _, err := lightclient.NewClient("ftp://x", nil); err == nil {
		t.Error("ftp base URL accepted")
	}
}

// liar wraps a real server and alters its answers.
func liar(t *testing.T, real http.Handler, lie func(w http.ResponseWriter, r *http.Request, real http.Handler)) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { lie(w, r, real) }))
	t.Cleanup(srv.Close)
	return srv
}

func record(real http.Handler, r *http.Request) []byte {
	rec := httptest.NewRecorder()
	real.ServeHTTP(rec, r)
	return rec.Body.Bytes()
}

func TestClientRejectsLyingServers(t *testing.T) {
	f := servetest.New(t, "", 2, 1)
	old := f.Head()
	root := f.Write(t, 3, 1, 0, true) // pages 0..2 change
	h := serve.New(f.E, serve.Config{Logger: servetest.Quiet})
	ctx := context.Background()
	id := f.Writer

	cases := []struct {
		name string
		lie  func(w http.ResponseWriter, r *http.Request, real http.Handler)
		opts lightclient.ClientOptions
		want error
	}{
		{"wrong bytes", func(w http.ResponseWriter, r *http.Request, real http.Handler) {
			b := record(real, r)
			b[len(b)-1] ^= 1
			w.Write(b)
		}, lightclient.ClientOptions{}, lightclient.ErrInvalid},
		{"proof for another root", func(w http.ResponseWriter, r *http.Request, real http.Handler) {
			r2 := r.Clone(r.Context())
			r2.URL.Path = strings.Replace(r.URL.Path, root.String(), old.String(), 1)
			w.Write(record(real, r2))
		}, lightclient.ClientOptions{}, lightclient.ErrInvalid},
		{"proof of another page", func(w http.ResponseWriter, r *http.Request, real http.Handler) {
			r2 := r.Clone(r.Context())
			r2.URL.Path = strings.Replace(r.URL.Path, "/pages/1/", "/pages/2/", 1)
			w.Write(record(real, r2))
		}, lightclient.ClientOptions{}, lightclient.ErrInvalid},
		{"truncated proof", func(w http.ResponseWriter, r *http.Request, real http.Handler) {
			b := record(real, r)
			w.Write(b[:len(b)/2])
		}, lightclient.ClientOptions{}, lightclient.ErrMalformed},
		{"truncated body", func(w http.ResponseWriter, r *http.Request, real http.Handler) {
			b := record(real, r)
			w.Header().Set("Content-Length", fmt.Sprint(len(b)))
			w.Write(b[:len(b)/2]) // the connection closes short of Content-Length
		}, lightclient.ClientOptions{}, lightclient.ErrTransport},
		{"slow drip", func(w http.ResponseWriter, r *http.Request, real http.Handler) {
			b := record(real, r)
			w.Header().Set("Content-Length", fmt.Sprint(len(b)))
			for i := 0; i < len(b) && i < 40; i++ {
				w.Write(b[i : i+1])
				w.(http.Flusher).Flush()
				select {
				case <-r.Context().Done():
					return
				case <-time.After(25 * time.Millisecond):
				}
			}
		}, lightclient.ClientOptions{Timeout: 200 * time.Millisecond}, lightclient.ErrTimeout},
		{"endless body", func(w http.ResponseWriter, r *http.Request, real http.Handler) {
			chunk := make([]byte, 64<<10)
			for i := 0; i < 64; i++ { // 4 MiB, bounded
				if _, err := w.Write(chunk); err != nil {
					return
				}
			}
		}, lightclient.ClientOptions{MaxAnswer: 1 << 20}, lightclient.ErrTooLarge},
		{"JSON for binary", func(w http.ResponseWriter, r *http.Request, real http.Handler) {
			r2 := r.Clone(r.Context())
			r2.Header.Set("Accept", "application/json")
			b := record(real, r2)
			b = bytes.Replace(b, []byte(`"length":4096`), []byte(`"length":4095`), 1)
			w.Write(b)
		}, lightclient.ClientOptions{}, lightclient.ErrInvalid},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv := liar(t, h, c.lie)
			cl := newClient(t, srv.URL, &c.opts)
			page, err := cl.Page(ctx, root, id, 1)
			if !errors.Is(err, c.want) || page != nil {
				t.Fatalf("got %d bytes, %v; want %v", len(page), err, c.want)
			}
			var le *lightclient.Error
			if !errors.As(err, &le) {
				t.Errorf("%T is not a *lightclient.Error", err)
			}
		})
	}
}

func TestClientTrustedRoots(t *testing.T) {
	f := servetest.New(t, "", 1, 1)
	old := f.Head()
	var requests atomic.Int64
	h := serve.New(f.E, serve.Config{Logger: servetest.Quiet, PollInterval: 5 * time.Millisecond})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(func() { h.Close(); srv.Close() })
	trusted := map[merkle.Hash]bool{old: true}
	trust := lightclient.TrustFunc(func(_ context.Context, r merkle.Hash) error {
		if !trusted[r] {
			return errors.New("not in our header chain")
		}
		return nil
	})
	c := newClient(t, srv.URL, &lightclient.ClientOptions{Trusted: trust})
	ctx := context.Background()
	if _, err := c.Page(ctx, old, f.Writer, 0); err != nil {
		t.Fatal(err)
	}
	newer := f.Write(t, 1, 1, 0, false)
	n := requests.Load()
	if _, err := c.Page(ctx, newer, f.Writer, 0); !errors.Is(err, lightclient.ErrUntrusted) {
		t.Fatalf("untrusted root: %v", err)
	}
	if requests.Load() != n {
		t.Error("the client asked the server about an untrusted root")
	}
	if _, err := c.Head(ctx); !errors.Is(err, lightclient.ErrUntrusted) {
		t.Errorf("untrusted head: %v", err)
	}

	// Follow page 0 across trusted checkpoints: it changes at each write.
	r3 := f.Write(t, 1, 1, 0, false)
	r4 := f.Write(t, 1, 1, 5, false) // page 0 unchanged
	for _, r := range []merkle.Hash{newer, r3, r4} {
		trusted[r] = true
	}
	vs, err := c.FollowPage(ctx, f.Writer, 0, []lightclient.Checkpoint{{1, old}, {2, newer}, {3, r3}, {4, r4}})
	if err != nil {
		t.Fatal(err)
	}
	if got := lightclient.Changes(vs); fmt.Sprint(got) != "[1 2]" {
		t.Errorf("changes at %v, want [1 2]", got)
	}
	delete(trusted, r3)
	_, err = c.FollowPage(ctx, f.Writer, 0, []lightclient.Checkpoint{{1, old}, {2, newer}, {3, r3}})
	var le *lightclient.Error
	if !errors.Is(err, lightclient.ErrUntrusted) || !errors.As(err, &le) || le.Step != 2 {
		t.Errorf("chain with an untrusted step: %v", err)
	}
	trusted[r3] = true

	// Heads: the stream starts at an untrusted head (skipped); the next,
	// trusted head is delivered.
	r5 := f.Write(t, 1, 1, 1, false)
	banned := map[merkle.Hash]bool{r5: true}
	wc := newClient(t, srv.URL, &lightclient.ClientOptions{Trusted: lightclient.TrustFunc(func(_ context.Context, r merkle.Hash) error {
		if banned[r] {
			return errors.New("banned")
		}
		return nil
	})})
	got := make(chan merkle.Hash, 8)
	wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- wc.WatchHeads(wctx, func(r merkle.Hash) error {
			got <- r
			return nil
		})
	}()
	time.Sleep(100 * time.Millisecond) // the stream has sent r5 by now
	r6 := f.Write(t, 1, 1, 2, false)
	select {
	case r := <-got:
		if r != r6 {
			t.Fatalf("head %s, want %s (r5 = %s is untrusted)", r, r6, r5)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no head")
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("WatchHeads after cancel: %v", err)
	}
	if err := newClient(t, srv.URL, nil).WatchHeads(ctx, nil); !errors.Is(err, lightclient.ErrUntrusted) {
		t.Errorf("WatchHeads without a trust hook: %v", err)
	}
}
