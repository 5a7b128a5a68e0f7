package engine

import (
	"encoding/binary"
	"fmt"
	"maps"
	"math"
	"slices"
	"time"
	"unsafe"

	"github.com/bytecodealliance/wasmtime-go/v39"

	"github.com/wasmstate/wasmstate/engine/dirty"
	"github.com/wasmstate/wasmstate/engine/internal/wasmbin"
	"github.com/wasmstate/wasmstate/engine/internal/wtcall"
	"github.com/wasmstate/wasmstate/hostfns"
	"github.com/wasmstate/wasmstate/merkle"
	"github.com/wasmstate/wasmstate/pagestore"
)

// contract is a contract loaded into a session: its wasm instance, the
// tracker of its memory, and what the session changed of it.
type contract struct {
	s    *Session
	id   merkle.ContractID
	leaf merkle.ContractLeaf // as of the last Root
	// baseLeaf is the leaf as of the session's base (zero for a new
	// contract), to tell which contracts a commit really changed.
	baseLeaf merkle.ContractLeaf
	mod      *module
	owner    []byte // nil until needed, for contracts loaded from the store
	code     []byte // set for contracts deployed in this session, until committed

	inst    *wasmtime.Instance
	mem     *wasmtime.Memory
	data    []byte // view of mem, see refresh
	funcs   map[string]*export
	globals []*wasmtime.Global // the module's mutable globals, in index order
	// The direct path's handles of mem and globals (directcall.go), and
	// the globals' values as the last frame of the contract left them
	// (valid while gvalid and no frame of it runs).
	wmem     wtcall.Memory
	wglobals []wtcall.Global
	gcache   []uint64
	gvalid   bool
	tracker  dirty.Tracker
	// trackerSmall: the tracker is the small-memory choice (see newTracker).
	trackerSmall bool
	// trackerFallback: uffd-wp failed for this memory; it stays on compare.
	trackerFallback bool
	// sparse: the next tracker is for a memory just mapped from an image.
	sparse bool
	mt     *merkle.MemTree

	// pages holds the session's copy of every page written since the last
	// commit, as of the last collect: the undo source for later frames and
	// what a commit stores.
	pages map[uint64][]byte
	// hashes caches the hash of each page in pages, computed by Root.
	hashes map[uint64]merkle.Hash
	// pending are pages whose new hash the memory tree does not have yet.
	pending map[uint64]struct{}

	memLen      uint64   // memory length in bytes as of the last collect
	globalVals  []uint64 // the mutable globals as of the last sync
	active      int      // frames of this contract on the call stack
	changed     bool     // the leaf needs recomputing
	uncommitted bool     // changed since the last commit
	isNew       bool     // deployed in this session and not yet committed
	reload      bool     // a revert shrank the memory: re-instantiate when idle
	argUsed     uint64   // bytes of the argument buffer used since it was last zeroed
	inCall      bool     // ran in the current top-level call
	reverting   bool     // being reverted (dedupes the affected list)
	initPending bool     // deployed, init not run yet
	scratch     []uint64
	reserved    int      // entries pages, hashes and pending were made for (reserve)
	carry       []uint64 // globals carried into a new store (recycle)
}

// export is an exported function, as wasmtime-go and the direct path
// call it.
type export struct {
	f   *wasmtime.Func
	raw wtcall.Func
}

// storeOwner is a wasmtime store's data: the session that owns the store
// now. A store outlives its session when it is handed on (warm.go).
type storeOwner struct {
	s  *Session
	cx wtcall.Context // the store's context, for the direct path
	// The epoch deadline last set on the store, and when (setDeadline).
	deadlineTicks uint64
	deadlineSet   time.Time
}

// wasmStore returns the session's wasmtime store, creating it on first use.
func (s *Session) wasmStore() *wasmtime.Store {
	if s.wstore == nil {
		s.owner = &storeOwner{s: s}
		s.wstore = wasmtime.NewStoreWithData(s.e.wt, s.owner)
		s.owner.cx = wtcall.ContextOf(s.wstore)
		s.wstore.Limiter(int64(min(s.e.opts.MaxMemoryBytes, math.MaxInt64)), -1, -1, -1, -1)
	}
	return s.wstore
}

// envOf finds the session behind a host-function call.
func envOf(c *wasmtime.Caller) hostfns.Env { return hostEnv{c.Data().(*storeOwner).s} }

