// Package engine runs WebAssembly contracts over wasmstate's
// Merkle-committed state: sessions fork from any stored root, deploy and
// call contracts, and commit atomically or are dropped.
//
// An Engine is safe for concurrent use. A Session belongs to one goroutine
// at a time; different sessions may run concurrently.
package engine

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"time"

	"github.com/bytecodealliance/wasmtime-go/v39"
	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/wasmstate/wasmstate/engine/dirty"
	"github.com/wasmstate/wasmstate/engine/internal/instrument"
	"github.com/wasmstate/wasmstate/hostfns"
	"github.com/wasmstate/wasmstate/merkle"
	"github.com/wasmstate/wasmstate/pagestore"
)

// Options configure an Engine. The zero value is usable.
type Options struct {
	// CacheBytes bounds the store's LRU cache (0: pagestore's default).
	CacheBytes int64
	// Tracker picks the dirty-page tracker (dirty.Auto: the fastest that
	// works on this machine).
	Tracker dirty.Kind
	// MaxMemoryBytes caps every contract's linear memory (0:
	// DefaultMaxMemoryBytes, or DefaultCompareMaxMemoryBytes where the
	// compare tracker runs). memory.grow past it returns -1 to the
	// contract (SPEC.md §12); loading a committed memory larger than it
	// fails with ErrMemoryLimit.
	MaxMemoryBytes uint64
	// CompareBelow: with Tracker = dirty.Auto, memories of at most this
	// many bytes use the compare tracker even where uffd-wp works, since it
	// is cheaper for them (0: DefaultCompareBelow; negative: never).
	CompareBelow int64
	// ModuleCacheEntries bounds the in-memory cache of compiled modules
	// (0: 64).
	ModuleCacheEntries int
	// WarmSets is how many closed sessions' stores, each with its loaded
	// contracts at the session's base root, the engine keeps for the next
	// session opened at that root (0: DefaultWarmSets; negative: none).
	WarmSets int
	// WarmBytes bounds the linear memory the warm sets hold, by memory
	// length (0: DefaultWarmBytes).
	WarmBytes uint64
	// ImageBytes bounds the memory images (image.go) by the bytes of the
	// pages written into them and of their memory trees (about 128 bytes
	// per page) (0: DefaultImageBytes; negative: no images, stored
	// contracts load eagerly).
	ImageBytes int64
	// ImageAbove: memories of at least this many bytes load through an
	// image, smaller ones are copied in (0: DefaultImageAbove, which is
	// every memory: mapping beats copying even for 64 KiB; negative:
	// never). At most 1,024 images are kept (each holds a descriptor).
	ImageAbove int64
	// CallDepth caps nested inter-contract calls (0: DefaultCallDepth).
	CallDepth int
	// MaxCallDuration bounds the wall-clock time of one top-level call or
	// deploy (0: DefaultMaxCallDuration; negative: only the context
	// bounds it). Past it the call fails with ErrInterrupted.
	MaxCallDuration time.Duration
	// Queries are the host queries contracts may run through "hq".
	Queries map[string]HostQuery
	// Logger receives operational messages (nil: slog.Default()).
	Logger *slog.Logger
	// Now stamps commit records (nil: time.Now).
	Now func() time.Time

	// callPath picks the call path (tests): CallPathWasmtimeGo,
	// CallPathDirect (where it runs), or "" for the default, which
	// WASMSTATE_CALL_PATH may override (directcall.go).
	callPath string
}

// HostQuery is a function an embedder offers contracts through "hq", with
// its price. A panic inside Fn fails the calling frame with a
// deterministic error; it never reaches the engine's caller.
type HostQuery struct {
	// Fn computes the result from the argument.
	Fn func(arg []byte) ([]byte, error)
	// Gas is the price of one query, on top of the per-byte input price.
	Gas uint64
}

// Defaults of Options.
const (
	DefaultMaxMemoryBytes = 1 << 32
	// DefaultCompareMaxMemoryBytes is the default cap where the engine
	// tracks writes by comparison (no uffd-wp): 256 MiB.
	DefaultCompareMaxMemoryBytes = 256 << 20
	DefaultCallDepth             = 48
	DefaultCompareBelow          = 128 << 10
	DefaultWarmSets              = 2
	DefaultWarmBytes             = 8 << 30
	DefaultImageBytes            = 4 << 30
	DefaultImageAbove            = 64 << 10
)

