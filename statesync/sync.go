// Package statesync makes a new replica from a trusted state root: it
// fetches from a peer running the read-only API (package serve, SPEC.md
// §16) every object reachable from the root that the local store lacks,
// checks each against its hash before storing it, and writes the commit
// record and moves the head only once the whole state is stored.
//
// A store with no head (a new replica) is filled from packs: each request
// streams a whole subtree in an order that lets every object be checked
// against the hash its parent named as it arrives. A replica that follows
// the chain asks for single objects in batches, walking down from the new
// root only where it differs from what is stored, so it fetches exactly
// the objects that changed.
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
	"sync"
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
	// DefaultMaxPack bounds the body of one pack (servers stop theirs at 8
	// MiB by default).
	DefaultMaxPack = 64 << 20
)

// Fetched objects are written in batches of at most batchObjects objects
// or batchBytes bytes, and at least every flushEvery, so that a killed
// sync keeps most of what it fetched.
var (
	batchObjects = 1 << 20
	batchBytes   = 4 << 20
	flushEvery   = 2 * time.Second
)

// PackMode chooses how Sync fetches objects.
type PackMode int

const (
	// PacksAuto fetches from packs when the local store has no head (a new
	// replica: everything must be fetched) and single objects otherwise
	// (exactly the objects that changed).
	PacksAuto PackMode = iota
	// PacksOn always fetches from packs.
	PacksOn
	// PacksOff always fetches single objects, in batches.
	PacksOff
)

// Options configure Sync. The zero value is usable.
type Options struct {
	// HTTPClient does the requests (nil: one with a connection pool sized
	// to Parallel).
	HTTPClient *http.Client
	// Parallel is the number of requests in flight.
	Parallel int
	// Timeout bounds each request, body included.
	Timeout time.Duration
	// MaxObject bounds the size of code, owner and globals objects; pages
	// and nodes have their fixed sizes.
	MaxObject int64
	// MaxPack bounds the body of one pack.
	MaxPack int64
	// Retries is how many times a transport failure is retried: a request
	// that failed before any object arrived is made again; a pack cut
	// midway is continued. A bad or missing object is never retried.
	// Negative: none.
	Retries int
	// Packs chooses between packs and single objects (see PackMode).
	Packs PackMode
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
	Root    merkle.Hash
	Fetched int64 // objects fetched, verified and stored
	Bytes   int64 // their bytes
	Skipped int64 // subtrees found stored already (their roots)
	// Redundant counts objects a pack carried that were not needed: stored
	// already or received twice (verified, not stored again).
	Redundant int64
	Requests  int64 // HTTP requests made (retries included)
	Packs     int64 // of which packs
	Duration  time.Duration
}

// node is an object discovered and not yet stored.
type node struct {
	ref     pagestore.Ref
	value   []byte
	fetched bool
	noPack  bool     // fetch it as an object (the peer has no pack of it)
	owner   *request // the pack expected to carry it, while that pack runs
	pending int      // children not yet staged
	parents []*node  // nodes waiting for this one
}

// request is one HTTP request: a batch of objects of one kind, or a pack.
type request struct {
	nodes []*node // objects: one kind, hashes ascending
	pack  *node   // pack: its root
	// expect are the nodes discovered while applying this pack's records:
	// the pack should carry them; those it did not are fetched afresh.
	expect []*node
}

// result is what a worker reports: the values of a batch, or a chunk of a
// pack's records. done is set on a request's last result.
type result struct {
	req  *request
	refs []pagestore.Ref // pack records
	vals [][]byte        // values: of req.nodes (batch) or refs (pack)
	done bool
	cut  bool // a pack that ended early on a transport failure (err)
	err  error
}