// instantiate creates a fresh instance of the contract's module and looks
// up what the engine calls on it, once.
func (c *contract) instantiate() error {
	st := c.s.wasmStore()
	l := c.s.e.linkers[0]
	if c.mod.kind == merkle.Memory64 {
		l = c.s.e.linkers[1]
	}
	inst, err := l.Instantiate(st, c.mod.wt)
	if err != nil {
		return fmt.Errorf("%w: instantiate %s: %w", ErrInvalidModule, c.id, err)
	}
	c.s.instances++
	info := c.mod.info
	mem := inst.GetExport(st, info.MemoryExport).Memory()
	c.inst, c.mem, c.data = inst, mem, nil
	if c.s.e.direct {
		c.wmem = wtcall.MemoryOf(mem)
	}
	c.refresh()
	// Exports are looked up on first call (func): a contract exports
	// dozens of functions and a call uses one or two.
	clear(c.funcs)
	c.globals = c.globals[:0]
	for _, g := range info.MutableGlobals {
		c.globals = append(c.globals, inst.GetExport(st, wasmbin.GlobalExportName(g.Index)).Global())
	}
	c.gvalid = false
	if c.s.e.direct {
		c.wglobals = c.wglobals[:0]
		for _, g := range c.globals {
			c.wglobals = append(c.wglobals, wtcall.GlobalOf(g))
		}
		c.gcache = make([]uint64, len(c.globals))
	}
	return nil
}

// fn returns the exported function name, nil if there is none.
func (c *contract) fn(name string) *export {
	if f, ok := c.funcs[name]; ok {
		return f
	}
	if !slices.Contains(c.mod.info.Exports, name) {
		return nil
	}
	if c.funcs == nil {
		c.funcs = map[string]*export{}
	}
	f := c.inst.GetFunc(c.s.wstore, name)
	if f == nil {
		return nil
	}
	x := &export{f: f}
	if c.s.e.direct {
		x.raw = wtcall.FuncOf(f)
	}
	c.funcs[name] = x
	return x
}

// memory returns the contract's memory as of the last refresh: valid
// until wasm of this contract runs again.
func (c *contract) memory() []byte { return c.data }

// refresh re-reads the memory's extent after wasm ran. wasmtime moves a
// memory only when it grows, so an unchanged size means an unchanged view:
// one cgo call in the common case instead of two.
func (c *contract) refresh() []byte {
	if c.s.e.direct {
		c.data = c.s.owner.cx.MemoryData(&c.wmem)
		return c.data
	}
	if n := c.mem.DataSize(c.s.wstore); n != uintptr(len(c.data)) || c.data == nil {
		c.data = c.mem.UnsafeData(c.s.wstore)
	}
	return c.data
}

// newDirtyTracker and newSparseTracker create trackers; tests replace them
// to make uffd-wp fail.
var (
	newDirtyTracker  = dirty.New
	newSparseTracker = dirty.NewSparse
)

// newTracker starts tracking the memory as it is now. With the automatic
// choice, a small memory gets the compare tracker: comparing a few dozen
// pages costs less than a PAGEMAP_SCAN ioctl and the write faults that
// follow it (bench/README.md).
func (c *contract) newTracker() error {
	m := c.memory()
	return c.newTrackerAt(unsafe.Pointer(unsafe.SliceData(m)), uint64(len(m)), uint64(len(m)))
}

