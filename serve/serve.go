// Package serve is wasmstate's read-only HTTP API (SPEC.md §16): an
// http.Handler over an *engine.Engine that a node mounts in its own server,
// and that `statectl serve` runs standalone.
//
// It answers with the head and the commit records, a contract's leaf,
// proofs of a page, a byte range, a contract or an absence at any retained
// root (binary, SPEC.md §7.3, or JSON, §7.5, by Accept), the raw
// content-addressed objects a replica syncs from (§8), and a stream of new
// heads (server-sent events). Nothing it serves changes state.
//
// What is served at a fixed root never changes, so those answers carry an
// ETag and `Cache-Control: public, max-age=31536000, immutable`, and
// caching proxies and CDNs can carry the read load; the head, the commit
// list and the stream are `no-store`. Every request is bounded in size,
// time, concurrency and answer size, and every bad request gets a JSON
// error with a stable code (see the Code constants).
package serve

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/wasmstate/wasmstate/engine"
	"github.com/wasmstate/wasmstate/merkle"
	"github.com/wasmstate/wasmstate/pagestore"
)

// Defaults of Config.
const (
	DefaultMaxConcurrent    = 64
	DefaultQueueWait        = time.Second
	DefaultRequestTimeout   = 10 * time.Second
	DefaultMaxResponseBytes = 40 << 20 // a 16 MiB range in JSON (hex pages) fits
	DefaultMaxURIBytes      = 4096     // a batch of 32 object hashes fits
	DefaultMaxStreams       = 256
	DefaultPollInterval     = 250 * time.Millisecond
	DefaultStreamDuration   = time.Hour
	DefaultHeartbeat        = 15 * time.Second
	DefaultPackBytes        = 8 << 20
	DefaultAnswerCacheBytes = 64 << 20
)

// ImmutableCacheControl is the Cache-Control of every answer that cannot
// change: everything addressed by a root or a hash.
const ImmutableCacheControl = "public, max-age=31536000, immutable"

// Config configures a Handler. The zero value is usable: every limit takes
// its default, CORS is off.
type Config struct {
	// MaxConcurrent bounds the requests computed at once (streams not
	// included); a request that finds no slot within QueueWait gets 503
	// "busy".
	MaxConcurrent int
	QueueWait     time.Duration
	// RequestTimeout bounds the time to compute one answer; past it the
	// client gets 503 "timeout".
	RequestTimeout time.Duration
	// MaxRange bounds the byte range of one range proof; 0 or more than
	// merkle.MaxProofRange (16 MiB) means merkle.MaxProofRange.
	MaxRange uint64
	// MaxResponseBytes bounds the body of one answer.
	MaxResponseBytes int
	// AnswerCacheBytes bounds the cache of recent proofs, leaves and
	// commit records, which are immutable: a repeated request skips the
	// engine (0: DefaultAnswerCacheBytes; negative: no cache).
	AnswerCacheBytes int64
	// PackBytes bounds a pack (/v1/packs): the server ends it, partial,
	// once it has written this many bytes (at most MaxResponseBytes).
	PackBytes int
	// MaxURIBytes bounds the request target.
	MaxURIBytes int
	// MaxStreams bounds the open /v1/heads streams.
	MaxStreams int
	// PollInterval is how often a stream checks the store's head.
	PollInterval time.Duration
	// StreamDuration ends a stream after this long (the client reconnects).
	StreamDuration time.Duration
	// Heartbeat is the interval of comment lines that keep idle streams
	// open through proxies.
	Heartbeat time.Duration
	// CORSOrigins are the origins browsers may read answers from; "*"
	// allows any. Empty: no CORS headers (browsers read only same-origin).
	CORSOrigins []string
	// Logger receives request faults (nil: slog.Default()).
	Logger *slog.Logger
	// TamperForTesting makes the server lie: every proof and object it
	// serves is altered so that it no longer verifies against its root or
	// hash. It exists to show that clients reject a lying server; never set
	// it in production.
	TamperForTesting bool
}

