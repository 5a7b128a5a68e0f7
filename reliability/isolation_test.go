package reliability

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/wasmstate/wasmstate/engine"
	"github.com/wasmstate/wasmstate/hostfns"
	"github.com/wasmstate/wasmstate/merkle"
)

// Isolation: a contract reaches only its own memory, never another
// contract's or the host's; sessions never see each other's uncommitted
// state; owners are revealed only by "owner".

func TestIsolationMemory(t *testing.T) {
	e := memEngine(t, engine.Options{})
	s := session(t, e, merkle.EmptyState())
	deployFixed(t, s)
	cc := deploy(t, s, "callcenter", engine.DeployOptions{})
	secret32, secret64 := []byte("SECRET-OF-THE-WASM32-FUZZER"), []byte("SECRET-OF-THE-WASM64-FUZZER")
	call(t, s, fuzz32ID, "go", goArg(selStore, 0, [5]uint64{0x3000, uint64(len(secret32))}, secret32))
	call(t, s, fuzz64ID, "go", goArg(selStore, 0, [5]uint64{0x3000, uint64(len(secret64))}, secret64))
	n := uint64(len(secret32))
	load := goArg(selLoad, uint32(n), [5]uint64{0x3000, n}, nil)
	// Each reads its own bytes at the same address, directly and when
	// called by another contract (callcenter.delegate_query).
	for _, c := range []struct {
		id     merkle.ContractID
		secret []byte
	}{{fuzz32ID, secret32}, {fuzz64ID, secret64}} {
		got, _ := goResult(t, call(t, s, c.id, "go", load), int(n))
		if !bytes.Equal(got, c.secret) {
			t.Fatalf("own memory reads %q", got)
		}
		d := call(t, s, cc, "delegate_query", cat(c.id[:], u32(2), []byte("go"), load))
		if got, _ := goResult(t, d, int(n)); !bytes.Equal(got, c.secret) {
			t.Fatalf("nested: callee read %q", got)
		}
		// A host function given that address reads the caller's memory:
		// the topic of an event emitted by the nested frame.
		emit := goArg(selEmit, 0, [5]uint64{0x3000, n, 0}, nil)
		r, err := s.Call(context.Background(), cc, "delegate_query", cat(c.id[:], u32(2), []byte("go"), emit), gas)
		if err != nil || len(r.Events) != 1 || r.Events[0].Topic != string(c.secret) || r.Events[0].Source != c.id {
			t.Fatalf("nested emit: %+v %v", r, err)
		}
	}
	// A nested write goes to the callee's memory only.
	other := []byte("WRITTEN-BY-A-NESTED-FRAME!!")
	store := goArg(selStore, 0, [5]uint64{0x3000, n}, other)
	call(t, s, cc, "delegate_query", cat(fuzz64ID[:], u32(2), []byte("go"), store))
	if got, _ := goResult(t, call(t, s, fuzz32ID, "go", load), int(n)); !bytes.Equal(got, secret32) {
		t.Fatalf("a write into the wasm64 contract changed the wasm32 one: %q", got)
	}
	if got, _ := goResult(t, call(t, s, fuzz64ID, "go", load), int(n)); !bytes.Equal(got, other) {
		t.Fatalf("nested write lost: %q", got)
	}
	// Past the end of the memory: the host refuses, wasm traps. Nothing
	// of the host's memory is ever returned.
	for _, id := range []merkle.ContractID{fuzz32ID, fuzz64ID} {
		for _, p := range []uint64{2 * 65536, 2*65536 - 8, 0xFFFFFFF0, 1 << 32, 1<<32 + 0x3000, 1 << 40, 1 << 63, 1<<64 - 16} {
			if id == fuzz32ID && p >= 1<<32 {
				continue // a wasm32 pointer is 32 bits
			}
			for _, sel := range []uint32{selHD, selEmit, selOwner, selEphGet, selHQ} {
				a := [5]uint64{p, 16, 0}
				if sel == selOwner {
					a = [5]uint64{p}
				}
				mustFail(t, s, id, "go", goArg(sel, 0, a, nil), gas, hostfns.ErrBadAccess)
			}
			mustFail(t, s, id, "go", goArg(selLoad, 16, [5]uint64{p, 32}, nil), gas, engine.ErrTrap)
			mustFail(t, s, id, "go", goArg(selStore, 0, [5]uint64{p, 32}, make([]byte, 32)), gas, engine.ErrTrap)
		}
	}
	// "c" with a callee id outside memory fails the caller; a callee id
	// that names no contract gives -3 without reading anything else.
	mustFail(t, s, fuzz32ID, "go", goArg(selC, 0, [5]uint64{0xFFFFFFF0, addrGo, 2, 0, 0}, nil), gas, hostfns.ErrBadAccess)
	d := call(t, s, fuzz32ID, "go", goArg(selC, 0, [5]uint64{0x3000, addrGo, 2, 0, 0}, nil))
	if _, code := goResult(t, d, 0); code != int64(hostfns.CallNoContract) {
		t.Fatalf("call of a contract that does not exist: %d", code)
	}
}

