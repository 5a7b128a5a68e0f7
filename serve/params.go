package serve

import (
	"bytes"
	"net/http"
	"strings"

	"github.com/wasmstate/wasmstate/merkle"
	"github.com/wasmstate/wasmstate/pagestore"
)

// endpoint names a route of the API.
type endpoint int

const (
	epHead          endpoint = iota + 1 // /v1/head
	epHeads                             // /v1/heads (server-sent events)
	epCommits                           // /v1/commits
	epCommit                            // /v1/commits/{root}
	epLeaf                              // /v1/roots/{root}/contracts/{id}
	epContractProof                     // /v1/roots/{root}/contracts/{id}/proof
	epPageProof                         // /v1/roots/{root}/contracts/{id}/pages/{index}/proof
	epRangeProof                        // /v1/roots/{root}/contracts/{id}/bytes/{offset}/{length}/proof
	epObject                            // /v1/objects/{kind}/{hash}
	epPack                              // /v1/packs/state-node/{hash}, /v1/packs/memory-node/{height}/{hash}
)

// route is a parsed request target.
type route struct {
	ep     endpoint
	root   merkle.Hash
	id     merkle.ContractID
	index  uint64 // page
	offset uint64 // range
	length uint64 // range
	kind   pagestore.Kind
	hash   merkle.Hash   // one object, or a pack's node
	height int           // a memory node's height (packs)
	batch  []merkle.Hash // several objects (≥ 2), strictly ascending
}

// MaxBatch is the most objects one batch request may name.
const MaxBatch = 32

// objectKinds maps the object kinds of the URL to the store's.
var objectKinds = map[string]pagestore.Kind{
	"page":        pagestore.KindPage,
	"memory-node": pagestore.KindMemoryNode,
	"state-node":  pagestore.KindStateNode,
	"code":        pagestore.KindCode,
	"owner":       pagestore.KindOwner,
	"globals":     pagestore.KindGlobals,
}

// KindName returns the URL name of an object kind ("page", "memory-node",
// "state-node", "code", "owner", "globals"), or "" for another kind.
func KindName(k pagestore.Kind) string {
	for n, v := range objectKinds {
		if v == k {
			return n
		}
	}
	return ""
}