func (c *Config) withDefaults() Config {
	o := *c
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	defDur := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&o.MaxConcurrent, DefaultMaxConcurrent)
	def(&o.MaxResponseBytes, DefaultMaxResponseBytes)
	def(&o.MaxURIBytes, DefaultMaxURIBytes)
	def(&o.MaxStreams, DefaultMaxStreams)
	def(&o.PackBytes, DefaultPackBytes)
	o.PackBytes = min(o.PackBytes, o.MaxResponseBytes)
	defDur(&o.QueueWait, DefaultQueueWait)
	defDur(&o.RequestTimeout, DefaultRequestTimeout)
	defDur(&o.PollInterval, DefaultPollInterval)
	defDur(&o.StreamDuration, DefaultStreamDuration)
	defDur(&o.Heartbeat, DefaultHeartbeat)
	if o.MaxRange == 0 || o.MaxRange > merkle.MaxProofRange {
		o.MaxRange = merkle.MaxProofRange
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	o.CORSOrigins = append([]string(nil), c.CORSOrigins...)
	return o
}

// Handler serves the API. It is safe for concurrent use. Close ends the
// open streams.
type Handler struct {
	e       *engine.Engine
	cfg     Config
	slots   chan struct{}
	streams chan struct{}
	answers *answerCache
	done    chan struct{}
	once    sync.Once
	// slow, if set (tests), runs before each answer is computed.
	slow func()
}

// New returns a Handler over e, which must stay open while the handler
// serves.
func New(e *engine.Engine, cfg Config) *Handler {
	c := cfg.withDefaults()
	budget := c.AnswerCacheBytes
	if budget == 0 {
		budget = DefaultAnswerCacheBytes
	}
	return &Handler{
		e:       e,
		cfg:     c,
		answers: newAnswerCache(budget),
		slots:   make(chan struct{}, c.MaxConcurrent),
		streams: make(chan struct{}, c.MaxStreams),
		done:    make(chan struct{}),
	}
}

// Close ends every open stream and refuses new ones; other requests are
// still answered. It is for a server's graceful shutdown, which does not
// wait for streams by itself.
func (h *Handler) Close() {
	h.once.Do(func() { close(h.done) })
}

