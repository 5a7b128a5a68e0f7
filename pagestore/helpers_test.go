package pagestore

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/wasmstate/wasmstate/merkle"
)

// The store is what the trees read through and write to.
var (
	_ merkle.Source = (*Store)(nil)
	_ merkle.Sink   = (*Batch)(nil)
)

// testMemoryLen is the memory length of test contracts: 256 pages.
const testMemoryLen = 16 * merkle.WasmPageSize

const testPages = testMemoryLen / merkle.PageSize

func newMemStore(t testing.TB, o *Options) *Store {
	t.Helper()
	s, err := NewStore(NewMemoryBackend(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func randomPage(r *rand.Rand) []byte {
	p := make([]byte, merkle.PageSize)
	for i := 0; i < len(p); i += 8 {
		v := r.Uint64()
		for j := 0; j < 8; j++ {
			p[i+j] = byte(v >> (8 * j))
		}
	}
	return p
}

// sparsePage is mostly zero, as real memory pages often are.
func sparsePage(r *rand.Rand) []byte {
	p := make([]byte, merkle.PageSize)
	for i := 0; i < 16; i++ {
		p[r.IntN(len(p))] = byte(r.Uint32())
	}
	return p
}

// testContract is a contract of a world, with the test's own copy of what it
// holds so reads can be checked against it.
type testContract struct {
	leaf    merkle.ContractLeaf
	mem     *merkle.MemTree
	pages   map[uint64][]byte // non-zero pages; nil when loaded from a store
	code    []byte
	owner   []byte
	globals []byte
	dirty   bool
}

// world is a state built with package merkle's trees, committed through
// Batch (a merkle.Sink) and read back through Store (a merkle.Source).
type world struct {
	src       merkle.Source
	st        *merkle.StateTree
	contracts map[merkle.ContractID]*testContract
	root      merkle.Hash
}

func newWorld(src merkle.Source, root merkle.Hash) *world {
	return &world{src: src, st: merkle.NewStateTree(root, src), contracts: map[merkle.ContractID]*testContract{}, root: root}
}

// fork returns a world continuing from the same committed root. It shares
// nothing mutable with w.
func (w *world) fork() *world {
	f := newWorld(w.src, w.root)
	for id, c := range w.contracts {
		nc := *c
		nc.mem = merkle.NewMemTree(c.leaf.MemoryRoot, w.src)
		if c.pages != nil {
			nc.pages = make(map[uint64][]byte, len(c.pages))
			for i, p := range c.pages {
				nc.pages[i] = p
			}
		}
		nc.dirty = false
		f.contracts[id] = &nc
	}
	return f
}

func (w *world) deploy(b *Batch, id merkle.ContractID, code, owner []byte) *testContract {
	c := &testContract{
		leaf: merkle.ContractLeaf{
			ID: id, CodeHash: merkle.HashCode(code), OwnerHash: merkle.HashOwner(owner),
			Kind: merkle.Memory32, MemoryLen: testMemoryLen,
		},
		mem:   merkle.NewMemTree(merkle.EmptyMemoryRoot(), w.src),
		pages: map[uint64][]byte{},
		code:  code, owner: owner, dirty: true,
	}
	b.PutCode(c.leaf.CodeHash, code)
	b.PutOwner(c.leaf.OwnerHash, owner)
	w.contracts[id] = c
	w.setGlobals(b, id, nil)
	return c
}

// contract returns the contract id, loading it from the state tree if this
// world has not touched it yet.
func (w *world) contract(id merkle.ContractID) (*testContract, error) {
	if c, ok := w.contracts[id]; ok {
		return c, nil
	}
	leaf, ok, err := w.st.Get(id)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("no contract %s", id)
	}
	c := &testContract{leaf: leaf, mem: merkle.NewMemTree(leaf.MemoryRoot, w.src)}
	w.contracts[id] = c
	return c, nil
}

func (w *world) writePage(b *Batch, id merkle.ContractID, idx uint64, page []byte) error {
	c, err := w.contract(id)
	if err != nil {
		return err
	}
	h := merkle.HashPage(page)
	if err := c.mem.SetPage(idx, h); err != nil {
		return err
	}
	b.PutPage(h, page)
	if c.pages != nil {
		if h == merkle.EmptyPageHash() {
			delete(c.pages, idx)
		} else {
			p := make([]byte, merkle.PageSize)
			copy(p, page)
			c.pages[idx] = p
		}
	}
	c.dirty = true
	return nil
}

func (w *world) setGlobals(b *Batch, id merkle.ContractID, g []byte) error {
	c, err := w.contract(id)
	if err != nil {
		return err
	}
	c.globals = slices.Clone(g)
	c.leaf.GlobalsHash = merkle.DomainGlobals.Sum(g)
	b.PutGlobals(c.leaf.GlobalsHash, g)
	c.dirty = true
	return nil
}

// stage hands the changed trees to b and returns the new root and the
// contracts changed.
func (w *world) stage(b *Batch) (merkle.Hash, []merkle.ContractID, error) {
	var changed []merkle.ContractID
	for id, c := range w.contracts {
		if !c.dirty {
			continue
		}
		root, err := c.mem.Commit(b)
		if err != nil {
			return merkle.Hash{}, nil, err
		}
		c.leaf.MemoryRoot = root
		if err := w.st.Update(c.leaf); err != nil {
			return merkle.Hash{}, nil, err
		}
		c.dirty = false
		changed = append(changed, id)
	}
	slices.SortFunc(changed, func(a, b merkle.ContractID) int { return bytes.Compare(a[:], b[:]) })
	return w.st.Commit(b), changed, nil
}

// commit stages w's changes into b, adds the record (parent = the previous
// root) and head, and commits.
func (w *world) commit(t testing.TB, s *Store, b *Batch, time int64) merkle.Hash {
	t.Helper()
	root, changed, err := w.stage(b)
	if err != nil {
		t.Fatal(err)
	}
	b.SetCommit(CommitRecord{Root: root, Parent: w.root, Time: time, Changed: changed})
	b.SetHead(root)
	if _, err := s.Commit(b); err != nil {
		t.Fatal(err)
	}
	w.root = root
	return root
}

// snapshot is what a root should hold, per contract.
type snapshot map[merkle.ContractID]snapContract

type snapContract struct {
	pages                map[uint64][]byte
	code, owner, globals []byte
}

func (w *world) snapshot() snapshot {
	s := snapshot{}
	for id, c := range w.contracts {
		sc := snapContract{pages: map[uint64][]byte{}, code: c.code, owner: c.owner, globals: c.globals}
		for i, p := range c.pages {
			sc.pages[i] = p
		}
		s[id] = sc
	}
	return s
}

// checkRoot reads root back through the trees and the store's getters and
// compares every contract, page, code, owner and globals with want.
func checkRoot(t testing.TB, s *Store, root merkle.Hash, want snapshot) {
	t.Helper()
	if err := readRoot(s, root, want); err != nil {
		t.Fatalf("root %s: %v", root, err)
	}
}

func readRoot(s *Store, root merkle.Hash, want snapshot) error {
	seen := 0
	err := merkle.NewStateTree(root, s).ForEach(func(leaf merkle.ContractLeaf) error {
		seen++
		wc, ok := want[leaf.ID]
		if !ok {
			return fmt.Errorf("unexpected contract %s", leaf.ID)
		}
		for _, x := range []struct {
			get  func(merkle.Hash) ([]byte, error)
			h    merkle.Hash
			want []byte
		}{{s.Code, leaf.CodeHash, wc.code}, {s.Owner, leaf.OwnerHash, wc.owner}, {s.Globals, leaf.GlobalsHash, wc.globals}} {
			got, err := x.get(x.h)
			if err != nil {
				return err
			}
			if !bytes.Equal(got, x.want) {
				return fmt.Errorf("contract %s: value %s differs", leaf.ID, x.h)
			}
		}
		n := 0
		err := merkle.NewMemTree(leaf.MemoryRoot, s).ForEachPage(func(i uint64, h merkle.Hash) error {
			n++
			p, err := s.Page(h)
			if err != nil {
				return err
			}
			if !bytes.Equal(p, wc.pages[i]) {
				return fmt.Errorf("contract %s page %d differs", leaf.ID, i)
			}
			return nil
		})
		if err != nil {
			return err
		}
		if n != len(wc.pages) {
			return fmt.Errorf("contract %s: %d pages, want %d", leaf.ID, n, len(wc.pages))
		}
		return nil
	})
	if err != nil {
		return err
	}
	if seen != len(want) {
		return fmt.Errorf("%d contracts, want %d", seen, len(want))
	}
	return nil
}

// countKeys counts the backend keys with the prefix.
func countKeys(t testing.TB, kv Backend, k Kind) int {
	t.Helper()
	n := 0
	if err := kv.Iterate([]byte{byte(k)}, func(_, _ []byte) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	return n
}

// overwrite replaces the value under an object's key behind the store's back.
func overwrite(t testing.TB, kv Backend, k Kind, h merkle.Hash, v []byte) {
	t.Helper()
	key := makeKey(k, h)
	b := kv.NewBatch()
	if v == nil {
		b.Delete(key[:])
	} else {
		b.Put(key[:], v)
	}
	if err := kv.Write(b, true); err != nil {
		t.Fatal(err)
	}
}

func mustCorrupt(t testing.TB, err error, k Kind, h merkle.Hash) {
	t.Helper()
	var ce *CorruptionError
	if !errors.Is(err, ErrCorrupt) || !errors.As(err, &ce) {
		t.Fatalf("got %v, want a corruption error", err)
	}
	if ce.Kind != k || ce.Key != h {
		t.Fatalf("corruption error names %s %s, want %s %s", ce.Kind, ce.Key, k, h)
	}
	if !bytes.Contains([]byte(err.Error()), []byte(h.String())) {
		t.Fatalf("error %q does not name the key", err)
	}
}

func cid(n int) merkle.ContractID {
	var id merkle.ContractID
	id[0], id[1] = byte(n>>8), byte(n)
	return id
}
