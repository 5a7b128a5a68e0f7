package serve

import (
	"encoding/binary"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/wasmstate/wasmstate/internal/servetest"
	"github.com/wasmstate/wasmstate/merkle"
	"github.com/wasmstate/wasmstate/pagestore"
)

// readPackBody checks a pack body the way SPEC.md §16.2 tells a client to:
// each record is the next object of the subtree's pre-order (implicit
// values and objects already in the pack left out) and hashes to the hash
// its parent named. It returns the records' refs, the trailer status and,
// for a partial pack, the refs the client must ask for next.
func readPackBody(t *testing.T, root pagestore.Ref, b []byte) (refs []pagestore.Ref, status byte, rest []pagestore.Ref) {
	t.Helper()
	stack := []pagestore.Ref{root}
	seen := map[pagestore.Ref]bool{}
	next := func() (pagestore.Ref, bool) {
		for len(stack) > 0 {
			r := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if !seen[r] && !r.Implicit() {
				return r, true
			}
		}
		return pagestore.Ref{}, false
	}
	for {
		if len(b) < 4 {
			t.Fatalf("pack without a trailer after %d records", len(refs))
		}
		n := binary.LittleEndian.Uint32(b)
		b = b[4:]
		if n == packEnd {
			if len(b) != 1 {
				t.Fatalf("trailer %x", b)
			}
			for r, ok := next(); ok; r, ok = next() {
				rest = append(rest, r)
				seen[r] = true
			}
			return refs, b[0], rest
		}
		r, ok := next()
		if !ok {
			t.Fatalf("record %d after the whole subtree", len(refs))
		}
		v := b[:n]
		b = b[n:]
		if err := pagestore.CheckObject(r.Kind, r.Hash, v); err != nil {
			t.Fatalf("record %d: %v", len(refs), err)
		}
		seen[r] = true
		refs = append(refs, r)
		kids, err := pagestore.AppendChildren(nil, r, v)
		if err != nil {
			t.Fatal(err)
		}
		for i := len(kids) - 1; i >= 0; i-- {
			stack = append(stack, kids[i])
		}
	}
}