// answer is a computed response.
type answer struct {
	contentType string
	body        []byte
	immutable   bool
	etag        string // without quotes; "" until ServeHTTP sets the hash of the body
	proofKind   string
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.cors(w, r)
	if len(r.RequestURI) > h.cfg.MaxURIBytes || len(r.URL.Path) > h.cfg.MaxURIBytes {
		writeError(w, errorf(http.StatusRequestURITooLong, CodeURITooLong, "request target of %d bytes; the limit is %d", len(r.RequestURI), h.cfg.MaxURIBytes))
		return
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead:
	case http.MethodOptions:
		if len(h.cfg.CORSOrigins) > 0 {
			w.Header().Set("Access-Control-Allow-Methods", "GET, HEAD, OPTIONS")
			w.Header().Set("Access-Control-Allow-Headers", "Accept, If-None-Match, Last-Event-ID")
			w.Header().Set("Access-Control-Max-Age", "86400")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		fallthrough
	default:
		w.Header().Set("Allow", "GET, HEAD")
		writeError(w, errorf(http.StatusMethodNotAllowed, CodeMethod, "method %s: the API is read-only (GET, HEAD)", clip(r.Method)))
		return
	}
	if r.ContentLength != 0 {
		writeError(w, errorf(http.StatusRequestEntityTooLarge, CodeBodyNotAllowed, "requests carry no body"))
		return
	}
	rt, aerr := parseRoute(r.URL.EscapedPath(), h.cfg.MaxRange)
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	if r.URL.RawQuery != "" {
		writeError(w, errorf(http.StatusBadRequest, CodeBadQuery, "the API takes no query parameters"))
		return
	}
	switch rt.ep {
	case epHeads:
		h.heads(w, r)
		return
	case epPack:
		h.pack(w, r, rt)
		return
	}
	offers := []string{typeJSON}
	switch rt.ep {
	case epContractProof, epPageProof, epRangeProof:
		offers = []string{typeBinary, typeJSON}
	case epObject:
		offers = []string{typeBinary}
	}
	ctype, ok := negotiate(r.Header.Get("Accept"), offers...)
	if !ok {
		writeError(w, errorf(http.StatusNotAcceptable, CodeNotAcceptable, "this endpoint answers with %s", strings.Join(offers, " or ")))
		return
	}
	var key string
	var a *answer
	switch rt.ep {
	case epContractProof, epPageProof, epRangeProof, epLeaf, epCommit:
		key = ctype + " " + r.URL.EscapedPath()
		a = h.answers.get(key)
	}
	if a == nil {
		var aerr *apiError
		if a, aerr = h.compute(r.Context(), rt, ctype); aerr != nil {
			if aerr.Status >= 500 {
				h.cfg.Logger.Warn("serve: request failed", "path", r.URL.Path, "code", aerr.Code, "err", aerr.Message)
			}
			writeError(w, aerr)
			return
		}
		if len(a.body) > h.cfg.MaxResponseBytes {
			writeError(w, errorf(http.StatusBadRequest, CodeResponseTooLarge, "the answer has %d bytes; this server's limit is %d (ask for a smaller range)", len(a.body), h.cfg.MaxResponseBytes))
			return
		}
		if a.immutable && a.etag == "" {
			sum := sha256.Sum256(a.body)
			a.etag = hex.EncodeToString(sum[:])
		}
		if key != "" && a.immutable {
			h.answers.add(key, a)
		}
	}
	hd := w.Header()
	hd.Set("Content-Type", a.contentType)
	hd.Set("X-Content-Type-Options", "nosniff")
	if len(offers) > 1 {
		hd.Add("Vary", "Accept") // beside CORS's Vary: Origin
	}
	if a.proofKind != "" {
		hd.Set("X-Proof-Kind", a.proofKind)
	}
	if !a.immutable {
		hd.Set("Cache-Control", "no-store")
	} else {
		tag := `"` + a.etag + `"`
		hd.Set("ETag", tag)
		hd.Set("Cache-Control", ImmutableCacheControl)
		if etagMatch(r.Header.Get("If-None-Match"), tag) {
			w.WriteHeader(http.StatusNotModified)
			return
		}
	}
	hd.Set("Content-Length", strconv.Itoa(len(a.body)))
	// A client that reads too slowly does not hold the connection for
	// ever (an error means the writer cannot do deadlines: nothing to do).
	_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(h.cfg.RequestTimeout))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write(a.body)
	}
}

// etagMatch implements If-None-Match's weak comparison for one tag.
func etagMatch(header, tag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == "*" || t == tag {
			return true
		}
	}
	return false
}

func (h *Handler) cors(w http.ResponseWriter, r *http.Request) {
	origin := r.Header.Get("Origin")
	if origin == "" || len(h.cfg.CORSOrigins) == 0 {
		return
	}
	for _, o := range h.cfg.CORSOrigins {
		if o == "*" || o == origin {
			hd := w.Header()
			if o == "*" {
				hd.Set("Access-Control-Allow-Origin", "*")
			} else {
				hd.Set("Access-Control-Allow-Origin", origin)
				hd.Add("Vary", "Origin")
			}
			hd.Set("Access-Control-Expose-Headers", "ETag, X-Proof-Kind")
			return
		}
	}
}

