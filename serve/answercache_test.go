package serve

import (
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/wasmstate/wasmstate/internal/servetest"
)

// TestAnswerCache: a repeated proof is answered from the cache, byte for
// byte with the same ETag, without computing it again; the cache keeps to
// its budget; a negative budget turns it off.
func TestAnswerCache(t *testing.T) {
	f := servetest.New(t, "", 3, 4)
	root := f.Head()
	for _, c := range []struct {
		budget   int64
		computed int64 // of the 3 requests of one proof
	}{{0, 1}, {-1, 3}} {
		t.Run(fmt.Sprint(c.budget), func(t *testing.T) {
			srv, h := newServer(t, f, Config{AnswerCacheBytes: c.budget})
			var n atomic.Int64
			h.slow = func() { n.Add(1) }
			url := fmt.Sprintf("%s/v1/roots/%s/contracts/%s/pages/1/proof", srv.URL, root, f.Writer)
			first, b1 := get(t, url)
			for i := 0; i < 2; i++ {
				resp, b := get(t, url)
				if string(b) != string(b1) || resp.Header.Get("ETag") != first.Header.Get("ETag") || resp.Header.Get("ETag") == "" {
					t.Fatalf("answer %d differs", i+2)
				}
			}
			// Another representation is another answer.
			get(t, url, "Accept", "application/json")
			if n.Load() != c.computed+1 {
				t.Errorf("computed %d times, want %d", n.Load(), c.computed+1)
			}
		})
	}
	// A small budget: every page proof of the writer, the cache stays
	// within it.
	srv, h := newServer(t, f, Config{AnswerCacheBytes: 40 << 10})
	for p := 0; p < int(f.WriterPages); p++ {
		get(t, fmt.Sprintf("%s/v1/roots/%s/contracts/%s/pages/%d/proof", srv.URL, root, f.Writer, p))
	}
	h.answers.mu.Lock()
	defer h.answers.mu.Unlock()
	if h.answers.bytes > 40<<10 || h.answers.lru.Len() == 0 || h.answers.lru.Len() >= int(f.WriterPages) {
		t.Errorf("%d bytes in %d answers", h.answers.bytes, h.answers.lru.Len())
	}
}
