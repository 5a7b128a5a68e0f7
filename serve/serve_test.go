package serve

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wasmstate/wasmstate/internal/servetest"
	"github.com/wasmstate/wasmstate/lightclient"
	"github.com/wasmstate/wasmstate/merkle"
	"github.com/wasmstate/wasmstate/pagestore"
)

func newServer(t *testing.T, f *servetest.Fixture, cfg Config) (*httptest.Server, *Handler) {
	t.Helper()
	cfg.Logger = servetest.Quiet
	h := New(f.E, cfg)
	srv := httptest.NewServer(h) // 127.0.0.1
	t.Cleanup(func() { h.Close(); srv.Close() })
	return srv, h
}

func get(t *testing.T, url string, hdr ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	c := &http.Client{Timeout: 20 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

func wantError(t *testing.T, resp *http.Response, body []byte, status int, code string) {
	t.Helper()
	if resp.StatusCode != status {
		t.Errorf("%s: status %d, want %d (%s)", resp.Request.URL.Path, resp.StatusCode, status, body)
	}
	var e struct {
		Error struct{ Code, Message string }
	}
	if err := json.Unmarshal(body, &e); err != nil || e.Error.Code != code || e.Error.Message == "" {
		t.Errorf("%s: body %s, want error code %q", resp.Request.URL.Path, body, code)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("error content type %q", ct)
	}
	if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("error cache control %q", cc)
	}
}

func TestEndpoints(t *testing.T) {
	f := servetest.New(t, "", 20, 16)
	srv, _ := newServer(t, f, Config{})
	root, id := f.Head(), f.Writer
	base := srv.URL + "/v1"

	// Head: no-store, the fixture's head.
	resp, body := get(t, base+"/head")
	var head HeadJSON
	if err := json.Unmarshal(body, &head); err != nil || head.Root != root.String() || head.Empty {
		t.Fatalf("head %s (%v)", body, err)
	}
	if resp.Header.Get("Cache-Control") != "no-store" || resp.Header.Get("ETag") != "" {
		t.Errorf("head headers %v", resp.Header)
	}

	// Commits and one record.
	_, body = get(t, base+"/commits")
	var commits struct{ Commits []commitJSON }
	if err := json.Unmarshal(body, &commits); err != nil || len(commits.Commits) != len(f.Roots) {
		t.Fatalf("commits %s (%v)", body, err)
	}
	resp, body = get(t, base+"/commits/"+root.String())
	var rec commitJSON
	if err := json.Unmarshal(body, &rec); err != nil || rec.Root != root.String() || rec.Parent != f.Roots[len(f.Roots)-2].String() {
		t.Fatalf("record %s (%v)", body, err)
	}
	if resp.Header.Get("Cache-Control") != ImmutableCacheControl {
		t.Errorf("record cache control %q", resp.Header.Get("Cache-Control"))
	}

	// Leaf.
	_, body = get(t, fmt.Sprintf("%s/roots/%s/contracts/%s", base, root, id))
	var leaf LeafJSON
	if err := json.Unmarshal(body, &leaf); err != nil || leaf.ID != id.String() || leaf.MemoryLen != 16*65536 {
		t.Fatalf("leaf %s (%v)", body, err)
	}

	// Page proof, binary and JSON, verified by the light client.
	url := fmt.Sprintf("%s/roots/%s/contracts/%s/pages/3/proof", base, root, id)
	resp, bin := get(t, url)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/octet-stream" {
		t.Fatalf("page proof: %d %v", resp.StatusCode, resp.Header)
	}
	page, err := lightclient.VerifyPage(root, id, 3, bin)
	if err != nil {
		t.Fatal(err)
	}
	if page[2048] != 4 { // the writer's page id is p+1
		t.Errorf("page 3 id byte %d", page[2048])
	}
	etag := resp.Header.Get("ETag")
	if etag == "" || resp.Header.Get("Cache-Control") != ImmutableCacheControl || resp.Header.Get("Vary") != "Accept" || resp.Header.Get("X-Proof-Kind") != "range" {
		t.Errorf("proof headers %v", resp.Header)
	}
	want, err := f.E.ProvePage(context.Background(), root, id, 3)
	if err != nil {
		t.Fatal(err)
	}
	wantBin, _ := want.MarshalBinary()
	if !bytes.Equal(bin, wantBin) {
		t.Error("served proof differs from the engine's")
	}
	resp, js := get(t, url, "Accept", "application/json")
	if resp.Header.Get("Content-Type") != "application/json" || !lightclient.IsJSON(js) {
		t.Fatalf("JSON proof: %v %.60s", resp.Header, js)
	}
	if _, err := lightclient.VerifyPage(root, id, 3, js); err != nil {
		t.Fatal(err)
	}
	if resp.Header.Get("ETag") == etag {
		t.Error("binary and JSON share an ETag")
	}
	// Revalidation.
	resp, body = get(t, url, "If-None-Match", etag)
	if resp.StatusCode != http.StatusNotModified || len(body) != 0 {
		t.Errorf("If-None-Match: %d %d bytes", resp.StatusCode, len(body))
	}

	// Range proof across pages.
	_, bin = get(t, fmt.Sprintf("%s/roots/%s/contracts/%s/bytes/8000/10000/proof", base, root, id))
	if _, err := lightclient.VerifyRange(root, id, 8000, 10000, bin); err != nil {
		t.Fatal(err)
	}
	// Contract and absence proofs.
	resp, bin = get(t, fmt.Sprintf("%s/roots/%s/contracts/%s/proof", base, root, f.Counters[0]))
	if _, err := lightclient.VerifyContract(root, f.Counters[0], bin); err != nil || resp.Header.Get("X-Proof-Kind") != "contract" {
		t.Fatal(err, resp.Header)
	}
	var missing merkle.ContractID
	missing[0] = 0xee
	resp, bin = get(t, fmt.Sprintf("%s/roots/%s/contracts/%s/proof", base, root, missing))
	if err := lightclient.VerifyAbsence(root, missing, bin); err != nil || resp.Header.Get("X-Proof-Kind") != "absence" {
		t.Fatal(err, resp.Header)
	}
	resp, body = get(t, fmt.Sprintf("%s/roots/%s/contracts/%s", base, root, missing))
	wantError(t, resp, body, 404, CodeNoContract)

	// An older root is still served.
	old := f.Roots[0]
	_, bin = get(t, fmt.Sprintf("%s/roots/%s/contracts/%s/proof", base, old, f.Counters[0]))
	if _, err := lightclient.VerifyContract(old, f.Counters[0], bin); err != nil {
		t.Fatal(err)
	}
}