// compute answers rt within the concurrency and time limits. The work runs
// in its own goroutine, which keeps its slot until it ends, so a timed-out
// request still counts against MaxConcurrent while it runs.
func (h *Handler) compute(ctx context.Context, rt route, ctype string) (*answer, *apiError) {
	if err := h.acquire(ctx); err != nil {
		return nil, err
	}
	type result struct {
		a   *answer
		err *apiError
	}
	ch := make(chan result, 1)
	// The work stops early (the engine checks its context) once the
	// request is answered, timed out or gone.
	actx, cancel := context.WithTimeout(ctx, h.cfg.RequestTimeout)
	defer cancel()
	go func() {
		defer func() { <-h.slots }()
		defer func() {
			if p := recover(); p != nil {
				ch <- result{err: errorf(http.StatusInternalServerError, CodeInternal, "internal error: %v", p)}
			}
		}()
		if h.slow != nil {
			h.slow()
		}
		a, err := h.answer(actx, rt, ctype)
		ch <- result{a, err}
	}()
	timer := time.NewTimer(h.cfg.RequestTimeout)
	defer timer.Stop()
	select {
	case res := <-ch:
		return res.a, res.err
	case <-timer.C:
		return nil, errorf(http.StatusServiceUnavailable, CodeTimeout, "the answer took longer than %s", h.cfg.RequestTimeout)
	case <-ctx.Done():
		return nil, errorf(http.StatusServiceUnavailable, CodeTimeout, "client gone")
	}
}

// answer computes the response to rt.
func (h *Handler) answer(ctx context.Context, rt route, ctype string) (*answer, *apiError) {
	switch rt.ep {
	case epHead:
		root, err := h.e.Head()
		if err != nil {
			return nil, storeError(err)
		}
		return jsonAnswer(headJSON(root), false)
	case epCommits:
		recs, err := h.e.Commits()
		if err != nil {
			return nil, storeError(err)
		}
		out := make([]commitJSON, len(recs))
		for i, r := range recs {
			out[i] = toCommitJSON(r)
		}
		return jsonAnswer(map[string]any{"commits": out}, false)
	case epCommit:
		rec, err := h.e.Store().CommitRecord(rt.root)
		if err != nil {
			if errors.Is(err, pagestore.ErrNotFound) {
				return nil, errorf(http.StatusNotFound, CodeUnknownRoot, "no commit record for root %s", rt.root)
			}
			return nil, storeError(err)
		}
		return jsonAnswer(toCommitJSON(rec), true)
	case epLeaf:
		p, err := h.e.ProveContract(ctx, rt.root, rt.id)
		if err != nil {
			return nil, proveError(err)
		}
		cp, ok := p.(*merkle.ContractProof)
		if !ok {
			return nil, errorf(http.StatusNotFound, CodeNoContract, "no contract %s under root %s (its absence proof is at .../proof)", rt.id, rt.root)
		}
		return jsonAnswer(LeafJSONOf(cp.Leaf), true)
	case epContractProof:
		p, err := h.e.ProveContract(ctx, rt.root, rt.id)
		if err != nil {
			return nil, proveError(err)
		}
		return h.proofAnswer(p, ctype)
	case epPageProof:
		p, err := h.e.ProvePage(ctx, rt.root, rt.id, rt.index)
		if err != nil {
			return nil, proveError(err)
		}
		return h.proofAnswer(p, ctype)
	case epRangeProof:
		p, err := h.e.ProveRange(ctx, rt.root, rt.id, rt.offset, rt.length)
		if err != nil {
			return nil, proveError(err)
		}
		return h.proofAnswer(p, ctype)
	case epObject:
		if rt.batch != nil {
			return h.objects(rt.kind, rt.batch)
		}
		return h.object(rt.kind, rt.hash)
	}
	return nil, errorf(http.StatusNotFound, CodeNotFound, "no endpoint")
}

// objects answers a batch: for each hash in order, u32 length then the
// value. Every object must be stored; the first missing one fails the whole
// batch.
func (h *Handler) objects(k pagestore.Kind, hashes []merkle.Hash) (*answer, *apiError) {
	var body []byte
	for _, hash := range hashes {
		a, err := h.object(k, hash)
		if err != nil {
			return nil, err
		}
		if len(body)+4+len(a.body) > h.cfg.MaxResponseBytes {
			return nil, errorf(http.StatusBadRequest, CodeResponseTooLarge, "the batch exceeds this server's response limit of %d bytes", h.cfg.MaxResponseBytes)
		}
		body = binary.LittleEndian.AppendUint32(body, uint32(len(a.body)))
		body = append(body, a.body...)
	}
	return &answer{contentType: typeBinary, body: body, immutable: true}, nil
}

