// Package statesync makes a new replica from a trusted state root: it
// fetches from a peer running the read-only API (package serve, SPEC.md
// §16) every object reachable from the root that the local store lacks,
// checks each against its hash before storing it, and writes the commit
// record and moves the head only once the whole state is stored.
//
// Objects are stored children first, so every object in the store has its
// whole subtree stored (the store's invariant): a sync that is killed or
// fails resumes by walking from the root again and skipping every stored
// subtree, and a sync to a later root fetches only what changed.
//
// The peer is not trusted: a wrong, truncated, oversized or missing object
// stops the sync with a typed error (ErrBadObject, ErrMissing,
// ErrTransport) and nothing is committed. Trust comes from the root alone.
package statesync

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/wasmstate/wasmstate/merkle"
	"github.com/wasmstate/wasmstate/pagestore"
)

// Defaults of Options.
const (
	DefaultParallel  = 16
	DefaultTimeout   = 30 * time.Second
	DefaultMaxObject = 8 << 20
	DefaultRetries   = 2
)

// One synced write of fetched objects holds at most batchObjects objects or
// batchBytes bytes, and is written at least every flushEvery, so that a
// killed sync keeps most of what it fetched.
var (
	batchObjects = 16384
	batchBytes   = 32 << 20
	flushEvery   = 2 * time.Second
)

// Options configure Sync. The zero value is usable.
type Options struct {
	// HTTPClient does the requests (nil: one with a connection pool sized
	// to Parallel).
	HTTPClient *http.Client
	// Parallel is the number of objects fetched at once.
	Parallel int
	// Timeout bounds each request, body included.
	Timeout time.Duration
	// MaxObject bounds the size of code, owner and globals objects; pages
	// and nodes have their fixed sizes.
	MaxObject int64
	// Retries is how many times a transport failure of one object is
	// retried (a bad or missing object is never retried). Negative: none.
	Retries int
	// Progress, if set, is called about ten times a second and once at the
	// end, from the syncing goroutine.
	Progress func(Progress)
}

// Progress describes a running sync.
type Progress struct {
	Fetched int64 // objects fetched and verified
	Bytes   int64 // their bytes
	Skipped int64 // objects found stored already (with their subtrees)
	// Known is the number of objects discovered so far that must be
	// fetched (fetched + pending): a lower bound of the total while the
	// tree is being walked.
	Known   int64
	Elapsed time.Duration
	// Rate is bytes per second; ETA is the time to fetch the pending
	// objects known so far at the current object rate (a lower bound).
	Rate float64
	ETA  time.Duration
}

// Stats summarise a finished sync.
type Stats struct {
	Root     merkle.Hash
	Fetched  int64 // objects fetched, verified and stored
	Bytes    int64 // their bytes
	Skipped  int64 // subtrees found stored already (their roots)
	Requests int64 // HTTP requests made (retries included)
	Duration time.Duration
}

// node is an object discovered and not yet stored.
type node struct {
	kind    pagestore.Kind
	hash    merkle.Hash
	height  int // memory-tree height (memory nodes and pages)
	value   []byte
	fetched bool
	pending int     // children not yet staged
	parents []*node // nodes waiting for this one
}

type syncer struct {
	st       *pagestore.Store
	base     string
	hc       *http.Client
	own      *http.Transport // the transport Sync made, closed at the end
	opts     Options
	requests atomic.Int64

	nodes  map[[33]byte]*node // discovered, not yet staged
	staged map[[33]byte]bool  // staged in this run
	queue  []*node
	batch  *pagestore.Batch
	stats  Stats
	known  int64
	start  time.Time
	lastP  time.Time
	// lastFlush is when the batch was last written.
	lastFlush time.Time
}

func key(k pagestore.Kind, h merkle.Hash) [33]byte {
	var b [33]byte
	b[0] = byte(k)
	copy(b[1:], h[:])
	return b
}