type syncer struct {
	st       *pagestore.Store
	base     string
	hc       *http.Client
	own      *http.Transport // the transport Sync made, closed at the end
	opts     Options
	requests atomic.Int64
	packReqs atomic.Int64

	packs bool // fetch subtrees as packs
	// fresh: the store held no object when the sync began, so every
	// object it holds now was staged by this sync (and is in staged):
	// nothing needs to ask the store.
	fresh bool
	// entered holds the roots of stored subtrees that a pack ran into
	// (resume): a pack stops at the first one, later ones pass through.
	enteredMu sync.Mutex
	entered   map[[33]byte]bool

	nodes  map[[33]byte]*node // discovered, not yet staged
	staged map[[33]byte]bool  // staged in this run
	queue  []*node            // discovered, to be fetched
	plan   []*request         // objects mode: the current round's batches
	load   *pagestore.Loader  // the batch being staged
	w      *writer
	cuts   int
	stats  Stats
	known  int64
	start  time.Time
	lastP  time.Time
	// lastFlush is when the batch was last handed to the writer.
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
	s := &syncer{st: st, base: strings.TrimRight(baseURL, "/"), nodes: map[[33]byte]*node{}, staged: map[[33]byte]bool{},
		entered: map[[33]byte]bool{}}
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
	if s.opts.MaxPack <= 0 {
		s.opts.MaxPack = DefaultMaxPack
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
	batch := pagestore.NewBatch()
	if root != merkle.EmptyState() {
		rec, err := s.record(ctx, root)
		if err != nil {
			return s.done(), err
		}
		if err := s.setMode(); err != nil {
			return s.done(), err
		}
		s.w = newWriter(s.st)
		s.load = s.w.loader()
		err = s.walk(ctx, root)
		if err == nil {
			s.w.write(s.load)
		}
		if werr := s.w.close(); err == nil {
			err = werr
		}
		if err != nil {
			return s.done(), err
		}
		batch.SetCommit(rec)
	}
	batch.SetHead(root)
	// The record and the head are written last, in one synced commit that
	// makes every object written before it durable too.
	if _, err := s.st.Commit(batch); err != nil {
		return s.done(), fmt.Errorf("statesync: store: %w", err)
	}
	s.report(true)
	return s.done(), nil
}

// setMode chooses packs or objects, and finds whether the store is empty.
func (s *syncer) setMode() error {
	_, hasHead, err := s.st.Head()
	if err != nil {
		return fmt.Errorf("statesync: store: %w", err)
	}
	switch s.opts.Packs {
	case PacksOn:
		s.packs = true
	case PacksAuto:
		s.packs = !hasHead
	}
	held, err := s.st.HoldsObjects()
	if err != nil {
		return fmt.Errorf("statesync: store: %w", err)
	}
	s.fresh = !held
	return nil
}

func (s *syncer) done() Stats {
	s.stats.Duration = time.Since(s.start)
	s.stats.Requests = s.requests.Load()
	s.stats.Packs = s.packReqs.Load()
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
// each object once all its children are staged or stored.
//
// With objects, it goes level by level: the objects discovered in one
// round are sorted and fetched in batches of one kind (opts.Parallel
// requests in flight) in the next, so the batches, and so the URLs a cache
// sees, depend only on the root and on what the local store holds. With
// packs, every node discovered outside a running pack is asked for at once
// as the pack of its subtree (pages, code, owners and globals in batches).
func (s *syncer) walk(ctx context.Context, root merkle.Hash) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	top := &node{} // a sentinel parent of the root
	if err := s.discover(pagestore.Ref{Kind: pagestore.KindStateNode, Hash: root}, top, nil); err != nil {
		return err
	}
	work := make(chan *request)
	results := make(chan result, 2*s.opts.Parallel)
	for i := 0; i < s.opts.Parallel; i++ {
		go func() {
			for r := range work {
				if r.pack != nil {
					s.fetchPack(ctx, r, results)
					continue
				}
				vs, err := s.fetchBatch(ctx, r.nodes)
				results <- result{req: r, vals: vs, done: true, err: err}
			}
		}()
	}
	defer close(work)
	inflight := 0
	drain := func() {
		for inflight > 0 {
			if r := <-results; r.done {
				inflight--
			}
		}
	}
	for {
		for inflight < s.opts.Parallel {
			r := s.next(inflight)
			if r == nil {
				break
			}
			select {
			case work <- r:
				inflight++
			case <-ctx.Done():
				drain()
				return ctx.Err()
			}
		}
		if inflight == 0 {
			break
		}
		select {
		case r := <-results:
			if r.done {
				inflight--
			}
			if err := s.apply(r); err != nil {
				cancel()
				drain()
				return err
			}
			if err := s.w.failed(); err != nil {
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
	if top.pending != 0 {
		return fmt.Errorf("statesync: internal error: root not staged")
	}
	return nil
}

// next returns the next request to make, or nil if there is none now.
func (s *syncer) next(inflight int) *request {
	for {
		if len(s.plan) == 0 {
			if len(s.queue) == 0 || (!s.packs && inflight > 0) {
				return nil
			}
			s.plan = s.planRound(s.queue)
			s.queue = nil
		}
		r := s.plan[0]
		s.plan = s.plan[1:]
		if r.pack != nil {
			if !r.pack.fetched {
				return r
			}
			continue
		}
		// A pack may have carried some of these since they were queued.
		r.nodes = slices.DeleteFunc(r.nodes, func(n *node) bool { return n.fetched })
		if len(r.nodes) > 0 {
			return r
		}
	}
}

// planRound groups the queued nodes into requests: with packs, one pack
// per inner node; the rest in batches of one kind, hashes ascending, at
// most maxBatch objects (code one at a time).
func (s *syncer) planRound(nodes []*node) []*request {
	var out []*request
	if s.packs {
		rest := nodes[:0]
		for _, n := range nodes {
			if !n.noPack && (n.ref.Kind == pagestore.KindStateNode || n.ref.Kind == pagestore.KindMemoryNode) {
				out = append(out, &request{pack: n})
			} else {
				rest = append(rest, n)
			}
		}
		nodes = rest
	}
	slices.SortFunc(nodes, func(a, b *node) int {
		if a.ref.Kind != b.ref.Kind {
			return int(a.ref.Kind) - int(b.ref.Kind)
		}
		return bytes.Compare(a.ref.Hash[:], b.ref.Hash[:])
	})
	for i := 0; i < len(nodes); {
		j := i + 1
		limit := maxBatch
		if nodes[i].ref.Kind == pagestore.KindCode {
			limit = 1
		}
		for j < len(nodes) && j-i < limit && nodes[j].ref.Kind == nodes[i].ref.Kind {
			j++
		}
		out = append(out, &request{nodes: nodes[i:j:j]})
		i = j
	}
	return out
}

// apply takes a worker's result.
func (s *syncer) apply(r result) error {
	if r.req.pack == nil {
		if r.err != nil {
			return r.err
		}
		for i, n := range r.req.nodes {
			if n.fetched { // a pack carried it meanwhile
				s.stats.Redundant++
				continue
			}
			if err := s.got(n, r.vals[i], nil); err != nil {
				return err
			}
		}
		return nil
	}
	for i, ref := range r.refs {
		n := s.nodes[key(ref.Kind, ref.Hash)]
		if n == nil || n.fetched {
			s.stats.Redundant++
			continue
		}
		if err := s.got(n, r.vals[i], r.req); err != nil {
			return err
		}
	}
	if !r.done {
		return nil
	}
	if r.err != nil {
		switch {
		case r.cut && s.cuts < s.opts.Retries:
			s.cuts++ // continued below, like a partial pack
		case isNotFound(r.err) && len(r.refs) == 0 && !r.req.pack.fetched:
			// The peer has no pack of this node (or no packs at all): ask
			// for the object itself, which says whether it is missing.
			r.req.pack.noPack = true
			s.queue = append(s.queue, r.req.pack)
			return nil
		default:
			return r.err
		}
	}
	// Whatever the pack was expected to carry and did not is fetched
	// afresh: a partial pack's rest, or a pack cut short.
	if !r.req.pack.fetched {
		s.queue = append(s.queue, r.req.pack)
	}
	for _, n := range r.req.expect {
		if n.owner == r.req {
			n.owner = nil
			if !n.fetched {
				s.queue = append(s.queue, n)
			}
		}
	}
	r.req.expect = nil
	return nil
}

// discover registers child c of parent: nothing if it is implicit, staged
// or stored, else it waits for fetching (once): in the pack being applied,
// if any (owner), else in the queue.
func (s *syncer) discover(c pagestore.Ref, parent *node, owner *request) error {
	if c.Implicit() {
		return nil
	}
	kk := key(c.Kind, c.Hash)
	if s.staged[kk] {
		return nil
	}
	if n, ok := s.nodes[kk]; ok {
		n.parents = append(n.parents, parent)
		parent.pending++
		return nil
	}
	if !s.fresh {
		ok, err := s.st.Has(c.Kind, c.Hash)
		if err != nil {
			return fmt.Errorf("statesync: store: %w", err)
		}
		if ok {
			s.stats.Skipped++
			s.staged[kk] = true
			return nil
		}
	}
	n := &node{ref: c, parents: []*node{parent}}
	parent.pending++
	s.nodes[kk] = n
	if owner != nil {
		n.owner = owner
		owner.expect = append(owner.expect, n)
	} else {
		s.queue = append(s.queue, n)
	}
	s.known++
	return nil
}

// got takes a fetched, verified object: it discovers its children (owned
// by pack, if it came in one) and stages it if none is pending.
func (s *syncer) got(n *node, v []byte, pack *request) error {
	n.value, n.fetched = v, true
	s.stats.Fetched++
	s.stats.Bytes += int64(len(v))
	var kids [4]pagestore.Ref
	cs, err := pagestore.AppendChildren(kids[:0], n.ref, v)
	if err != nil { // checked at fetch
		return &ObjectError{Kind: n.ref.Kind, Hash: n.ref.Hash, Err: fmt.Errorf("%w: %v", ErrBadObject, err)}
	}
	for _, c := range cs {
		if err := s.discover(c, n, pack); err != nil {
			return err
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
		s.load.Put(n.ref, n.value)
		kk := key(n.ref.Kind, n.ref.Hash)
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
	if s.load.Len() >= batchObjects || s.load.Bytes() >= batchBytes || time.Since(s.lastFlush) >= flushEvery {
		s.lastFlush = time.Now()
		s.w.write(s.load)
		s.load = s.w.loader()
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