// newTrackerAt starts tracking the first length bytes of the memory at
// base, with the tracker kind for a memory of size bytes (a memory about
// to grow to size is then the tracker's to Resize).
func (c *contract) newTrackerAt(base unsafe.Pointer, length, size uint64) error {
	if c.tracker != nil {
		c.tracker.Close()
	}
	kind := c.s.e.trackerFor(size)
	if c.trackerFallback {
		kind = dirty.Compare
	}
	c.trackerSmall = kind != c.s.e.tracker && !c.trackerFallback
	create := newDirtyTracker
	if c.sparse {
		create = newSparseTracker
	}
	if c.s.witnessMode() {
		// Compare would read every page (and a fallback to it would
		// hide which were touched): uffd-wp or nothing, or in a replay
		// the compare of the few pages the witness holds (replaytrack.go).
		kind, c.trackerSmall = dirty.UffdWP, false
		if c.s.replay != nil {
			if t := c.s.replay.presentTracker(c, base, length); t != nil {
				c.tracker = t
				return nil
			}
		}
		t, err := create(kind, base, length)
		if err != nil {
			return fmt.Errorf("%w: %w", ErrWitnessUnsupported, err)
		}
		c.tracker = t
		if c.s.replay != nil {
			c.tracker = c.s.replay.uffdTracker(c, t, base, length)
		}
		return nil
	}
	t, err := create(kind, base, length)
	if err != nil && kind != dirty.Compare && c.s.e.opts.Tracker == dirty.Auto {
		// uffd-wp can fail for one memory (EBUSY, a registration limit):
		// the automatic choice falls back to compare for it, for good (a
		// retry at every frame would copy the whole memory each time).
		c.s.e.log.Warn("uffd-wp unavailable for a memory; using compare", "contract", c.id.String(), "err", err)
		kind, c.trackerSmall, c.trackerFallback = dirty.Compare, false, true
		t, err = newDirtyTracker(kind, base, length)
	}
	if err != nil {
		return fmt.Errorf("%w: dirty tracker: %w", ErrInternal, err)
	}
	c.tracker = t
	return nil
}

func (c *contract) close() {
	if c.tracker != nil {
		c.tracker.Close()
		c.tracker = nil
	}
}

// contract returns the loaded contract id, loading it on first use.
func (s *Session) contract(id merkle.ContractID) (*contract, error) {
	if c, ok := s.contracts[id]; ok {
		return c, nil
	}
	s.noteID(id)
	leaf, ok, err := s.state.Get(id)
	if err != nil {
		return nil, fmt.Errorf("engine: load contract %s: %w", id, err)
	}
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrNoContract, id)
	}
	c, err := s.load(leaf)
	if err != nil {
		return nil, fmt.Errorf("engine: load contract %s: %w", id, err)
	}
	s.contracts[id] = c
	return c, nil
}

// exists reports whether contract id exists in the session.
func (s *Session) exists(id merkle.ContractID) (bool, error) {
	if _, ok := s.contracts[id]; ok {
		return true, nil
	}
	s.noteID(id)
	_, ok, err := s.state.Get(id)
	return ok, err
}

// load instantiates a stored contract and puts its committed memory and
// globals in place.
func (s *Session) load(leaf merkle.ContractLeaf) (*contract, error) {
	if leaf.MemoryLen > s.e.opts.MaxMemoryBytes {
		return nil, fmt.Errorf("%w: contract memory of %d bytes exceeds the cap of %d", ErrMemoryLimit, leaf.MemoryLen, s.e.opts.MaxMemoryBytes)
	}
	if s.replay != nil {
		defer s.replay.timeSetup(time.Now())
		if c, err := s.replay.reuse(s, leaf); c != nil || err != nil {
			return c, err
		}
	}
	mod, err := s.e.storedModule(leaf.CodeHash)
	if err != nil {
		return nil, err
	}
	c := &contract{s: s, id: leaf.ID, leaf: leaf, baseLeaf: leaf, mod: mod, mt: merkle.NewMemTree(leaf.MemoryRoot, s.e.store),
		pages: map[uint64][]byte{}, hashes: map[uint64]merkle.Hash{}, pending: map[uint64]struct{}{}}
	if s.replay != nil {
		c.mt = s.replay.memTree(c)
	}
	s.noteLoad(c)
	if err := c.materialize(); err != nil {
		return nil, err
	}
	return c, nil
}

// materialize (re)creates the instance and fills its memory and globals
// with the contract's current state: the memory tree's pages overlaid with
// the session's copies. Data segments initialise memory only at deploy, so
// the pages they wrote are put back.
func (c *contract) materialize() error {
	c.s.harvest(c) // a recording session keeps what the old mapping was touched for
	var globals []uint64
	if c.carry != nil { // moved to a new store by recycle
		globals, c.carry = c.carry, nil
	} else if c.inst != nil {
		// A reload keeps the globals the old instance holds (a revert
		// restored them there).
		globals = c.readGlobals(nil)
	} else {
		var err error
		if globals, err = c.storedGlobals(); err != nil {
			return err
		}
		c.globalVals = globals
	}
	if err := c.instantiate(); err != nil {
		return err
	}
	return c.fill(globals)
}