// parseRoute parses a request path. It accepts only the canonical form of
// each URL (lower-case hex, decimal numbers without leading zeros, no
// trailing slash, no empty or dot segments), so that every resource has one
// URL and caches do not hold copies under several names. maxRange bounds
// the length of a byte range.
func parseRoute(path string, maxRange uint64) (route, *apiError) {
	var r route
	rest, ok := strings.CutPrefix(path, "/v1/")
	if !ok {
		return r, errorf(http.StatusNotFound, CodeNotFound, "no endpoint %q (the API lives under /v1/)", clip(path))
	}
	seg := strings.Split(rest, "/")
	notFound := func() (route, *apiError) {
		return route{}, errorf(http.StatusNotFound, CodeNotFound, "no endpoint %q", clip(path))
	}
	var err *apiError
	switch {
	case len(seg) == 1 && seg[0] == "head":
		r.ep = epHead
	case len(seg) == 1 && seg[0] == "heads":
		r.ep = epHeads
	case len(seg) == 1 && seg[0] == "commits":
		r.ep = epCommits
	case len(seg) == 2 && seg[0] == "commits":
		r.ep = epCommit
		r.root, err = parseHex(seg[1], CodeBadRoot, "root")
	case len(seg) == 3 && seg[0] == "objects":
		r.ep = epObject
		k, ok := objectKinds[seg[1]]
		if !ok {
			return r, errorf(http.StatusBadRequest, CodeBadKind, "object kind %q: want page, memory-node, state-node, code, owner or globals", clip(seg[1]))
		}
		r.kind = k
		if !strings.Contains(seg[2], ",") {
			r.hash, err = parseHex(seg[2], CodeBadHash, "object hash")
			break
		}
		hs := strings.Split(seg[2], ",")
		if len(hs) > MaxBatch {
			return r, errorf(http.StatusBadRequest, CodeBadHash, "a batch of %d objects: at most %d", len(hs), MaxBatch)
		}
		r.batch = make([]merkle.Hash, len(hs))
		for i, h := range hs {
			if r.batch[i], err = parseHex(h, CodeBadHash, "object hash"); err != nil {
				return r, err
			}
			if i > 0 && bytes.Compare(r.batch[i-1][:], r.batch[i][:]) >= 0 {
				return r, errorf(http.StatusBadRequest, CodeBadHash, "batch hashes must be strictly ascending (hash %d)", i)
			}
		}
	case len(seg) >= 3 && seg[0] == "packs":
		r.ep = epPack
		switch {
		case seg[1] == "state-node" && len(seg) == 3:
			r.kind = pagestore.KindStateNode
			r.hash, err = parseHex(seg[2], CodeBadHash, "node hash")
		case seg[1] == "memory-node" && len(seg) == 4:
			r.kind = pagestore.KindMemoryNode
			var ht uint64
			if ht, err = parseNumber(seg[2], "height"); err != nil {
				return r, err
			}
			if ht < 1 || ht > merkle.MemoryTreeHeight {
				return r, errorf(http.StatusBadRequest, CodeOutOfRange, "height %d: a memory node is at height 1 to %d", ht, merkle.MemoryTreeHeight)
			}
			r.height = int(ht)
			r.hash, err = parseHex(seg[3], CodeBadHash, "node hash")
		case seg[1] == "state-node" || seg[1] == "memory-node":
			return notFound()
		default:
			return r, errorf(http.StatusBadRequest, CodeBadKind, "pack kind %q: want state-node or memory-node", clip(seg[1]))
		}
	case len(seg) >= 4 && seg[0] == "roots" && seg[2] == "contracts":
		if r.root, err = parseHex(seg[1], CodeBadRoot, "root"); err != nil {
			return r, err
		}
		var id merkle.Hash
		if id, err = parseHex(seg[3], CodeBadContract, "contract id"); err != nil {
			return r, err
		}
		r.id = merkle.ContractID(id)
		tail := seg[4:]
		switch {
		case len(tail) == 0:
			r.ep = epLeaf
		case len(tail) == 1 && tail[0] == "proof":
			r.ep = epContractProof
		case len(tail) == 3 && tail[0] == "pages" && tail[2] == "proof":
			r.ep = epPageProof
			if r.index, err = parseNumber(tail[1], "page index"); err != nil {
				return r, err
			}
			if r.index >= merkle.MaxPages {
				return r, errorf(http.StatusBadRequest, CodeOutOfRange, "page %d: a memory has %d pages", r.index, merkle.MaxPages)
			}
		case len(tail) == 4 && tail[0] == "bytes" && tail[3] == "proof":
			r.ep = epRangeProof
			if r.offset, err = parseNumber(tail[1], "offset"); err != nil {
				return r, err
			}
			if r.length, err = parseNumber(tail[2], "length"); err != nil {
				return r, err
			}
			switch {
			case r.length == 0:
				return r, errorf(http.StatusBadRequest, CodeOutOfRange, "length 0")
			case r.length > maxRange:
				return r, errorf(http.StatusBadRequest, CodeRangeTooLarge, "length %d: this server proves at most %d bytes at once", r.length, maxRange)
			case r.offset > merkle.MaxMemoryBytes || r.length > merkle.MaxMemoryBytes-r.offset:
				return r, errorf(http.StatusBadRequest, CodeOutOfRange, "bytes %d+%d: beyond the largest memory (%d bytes)", r.offset, r.length, merkle.MaxMemoryBytes)
			}
		default:
			return notFound()
		}
	default:
		return notFound()
	}
	return r, err
}

