package serve

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"

	"github.com/wasmstate/wasmstate/engine"
	"github.com/wasmstate/wasmstate/internal/servetest"
)

type vectors struct {
	Requests []struct {
		Method, Path, Accept, Code, Note string
		Status                           int
	}
	Negotiation []struct {
		Accept, Want, Note string
		Offers             []string
	}
}

// TestVectors checks testdata/vectors.json, the request vectors SPEC.md §16
// ships for other implementations, against the handler.
func TestVectors(t *testing.T) {
	b, err := os.ReadFile("testdata/vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var v vectors
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	if len(v.Requests) < 30 || len(v.Negotiation) < 5 {
		t.Fatalf("%d requests, %d negotiations", len(v.Requests), len(v.Negotiation))
	}
	e, err := engine.OpenInMemory(engine.Options{Logger: servetest.Quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	h := New(e, Config{Logger: servetest.Quiet})
	defer h.Close()
	codes := map[string]bool{}
	for _, r := range v.Requests {
		req := httptest.NewRequest(r.Method, r.Path, nil)
		if r.Accept != "" {
			req.Header.Set("Accept", r.Accept)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		var body struct{ Error struct{ Code string } }
		if r.Code != "" {
			json.Unmarshal(rec.Body.Bytes(), &body)
			codes[r.Code] = true
		}
		if rec.Code != r.Status || body.Error.Code != r.Code {
			t.Errorf("%s %s (Accept %q): %d %q, want %d %q (%s)", r.Method, clip(r.Path), r.Accept, rec.Code, body.Error.Code, r.Status, r.Code, r.Note)
		}
		if r.Status == http.StatusOK && r.Method == http.MethodGet && rec.Body.Len() == 0 {
			t.Errorf("%s: empty answer", clip(r.Path))
		}
	}
	for _, n := range v.Negotiation {
		got, _ := negotiate(n.Accept, n.Offers...)
		if got != n.Want {
			t.Errorf("Accept %q: %q, want %q (%s)", n.Accept, got, n.Want, n.Note)
		}
	}
	// Every error code a client may meet without load or a store fault is
	// in the vectors.
	for _, c := range []string{CodeNotFound, CodeMethod, CodeNotAcceptable, CodeBadRoot, CodeBadContract, CodeBadHash,
		CodeBadKind, CodeBadNumber, CodeBadQuery, CodeOutOfRange, CodeRangeTooLarge, CodeURITooLong, CodeUnknownRoot, CodeNoContract} {
		if !codes[c] {
			t.Errorf("no vector for %s", c)
		}
	}
}
