package serve

import (
	"fmt"
	"strings"
	"testing"

	"github.com/wasmstate/wasmstate/merkle"
	"github.com/wasmstate/wasmstate/pagestore"
)

// render is the canonical URL of a route, the inverse of parseRoute.
func render(r route) string {
	c := fmt.Sprintf("/v1/roots/%s/contracts/%s", r.root, r.id)
	switch r.ep {
	case epHead:
		return "/v1/head"
	case epHeads:
		return "/v1/heads"
	case epCommits:
		return "/v1/commits"
	case epCommit:
		return "/v1/commits/" + r.root.String()
	case epObject:
		if r.batch != nil {
			hs := make([]string, len(r.batch))
			for i, h := range r.batch {
				hs[i] = h.String()
			}
			return "/v1/objects/" + KindName(r.kind) + "/" + strings.Join(hs, ",")
		}
		return "/v1/objects/" + KindName(r.kind) + "/" + r.hash.String()
	case epPack:
		if r.kind == pagestore.KindMemoryNode {
			return fmt.Sprintf("/v1/packs/memory-node/%d/%s", r.height, r.hash)
		}
		return "/v1/packs/state-node/" + r.hash.String()
	case epLeaf:
		return c
	case epContractProof:
		return c + "/proof"
	case epPageProof:
		return fmt.Sprintf("%s/pages/%d/proof", c, r.index)
	case epRangeProof:
		return fmt.Sprintf("%s/bytes/%d/%d/proof", c, r.offset, r.length)
	}
	return ""
}

// FuzzParseRoute checks that parsing never panics, that every error has a
// status and a code, and that every accepted path is canonical: it is
// exactly the URL rendered from what was parsed, so one resource has one URL.
func FuzzParseRoute(f *testing.F) {
	h := strings.Repeat("ab", 32)
	for _, s := range []string{
		"/v1/head", "/v1/heads", "/v1/commits", "/v1/commits/" + h,
		"/v1/roots/" + h + "/contracts/" + h, "/v1/roots/" + h + "/contracts/" + h + "/proof",
		"/v1/roots/" + h + "/contracts/" + h + "/pages/7/proof",
		"/v1/roots/" + h + "/contracts/" + h + "/bytes/4090/12/proof",
		"/v1/objects/page/" + h, "/v1/objects/state-node/" + h, "/v1/objects/x/" + h,
		"/v1/objects/page/" + strings.Repeat("0a", 32) + "," + h, "/v1/objects/page/" + h + "," + h,
		"/v1/roots/" + h + "/contracts/" + h + "/pages/007/proof", "/v1//head", "/v1/../v1/head", "",
		"/v1/packs/state-node/" + h, "/v1/packs/memory-node/30/" + h, "/v1/packs/memory-node/0/" + h,
		"/v1/packs/memory-node/31/" + h, "/v1/packs/memory-node/07/" + h, "/v1/packs/page/" + h, "/v1/packs/state-node/" + h + "/1",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, path string) {
		r, err := parseRoute(path, merkle.MaxProofRange)
		if err != nil {
			if err.Status < 400 || err.Status > 499 || err.Code == "" || err.Message == "" {
				t.Fatalf("%q: bad error %+v", path, err)
			}
			return
		}
		if got := render(r); got != path {
			t.Fatalf("%q accepted but its canonical form is %q", path, got)
		}
		if r.ep == epRangeProof && (r.length == 0 || r.length > merkle.MaxProofRange || r.offset+r.length > merkle.MaxMemoryBytes) {
			t.Fatalf("%q: range %d+%d accepted", path, r.offset, r.length)
		}
		if r.ep == epObject && r.batch != nil && (len(r.batch) < 2 || len(r.batch) > MaxBatch) {
			t.Fatalf("%q: a batch of %d", path, len(r.batch))
		}
		if r.ep == epPack && (r.kind == pagestore.KindMemoryNode) != (r.height >= 1 && r.height <= merkle.MemoryTreeHeight) {
			t.Fatalf("%q: a pack of %s at height %d", path, r.kind, r.height)
		}
		if r.ep == epPageProof && r.index >= merkle.MaxPages {
			t.Fatalf("%q: page %d accepted", path, r.index)
		}
	})
}

// FuzzNegotiate checks that content negotiation never panics and picks only
// an offered type.
func FuzzNegotiate(f *testing.F) {
	for _, s := range []string{"", "*/*", "application/json", "application/json;q=0.5, application/octet-stream;q=0.6",
		"application/*;q=0", "text/html", "application/json;q=1.5", "a;q=", ";;;,,"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, accept string) {
		got, ok := negotiate(accept, typeBinary, typeJSON)
		if ok != (got != "") || (ok && got != typeBinary && got != typeJSON) {
			t.Fatalf("%q: %q %v", accept, got, ok)
		}
	})
}