func (h *Handler) object(k pagestore.Kind, hash merkle.Hash) (*answer, *apiError) {
	st := h.e.Store()
	var v []byte
	var err error
	switch k {
	case pagestore.KindPage:
		if hash == merkle.EmptyPageHash() {
			// Never stored, never fetched: a syncing client knows it.
			return nil, errorf(http.StatusNotFound, CodeNotFound, "the zero page is implicit, never served")
		}
		v, err = st.Page(hash)
	case pagestore.KindMemoryNode:
		for ht := 1; ht <= merkle.MemoryTreeHeight; ht++ {
			if hash == merkle.EmptyMemory(ht) {
				return nil, errorf(http.StatusNotFound, CodeNotFound, "empty memory subtrees are implicit, never served")
			}
		}
		var l, r merkle.Hash
		if l, r, err = st.MemoryNode(hash); err == nil {
			v = append(append(v, l[:]...), r[:]...)
		}
	case pagestore.KindStateNode:
		v, err = st.StateNode(hash)
	case pagestore.KindCode:
		v, err = st.Code(hash)
	case pagestore.KindOwner:
		v, err = st.Owner(hash)
	case pagestore.KindGlobals:
		v, err = st.Globals(hash)
	}
	if err != nil {
		if errors.Is(err, pagestore.ErrNotFound) {
			return nil, errorf(http.StatusNotFound, CodeNotFound, "no %s %s", k, hash)
		}
		return nil, storeError(err)
	}
	if h.cfg.TamperForTesting && len(v) > 0 {
		v = bytes.Clone(v)
		v[len(v)-1] ^= 1
	}
	return &answer{contentType: typeBinary, body: v, immutable: true, etag: hash.String()}, nil
}

func (h *Handler) proofAnswer(p merkle.Proof, ctype string) (*answer, *apiError) {
	if h.cfg.TamperForTesting {
		tamper(p)
	}
	var body []byte
	var err error
	if ctype == typeJSON {
		body, err = p.(interface{ MarshalJSON() ([]byte, error) }).MarshalJSON()
	} else {
		body, err = p.MarshalBinary()
	}
	if err != nil {
		return nil, errorf(http.StatusInternalServerError, CodeInternal, "encode proof: %v", err)
	}
	return &answer{contentType: ctype, body: body, immutable: true, proofKind: p.Kind().String()}, nil
}

// tamper alters a proof so that it still decodes but no longer verifies.
func tamper(p merkle.Proof) {
	switch p := p.(type) {
	case *merkle.RangeProof:
		for i, pg := range p.Pages {
			if pg != nil {
				p.Pages[i] = bytes.Clone(pg)
				p.Pages[i][0] ^= 1
				if !allZero(p.Pages[i]) {
					return
				}
			}
		}
		p.Leaf.GlobalsHash[0] ^= 1
	case *merkle.ContractProof:
		p.Leaf.GlobalsHash[0] ^= 1
	case *merkle.AbsenceProof:
		if p.Other != nil {
			p.Other.GlobalsHash[0] ^= 1
		} else if len(p.Path.Siblings) > 0 {
			p.Path.Siblings[0][0] ^= 1
		}
	}
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

func storeError(err error) *apiError {
	return errorf(http.StatusInternalServerError, CodeInternal, "store: %v", err)
}

func proveError(err error) *apiError {
	switch {
	case errors.Is(err, engine.ErrUnknownRoot):
		return errorf(http.StatusNotFound, CodeUnknownRoot, "%v", err)
	case errors.Is(err, engine.ErrNoContract):
		return errorf(http.StatusNotFound, CodeNoContract, "%v", err)
	case errors.Is(err, merkle.ErrOutOfRange):
		return errorf(http.StatusBadRequest, CodeOutOfRange, "%v", err)
	}
	return storeError(err)
}