// parseHex reads exactly 64 lower-case hex digits.
func parseHex(s, code, what string) (merkle.Hash, *apiError) {
	var h merkle.Hash
	if len(s) != 2*merkle.HashSize {
		return h, errorf(http.StatusBadRequest, code, "%s %q: want 64 lower-case hex digits, got %d characters", what, clip(s), len(s))
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		var v byte
		switch {
		case c >= '0' && c <= '9':
			v = c - '0'
		case c >= 'a' && c <= 'f':
			v = c - 'a' + 10
		default:
			return h, errorf(http.StatusBadRequest, code, "%s %q: character %d is not a lower-case hex digit", what, clip(s), i)
		}
		h[i/2] |= v << (4 * (1 - i%2))
	}
	return h, nil
}

// parseNumber reads a canonical decimal uint64: digits only, no sign, no
// leading zero (except "0" itself), no overflow.
func parseNumber(s, what string) (uint64, *apiError) {
	bad := func(why string) (uint64, *apiError) {
		return 0, errorf(http.StatusBadRequest, CodeBadNumber, "%s %q: %s", what, clip(s), why)
	}
	if s == "" {
		return bad("empty")
	}
	if len(s) > 1 && s[0] == '0' {
		return bad("leading zero (write numbers in canonical decimal)")
	}
	var v uint64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return bad("not a decimal number")
		}
		d := uint64(c - '0')
		if v > (^uint64(0)-d)/10 {
			return bad("too large")
		}
		v = v*10 + d
	}
	return v, nil
}

func clip(s string) string {
	if len(s) > 80 {
		return s[:77] + "..."
	}
	return s
}

// Representations an endpoint can answer with.
const (
	typeBinary = "application/octet-stream"
	typeJSON   = "application/json"
	typeEvents = "text/event-stream"
)

// negotiate picks one of offers (in the server's order of preference) for
// an Accept header, following RFC 9110 §12.5.1: the most specific matching
// media range sets an offer's quality; q=0 excludes it; the highest quality
// wins, ties going to the earlier offer. No Accept header accepts anything.
// ok is false when nothing is acceptable.
func negotiate(accept string, offers ...string) (string, bool) {
	if strings.TrimSpace(accept) == "" {
		return offers[0], true
	}
	best, bestQ := "", 0.0
	for _, offer := range offers {
		q, spec := 0.0, -1
		for _, part := range strings.Split(accept, ",") {
			mr, params, _ := strings.Cut(part, ";")
			mr = strings.ToLower(strings.TrimSpace(mr))
			s := -1
			switch {
			case mr == offer:
				s = 2
			case mr == "*/*":
				s = 0
			case strings.HasSuffix(mr, "/*") && strings.HasPrefix(offer, mr[:len(mr)-1]):
				s = 1
			}
			if s < 0 || s < spec {
				continue
			}
			spec, q = s, parseQ(params)
		}
		if q > bestQ {
			best, bestQ = offer, q
		}
	}
	return best, best != ""
}

// parseQ reads the q parameter of a media range (default 1; malformed
// values count as 0, which excludes the range).
func parseQ(params string) float64 {
	for _, p := range strings.Split(params, ";") {
		k, v, ok := strings.Cut(strings.TrimSpace(p), "=")
		if !ok || strings.ToLower(strings.TrimSpace(k)) != "q" {
			continue
		}
		v = strings.TrimSpace(v)
		if len(v) == 0 || len(v) > 5 {
			return 0
		}
		q, frac, seen := 0.0, 0.1, false
		for i := 0; i < len(v); i++ {
			c := v[i]
			switch {
			case c == '.' && !seen && i == 1:
				seen = true
			case c >= '0' && c <= '9' && i == 0:
				q = float64(c - '0')
			case c >= '0' && c <= '9' && seen:
				q += float64(c-'0') * frac
				frac /= 10
			default:
				return 0
			}
		}
		if q > 1 {
			return 0
		}
		return q
	}
	return 1
}