// Sync makes st hold the state root as served by the peer at baseURL (the
// URL statectl serve prints; the API is under baseURL/v1), then writes the
// root's commit record (parent, time and changed ids as the peer's record
// says; those are not covered by the root) and moves the head to root.
// The caller trusts root; the peer is trusted for nothing. st must not be
// garbage collected while Sync runs: objects are stored before the record
// that makes them reachable.
func Sync(ctx context.Context, st *pagestore.Store, baseURL string, root merkle.Hash, o *Options) (Stats, error) {
	s, err := newSyncer(st, baseURL, o)
	if err != nil {
		return Stats{}, err
	}
	if s.own != nil {
		defer s.own.CloseIdleConnections()
	}
	return s.run(ctx, root)
}

func newSyncer(st *pagestore.Store, baseURL string, o *Options) (*syncer, error) {
	u, err := url.Parse(baseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%w: peer URL %q: want http(s)://host[:port]", ErrTransport, baseURL)
	}
	s := &syncer{st: st, base: strings.TrimRight(baseURL, "/"), nodes: map[[33]byte]*node{}, staged: map[[33]byte]bool{}}
	if o != nil {
		s.opts = *o
	}
	if s.opts.Parallel <= 0 {
		s.opts.Parallel = DefaultParallel
	}
	if s.opts.Timeout <= 0 {
		s.opts.Timeout = DefaultTimeout
	}
	if s.opts.MaxObject <= 0 {
		s.opts.MaxObject = DefaultMaxObject
	}
	if s.opts.Retries == 0 {
		s.opts.Retries = DefaultRetries
	} else if s.opts.Retries < 0 {
		s.opts.Retries = 0
	}
	s.hc = s.opts.HTTPClient
	if s.hc == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConnsPerHost = s.opts.Parallel
		tr.MaxConnsPerHost = s.opts.Parallel
		s.hc = &http.Client{Transport: tr}
		s.own = tr
	}
	return s, nil
}

func (s *syncer) run(ctx context.Context, root merkle.Hash) (Stats, error) {
	s.start = time.Now()
	s.lastFlush = s.start
	s.stats.Root = root
	s.batch = pagestore.NewBatch()
	if root != merkle.EmptyState() {
		rec, err := s.record(ctx, root)
		if err != nil {
			return s.done(), err
		}
		if err := s.walk(ctx, root); err != nil {
			return s.done(), err
		}
		s.batch.SetCommit(rec)
	}
	s.batch.SetHead(root)
	if err := s.flush(); err != nil {
		return s.done(), err
	}
	s.report(true)
	return s.done(), nil
}

func (s *syncer) done() Stats {
	s.stats.Duration = time.Since(s.start)
	s.stats.Requests = s.requests.Load()
	return s.stats
}

// record fetches the peer's commit record of root. It also tells early
// that the peer has the root at all.
func (s *syncer) record(ctx context.Context, root merkle.Hash) (pagestore.CommitRecord, error) {
	rec := pagestore.CommitRecord{Root: root}
	ctx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.base+"/v1/commits/"+root.String(), nil)
	if err != nil {
		return rec, fmt.Errorf("%w: %w", ErrTransport, err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := s.hc.Do(req)
	if err != nil {
		return rec, fmt.Errorf("%w: commit record of %s: %w", ErrTransport, root, err)
	}
	defer resp.Body.Close()
	s.requests.Add(1)
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return rec, fmt.Errorf("%w: commit record of %s: %w", ErrTransport, root, err)
	}
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusNotFound:
		return rec, fmt.Errorf("%w: the peer has no root %s", ErrMissing, root)
	default:
		return rec, fmt.Errorf("%w: commit record of %s: %s", ErrTransport, root, resp.Status)
	}
	var j struct {
		Root    string   `json:"root"`
		Parent  string   `json:"parent"`
		Time    int64    `json:"time"`
		Changed []string `json:"changed"`
	}
	if err := json.Unmarshal(body, &j); err != nil || j.Root != root.String() {
		return rec, fmt.Errorf("%w: commit record of %s: not a record of that root", ErrBadObject, root)
	}
	if rec.Parent, err = merkle.ParseHash(j.Parent); err != nil {
		return rec, fmt.Errorf("%w: commit record of %s: parent: %v", ErrBadObject, root, err)
	}
	rec.Time = j.Time
	for _, c := range j.Changed {
		h, err := merkle.ParseHash(c)
		if err != nil {
			return rec, fmt.Errorf("%w: commit record of %s: changed id: %v", ErrBadObject, root, err)
		}
		rec.Changed = append(rec.Changed, merkle.ContractID(h))
	}
	return rec, nil
}