func TestPacks(t *testing.T) {
	f := servetest.New(t, "", 12, 4)
	root := f.Head()
	want, err := servetest.Reachable(f.E.Store().(*pagestore.Store), root)
	if err != nil {
		t.Fatal(err)
	}
	srv, _ := newServer(t, f, Config{})
	base := srv.URL + "/v1"
	stateRoot := pagestore.Ref{Kind: pagestore.KindStateNode, Hash: root}

	// The whole state in one pack: every reachable object once, complete.
	resp, b := get(t, base+"/packs/state-node/"+root.String())
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != typeBinary || resp.Header.Get("Cache-Control") != ImmutableCacheControl {
		t.Fatalf("%d %v", resp.StatusCode, resp.Header)
	}
	refs, status, rest := readPackBody(t, stateRoot, b)
	if status != PackComplete || len(rest) != 0 || len(refs) != len(want) {
		t.Fatalf("status %d, %d records, %d left; the state has %d objects", status, len(refs), len(rest), len(want))
	}
	for _, r := range refs {
		if !want[string(r.Kind)+r.Hash.String()] {
			t.Errorf("%s %s is not in the state", r.Kind, r.Hash)
		}
	}

	// A memory subtree, at its height.
	leaf, err := f.E.Inspect(t.Context(), root, f.Writer)
	if err != nil {
		t.Fatal(err)
	}
	memRoot := pagestore.Ref{Kind: pagestore.KindMemoryNode, Hash: leaf.Leaf.MemoryRoot, Height: merkle.MemoryTreeHeight}
	_, b = get(t, fmt.Sprintf("%s/packs/memory-node/%d/%s", base, merkle.MemoryTreeHeight, memRoot.Hash))
	refs, status, _ = readPackBody(t, memRoot, b)
	pages := 0
	for _, r := range refs {
		if r.Kind == pagestore.KindPage {
			pages++
		}
	}
	if status != PackComplete || pages != int(f.WriterPages) {
		t.Errorf("memory pack: status %d, %d pages, want %d", status, pages, f.WriterPages)
	}

	// A server with small packs ends them partial; following what each
	// leaves out gives the whole state.
	small, _ := newServer(t, f, Config{PackBytes: 5000})
	got := map[pagestore.Ref]bool{}
	todo := []pagestore.Ref{stateRoot}
	requests := 0
	for len(todo) > 0 {
		r := todo[0]
		todo = todo[1:]
		if got[r] {
			continue
		}
		if r.Kind != pagestore.KindStateNode && r.Kind != pagestore.KindMemoryNode {
			got[r] = true // a leaf object: fetched as an object, not here
			continue
		}
		url := small.URL + "/v1/packs/state-node/" + r.Hash.String()
		if r.Kind == pagestore.KindMemoryNode {
			url = fmt.Sprintf("%s/v1/packs/memory-node/%d/%s", small.URL, r.Height, r.Hash)
		}
		resp, b := get(t, url)
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %d", url, resp.StatusCode)
		}
		requests++
		refs, status, rest := readPackBody(t, r, b)
		if len(refs) == 0 || (status == PackPartial) != (len(rest) > 0) {
			t.Fatalf("%s: %d records, status %d, %d left", url, len(refs), status, len(rest))
		}
		for _, r := range refs {
			got[r] = true
		}
		todo = append(todo, rest...)
	}
	if len(got) != len(want) || requests < 5 {
		t.Errorf("small packs: %d objects in %d requests; the state has %d", len(got), requests, len(want))
	}

	// HEAD: the headers only.
	req, _ := http.NewRequest(http.MethodHead, base+"/packs/state-node/"+root.String(), nil)
	hr, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	hr.Body.Close()
	if hr.StatusCode != 200 || hr.ContentLength > 0 {
		t.Errorf("HEAD: %d, %d bytes", hr.StatusCode, hr.ContentLength)
	}

	// Errors.
	h := strings.Repeat("ab", 32)
	for _, c := range []struct {
		path, accept string
		status       int
		code         string
	}{
		{"/packs/state-node/" + h, "", 404, CodeNotFound},
		{"/packs/state-node/" + merkle.EmptyState().String(), "", 404, CodeNotFound},
		{"/packs/memory-node/30/" + merkle.EmptyMemory(30).String(), "", 404, CodeNotFound},
		{"/packs/memory-node/29/" + h, "", 404, CodeNotFound},
		{"/packs/state-node/" + root.String(), "application/json", 406, CodeNotAcceptable},
		{"/packs/memory-node/0/" + h, "", 400, CodeOutOfRange},
		{"/packs/memory-node/31/" + h, "", 400, CodeOutOfRange},
		{"/packs/memory-node/030/" + h, "", 400, CodeBadNumber},
		{"/packs/page/" + h, "", 400, CodeBadKind},
		{"/packs/state-node/" + strings.ToUpper(h), "", 400, CodeBadHash},
		{"/packs/memory-node/" + h, "", 404, CodeNotFound},
		{"/packs/state-node/" + h + "/1", "", 404, CodeNotFound},
	} {
		resp, b := get(t, base+c.path, "Accept", c.accept)
		wantError(t, resp, b, c.status, c.code)
	}
}

// TestPackTamper: a lying server's packs do not check.
func TestPackTamper(t *testing.T) {
	f := servetest.New(t, "", 2, 1)
	srv, _ := newServer(t, f, Config{TamperForTesting: true})
	_, b := get(t, srv.URL+"/v1/packs/state-node/"+f.Head().String())
	v := b[4 : 4+binary.LittleEndian.Uint32(b)]
	if pagestore.CheckObject(pagestore.KindStateNode, f.Head(), v) == nil {
		t.Error("a tampered pack's first record checks")
	}
}