// Engine owns a store, a wasmtime engine and the compiled-module cache.
type Engine struct {
	store   *pagestore.Store
	roots   rootCache // roots known to have a commit record (readpath.go)
	wt      *wasmtime.Engine
	linkers [2]*wasmtime.Linker // wasm32, wasm64
	modules *lru.Cache[merkle.Hash, *module]
	compile sync.Mutex // one compile at a time: it is CPU-bound and cached
	opts    Options
	log     *slog.Logger
	tracker dirty.Kind
	// compareBelow is the memory size up to which the compare tracker is
	// used instead of tracker (0: never).
	compareBelow uint64
	maxCall      time.Duration
	stopTick     chan struct{}
	tickDone     chan struct{}
	warm         *warmCache
	images       *imageCache // nil: images off
	direct       bool        // calls take the direct path (directcall.go)
	imageAbove   uint64

	mu       sync.Mutex
	closed   bool
	pins     map[merkle.Hash]int  // roots open sessions are based on
	deferred map[merkle.Hash]bool // deletions waiting for a pin to go
	// delMu orders deleting a commit record with committing the same
	// root, so that a deletion decided before a commit of the root cannot
	// remove the record that commit acknowledged.
	delMu sync.Mutex
	// deleting holds the roots whose record is being deleted: decided
	// (no pin) under mu, so no session may pin them until it is gone.
	deleting map[merkle.Hash]bool
	// gcMu serialises GCs, so that the pins one GC marks from are taken
	// after the previous GC swept: a stale pin may name a root deleted
	// and swept since.
	gcMu sync.Mutex
}

// Info describes a running engine.
type Info struct {
	// Tracker is the dirty-page tracker in use: "uffd-wp" or "compare".
	Tracker string
	// CompareBelow: memories of at most this many bytes use the compare
	// tracker even where Tracker is "uffd-wp" (0: none do).
	CompareBelow uint64
	// WasmtimeVersion is the wasmtime-go module version.
	WasmtimeVersion string
	// MaxMemoryBytes is the memory cap per contract.
	MaxMemoryBytes uint64
	// CallDepth is the inter-contract call depth cap.
	CallDepth int
	// Load is how stored contracts' memories load: "image" (memories of
	// ImageAbove bytes and more map a shared image and load on first
	// touch; smaller ones are copied) or "eager" (every page is copied
	// at load).
	Load string
	// WarmSets is how many warm sets the engine keeps (0: none).
	WarmSets int
	// CallPath is how calls enter wasm: "direct" (the engine's own calls
	// into wasmtime's C API, one cgo crossing per frame) or "wasmtime-go"
	// (wasmtime-go's API, the fallback).
	CallPath string
}

// Stats counts what the engine's caches hold.
type Stats struct {
	// WarmSets and WarmBytes: the warm sets kept and the memory they hold.
	WarmSets  int
	WarmBytes uint64
	// WarmHits counts sessions that took a warm set.
	WarmHits uint64
	// Images, ImageBytes: memory images kept and their bytes (written
	// pages and trees);
	// ImageBuilds counts images built since Open.
	Images      int
	ImageBytes  uint64
	ImageBuilds uint64
}

// Stats returns the engine's cache figures.
func (e *Engine) Stats() Stats {
	var st Stats
	st.WarmSets, st.WarmBytes, st.WarmHits = e.warm.stats()
	if e.images != nil {
		st.Images, st.ImageBytes, st.ImageBuilds = e.images.stats()
	}
	return st
}

// WasmtimeVersion is the wasmtime-go module version this binary was built
// with, read from its build information: compiled modules are cached for
// it, and a serialized module is only reused by the same version.
var WasmtimeVersion = wasmtimeVersion()

// wasmtimeModule is the module path of wasmtime-go.
const wasmtimeModule = "github.com/bytecodealliance/wasmtime-go/v39"

func wasmtimeVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == wasmtimeModule {
				if d.Replace != nil {
					d = d.Replace
				}
				return d.Version
			}
		}
	}
	// No module information (test binaries have none): the version go.mod
	// requires, which TestWasmtimeVersion keeps in step.
	return wasmtimeGoMod
}

// wasmtimeGoMod is the wasmtime-go version go.mod requires.
const wasmtimeGoMod = "v39.0.1"

// Open opens or creates an engine whose store lives in dir (see
// pagestore.Open for what it accepts as a store directory, and what ctx
// bounds).
func Open(ctx context.Context, dir string, opts Options) (*Engine, error) {
	st, err := pagestore.Open(ctx, dir, &pagestore.Options{CacheBytes: opts.CacheBytes})
	if err != nil {
		return nil, fmt.Errorf("engine: open store: %w", err)
	}
	return openOn(st, opts)
}

// OpenInMemory opens an engine over a new store held in memory, for tests,
// tools and dry runs: nothing outlives Close.
func OpenInMemory(opts Options) (*Engine, error) {
	st, err := pagestore.NewStore(pagestore.NewMemoryBackend(), &pagestore.Options{CacheBytes: opts.CacheBytes})
	if err != nil {
		return nil, fmt.Errorf("engine: open store: %w", err)
	}
	return openOn(st, opts)
}

func openOn(st *pagestore.Store, opts Options) (*Engine, error) {
	e, err := newEngine(st, opts)
	if err != nil {
		st.Close()
		return nil, err
	}
	return e, nil
}