func TestObjects(t *testing.T) {
	f := servetest.New(t, "", 2, 1)
	srv, _ := newServer(t, f, Config{})
	leaf, err := f.E.Inspect(context.Background(), f.Head(), f.Writer)
	if err != nil {
		t.Fatal(err)
	}
	st := f.E.Store()
	l, r, err := st.MemoryNode(leaf.Leaf.MemoryRoot)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		kind string
		hash merkle.Hash
		want []byte
	}{
		{"state-node", f.Head(), nil},
		{"state-node", leaf.Leaf.Hash(), leaf.Leaf.Encode()},
		{"memory-node", leaf.Leaf.MemoryRoot, append(l[:], r[:]...)},
		{"code", leaf.Leaf.CodeHash, leaf.Code},
		{"owner", leaf.Leaf.OwnerHash, leaf.Owner},
		{"globals", leaf.Leaf.GlobalsHash, nil},
	}
	for _, c := range cases {
		resp, body := get(t, fmt.Sprintf("%s/v1/objects/%s/%s", srv.URL, c.kind, c.hash))
		if resp.StatusCode != 200 {
			t.Errorf("%s %s: %d %s", c.kind, c.hash, resp.StatusCode, body)
			continue
		}
		if c.want != nil && !bytes.Equal(body, c.want) {
			t.Errorf("%s: wrong bytes", c.kind)
		}
		if resp.Header.Get("ETag") != `"`+c.hash.String()+`"` || resp.Header.Get("Cache-Control") != ImmutableCacheControl {
			t.Errorf("%s: headers %v", c.kind, resp.Header)
		}
	}
	// The right hash under the wrong kind is not found: kinds are checked.
	resp, body := get(t, fmt.Sprintf("%s/v1/objects/page/%s", srv.URL, leaf.Leaf.CodeHash))
	wantError(t, resp, body, 404, CodeNotFound)
	resp, body = get(t, fmt.Sprintf("%s/v1/objects/page/%s", srv.URL, merkle.EmptyPageHash()))
	wantError(t, resp, body, 404, CodeNotFound)
	resp, body = get(t, fmt.Sprintf("%s/v1/objects/memory-node/%s", srv.URL, merkle.EmptyMemory(5)))
	wantError(t, resp, body, 404, CodeNotFound)
	// A batch: length-prefixed values in the order asked, hashes ascending.
	a, b := leaf.Leaf.CodeHash, leaf.Leaf.MemoryRoot
	ka := "code"
	hs := []merkle.Hash{f.Head(), leaf.Leaf.Hash()}
	if bytes.Compare(hs[0][:], hs[1][:]) > 0 {
		hs[0], hs[1] = hs[1], hs[0]
	}
	resp, body = get(t, fmt.Sprintf("%s/v1/objects/state-node/%s,%s", srv.URL, hs[0], hs[1]))
	if resp.StatusCode != 200 || resp.Header.Get("Cache-Control") != ImmutableCacheControl {
		t.Fatalf("batch: %d %s", resp.StatusCode, body)
	}
	for _, h := range hs {
		n := int(binary.LittleEndian.Uint32(body))
		v := body[4 : 4+n]
		body = body[4+n:]
		want, _ := st.StateNode(h)
		if !bytes.Equal(v, want) {
			t.Errorf("batch value of %s", h)
		}
	}
	if len(body) != 0 {
		t.Error("trailing bytes in a batch")
	}
	resp, body = get(t, fmt.Sprintf("%s/v1/objects/state-node/%s,%s", srv.URL, hs[1], hs[0]))
	wantError(t, resp, body, 400, CodeBadHash)
	resp, body = get(t, fmt.Sprintf("%s/v1/objects/%s/%s,%s", srv.URL, ka, a, b))
	if bytes.Compare(a[:], b[:]) > 0 {
		wantError(t, resp, body, 400, CodeBadHash)
	} else {
		wantError(t, resp, body, 404, CodeNotFound) // the memory root is not code
	}
	// A page object hashes to its name.
	pages := 0
	err = merkle.NewMemTree(leaf.Leaf.MemoryRoot, st).ForEachPage(func(_ uint64, h merkle.Hash) error {
		if pages++; pages > 3 {
			return nil
		}
		_, body := get(t, fmt.Sprintf("%s/v1/objects/page/%s", srv.URL, h))
		if merkle.HashPage(body) != h {
			t.Errorf("page %s: wrong bytes", h)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestBadRequests(t *testing.T) {
	f := servetest.New(t, "", 2, 1)
	srv, _ := newServer(t, f, Config{MaxRange: 1 << 20})
	root, id := f.Head().String(), f.Writer.String()
	var unknown merkle.Hash
	unknown[0] = 1
	cases := []struct {
		path   string
		status int
		code   string
	}{
		{"/", 404, CodeNotFound},
		{"/v2/head", 404, CodeNotFound},
		{"/v1/head/", 404, CodeNotFound},
		{"/v1/nothing", 404, CodeNotFound},
		{"/v1/commits/" + strings.ToUpper(root), 400, CodeBadRoot},
		{"/v1/commits/" + root[:63], 400, CodeBadRoot},
		{"/v1/commits/" + unknown.String(), 404, CodeUnknownRoot},
		{"/v1/roots/head/contracts/" + id, 400, CodeBadRoot},
		{"/v1/roots/" + root + "/contracts/xyz", 400, CodeBadContract},
		{"/v1/roots/" + unknown.String() + "/contracts/" + id + "/proof", 404, CodeUnknownRoot},
		{"/v1/roots/" + root + "/contracts/" + id + "/pages/-1/proof", 400, CodeBadNumber},
		{"/v1/roots/" + root + "/contracts/" + id + "/pages/01/proof", 400, CodeBadNumber},
		{"/v1/roots/" + root + "/contracts/" + id + "/pages/99999999999999999999/proof", 400, CodeBadNumber},
		{"/v1/roots/" + root + "/contracts/" + id + "/pages/1073741824/proof", 400, CodeOutOfRange},
		{"/v1/roots/" + root + "/contracts/" + id + "/pages/16/proof", 400, CodeOutOfRange}, // memory is 16 pages
		{"/v1/roots/" + root + "/contracts/" + id + "/bytes/0/0/proof", 400, CodeOutOfRange},
		{"/v1/roots/" + root + "/contracts/" + id + "/bytes/0/1048577/proof", 400, CodeRangeTooLarge},
		{"/v1/roots/" + root + "/contracts/" + id + "/bytes/65530/10/proof", 400, CodeOutOfRange},
		{"/v1/roots/" + root + "/contracts/" + id + "/pages/0", 404, CodeNotFound},
		{"/v1/roots/" + root + "/contracts/" + unknown.String() + "/pages/0/proof", 404, CodeNoContract},
		{"/v1/objects/blob/" + root, 400, CodeBadKind},
		{"/v1/objects/page/zz", 400, CodeBadHash},
		{"/v1/head?x=1", 400, CodeBadQuery},
		{"/v1/" + strings.Repeat("a", 9000), 414, CodeURITooLong},
	}
	for _, c := range cases {
		resp, body := get(t, srv.URL+c.path)
		wantError(t, resp, body, c.status, c.code)
	}
	// Methods and bodies.
	for _, m := range []string{"POST", "PUT", "DELETE", "PATCH", "OPTIONS"} {
		req, _ := http.NewRequest(m, srv.URL+"/v1/head", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		wantError(t, resp, body, 405, CodeMethod)
	}
	req, _ := http.NewRequest("GET", srv.URL+"/v1/head", strings.NewReader("x"))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	wantError(t, resp, body, 413, CodeBodyNotAllowed)
	// Accept.
	resp, body = get(t, srv.URL+"/v1/head", "Accept", "text/html")
	wantError(t, resp, body, 406, CodeNotAcceptable)
	resp, body = get(t, srv.URL+"/v1/roots/"+root+"/contracts/"+id+"/pages/0/proof", "Accept", "application/json;q=0, application/octet-stream;q=0")
	wantError(t, resp, body, 406, CodeNotAcceptable)
	resp, _ = get(t, srv.URL+"/v1/roots/"+root+"/contracts/"+id+"/pages/0/proof", "Accept", "text/html, application/*;q=0.5")
	if resp.Header.Get("Content-Type") != "application/octet-stream" {
		t.Errorf("application/* gave %s", resp.Header.Get("Content-Type"))
	}
	resp, _ = get(t, srv.URL+"/v1/roots/"+root+"/contracts/"+id+"/pages/0/proof", "Accept", "application/octet-stream;q=0.4, application/json")
	if resp.Header.Get("Content-Type") != "application/json" {
		t.Errorf("preferred JSON gave %s", resp.Header.Get("Content-Type"))
	}
}

func TestLimits(t *testing.T) {
	f := servetest.New(t, "", 1, 1)
	path := fmt.Sprintf("/v1/roots/%s/contracts/%s/pages/0/proof", f.Head(), f.Writer)

	// Response size.
	srv, _ := newServer(t, f, Config{MaxResponseBytes: 1000})
	resp, body := get(t, srv.URL+path)
	wantError(t, resp, body, 400, CodeResponseTooLarge)

	// Concurrency: with the one slot taken, a request waits QueueWait and
	// gets 503 busy.
	srv, h := newServer(t, f, Config{MaxConcurrent: 1, QueueWait: 20 * time.Millisecond})
	h.slots <- struct{}{}
	resp, body = get(t, srv.URL+path)
	wantError(t, resp, body, 503, CodeBusy)
	if resp.Header.Get("Retry-After") == "" {
		t.Error("busy without Retry-After")
	}
	<-h.slots
	if resp, _ := get(t, srv.URL+path); resp.StatusCode != 200 {
		t.Errorf("after the slot freed: %d", resp.StatusCode)
	}

	// Time: an answer slower than RequestTimeout gives 503 timeout, and
	// its slot is held until the work ends.
	release := make(chan struct{})
	srv, h = newServer(t, f, Config{RequestTimeout: 30 * time.Millisecond, MaxConcurrent: 1, QueueWait: time.Millisecond})
	h.slow = func() { <-release }
	resp, body = get(t, srv.URL+path)
	wantError(t, resp, body, 503, CodeTimeout)
	resp, body = get(t, srv.URL+path)
	wantError(t, resp, body, 503, CodeBusy)
	close(release)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		resp, _ := get(t, srv.URL+path)
		if resp.StatusCode == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the slow answer ended: %d", resp.StatusCode)
		}
	}
}

func TestCORS(t *testing.T) {
	f := servetest.New(t, "", 1, 1)
	srv, _ := newServer(t, f, Config{})
	resp, _ := get(t, srv.URL+"/v1/head", "Origin", "http://example.test")
	if v := resp.Header.Get("Access-Control-Allow-Origin"); v != "" {
		t.Errorf("CORS off by default, got %q", v)
	}
	srv, _ = newServer(t, f, Config{CORSOrigins: []string{"http://app.test"}})
	resp, _ = get(t, srv.URL+"/v1/head", "Origin", "http://app.test")
	if v := resp.Header.Get("Access-Control-Allow-Origin"); v != "http://app.test" {
		t.Errorf("allowed origin got %q", v)
	}
	resp, _ = get(t, fmt.Sprintf("%s/v1/roots/%s/contracts/%s/pages/0/proof", srv.URL, f.Head(), f.Writer), "Origin", "http://app.test")
	if v := resp.Header.Values("Vary"); !slices.Contains(v, "Origin") || !slices.Contains(v, "Accept") {
		t.Errorf("Vary %v, want Origin and Accept", v)
	}
	resp, _ = get(t, srv.URL+"/v1/head", "Origin", "http://evil.test")
	if v := resp.Header.Get("Access-Control-Allow-Origin"); v != "" {
		t.Errorf("other origin got %q", v)
	}
	req, _ := http.NewRequest("OPTIONS", srv.URL+"/v1/head", nil)
	req.Header.Set("Origin", "http://app.test")
	req.Header.Set("Access-Control-Request-Method", "GET")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 204 || !strings.Contains(resp.Header.Get("Access-Control-Allow-Methods"), "GET") {
		t.Errorf("preflight %d %v", resp.StatusCode, resp.Header)
	}
}

func TestTamper(t *testing.T) {
	f := servetest.New(t, "", 1, 1)
	srv, _ := newServer(t, f, Config{TamperForTesting: true})
	root, id := f.Head(), f.Writer
	for _, accept := range []string{"application/octet-stream", "application/json"} {
		_, b := get(t, fmt.Sprintf("%s/v1/roots/%s/contracts/%s/pages/2/proof", srv.URL, root, id), "Accept", accept)
		if _, err := lightclient.VerifyPage(root, id, 2, b); err == nil {
			t.Errorf("%s: tampered page proof verified", accept)
		}
		_, b = get(t, fmt.Sprintf("%s/v1/roots/%s/contracts/%s/proof", srv.URL, root, f.Counters[0]), "Accept", accept)
		if _, err := lightclient.VerifyContract(root, f.Counters[0], b); err == nil {
			t.Errorf("%s: tampered contract proof verified", accept)
		}
	}
	_, b := get(t, fmt.Sprintf("%s/v1/objects/state-node/%s", srv.URL, root))
	if len(b) != 64 || merkle.DomainStateNode.Sum2(merkle.Hash(b[:32]), merkle.Hash(b[32:])) == root {
		t.Error("tampered object still hashes to its name")
	}
}

func TestHeadsStream(t *testing.T) {
	f := servetest.New(t, "", 1, 1)
	srv, h := newServer(t, f, Config{PollInterval: 5 * time.Millisecond, StreamDuration: 20 * time.Second, Heartbeat: 20 * time.Millisecond})
	req, _ := http.NewRequest("GET", srv.URL+"/v1/heads", nil)
	req.Header.Set("Accept", "text/event-stream")
	c := &http.Client{Timeout: 20 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.Header.Get("Content-Type") != "text/event-stream" || resp.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("stream headers %v", resp.Header)
	}
	events := make(chan string, 16)
	go func() {
		defer close(events)
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if d, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
				events <- d
			}
		}
	}()
	next := func() HeadJSON {
		t.Helper()
		select {
		case d, ok := <-events:
			if !ok {
				t.Fatal("stream ended")
			}
			var hj HeadJSON
			if err := json.Unmarshal([]byte(d), &hj); err != nil {
				t.Fatal(err)
			}
			return hj
		case <-time.After(10 * time.Second):
			t.Fatal("no event")
		}
		return HeadJSON{}
	}
	if got := next(); got.Root != f.Head().String() {
		t.Fatalf("first event %v, want %s", got, f.Head())
	}
	for i := 0; i < 2; i++ {
		r := f.Write(t, 1, 1, uint32(i), false)
		if got := next(); got.Root != r.String() {
			t.Fatalf("event %v, want %s", got, r)
		}
	}
	// The stream limit and Close.
	h.Close()
	select {
	case _, ok := <-events:
		for ok {
			_, ok = <-events
		}
	case <-time.After(10 * time.Second):
		t.Fatal("stream did not end at Close")
	}
}

func TestStreamLimit(t *testing.T) {
	f := servetest.New(t, "", 1, 1)
	srv, h := newServer(t, f, Config{MaxStreams: 1})
	h.streams <- struct{}{}
	resp, body := get(t, srv.URL+"/v1/heads")
	wantError(t, resp, body, 503, CodeBusy)
	<-h.streams
}

func TestObjectKindsCovered(t *testing.T) {
	for _, k := range []pagestore.Kind{pagestore.KindPage, pagestore.KindMemoryNode, pagestore.KindStateNode, pagestore.KindCode, pagestore.KindOwner, pagestore.KindGlobals} {
		if KindName(k) == "" {
			t.Errorf("kind %s has no URL name", k)
		}
	}
	if KindName(pagestore.KindCommit) != "" {
		t.Error("commit records are not objects")
	}
}