// fill puts the contract's current state into its instance: the memory
// grown to the session's length (the leaf's, before the first collect),
// the base root's memory overlaid with the session's copies, the globals,
// and a new tracker.
func (c *contract) fill(globals []uint64) error {
	st := c.s.wstore
	length := c.leaf.MemoryLen
	if c.memLen != 0 { // a reload keeps the session's length
		length = c.memLen
	}
	cur := uint64(c.mem.DataSize(st))
	if length > cur {
		if _, err := c.mem.Grow(st, (length-cur)/merkle.WasmPageSize); err != nil {
			return fmt.Errorf("%w: grow memory to %d bytes: %w", ErrMemoryLimit, length, err)
		}
	}
	mem := c.refresh()
	// The memory is the last commit's, overlaid with the session's copies
	// of the pages it changed since.
	mapped, err := c.s.loadMemory(c, mem)
	if err != nil {
		return err
	}
	// A mapped image has few pages populated: the tracker need not
	// write-protect the whole range (dirty.NewSparse). Its memory tree
	// shares the image's nodes (a fresh tree only: Rebase checks); not in
	// a replay, whose nodes must all come from the witness.
	c.sparse = mapped
	if mapped && c.s.replay == nil {
		c.mt.Rebase(c.s.e.imageTree(c.id))
	}
	for i, p := range c.pages {
		if i*merkle.PageSize < uint64(len(mem)) {
			copy(mem[i*merkle.PageSize:], p)
		}
	}
	c.memLen = uint64(len(mem))
	c.setGlobals(globals)
	c.reload = false
	err = c.newTracker()
	c.sparse = false
	return err
}

// reserve makes pages, hashes and pending, while empty, for n entries:
// a contract's first collect of many pages otherwise grows each map
// (rehashing it) several times.
func (c *contract) reserve(n int) {
	if n <= max(c.reserved, 8) || len(c.pages) > 0 || len(c.hashes) > 0 || len(c.pending) > 0 {
		return
	}
	c.pages, c.hashes, c.pending = make(map[uint64][]byte, n), make(map[uint64]merkle.Hash, n), make(map[uint64]struct{}, n)
	c.reserved = n
}

// baseMemoryRoot is the memory root as of the session's last commit (or
// its base).
func (c *contract) baseMemoryRoot() merkle.Hash {
	if c.isNew {
		return merkle.EmptyMemoryRoot()
	}
	return c.baseLeaf.MemoryRoot
}

// storedGlobals reads the committed globals of the contract.
func (c *contract) storedGlobals() ([]uint64, error) {
	enc, err := c.s.e.store.Globals(c.leaf.GlobalsHash)
	if err != nil {
		return nil, err
	}
	vals, err := decodeGlobals(enc, c.mod.info.MutableGlobals)
	if err != nil {
		return nil, fmt.Errorf("engine: globals of %s: %w", c.id, err)
	}
	return vals, nil
}

// globalsNow returns a copy of the current values of the mutable globals:
// those the contract's last frame read back if no frame of it runs and
// they were not set since (no crossing), else read from the instance.
func (c *contract) globalsNow() []uint64 {
	if c.gvalid && c.active == 0 {
		return slices.Clone(c.gcache)
	}
	return c.readGlobals(nil)
}

// readGlobals returns the current values of the mutable globals.
func (c *contract) readGlobals(dst []uint64) []uint64 {
	if c.s.e.direct {
		dst = slices.Grow(dst[:0], len(c.wglobals))[:len(c.wglobals)]
		c.s.owner.cx.ReadGlobals(c.wglobals, dst)
		return dst
	}
	dst = dst[:0]
	for _, g := range c.globals {
		dst = append(dst, valBits(g.Get(c.s.wstore)))
	}
	return dst
}

// valBits is a global's value as the engine keeps it: i32 zero-extended,
// floats as their IEEE bits.
func valBits(v wasmtime.Val) uint64 {
	switch v.Kind() {
	case wasmtime.KindI32:
		return uint64(uint32(v.I32()))
	case wasmtime.KindI64:
		return uint64(v.I64())
	case wasmtime.KindF32:
		return uint64(math.Float32bits(v.F32()))
	default:
		return math.Float64bits(v.F64())
	}
}

