package reliability

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/wasmstate/wasmstate/engine"
	"github.com/wasmstate/wasmstate/hostfns"
	"github.com/wasmstate/wasmstate/merkle"
)

// The fuzz targets share one engine per process; FuzzDeploy replaces its
// engine now and then, since every module it compiles is cached in the
// (in-memory) store.
var (
	fuzzMu     sync.Mutex
	fuzzEng    *engine.Engine
	fuzzRoot   merkle.Hash // the fixed contracts, committed
	fuzzUses   int
	fuzzOwners [][]byte
)

const fuzzEngineUses = 2000

// fuzzEngine returns the shared fuzzing engine and the root holding the
// counter and both fuzzer contracts at their fixed ids.
func fuzzEngine(t testing.TB) (*engine.Engine, merkle.Hash) {
	fuzzMu.Lock()
	defer fuzzMu.Unlock()
	if fuzzEng != nil && fuzzUses < fuzzEngineUses {
		fuzzUses++
		return fuzzEng, fuzzRoot
	}
	// The old engine may still be in use by a parallel worker: leave it to
	// the garbage collector rather than close it under that worker.
	e, err := engine.OpenInMemory(engine.Options{Logger: quiet, Queries: testQueries(),
		MaxMemoryBytes: 16 << 20, CallDepth: 16})
	if err != nil {
		t.Fatal(err)
	}
	s, err := e.NewSession(merkle.EmptyState(), engine.SessionOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	fuzzOwners = nil
	for _, c := range []struct {
		name string
		id   merkle.ContractID
	}{{"counter", counterID}, {"fuzzer", fuzz32ID}, {"fuzzer64", fuzz64ID}} {
		code, err := wasmErr(c.name)
		if err != nil {
			t.Fatal(err)
		}
		id := c.id
		// Owners the contracts can only learn through "owner".
		owner := []byte(fmt.Sprintf("\x00OWNER-SECRET-%x-%s\x00", id[:4], c.name))
		fuzzOwners = append(fuzzOwners, owner)
		if _, err := s.Deploy(context.Background(), code, engine.DeployOptions{ID: &id, Owner: owner}); err != nil {
			t.Fatal(err)
		}
	}
	r, err := s.Commit(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	fuzzEng, fuzzRoot, fuzzUses = e, r, 1
	return e, r
}

// errFeed is what the feed callback of FuzzHostCall fails with.
var errFeed = errors.New("reliability: feed refused")

// hostCallErrors are the causes a failed call of the fuzzer contract may
// report: each is a typed error a caller can act on.
var hostCallErrors = []error{
	engine.ErrOutOfGas, engine.ErrPanic, engine.ErrTrap, engine.ErrMemoryLimit, engine.ErrCallDepth,
	hostfns.ErrBadAccess, hostfns.ErrBadInput, engine.ErrNotFeeding, engine.ErrUnknownQuery,
	engine.ErrEphemeralFull, errQuery, errFeed,
}

func typedCause(err error) bool {
	var qp *engine.QueryPanicError
	if errors.As(err, &qp) {
		return true
	}
	for _, e := range hostCallErrors {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// Flags of FuzzHostCall.
const (
	flag64       = 1 << iota // call fuzzer64 instead of fuzzer
	flagFeed                 // call with CallFeed
	flagFeedFail             // the feed callback fails
	flagDebug                // the session collects debug messages
	flagTwice                // call a second time in the same session
)

// FuzzHostCall calls every host function, through the fuzzer contracts,
// with fuzzed raw pointers, lengths, gas limits and argument-buffer
// contents. A call either succeeds or fails with a *CallError whose cause
// is typed; a failed call leaves the session's root as it was; only calls
// that can write (c, grow, store) may change it when they succeed; the
// session stays usable; no output reveals an owner except "owner".
func FuzzHostCall(f *testing.F) {
	for _, s := range hostCallSeeds() {
		f.Add(s.sel, s.ret, s.a[0], s.a[1], s.a[2], s.a[3], s.a[4], s.payload, s.gas, s.flags)
	}
	f.Fuzz(func(t *testing.T, sel uint8, ret uint32, a0, a1, a2, a3, a4 uint64, payload []byte, gasIn uint64, flags uint8) {
		hostCallOne(t, sel, ret, [5]uint64{a0, a1, a2, a3, a4}, payload, gasIn, flags)
	})
}

func hostCallOne(t *testing.T, sel uint8, ret uint32, a [5]uint64, payload []byte, gasIn uint64, flags uint8) {
	e, base := fuzzEngine(t)
	s, err := e.NewSession(base, engine.SessionOptions{Debug: flags&flagDebug != 0,
		Metadata: map[string][]byte{"block_height": u64(100)}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	id := fuzz32ID
	if flags&flag64 != 0 {
		id = fuzz64ID
	}
	if len(payload) > hostfns.ArgBufSize {
		payload = payload[:hostfns.ArgBufSize]
	}
	arg := goArg(uint32(sel)%(numSels+2), ret, a, payload) // two unknown selectors: no-ops
	gasLimit := gasIn % 20_000_001
	var fed [][]byte
	feed := func(b []byte) error {
		if flags&flagFeedFail != 0 {
			return errFeed
		}
		fed = append(fed, b)
		return nil
	}
	if flags&flagFeed == 0 {
		feed = nil
	}
	for n := 0; n < 1+int(flags&flagTwice>>4); n++ {
		before, err := s.Root()
		if err != nil {
			t.Fatal(err)
		}
		r, err := s.CallFeed(context.Background(), id, "go", arg, gasLimit, feed)
		if gasLimit == 0 {
			var ce *engine.CallError
			if !errors.Is(err, engine.ErrBadInput) || errors.As(err, &ce) {
				t.Fatalf("zero gas: %v", err)
			}
			return
		}
		after, rerr := s.Root()
		if rerr != nil {
			t.Fatalf("session unusable after the call (%v): %v", err, rerr)
		}
		if err != nil {
			var ce *engine.CallError
			if !errors.As(err, &ce) || errors.Is(err, engine.ErrInternal) || !typedCause(err) {
				t.Fatalf("%s: untyped failure %T: %v", selName(arg), err, err)
			}
			if ce.GasSpent > gasLimit {
				t.Fatalf("spent %d of %d gas", ce.GasSpent, gasLimit)
			}
			if after != before {
				t.Fatalf("%s: failed call changed the root", selName(arg))
			}
			continue
		}
		if r.GasSpent > gasLimit || r.GasLimit != gasLimit {
			t.Fatalf("receipt gas %d of %d (limit %d)", r.GasSpent, r.GasLimit, gasLimit)
		}
		switch binary.LittleEndian.Uint32(arg) {
		case selC, selGrow, selStore:
		case selLoad:
			// The contract's own copy into A is scratch the engine zeroes
			// only as far as the result reaches (SPEC.md §10.2).
			if uint64(uint32(a[1])) <= uint64(len(r.Data)) && after != before {
				t.Fatalf("load within the result changed the root")
			}
		default:
			if after != before {
				t.Fatalf("%s: a call that writes nothing changed the root", selName(arg))
			}
		}
		// Owners leak only through "owner" (the argument may carry one).
		if binary.LittleEndian.Uint32(arg) != selOwner && !isC(arg) {
			outs := [][]byte{r.Data}
			for _, ev := range r.Events {
				outs = append(outs, ev.Data, []byte(ev.Topic))
			}
			for _, d := range s.DebugMessages() {
				outs = append(outs, []byte(d.Message))
			}
			outs = append(outs, fed...)
			for _, o := range fuzzOwners {
				if bytes.Contains(arg, o) {
					continue
				}
				for _, out := range outs {
					if bytes.Contains(out, o) {
						t.Fatalf("%s revealed an owner", selName(arg))
					}
				}
			}
		}
	}
	// The session still works.
	if _, err := s.Call(context.Background(), counterID, "read_value", nil, gas); err != nil {
		t.Fatalf("session broken: %v", err)
	}
}

// isC reports a "c" call: the callee may legitimately call "owner".
func isC(arg []byte) bool { return binary.LittleEndian.Uint32(arg) == selC }

func selName(arg []byte) string {
	if sel := binary.LittleEndian.Uint32(arg); sel < numSels {
		return selNames[sel]
	}
	return "no-op"
}

type hostCallSeed struct {
	sel     uint8
	ret     uint32
	a       [5]uint64
	payload []byte
	gas     uint64
	flags   uint8
}

// hostCallSeeds is a valid call of every operation, and bad pointers and
// lengths for each pointer-taking import, in both memory kinds.
func hostCallSeeds() []hostCallSeed {
	const g = 5_000_000
	name := func(s string) []byte { return []byte(s) }
	valid := []hostCallSeed{
		{selC, 8, [5]uint64{addrCounter, addrRead, 10, 0, 0}, nil, g, 0},
		{selC, 0, [5]uint64{addrCounter, addrIncr, 9, 0, 100_000}, nil, g, 0},
		{selC, 16, [5]uint64{addrF32, addrGo, 2, 48, 0}, nil, g, 0}, // self call, same argument: recursion to the depth cap
		{selC, 0, [5]uint64{addrF64, addrInit, 4, 0, 0}, nil, g, 0},
		{selHQ, 32, [5]uint64{addrHash, 4, 3}, name("abc"), g, 0},
		{selHQ, 0, [5]uint64{addrBoom, 4, 0}, nil, g, 0},
		{selHQ, 0, [5]uint64{addrErr, 3, 0}, nil, g, 0},
		{selHQ, 0, [5]uint64{addrBig, 3, 0}, nil, g, 0},
		{selHD, 8, [5]uint64{addrHeight, 12}, nil, g, 0},
		{selEmit, 0, [5]uint64{addrHash, 4, 60}, name("event data"), g, 0},
		{selEmit, 0, [5]uint64{addrBadUTF8, 6, 0}, nil, g, 0},
		{selFeed, 0, [5]uint64{56}, name("fed bytes"), g, flagFeed},
		{selFeed, 0, [5]uint64{56}, name("fed bytes"), g, flagFeed | flagFeedFail},
		{selCaller, 33, [5]uint64{}, nil, g, 0},
		{selCallstack, 64, [5]uint64{}, nil, g, 0},
		{selLimit, 0, [5]uint64{}, nil, g, 0},
		{selSpent, 0, [5]uint64{}, nil, g, 0},
		{selPanic, 0, [5]uint64{55}, name("a panic"), g, 0},
		{selOwner, 40, [5]uint64{0}, nil, g, 0},
		{selOwner, 40, [5]uint64{addrCounter}, nil, g, 0},
		{selSelfID, 32, [5]uint64{}, nil, g, 0},
		{selHdebug, 0, [5]uint64{60}, name("debug message"), g, flagDebug},
		{selEphSet, 0, [5]uint64{addrGo, 2, 56}, name("eph value"), g, flagTwice},
		{selEphGet, 16, [5]uint64{addrGo, 2}, nil, g, 0},
		{selEphDel, 0, [5]uint64{addrGo, 2}, nil, g, 0},
		{selGrow, 0, [5]uint64{1}, nil, g, 0},
		{selGrow, 0, [5]uint64{1 << 20}, nil, g, 0},
		{selStore, 0, [5]uint64{0x3000, 5}, name("hello"), g, 0},
		{selLoad, 64, [5]uint64{0x100, 64}, nil, g, 0},
		{selLoop, 0, [5]uint64{}, nil, 1_000_000, 0},
		{selRecurse, 0, [5]uint64{}, nil, g, 0},
		{selSize, 0, [5]uint64{}, nil, g, flagTwice},
		{numSels, 0, [5]uint64{}, nil, g, 0},
		{selHD, 8, [5]uint64{addrHeight, 12}, nil, 0, 0}, // zero gas
	}
	var out []hostCallSeed
	for _, s := range valid {
		out = append(out, s)
		s.flags |= flag64
		out = append(out, s)
	}
	// Bad pointers and lengths: wrapping, straddling the end, past the
	// end, huge, longer than the buffer; 64-bit ones for fuzzer64.
	const end = 2 * 65536
	bad := [][2]uint64{{0xFFFFFFF0, 32}, {end - 16, 32}, {end, 1}, {0, 0xFFFFFFFF}, {argBuf, 65537},
		{1<<32 + addrHeight, 12}, {0xFFFFFFFFFFFFFFF0, 32}, {1 << 63, 1}}
	for _, sel := range []uint8{selC, selHQ, selHD, selEmit, selOwner, selEphSet, selEphGet, selEphDel, selStore, selLoad} {
		for i, b := range bad {
			s := hostCallSeed{sel: sel, a: [5]uint64{b[0], b[1], 4, 4, 0}, gas: g}
			if i >= 5 {
				s.flags = flag64
			}
			out = append(out, s)
		}
	}
	for _, sel := range []uint8{selFeed, selPanic, selHdebug} {
		out = append(out, hostCallSeed{sel: sel, a: [5]uint64{65537}, gas: g, flags: flagFeed | flagDebug})
	}
	return out
}

// FuzzSessionMetadata sets fuzzed metadata at session open and with
// SetMetadata: invalid keys and values (empty, too long) are refused with
// ErrBadInput, anything else reads back through "hd" exactly, whatever the
// caller does to its slices afterwards.
func FuzzSessionMetadata(f *testing.F) {
	f.Add("block_height", u64(100), false)
	f.Add("", []byte("v"), false)
	f.Add("k", []byte{}, false)
	f.Add("k", []byte(nil), true)
	f.Add(strings.Repeat("k", engine.MaxMetadataKey), []byte("v"), false)
	f.Add(strings.Repeat("k", engine.MaxMetadataKey+1), []byte("v"), false)
	f.Add("big", bytes.Repeat([]byte{7}, engine.MaxMetadataValue), false)
	f.Add("too big", bytes.Repeat([]byte{7}, engine.MaxMetadataValue+1), true)
	f.Add("\xff\xfe not utf-8", []byte{0}, true)
	f.Fuzz(func(t *testing.T, key string, value []byte, asSet bool) {
		e, base := fuzzEngine(t)
		valid := key != "" && len(key) <= engine.MaxMetadataKey && len(value) > 0 && len(value) <= engine.MaxMetadataValue
		own := bytes.Clone(value)
		var s *engine.Session
		var err error
		if asSet {
			if s, err = e.NewSession(base, engine.SessionOptions{}); err != nil {
				t.Fatal(err)
			}
			err = s.SetMetadata(key, own)
			if value == nil {
				valid = true // nil removes
			}
		} else {
			s, err = e.NewSession(base, engine.SessionOptions{Metadata: map[string][]byte{key: own}})
		}
		if s != nil {
			defer s.Close()
		}
		if valid != (err == nil) || (err != nil && !errors.Is(err, engine.ErrBadInput)) {
			t.Fatalf("key %d bytes, value %d bytes: %v", len(key), len(value), err)
		}
		if err != nil || len(key) > hostfns.ArgBufSize-payloadOff {
			return
		}
		// The caller's slices are not the session's.
		for i := range own {
			own[i] ^= 0xFF
		}
		for _, v := range s.Metadata() {
			for i := range v {
				v[i] ^= 0xFF
			}
		}
		for _, id := range []merkle.ContractID{fuzz32ID, fuzz64ID} {
			ret := uint32(len(value))
			r, err := s.Call(context.Background(), id, "go", goArg(selHD, ret, [5]uint64{argBuf + payloadOff, uint64(len(key))}, []byte(key)), gas)
			if err != nil {
				t.Fatalf("hd: %v", err)
			}
			got, n := r.Data, int64(len(r.Data))
			if ret <= 65528 {
				got, n = goResult(t, r.Data, int(ret))
			}
			if int(n) != len(value) || !bytes.Equal(got, value) {
				t.Fatalf("hd(%q) = %d bytes %x, want %x", key, n, got, value)
			}
		}
	})
}

// FuzzDeploy deploys fuzzed modules (seeded with every test contract,
// valid and invalid, mutated by the fuzzer): Deploy succeeds or fails with
// ErrInvalidModule (or a failed init's *CallError), never a panic or an
// internal error, and a failed deploy leaves the state empty. A deployed
// module's exports are then called with small gas, committed, reloaded
// and called again.
func FuzzDeploy(f *testing.F) {
	for _, b := range deploySeeds(f) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, code []byte) {
		e, _ := fuzzEngine(t)
		s, err := e.NewSession(merkle.EmptyState(), engine.SessionOptions{})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		id, err := s.Deploy(context.Background(), code, engine.DeployOptions{GasLimit: 1_000_000})
		if err != nil {
			var ce *engine.CallError
			if errors.Is(err, engine.ErrInternal) || !(errors.Is(err, engine.ErrInvalidModule) ||
				errors.As(err, &ce) && typedCause(err)) {
				t.Fatalf("deploy: untyped error %T: %v", err, err)
			}
			if r, err := s.Root(); err != nil || r != merkle.EmptyState() {
				t.Fatalf("failed deploy left state %s (%v)", r, err)
			}
			return
		}
		exports := exportNames(code)
		callAll := func(s *engine.Session) {
			for _, fn := range exports {
				before, err := s.Root()
				if err != nil {
					t.Fatalf("root before %s: %v", fn, err)
				}
				_, err = s.Call(context.Background(), id, fn, []byte("fuzz"), 200_000)
				if fn == "init" {
					if !errors.Is(err, engine.ErrBadInput) {
						t.Fatalf("init after deploy: %v", err)
					}
					continue
				}
				if err != nil {
					var ce *engine.CallError
					if !errors.As(err, &ce) || errors.Is(err, engine.ErrInternal) || !typedCause(err) {
						t.Fatalf("call %s: untyped error %T: %v", fn, err, err)
					}
					if after, err := s.Root(); err != nil || after != before {
						t.Fatalf("call %s failed and changed the root (%v)", fn, err)
					}
				}
			}
		}
		callAll(s)
		r, err := s.Commit(context.Background())
		if err != nil {
			t.Fatalf("commit: %v", err)
		}
		s2, err := e.NewSession(r, engine.SessionOptions{})
		if err != nil {
			t.Fatal(err)
		}
		defer s2.Close()
		if r2, err := s2.Root(); err != nil || r2 != r {
			t.Fatalf("reopened root %s (%v), want %s", r2, err, r)
		}
		callAll(s2)
		if _, err := e.Inspect(context.Background(), r, id); err != nil {
			t.Fatalf("inspect: %v", err)
		}
	})
}

// exportNames lists the function exports of a module Deploy accepted (so
// it is well formed), in order, at most 16.
func exportNames(code []byte) []string {
	var names []string
	p := 8
	uleb := func() uint64 {
		var v uint64
		for shift := 0; p < len(code) && shift < 64; shift += 7 {
			b := code[p]
			p++
			v |= uint64(b&0x7F) << shift
			if b < 0x80 {
				break
			}
		}
		return v
	}
	for p < len(code) {
		id := code[p]
		p++
		size := int(uleb())
		end := p + size
		if end > len(code) || end < p {
			return names
		}
		if id == 7 {
			for n := uleb(); n > 0 && p < end && len(names) < 16; n-- {
				l := int(uleb())
				if p+l > end {
					return names
				}
				name := string(code[p : p+l])
				p += l
				kind := code[p]
				p++
				uleb()
				if kind == 0 {
					names = append(names, name)
				}
			}
			return names
		}
		p = end
	}
	return names
}

var updateSeeds = flag.Bool("update-seeds", false, "rewrite the committed seed corpora in testdata/fuzz")

// deploySeeds are every WAT contract of the repository compiled, the C
// token contract, and a few non-modules.
func deploySeeds(t testing.TB) map[string][]byte {
	seeds := map[string][]byte{
		"empty":       {},
		"magic-only":  []byte("\x00asm\x01\x00\x00\x00"),
		"not-wasm":    []byte("not wasm at all"),
		"bad-version": []byte("\x00asm\x02\x00\x00\x00"),
	}
	var files []string
	for _, g := range []string{"../testdata/contracts/*.wat", "../testdata/contracts/invalid/*.wat", "testdata/*.wat"} {
		m, _ := filepath.Glob(g)
		files = append(files, m...)
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".wat")
		switch filepath.Base(filepath.Dir(f)) {
		case "invalid":
			name = "invalid-" + name
		case "testdata":
			name = "reliability-" + name
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		b, err := watToWasm(string(src))
		if err != nil {
			continue // needs a feature Wat2Wasm lacks (two_memories...)
		}
		seeds[name] = b
	}
	if b, err := os.ReadFile("../testdata/c/token.wasm"); err == nil {
		seeds["c-token"] = b
	}
	return seeds
}

// TestFuzzSeeds checks that the committed corpora exist; with
// -update-seeds it (re)writes them.
func TestFuzzSeeds(t *testing.T) {
	corpora := map[string]map[string]string{"FuzzDeploy": {}, "FuzzHostCall": {}, "FuzzSessionMetadata": {}}
	for name, b := range deploySeeds(t) {
		corpora["FuzzDeploy"][name] = fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", b)
	}
	for i, s := range hostCallSeeds() {
		name := fmt.Sprintf("%02d-%s", i, selNameOf(s.sel))
		corpora["FuzzHostCall"][name] = fmt.Sprintf("go test fuzz v1\nbyte(%q)\nuint32(%d)\nuint64(%d)\nuint64(%d)\nuint64(%d)\nuint64(%d)\nuint64(%d)\n[]byte(%q)\nuint64(%d)\nbyte(%q)\n",
			s.sel, s.ret, s.a[0], s.a[1], s.a[2], s.a[3], s.a[4], s.payload, s.gas, s.flags)
	}
	for name, kv := range map[string]struct {
		k   string
		v   []byte
		set bool
	}{"valid": {"block_height", u64(100), false}, "empty-key": {"", []byte("v"), true},
		"empty-value": {"k", []byte{}, false}, "delete": {"k", nil, true},
		"long-key": {strings.Repeat("k", engine.MaxMetadataKey+1), []byte("v"), false}} {
		corpora["FuzzSessionMetadata"][name] = fmt.Sprintf("go test fuzz v1\nstring(%q)\n[]byte(%q)\nbool(%v)\n", kv.k, kv.v, kv.set)
	}
	for target, files := range corpora {
		dir := filepath.Join("testdata", "fuzz", target)
		if *updateSeeds {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			for name, body := range files {
				if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
					t.Fatal(err)
				}
			}
		}
		entries, err := os.ReadDir(dir)
		if err != nil || len(entries) < len(files) {
			t.Errorf("%s: %d corpus files, want at least %d (%v); run go test -run TestFuzzSeeds -update-seeds", target, len(entries), len(files), err)
		}
	}
}

func selNameOf(sel uint8) string {
	if int(sel) < numSels {
		return selNames[sel]
	}
	return "no-op"
}