// walk fetches everything under root that the store lacks, and stages
// each object once all its children are staged or stored. It goes level
// by level: the objects discovered in one round are sorted and fetched in
// batches of one kind (opts.Parallel requests in flight) in the next, so
// the batches, and so the URLs a cache sees, depend only on the root and
// on what the local store holds.
func (s *syncer) walk(ctx context.Context, root merkle.Hash) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	top := &node{} // a sentinel parent of the root
	if err := s.discover(pagestore.KindStateNode, root, 0, top); err != nil {
		return err
	}
	type batchResult struct {
		nodes []*node
		vs    [][]byte
		err   error
	}
	work := make(chan []*node)
	results := make(chan batchResult, s.opts.Parallel)
	for i := 0; i < s.opts.Parallel; i++ {
		go func() {
			for b := range work {
				vs, err := s.fetchBatch(ctx, b)
				results <- batchResult{b, vs, err}
			}
		}()
	}
	defer close(work)
	for len(s.queue) > 0 {
		batches := plan(s.queue)
		s.queue = nil
		inflight := 0
		drain := func() {
			for ; inflight > 0; inflight-- {
				<-results
			}
		}
		for len(batches) > 0 || inflight > 0 {
			var send chan []*node
			var next []*node
			if len(batches) > 0 && inflight < s.opts.Parallel {
				send, next = work, batches[0]
			}
			select {
			case send <- next:
				batches = batches[1:]
				inflight++
			case r := <-results:
				inflight--
				err := r.err
				for i := 0; err == nil && i < len(r.nodes); i++ {
					err = s.got(r.nodes[i], r.vs[i])
				}
				if err != nil {
					cancel()
					drain()
					return err
				}
				s.report(false)
			case <-ctx.Done():
				drain()
				return ctx.Err()
			}
		}
	}
	if top.pending != 0 {
		return fmt.Errorf("statesync: internal error: root not staged")
	}
	return nil
}

// plan groups the nodes of a round into batches: one kind each, hashes
// ascending, at most maxBatch objects (code one at a time).
func plan(nodes []*node) [][]*node {
	slices.SortFunc(nodes, func(a, b *node) int {
		if a.kind != b.kind {
			return int(a.kind) - int(b.kind)
		}
		return bytes.Compare(a.hash[:], b.hash[:])
	})
	var out [][]*node
	for i := 0; i < len(nodes); {
		j := i + 1
		limit := maxBatch
		if nodes[i].kind == pagestore.KindCode {
			limit = 1
		}
		for j < len(nodes) && j-i < limit && nodes[j].kind == nodes[i].kind {
			j++
		}
		out = append(out, nodes[i:j:j])
		i = j
	}
	return out
}

// discover registers child (kind k, hash h, memory height ht) of parent:
// nothing if it is implicit, staged or stored, else it joins the queue (once).
func (s *syncer) discover(k pagestore.Kind, h merkle.Hash, ht int, parent *node) error {
	switch {
	case k == pagestore.KindStateNode && h == merkle.EmptyState(),
		(k == pagestore.KindMemoryNode || k == pagestore.KindPage) && h == merkle.EmptyMemory(ht):
		return nil
	}
	kk := key(k, h)
	if s.staged[kk] {
		return nil
	}
	if n, ok := s.nodes[kk]; ok {
		n.parents = append(n.parents, parent)
		parent.pending++
		return nil
	}
	ok, err := s.st.Has(k, h)
	if err != nil {
		return err
	}
	if ok {
		s.stats.Skipped++
		s.staged[kk] = true
		return nil
	}
	n := &node{kind: k, hash: h, height: ht, parents: []*node{parent}}
	parent.pending++
	s.nodes[kk] = n
	s.queue = append(s.queue, n)
	s.known++
	return nil
}