func TestIsolationSessions(t *testing.T) {
	e := memEngine(t, engine.Options{})
	s := session(t, e, merkle.EmptyState())
	deployFixed(t, s)
	base := commit(t, s)
	s.Close()

	a, b, c := session(t, e, base), session(t, e, base), session(t, e, base)
	// a writes memory, globals, ephemeral data and deploys; b sees none.
	call(t, a, counterID, "add", u64(1000))
	call(t, a, counterID, "set_global", u64(77))
	call(t, a, fuzz32ID, "go", goArg(selStore, 0, [5]uint64{0x3000, 5}, []byte("hello")))
	call(t, a, fuzz32ID, "go", goArg(selEphSet, 0, [5]uint64{addrGo, 2, 53}, []byte("eph")))
	gr := deploy(t, a, "grower", engine.DeployOptions{})
	if v := readU64(t, call(t, b, counterID, "read_value", nil)); v != 0xfc {
		t.Fatalf("b reads counter %d", v)
	}
	call(t, c, counterID, "read_value", nil) // spills to its shadow stack
	if v := readU64(t, call(t, b, counterID, "get_global", nil)); v != 0 {
		t.Fatalf("b reads global %d", v)
	}
	if got, _ := goResult(t, call(t, b, fuzz32ID, "go", goArg(selLoad, 5, [5]uint64{0x3000, 5}, nil)), 5); !bytes.Equal(got, make([]byte, 5)) {
		t.Fatalf("b reads %q", got)
	}
	if _, r := goResult(t, call(t, b, fuzz32ID, "go", goArg(selEphGet, 0, [5]uint64{addrGo, 2}, nil)), 0); r != -1 {
		t.Fatalf("b sees a's ephemeral data (%d)", r)
	}
	if _, err := b.Call(context.Background(), gr, "size", nil, gas); !errors.Is(err, engine.ErrNoContract) {
		t.Fatalf("b sees a's deploy: %v", err)
	}
	if root(t, b) != root(t, c) {
		t.Fatal("b's root differs from that of a session that made the same calls without a")
	}
	// a commits; b still sees the base, and commits its own change.
	ra := commit(t, a)
	if v := readU64(t, call(t, b, counterID, "read_value", nil)); v != 0xfc {
		t.Fatalf("b reads counter %d after a's commit", v)
	}
	call(t, b, counterID, "add", u64(1))
	rb := commit(t, b)
	if ra == rb || ra == base || rb == base {
		t.Fatal("roots collide")
	}
	for _, c := range []struct {
		root merkle.Hash
		want uint64
	}{{base, 0xfc}, {ra, 0xfc + 1000}, {rb, 0xfd}} {
		s := session(t, e, c.root)
		if v := readU64(t, call(t, s, counterID, "read_value", nil)); v != c.want {
			t.Fatalf("root %s reads %d, want %d", short(c.root), v, c.want)
		}
	}
	// Concurrent sessions on one root, each writing its own value.
	var wg sync.WaitGroup
	roots := make([]merkle.Hash, 8)
	errs := make([]error, 8)
	for i := range roots {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			s, err := e.NewSession(base, engine.SessionOptions{})
			if err != nil {
				errs[i] = err
				return
			}
			defer s.Close()
			for k := 0; k < 20 && err == nil; k++ {
				_, err = s.Call(context.Background(), counterID, "add", u64(uint64(i+1)), gas)
			}
			if err == nil {
				roots[i], err = s.Commit(context.Background())
			}
			errs[i] = err
		}(i)
	}
	wg.Wait()
	for i, r := range roots {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		s := session(t, e, r)
		if v := readU64(t, call(t, s, counterID, "read_value", nil)); v != 0xfc+20*uint64(i+1) {
			t.Fatalf("session %d committed %d", i, v)
		}
	}
}

// Owners are in the state (the leaf commits to their hash) but only
// "owner" returns them: every other import's outputs, events, debug
// messages and fed bytes, and the receipt's call tree, never hold one.
func TestIsolationOwners(t *testing.T) {
	e, base := fuzzEngine(t)
	n := 0
	for _, sd := range hostCallSeeds() {
		if sd.sel == selOwner || sd.sel == selC || sd.gas == 0 {
			continue
		}
		// Successful calls only, each returning 4 KiB of A.
		sd.ret = 4096
		t.Run("", func(t *testing.T) {
			s, err := e.NewSession(base, engine.SessionOptions{Debug: true, Metadata: map[string][]byte{"block_height": u64(1)}})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			id := fuzz32ID
			if sd.flags&flag64 != 0 {
				id = fuzz64ID
			}
			var fed [][]byte
			r, err := s.CallFeed(context.Background(), id, "go", goArg(uint32(sd.sel), sd.ret, sd.a, sd.payload), sd.gas, func(b []byte) error {
				fed = append(fed, b)
				return nil
			})
			if err != nil {
				return
			}
			n++
			outs := append([][]byte{r.Data}, fed...)
			for _, ev := range r.Events {
				outs = append(outs, ev.Data, []byte(ev.Topic))
			}
			for _, d := range s.DebugMessages() {
				outs = append(outs, []byte(d.Message))
			}
			for _, o := range fuzzOwners {
				for _, out := range outs {
					if bytes.Contains(out, o) {
						t.Fatalf("%s revealed owner %q", selNameOf(sd.sel), o)
					}
				}
			}
		})
	}
	if n < 20 {
		t.Fatalf("only %d successful calls", n)
	}
	// owner does reveal them, for self (pointer 0) and by id.
	s, err := e.NewSession(base, engine.SessionOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	d := call(t, s, fuzz32ID, "go", goArg(selOwner, 64, [5]uint64{addrCounter}, nil))
	if got, l := goResult(t, d, 64); !bytes.Equal(got[:l], fuzzOwners[0]) {
		t.Fatalf("owner(counter) = %q", got[:l])
	}
	d = call(t, s, fuzz64ID, "go", goArg(selOwner, 64, [5]uint64{0}, nil))
	if got, l := goResult(t, d, 64); !bytes.Equal(got[:l], fuzzOwners[2]) {
		t.Fatalf("owner(self) = %q", got[:l])
	}
}