func newEngine(st *pagestore.Store, opts Options) (*Engine, error) {
	capDefaulted := opts.MaxMemoryBytes == 0
	if capDefaulted {
		opts.MaxMemoryBytes = DefaultMaxMemoryBytes
	}
	if opts.MaxMemoryBytes%merkle.WasmPageSize != 0 || opts.MaxMemoryBytes > merkle.MaxMemoryBytes {
		return nil, badInput("MaxMemoryBytes %d: want a multiple of 64 KiB up to 4 TiB", opts.MaxMemoryBytes)
	}
	if opts.CallDepth <= 0 {
		opts.CallDepth = DefaultCallDepth
	}
	if opts.ModuleCacheEntries <= 0 {
		opts.ModuleCacheEntries = 64
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	kind := opts.Tracker
	var compareBelow uint64
	if kind == dirty.Auto {
		kind = dirty.Available()[0]
		switch {
		case opts.CompareBelow == 0:
			compareBelow = DefaultCompareBelow
		case opts.CompareBelow > 0:
			compareBelow = uint64(opts.CompareBelow)
		}
		if kind == dirty.Compare {
			compareBelow = 0
		}
	} else if err := dirty.UnavailableReason(kind); err != nil {
		return nil, fmt.Errorf("engine: tracker %v: %w", kind, err)
	}
	if kind == dirty.Compare && capDefaulted {
		// The compare tracker's cost and shadow follow the memory's size:
		// without uffd-wp, the default cap is one it handles.
		opts.MaxMemoryBytes = DefaultCompareMaxMemoryBytes
		opts.Logger.Info("compare tracker: memories capped at the compare default", "max_memory", opts.MaxMemoryBytes)
	}
	if opts.WarmSets == 0 {
		opts.WarmSets = DefaultWarmSets
	}
	if opts.WarmBytes == 0 {
		opts.WarmBytes = DefaultWarmBytes
	}
	if opts.MaxCallDuration == 0 {
		opts.MaxCallDuration = DefaultMaxCallDuration
	}
	cache, _ := lru.New[merkle.Hash, *module](opts.ModuleCacheEntries)
	e := &Engine{store: st, wt: wasmtime.NewEngineWithConfig(wasmConfig()), modules: cache, opts: opts,
		log: opts.Logger, tracker: kind, compareBelow: compareBelow, pins: map[merkle.Hash]int{}, deferred: map[merkle.Hash]bool{},
		deleting: map[merkle.Hash]bool{}, warm: newWarmCache(opts.WarmBytes, max(opts.WarmSets, 0)),
		maxCall: opts.MaxCallDuration, stopTick: make(chan struct{}), tickDone: make(chan struct{})}
	if opts.ImageBytes >= 0 && opts.ImageAbove >= 0 {
		if err := imagesAvailable(); err != nil {
			e.log.Info("memory images unavailable; stored contracts load eagerly", "err", err)
		} else {
			budget := uint64(opts.ImageBytes)
			if budget == 0 {
				budget = DefaultImageBytes
			}
			e.images = newImageCache(budget)
			e.imageAbove = uint64(opts.ImageAbove)
			if e.imageAbove == 0 {
				e.imageAbove = DefaultImageAbove
			}
		}
	}
	e.direct = useDirect(opts, e.log)
	for i, k := range []hostfns.Kind{hostfns.Wasm32, hostfns.Wasm64} {
		l := wasmtime.NewLinker(e.wt)
		if err := hostfns.Define(l, k, envOf); err != nil {
			return nil, err
		}
		if err := defineGrowHook(l, k); err != nil {
			return nil, err
		}
		e.linkers[i] = l
	}
	go e.tickEpochs(e.stopTick, e.tickDone)
	e.log.Info("wasmstate engine open", "tracker", e.tracker.String(), "compare_below", e.compareBelow, "load", e.Info().Load, "calls", e.Info().CallPath, "wasmtime", WasmtimeVersion,
		"max_memory", opts.MaxMemoryBytes)
	return e, nil
}

// WasmtimeConfig returns a new wasmtime configuration identical to the one
// every Engine runs contracts with, so that embedders and benchmarks can
// compare against raw wasmtime-go on equal terms.
func WasmtimeConfig() *wasmtime.Config { return wasmConfig() }

// wasmConfig is the one wasmtime configuration of the engine; the
// compiled-code cache key includes configFingerprint, which must change
// with it (and with the instrumentation of the compiled code).
func wasmConfig() *wasmtime.Config {
	c := wasmtime.NewConfig()
	c.SetConsumeFuel(true)
	c.SetWasmMemory64(true)
	c.SetWasmThreads(false)
	c.SetWasmMultiMemory(false)
	c.SetWasmGC(false)
	c.SetWasmRelaxedSIMD(false)
	c.SetWasmTailCall(false)
	c.SetWasmFunctionReferences(false)
	c.SetCraneliftNanCanonicalization(true)
	c.SetParallelCompilation(false)
	c.SetMaxWasmStack(512 << 10)
	c.SetEpochInterruption(true)
	return c
}

const configFingerprint = "fuel,mem64,nan-canon,no-threads,no-multimem,no-gc,no-relaxed-simd,no-tailcall,stack512k,epoch," + instrument.Version

// Info describes the engine.
func (e *Engine) Info() Info {
	load := "eager"
	if e.images != nil {
		load = "image"
	}
	calls := CallPathWasmtimeGo
	if e.direct {
		calls = CallPathDirect
	}
	return Info{Tracker: e.tracker.String(), CompareBelow: e.compareBelow, WasmtimeVersion: WasmtimeVersion,
		MaxMemoryBytes: e.opts.MaxMemoryBytes, CallDepth: e.opts.CallDepth, Load: load, WarmSets: e.warm.max, CallPath: calls}
}

// trackerFor picks the tracker kind for a memory of n bytes.
func (e *Engine) trackerFor(n uint64) dirty.Kind {
	if n <= e.compareBelow {
		return dirty.Compare
	}
	return e.tracker
}

// Close releases the engine. Sessions must be closed first; using one
// afterwards returns ErrClosed.
func (e *Engine) Close() error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil
	}
	e.closed = true
	e.mu.Unlock()
	close(e.stopTick)
	<-e.tickDone
	e.warm.close()
	if e.images != nil {
		e.images.close()
	}
	e.modules.Purge()
	for _, l := range e.linkers {
		l.Close()
	}
	e.wt.Close()
	err := e.store.Close()
	trimCHeap()
	return err
}

// Head returns the head root: the last committed root, or merkle.EmptyState()
// for a new store.
func (e *Engine) Head() (merkle.Hash, error) {
	root, ok, err := e.store.Head()
	if err != nil || !ok {
		return merkle.EmptyState(), err
	}
	return root, nil
}

// Commits lists the commit records, oldest first.
func (e *Engine) Commits() ([]pagestore.CommitRecord, error) { return e.store.Commits() }