// got takes a fetched, verified object: it discovers its children and
// stages it if none is pending.
func (s *syncer) got(n *node, v []byte) error {
	n.value, n.fetched = v, true
	s.stats.Fetched++
	s.stats.Bytes += int64(len(v))
	switch n.kind {
	case pagestore.KindMemoryNode:
		ck := pagestore.KindMemoryNode
		if n.height == 1 {
			ck = pagestore.KindPage
		}
		for _, c := range [2]merkle.Hash{merkle.Hash(v[:32]), merkle.Hash(v[32:])} {
			if err := s.discover(ck, c, n.height-1, n); err != nil {
				return err
			}
		}
	case pagestore.KindStateNode:
		if len(v) == 2*merkle.HashSize {
			for _, c := range [2]merkle.Hash{merkle.Hash(v[:32]), merkle.Hash(v[32:])} {
				if err := s.discover(pagestore.KindStateNode, c, 0, n); err != nil {
					return err
				}
			}
			break
		}
		leaf, err := merkle.DecodeContractLeaf(v)
		if err != nil { // checked at fetch
			return &ObjectError{Kind: n.kind, Hash: n.hash, Err: fmt.Errorf("%w: %v", ErrBadObject, err)}
		}
		for _, c := range []struct {
			k  pagestore.Kind
			h  merkle.Hash
			ht int
		}{
			{pagestore.KindMemoryNode, leaf.MemoryRoot, merkle.MemoryTreeHeight},
			{pagestore.KindCode, leaf.CodeHash, 0},
			{pagestore.KindOwner, leaf.OwnerHash, 0},
			{pagestore.KindGlobals, leaf.GlobalsHash, 0},
		} {
			if err := s.discover(c.k, c.h, c.ht, n); err != nil {
				return err
			}
		}
	}
	if n.pending == 0 {
		return s.stage(n)
	}
	return nil
}

// stage adds a complete object to the batch, then its parents that this
// completes.
func (s *syncer) stage(n *node) error {
	stack := []*node{n}
	for len(stack) > 0 {
		n := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		switch n.kind {
		case pagestore.KindPage:
			s.batch.PutPage(n.hash, n.value)
		case pagestore.KindMemoryNode:
			s.batch.PutMemoryNode(n.hash, merkle.Hash(n.value[:32]), merkle.Hash(n.value[32:]))
		case pagestore.KindStateNode:
			s.batch.PutStateNode(n.hash, n.value)
		case pagestore.KindCode:
			s.batch.PutCode(n.hash, n.value)
		case pagestore.KindOwner:
			s.batch.PutOwner(n.hash, n.value)
		case pagestore.KindGlobals:
			s.batch.PutGlobals(n.hash, n.value)
		}
		kk := key(n.kind, n.hash)
		delete(s.nodes, kk)
		s.staged[kk] = true
		n.value = nil
		for _, p := range n.parents {
			if p.pending--; p.pending == 0 && p.fetched {
				stack = append(stack, p)
			}
		}
		n.parents = nil
	}
	if s.batch.Len() >= batchObjects || s.batch.Bytes() >= batchBytes || time.Since(s.lastFlush) >= flushEvery {
		return s.flush()
	}
	return nil
}

// flush writes the staged objects in one synced batch. Batches are written
// in order, and an object is staged after its children, so no stored
// object ever lacks a child, whenever the process dies.
func (s *syncer) flush() error {
	s.lastFlush = time.Now()
	if _, err := s.st.Commit(s.batch); err != nil {
		return fmt.Errorf("statesync: store: %w", err)
	}
	return nil
}

func (s *syncer) report(final bool) {
	if s.opts.Progress == nil {
		return
	}
	now := time.Now()
	if !final && now.Sub(s.lastP) < 100*time.Millisecond {
		return
	}
	s.lastP = now
	el := now.Sub(s.start)
	p := Progress{Fetched: s.stats.Fetched, Bytes: s.stats.Bytes, Skipped: s.stats.Skipped, Known: s.known, Elapsed: el}
	if secs := el.Seconds(); secs > 0 {
		p.Rate = float64(p.Bytes) / secs
		if objRate := float64(p.Fetched) / secs; objRate > 0 {
			p.ETA = time.Duration(float64(p.Known-p.Fetched) / objRate * float64(time.Second))
		}
	}
	s.opts.Progress(p)
}