func (c *contract) setGlobals(vals []uint64) {
	for i, g := range c.globals {
		var v wasmtime.Val
		switch c.mod.info.MutableGlobals[i].Type {
		case wasmbin.I32:
			v = wasmtime.ValI32(int32(uint32(vals[i])))
		case wasmbin.I64:
			v = wasmtime.ValI64(int64(vals[i]))
		case wasmbin.F32:
			v = wasmtime.ValF32(math.Float32frombits(uint32(vals[i])))
		default:
			v = wasmtime.ValF64(math.Float64frombits(vals[i]))
		}
		g.Set(c.s.wstore, v)
	}
	if c.s.e.direct {
		copy(c.gcache, vals)
		c.gvalid = true
	}
}

// encodeGlobals is the globals encoding of SPEC.md §5.1.
func encodeGlobals(types []wasmbin.Global, vals []uint64) []byte {
	b := binary.LittleEndian.AppendUint32(make([]byte, 0, 4+9*len(vals)), uint32(len(vals)))
	for i, v := range vals {
		b = append(b, byte(types[i].Type))
		b = binary.LittleEndian.AppendUint64(b, v)
	}
	return b
}

func decodeGlobals(b []byte, types []wasmbin.Global) ([]uint64, error) {
	if len(b) < 4 || binary.LittleEndian.Uint32(b) != uint32(len(types)) || len(b) != 4+9*len(types) {
		return nil, fmt.Errorf("%w: globals encoding does not match the module", ErrInternal)
	}
	vals := make([]uint64, len(types))
	for i := range vals {
		e := b[4+9*i:]
		if e[0] != byte(types[i].Type) {
			return nil, fmt.Errorf("%w: global %d has type 0x%02x, module says 0x%02x", ErrInternal, i, e[0], byte(types[i].Type))
		}
		vals[i] = binary.LittleEndian.Uint64(e[1:])
	}
	return vals, nil
}

// updateLeaf brings the memory tree and the leaf up to date.
func (c *contract) updateLeaf() error {
	for i := range c.pending {
		p, ok := c.pages[i]
		h, hashed := c.hashes[i] // hashed when collected, unless written again since
		if ok && !hashed {
			h = merkle.HashPage(p)
			c.hashes[i] = h
		} else if !ok {
			var err error
			if h, err = c.mt.Page(i); err != nil { // unchanged since the commit
				return err
			}
		}
		if err := c.mt.SetPage(i, h); err != nil {
			return err
		}
	}
	c.pending = emptied(c.pending)
	c.leaf.MemoryRoot = c.mt.Root()
	c.leaf.MemoryLen = c.memLen
	c.leaf.GlobalsHash = merkle.DomainGlobals.Sum(encodeGlobals(c.mod.info.MutableGlobals, c.globalVals))
	if err := c.s.state.Update(c.leaf); err != nil {
		return fmt.Errorf("%w: update leaf of %s: %w", ErrInternal, c.id, err)
	}
	c.changed, c.uncommitted = false, true
	return nil
}

// stage adds what the contract changed to a commit batch. The session's
// page copies go in as they are (PutPageOwned): committed() forgets them,
// and between calls nothing else refers to them (the journal is empty).
func (c *contract) stage(b *pagestore.Batch) error {
	idx := slices.Sorted(maps.Keys(c.pages))
	// Each page brings its path's new nodes: about 7 for pages spread over
	// a large memory (bench/README.md), all 30 for a lone page.
	b.Grow(8*len(idx) + 64)
	for _, i := range idx {
		if h := c.hashes[i]; h != merkle.EmptyPageHash() {
			b.PutPageOwned(h, c.pages[i])
		}
	}
	if _, err := c.mt.Commit(b); err != nil {
		return err
	}
	b.PutGlobals(c.leaf.GlobalsHash, encodeGlobals(c.mod.info.MutableGlobals, c.globalVals))
	if c.isNew {
		b.PutCode(c.leaf.CodeHash, c.code)
		b.PutOwner(c.leaf.OwnerHash, c.owner)
	}
	return nil
}

// emptied returns m emptied: cleared, or a new map if m held many
// entries. Clearing a Go map costs what it once held, not what it holds:
// after a deploy's commit of thousands of pages, every later commit paid
// for clearing them again.
func emptied[V any](m map[uint64]V) map[uint64]V {
	if len(m) > 1024 {
		return make(map[uint64]V)
	}
	clear(m)
	return m
}

// committed forgets the session copies once they are in the store.
func (c *contract) committed() {
	c.pages = emptied(c.pages)
	c.hashes = emptied(c.hashes)
	c.isNew, c.code, c.uncommitted = false, nil, false
	c.baseLeaf = c.leaf
}