func (e *Engine) pin(root merkle.Hash) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return ErrClosed
	}
	e.pins[root]++
	return nil
}

func (e *Engine) unpin(root merkle.Hash) {
	e.mu.Lock()
	e.pins[root]--
	last := e.pins[root] == 0
	if last {
		delete(e.pins, root)
	}
	del := last && e.deferred[root]
	e.mu.Unlock()
	if del {
		e.deleteDeferred(root)
	}
}

// deleteDeferred carries out the deferred deletion of root, unless a
// commit of root cancelled it (keep) or a session pinned root again.
func (e *Engine) deleteDeferred(root merkle.Hash) {
	e.delMu.Lock()
	defer e.delMu.Unlock()
	e.mu.Lock()
	del := e.deferred[root] && e.pins[root] == 0
	if del {
		delete(e.deferred, root)
		e.deleting[root] = true
	}
	e.mu.Unlock()
	if del {
		err := e.store.DeleteCommit(root)
		e.roots.forget()
		e.doneDeleting(root)
		if err != nil {
			e.log.Warn("deferred commit deletion failed", "root", root.String(), "err", err)
		}
	}
}

func (e *Engine) doneDeleting(root merkle.Hash) {
	e.mu.Lock()
	delete(e.deleting, root)
	e.mu.Unlock()
}

// keep cancels a deferred deletion of root: root was committed since.
func (e *Engine) keep(root merkle.Hash) {
	e.mu.Lock()
	delete(e.deferred, root)
	e.mu.Unlock()
}

// DeleteCommit deletes the commit record of root. While a session is based
// on root the deletion is deferred until the last such session closes;
// deferred reports that. Objects are reclaimed by GC.
func (e *Engine) DeleteCommit(root merkle.Hash) (deferred bool, err error) {
	e.delMu.Lock()
	defer e.delMu.Unlock()
	if _, err := e.store.CommitRecord(root); err != nil {
		return false, fmt.Errorf("%w: %s: %w", ErrUnknownRoot, root, err)
	}
	e.mu.Lock()
	if e.pins[root] > 0 {
		e.deferred[root] = true
		e.mu.Unlock()
		return true, nil
	}
	// No session may open on root between this check and the deletion:
	// a GC that did not see its pin would reclaim what it reads.
	e.deleting[root] = true
	e.mu.Unlock()
	defer e.doneDeleting(root)
	err = e.store.DeleteCommit(root)
	e.roots.forget()
	return false, err
}

// GC reclaims every object that no commit record, the head, nor an open
// session's base reaches.
func (e *Engine) GC(ctx context.Context) (pagestore.GCStats, error) {
	return e.GCWithOptions(ctx, pagestore.GCOptions{})
}

// livePins returns the roots open sessions are based on that are stored.
func (e *Engine) livePins() ([]merkle.Hash, error) {
	e.mu.Lock()
	pinned := make([]merkle.Hash, 0, len(e.pins))
	for r := range e.pins {
		pinned = append(pinned, r)
	}
	e.mu.Unlock()
	// Session.Commit pins its root before writing it: a commit waiting
	// for the store has nothing stored to keep yet, and once written it
	// has a record, which GC marks from. Marking from it would fail.
	kept := pinned[:0]
	for _, r := range pinned {
		ok, err := e.store.Has(pagestore.KindStateNode, r)
		if err != nil {
			return nil, err
		}
		if ok {
			kept = append(kept, r)
		}
	}
	return kept, nil
}

// knownRoot reports whether a session can be based on root.
func (e *Engine) knownRoot(root merkle.Hash) error {
	if root == merkle.EmptyState() {
		return nil
	}
	ok, gen := e.roots.has(root)
	if ok {
		return nil
	}
	ok, err := e.store.HasRoot(root)
	if err != nil {
		return err
	}
	if ok {
		e.roots.add(root, gen)
	}
	if !ok {
		e.mu.Lock()
		pinned := e.pins[root] > 0
		e.mu.Unlock()
		if !pinned {
			return fmt.Errorf("%w: %s", ErrUnknownRoot, root)
		}
	}
	return nil
}
