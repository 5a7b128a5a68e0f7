package reliability

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wasmstate/wasmstate/engine"
	"github.com/wasmstate/wasmstate/engine/dirty"
	"github.com/wasmstate/wasmstate/lightclient"
	"github.com/wasmstate/wasmstate/merkle"
	"github.com/wasmstate/wasmstate/pagestore"
)

// Bad input through the public API: every case returns an error matching
// the expected sentinel (any error when want is nil), never a panic.

type badCase struct {
	name string
	want error
	run  func() error
}

func runBadCases(t *testing.T, cases []badCase) {
	t.Helper()
	for _, c := range cases {
		err := func() (err error) {
			defer func() {
				if p := recover(); p != nil {
					err = fmt.Errorf("PANIC: %v", p)
				}
			}()
			return c.run()
		}()
		switch {
		case err == nil:
			t.Errorf("%s: no error", c.name)
		case strings.HasPrefix(err.Error(), "PANIC"):
			t.Errorf("%s: %v", c.name, err)
		case c.want != nil && !errors.Is(err, c.want):
			t.Errorf("%s: want %v, got %v", c.name, c.want, err)
		default:
			t.Logf("ok  %-58s %s", c.name, trimErr(err))
		}
	}
}

func TestBadInputAPI(t *testing.T) {
	e := memEngine(t, engine.Options{})
	s := session(t, e, merkle.EmptyState())
	deployFixed(t, s)
	fd := deploy(t, s, "feeder", engine.DeployOptions{})
	root1 := commit(t, s)
	code := wasm(t, "counter")
	unknown := merkle.Hash{0xAB, 0xCD}
	var missing merkle.ContractID
	missing[0] = 0xEE
	closed, _ := e.NewSession(root1, engine.SessionOptions{})
	closed.Close()
	file := filepath.Join(t.TempDir(), "a-file")
	os.WriteFile(file, []byte("not a directory"), 0o644)
	foreign := t.TempDir()
	if db, err := pagestore.OpenLevelDB(foreign, nil); err == nil {
		b := db.NewBatch()
		b.Put([]byte("someone else's key"), []byte("v"))
		db.Write(b, true)
		db.Close()
	}
	id := fuzz32ID
	taken := counterID
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	ms := pagestore.NewMemoryBackend()
	st, _ := pagestore.NewStore(ms, nil)
	defer st.Close()
	open := func(dir string, o engine.Options) error {
		o.Logger = quiet
		e, err := engine.Open(context.Background(), dir, o)
		if err == nil {
			e.Close()
		}
		return err
	}
	openMem := func(o engine.Options) error {
		o.Logger = quiet
		e, err := engine.OpenInMemory(o)
		if err == nil {
			e.Close()
		}
		return err
	}
	cases := []badCase{
		// engine.Open
		{"Open: dir is a regular file", nil, func() error { return open(file, engine.Options{}) }},
		{"Open: leveldb of another program", pagestore.ErrVersion, func() error { return open(foreign, engine.Options{}) }},
		{"Open: MaxMemoryBytes not a multiple of 64 KiB", engine.ErrBadInput, func() error { return openMem(engine.Options{MaxMemoryBytes: 1000}) }},
		{"Open: MaxMemoryBytes over 4 TiB", engine.ErrBadInput, func() error { return openMem(engine.Options{MaxMemoryBytes: 1 << 43}) }},
		{"Open: unknown tracker kind", nil, func() error { return openMem(engine.Options{Tracker: dirty.Kind(99)}) }},
		// sessions
		{"NewSession: unknown root", engine.ErrUnknownRoot, func() error { _, err := e.NewSession(unknown, engine.SessionOptions{}); return err }},
		{"NewSession: empty metadata key", engine.ErrBadInput, func() error {
			_, err := e.NewSession(root1, engine.SessionOptions{Metadata: map[string][]byte{"": {1}}})
			return err
		}},
		{"NewSession: empty metadata value", engine.ErrBadInput, func() error {
			_, err := e.NewSession(root1, engine.SessionOptions{Metadata: map[string][]byte{"k": nil}})
			return err
		}},
		{"NewSession: metadata value of 65,537 bytes", engine.ErrBadInput, func() error {
			_, err := e.NewSession(root1, engine.SessionOptions{Metadata: map[string][]byte{"k": make([]byte, 65537)}})
			return err
		}},
		{"SetMetadata: key of 257 bytes", engine.ErrBadInput, func() error { return s.SetMetadata(strings.Repeat("k", 257), []byte{1}) }},
		{"SetMetadata: empty value", engine.ErrBadInput, func() error { return s.SetMetadata("k", []byte{}) }},
		{"SetMetadata: closed session", engine.ErrClosed, func() error { return closed.SetMetadata("k", []byte{1}) }},
		// deploy
		{"Deploy: nil code", engine.ErrInvalidModule, func() error { _, err := s.Deploy(context.Background(), nil, engine.DeployOptions{}); return err }},
		{"Deploy: empty code", engine.ErrInvalidModule, func() error { _, err := s.Deploy(context.Background(), []byte{}, engine.DeployOptions{}); return err }},
		{"Deploy: text, not wasm", engine.ErrInvalidModule, func() error {
			_, err := s.Deploy(context.Background(), []byte("(module)"), engine.DeployOptions{})
			return err
		}},
		{"Deploy: truncated module", engine.ErrInvalidModule, func() error {
			_, err := s.Deploy(context.Background(), code[:len(code)/2], engine.DeployOptions{})
			return err
		}},
		{"Deploy: module with trailing garbage", engine.ErrInvalidModule, func() error {
			_, err := s.Deploy(context.Background(), append(bytes.Clone(code), 0xFF, 0xFF), engine.DeployOptions{})
			return err
		}},
		{"Deploy: owner of 1,025 bytes", engine.ErrBadInput, func() error {
			_, err := s.Deploy(context.Background(), code, engine.DeployOptions{Owner: make([]byte, 1025)})
			return err
		}},
		{"Deploy: init argument of 65,537 bytes", engine.ErrBadInput, func() error {
			_, err := s.Deploy(context.Background(), wasm(t, "initializer"), engine.DeployOptions{InitArg: make([]byte, 65537)})
			return err
		}},
		{"Deploy: id taken", engine.ErrContractExists, func() error {
			_, err := s.Deploy(context.Background(), code, engine.DeployOptions{ID: &taken})
			return err
		}},
		{"Deploy: init with 1 gas", engine.ErrOutOfGas, func() error {
			_, err := s.Deploy(context.Background(), wasm(t, "initializer"), engine.DeployOptions{InitArg: u64(1), GasLimit: 1})
			return err
		}},
		{"Deploy: closed session", engine.ErrClosed, func() error { _, err := closed.Deploy(context.Background(), code, engine.DeployOptions{}); return err }},
		// calls
		{"Call: unknown contract", engine.ErrNoContract, func() error { _, err := s.Call(context.Background(), missing, "go", nil, gas); return err }},
		{"Call: zero contract id", engine.ErrNoContract, func() error { _, err := s.Call(context.Background(), merkle.ContractID{}, "go", nil, gas); return err }},
		{"Call: empty function name", engine.ErrNoFunction, func() error { _, err := s.Call(context.Background(), id, "", nil, gas); return err }},
		{"Call: 1 MiB function name", engine.ErrNoFunction, func() error {
			_, err := s.Call(context.Background(), id, strings.Repeat("f", 1<<20), nil, gas)
			return err
		}},
		{"Call: function name not UTF-8", engine.ErrNoFunction, func() error { _, err := s.Call(context.Background(), id, "\xff\xfe", nil, gas); return err }},
		{"Call: init", engine.ErrBadInput, func() error { _, err := s.Call(context.Background(), id, "init", nil, gas); return err }},
		{"Call: the memory export", engine.ErrNoFunction, func() error { _, err := s.Call(context.Background(), id, "memory", nil, gas); return err }},
		{"Call: a rewritten global export", engine.ErrNoFunction, func() error {
			_, err := s.Call(context.Background(), counterID, "__wasmstate_g0", nil, gas)
			return err
		}},
		{"Call: argument of 65,537 bytes", engine.ErrBadInput, func() error { _, err := s.Call(context.Background(), id, "go", make([]byte, 65537), gas); return err }},
		{"Call: zero gas", engine.ErrBadInput, func() error { _, err := s.Call(context.Background(), id, "go", nil, 0); return err }},
		{"Call: 1 gas", engine.ErrOutOfGas, func() error {
			_, err := s.Call(context.Background(), id, "go", goArg(selSize, 0, [5]uint64{}, nil), 1)
			return err
		}},
		{"CallFeed: nil feed to a feeder", engine.ErrNotFeeding, func() error { _, err := s.CallFeed(context.Background(), fd, "feed_num", u32(1), gas, nil); return err }},
		{"Call: closed session", engine.ErrClosed, func() error { _, err := closed.Call(context.Background(), id, "go", nil, gas); return err }},
		{"Commit: closed session", engine.ErrClosed, func() error { _, err := closed.Commit(context.Background()); return err }},
		{"Root: closed session", engine.ErrClosed, func() error { _, err := closed.Root(); return err }},
		// reading stored roots
		{"ProveRange: unknown root", engine.ErrUnknownRoot, func() error { _, err := e.ProveRange(context.Background(), unknown, id, 0, 1); return err }},
		{"ProveRange: unknown contract", engine.ErrNoContract, func() error { _, err := e.ProveRange(context.Background(), root1, missing, 0, 1); return err }},
		{"ProveRange: zero length", merkle.ErrOutOfRange, func() error { _, err := e.ProveRange(context.Background(), root1, id, 0, 0); return err }},
		{"ProveRange: past the memory", merkle.ErrOutOfRange, func() error { _, err := e.ProveRange(context.Background(), root1, id, 2*65536-1, 2); return err }},
		{"ProveRange: over 16 MiB", merkle.ErrOutOfRange, func() error { _, err := e.ProveRange(context.Background(), root1, id, 0, 16<<20+1); return err }},
		{"ProveRange: offset+length overflows", merkle.ErrOutOfRange, func() error { _, err := e.ProveRange(context.Background(), root1, id, math.MaxUint64, 2); return err }},
		{"ProvePage: page 2^30", merkle.ErrOutOfRange, func() error { _, err := e.ProvePage(context.Background(), root1, id, merkle.MaxPages); return err }},
		{"ProvePage: page past the memory", merkle.ErrOutOfRange, func() error { _, err := e.ProvePage(context.Background(), root1, id, 100); return err }},
		{"ProvePage: max uint64", merkle.ErrOutOfRange, func() error { _, err := e.ProvePage(context.Background(), root1, id, math.MaxUint64); return err }},
		{"ProveContract: unknown root", engine.ErrUnknownRoot, func() error { _, err := e.ProveContract(context.Background(), unknown, id); return err }},
		{"Inspect: unknown root", engine.ErrUnknownRoot, func() error { _, err := e.Inspect(context.Background(), unknown, id); return err }},
		{"Inspect: unknown contract", engine.ErrNoContract, func() error { _, err := e.Inspect(context.Background(), root1, missing); return err }},
		{"Contracts: unknown root", engine.ErrUnknownRoot, func() error { _, err := e.Contracts(context.Background(), unknown); return err }},
		{"Diff: unknown first root", engine.ErrUnknownRoot, func() error { _, err := e.Diff(context.Background(), unknown, root1); return err }},
		{"Diff: unknown second root", engine.ErrUnknownRoot, func() error { _, err := e.Diff(context.Background(), root1, unknown); return err }},
		{"DeleteCommit: unknown root", engine.ErrUnknownRoot, func() error { _, err := e.DeleteCommit(unknown); return err }},
		{"DeleteCommit: the empty state", engine.ErrUnknownRoot, func() error { _, err := e.DeleteCommit(merkle.EmptyState()); return err }},
		{"GC: cancelled context", context.Canceled, func() error { _, err := e.GC(cancelled); return err }},
		// merkle
		{"ParseHash: empty", nil, func() error { _, err := merkle.ParseHash(""); return err }},
		{"ParseHash: not hex", nil, func() error { _, err := merkle.ParseHash(strings.Repeat("zz", 32)); return err }},
		{"ParseHash: 63 digits", nil, func() error { _, err := merkle.ParseHash(strings.Repeat("a", 63)); return err }},
		{"ParseHash: 66 digits", nil, func() error { _, err := merkle.ParseHash(strings.Repeat("a", 66)); return err }},
		{"ParseContractID: 31 bytes", nil, func() error { _, err := merkle.ParseContractID(strings.Repeat("ab", 31)); return err }},
		{"DecodeProof: nil", merkle.ErrMalformed, func() error { _, err := merkle.DecodeProof(nil); return err }},
		{"DecodeProof: version only", merkle.ErrMalformed, func() error { _, err := merkle.DecodeProof([]byte{1}); return err }},
		{"DecodeProof: unknown kind", merkle.ErrMalformed, func() error { _, err := merkle.DecodeProof([]byte{1, 9}); return err }},
		{"DecodeProof: truncated page proof", merkle.ErrMalformed, func() error {
			p, _ := e.ProvePage(context.Background(), root1, id, 0)
			b, _ := p.MarshalBinary()
			_, err := merkle.DecodeProof(b[:len(b)-1])
			return err
		}},
		{"DecodeProofJSON: empty", merkle.ErrMalformed, func() error { _, err := merkle.DecodeProofJSON(nil); return err }},
		{"DecodeProofJSON: null", merkle.ErrMalformed, func() error { _, err := merkle.DecodeProofJSON([]byte("null")); return err }},
		{"DecodeProofJSON: {}", merkle.ErrMalformed, func() error { _, err := merkle.DecodeProofJSON([]byte("{}")); return err }},
		{"VerifyAny: garbage", merkle.ErrMalformed, func() error { _, err := lightclient.VerifyAny(root1, []byte("garbage")); return err }},
		{"VerifyPage: nil proof", merkle.ErrProofInvalid, func() error { _, err := merkle.VerifyPage(root1, id, 0, nil); return err }},
		{"VerifyRange: typed nil proof", merkle.ErrProofInvalid, func() error {
			var p *merkle.RangeProof
			_, err := merkle.VerifyRange(root1, id, 0, 1, p)
			return err
		}},
		{"VerifyPage: proof of another page", merkle.ErrProofInvalid, func() error {
			p, _ := e.ProvePage(context.Background(), root1, id, 0)
			_, err := merkle.VerifyPage(root1, id, 1, p)
			return err
		}},
		{"VerifyPage: another root", merkle.ErrProofInvalid, func() error {
			p, _ := e.ProvePage(context.Background(), root1, id, 0)
			_, err := merkle.VerifyPage(unknown, id, 0, p)
			return err
		}},
		{"VerifyContract: absence proof", merkle.ErrProofInvalid, func() error {
			p, _ := e.ProveContract(context.Background(), root1, missing)
			_, err := merkle.VerifyContract(root1, missing, p)
			return err
		}},
		{"DecodeContractLeaf: 168 bytes", nil, func() error { _, err := merkle.DecodeContractLeaf(make([]byte, 168)); return err }},
		// pagestore
		{"pagestore.Open: a regular file", nil, func() error { _, err := pagestore.Open(context.Background(), file, nil); return err }},
		{"NewStore: nil backend", pagestore.ErrInvalid, func() error { _, err := pagestore.NewStore(nil, nil); return err }},
		{"Store.Commit: nil batch", pagestore.ErrInvalid, func() error { _, err := st.Commit(nil); return err }},
		{"Store.Commit: page under a wrong hash", pagestore.ErrInvalid, func() error {
			b := pagestore.NewBatch()
			b.PutPage(unknown, []byte("x"))
			_, err := st.Commit(b)
			return err
		}},
		{"Store.Commit: record for the empty state", pagestore.ErrInvalid, func() error {
			b := pagestore.NewBatch()
			b.SetCommit(pagestore.CommitRecord{Root: merkle.EmptyState()})
			_, err := st.Commit(b)
			return err
		}},
		{"Store.Commit: node with a missing child", pagestore.ErrNotFound, func() error {
			b := pagestore.NewBatch()
			l, r := merkle.Hash{1}, merkle.Hash{2}
			b.PutMemoryNode(merkle.DomainMemoryNode.Sum2(l, r), l, r)
			_, err := st.Commit(b)
			return err
		}},
		{"Store.SetHead: unknown root", pagestore.ErrNotFound, func() error { return st.SetHead(unknown) }},
		{"Store.DeleteCommit: unknown root", pagestore.ErrNotFound, func() error { return st.DeleteCommit(unknown) }},
		{"Store.Page: unknown hash", pagestore.ErrNotFound, func() error { _, err := st.Page(unknown); return err }},
		{"Store.ReadPage: 100-byte buffer", pagestore.ErrInvalid, func() error { return st.ReadPage(unknown, make([]byte, 100)) }},
		{"Store.Has: not an object kind", pagestore.ErrInvalid, func() error { _, err := st.Has(pagestore.KindHead, unknown); return err }},
		{"Store.Blob: missing", pagestore.ErrNotFound, func() error { _, err := st.Blob([]byte("nope")); return err }},
		{"Store.GC: pinned root not stored", pagestore.ErrNotFound, func() error { _, err := st.GC(context.Background(), []merkle.Hash{unknown}); return err }},
		{"Store.Fsck: cancelled context", context.Canceled, func() error {
			b := pagestore.NewBatch()
			p := bytes.Repeat([]byte{1}, merkle.PageSize)
			b.PutPage(merkle.HashPage(p), p)
			st.Commit(b)
			_, err := e.Store().Fsck(cancelled, nil)
			return err
		}},
	}
	runBadCases(t, cases)
	t.Logf("%d malformed API inputs, each a typed error", len(cases))
	stillWorks(t, session(t, e, root1))
}

// statectl: the operator CLI (another engineer's; only its binary is run
// here). Every malformed invocation exits 1, 2 or 3 with a message, never
// 0, never a Go panic.
func TestBadInputCLI(t *testing.T) {
	if testing.Short() {
		t.Skip("builds statectl")
	}
	if _, err := os.Stat("../cmd/statectl"); err != nil {
		t.Skip("no cmd/statectl")
	}
	bin := filepath.Join(t.TempDir(), "statectl")
	build := exec.Command("go", "build", "-o", bin, "./cmd/statectl")
	build.Dir = ".."
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build statectl: %v\n%s", err, out)
	}
	db := filepath.Join(t.TempDir(), "db")
	run := func(args ...string) (int, string) {
		cmd := exec.Command(bin, args...)
		cmd.Env = append(os.Environ(), "WASMSTATE_DB="+db)
		out, err := cmd.CombinedOutput()
		code := 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return code, string(out)
	}
	// A store with one contract.
	counterWat := "../testdata/contracts/counter.wat"
	code, out := run("deploy", counterWat, "--json")
	if code != 0 {
		t.Fatalf("deploy: %d %s", code, out)
	}
	ctr := hexHash.FindString(out)
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, b, 0o644)
		return p
	}
	empty := write("empty", nil)
	garbage := write("garbage.wasm", []byte("\x00asm\x01\x00\x00\x00garbage"))
	notwat := write("notwat.wat", []byte("(module (func"))
	code, proof := run("prove", ctr, "--page", "0", "-o", filepath.Join(dir, "page0.proof"))
	if code != 0 {
		t.Fatalf("prove: %d %s", code, proof)
	}
	pb, _ := os.ReadFile(filepath.Join(dir, "page0.proof"))
	truncated := write("truncated.proof", pb[:len(pb)/2])
	flipped := bytes.Clone(pb)
	flipped[len(flipped)/2] ^= 1
	flippedProof := write("flipped.proof", flipped)
	bigArg := write("big.arg", make([]byte, 65537))
	jsonGarbage := write("garbage.json", []byte(`{"version":1,"kind":"range","leaf":{}}`))
	headRoot := strings.TrimSpace(hexHash.FindString(mustRun(t, run, "root")))
	badDB := write("not-a-dir", []byte("x"))
	foreignDir := filepath.Join(dir, "foreign")
	os.Mkdir(foreignDir, 0o755)
	os.WriteFile(filepath.Join(foreignDir, "notes.txt"), []byte("mine"), 0o644)
	id63 := strings.Repeat("a", 63)
	cases := []cliCase{
		{2, []string{}},
		{2, []string{"no-such-command"}},
		{2, []string{"root", "--no-such-flag"}},
		{2, []string{"call"}},
		{2, []string{"call", ctr}},
		{2, []string{"call", id63, "read_value"}},
		{2, []string{"call", "0x" + id63, "read_value"}},
		{2, []string{"call", strings.Repeat("zz", 32), "read_value"}},
		{2, []string{"call", strings.Repeat("ee", 32), "read_value"}},
		{2, []string{"call", ctr, "no_such_function"}},
		{2, []string{"call", ctr, "init"}},
		{2, []string{"call", ctr, "read_value", "--base", strings.Repeat("ab", 32)}},
		{2, []string{"call", ctr, "read_value", "--base", "xyz"}},
		{2, []string{"call", ctr, "read_value", "--gas", "0"}},
		{2, []string{"call", ctr, "read_value", "--gas", "-1"}},
		{2, []string{"call", ctr, "read_value", "--gas", "abc"}},
		{2, []string{"call", ctr, "read_value", "--gas", "99999999999999999999999"}},
		{2, []string{"call", ctr, "add", "--arg", "zz"}},
		{2, []string{"call", ctr, "add", "--arg", "u64:abc"}},
		{2, []string{"call", ctr, "add", "--arg", "u64:-1"}},
		{2, []string{"call", ctr, "add", "--arg", "(u64:1"}},
		{2, []string{"call", ctr, "add", "--arg", "@/nonexistent/file"}},
		{2, []string{"call", ctr, "add", "--arg", "@" + bigArg}},
		{2, []string{"call", ctr, "read_value", "--meta", "novalue"}},
		{2, []string{"call", ctr, "read_value", "--meta", "=x"}},
		{2, []string{"call", ctr, "read_value", "--meta", "k="}},
		{2, []string{"call", ctr, "read_value", "--meta", strings.Repeat("k", 300) + "=01"}},
		{2, []string{"deploy"}},
		{2, []string{"deploy", "/nonexistent.wasm"}},
		{2, []string{"deploy", empty}},
		{2, []string{"deploy", garbage}},
		{2, []string{"deploy", notwat}},
		{1, []string{"deploy", counterWat}}, // same id again
		{2, []string{"deploy", counterWat, "--nonce", "x"}},
		{2, []string{"deploy", counterWat, "--owner", "0x" + strings.Repeat("00", 1025), "--nonce", "5"}},
		{2, []string{"deploy", counterWat, "--id", "abc"}},
		{2, []string{"prove", ctr}},
		{2, []string{"prove", ctr, "--page", "-1"}},
		{2, []string{"prove", ctr, "--page", "1073741824"}},
		{2, []string{"prove", ctr, "--page", "99999999999999999999"}},
		{2, []string{"prove", ctr, "--range", "0:0"}},
		{2, []string{"prove", ctr, "--range", "1:"}},
		{2, []string{"prove", ctr, "--range", "a:b"}},
		{2, []string{"prove", ctr, "--range", "0:99999999999"}},
		{2, []string{"prove", ctr, "--range", "18446744073709551615:2"}},
		{2, []string{"prove", strings.Repeat("ee", 32), "--page", "0"}},
		{2, []string{"prove", ctr, "--page", "0", "--root", strings.Repeat("ab", 32)}},
		{2, []string{"verify", "--root", headRoot, "/nonexistent.proof"}},
		{1, []string{"verify", "--root", headRoot, empty}},
		{1, []string{"verify", "--root", headRoot, truncated}},
		{1, []string{"verify", "--root", headRoot, flippedProof}},
		{1, []string{"verify", "--root", headRoot, jsonGarbage}},
		{2, []string{"verify", "--root", "nothex", filepath.Join(dir, "page0.proof")}},
		{1, []string{"verify", "--root", strings.Repeat("ab", 32), filepath.Join(dir, "page0.proof")}},
		{1, []string{"verify", "--root", headRoot, filepath.Join(dir, "page0.proof"), "--contract", ctr, "--page", "1"}},
		{1, []string{"verify", "--root", headRoot, filepath.Join(dir, "page0.proof"), "--contract", strings.Repeat("ee", 32), "--page", "0"}},
		{2, []string{"inspect", strings.Repeat("ee", 32)}},
		{2, []string{"inspect", ctr, "--root", "zz"}},
		{2, []string{"contracts", "--root", strings.Repeat("ab", 32)}},
		{2, []string{"diff", "head"}},
		{2, []string{"diff", "head", strings.Repeat("ab", 32)}},
		{2, []string{"delete", strings.Repeat("ab", 32)}},
		{2, []string{"delete", "empty"}},
		{3, []string{"root", "--db", badDB}},
		{3, []string{"fsck", "--db", badDB}},
		{3, []string{"commits", "--db", badDB}},
		// Issue 12's rows: each was accepted, or gave the wrong code.
		{3, []string{"root", "--db", foreignDir}},
		{3, []string{"deploy", counterWat, "--nonce", "9", "--db", foreignDir}},
		{2, []string{"root", "--db", filepath.Join(dir, "missing-db")}},
		{2, []string{"call", ctr, "add", "--arg", "u64:1", "--arg", "u64:2"}},
		{2, []string{"call", ctr, "read_value", "--meta", "k=01", "--meta", "k=02"}},
		{2, []string{"prove", ctr, "--page", "0", "-o", "/nonexistent-dir/page0.proof"}},
		{2, []string{"head", "set", strings.Repeat("ab", 32)}},
		{2, []string{"head", "set", "ffffffff"}},
		{2, []string{"init"}},
		{2, []string{"read", ctr, "0"}},
		{2, []string{"read", ctr, "999999999:8"}},
		{2, []string{"read", ctr, "0:8", "--as", "u32"}},
		{2, []string{"read", ctr, "0:8", "--as", "(u64"}},
		{2, []string{"run", "/nonexistent.block"}},
		{2, []string{"run", empty}},
		{2, []string{"commits", "-n", "-1"}},
		{2, []string{"root", "--wait", "soon"}},
		{2, []string{"completion", "tcsh"}},
		{2, []string{"call", ctr, "add", "--json-arg", "5"}},
		{2, []string{"call", ctr, "add", "--driver", garbage, "--json-arg", "5"}},
		{2, []string{"head", "set"}},
		{2, []string{"delete", "0123"}},
	}
	var okCases int
	for _, tc := range cases {
		code, out := run(tc.args...)
		if problem := cliVerdict(code, out, tc.want); problem != "" {
			t.Errorf("statectl %s: %s\n%s", short2(tc.args), problem, out)
			continue
		}
		okCases++
		t.Logf("exit %d  statectl %-60s %s", code, short2(tc.args), firstLine(out))
	}
	// A damaged store: exit 3 with the damage named.
	files, _ := filepath.Glob(filepath.Join(db, "*.log"))
	for _, f := range files {
		b, _ := os.ReadFile(f)
		os.WriteFile(f, b[:len(b)/3], 0o644)
	}
	cur := filepath.Join(db, "CURRENT")
	os.WriteFile(cur, []byte("MANIFEST-999999\n"), 0o644)
	for _, args := range [][]string{{"root"}, {"fsck"}, {"call", ctr, "read_value"}} {
		code, out := run(args...)
		if code != 3 || strings.Contains(out, "panic:") {
			t.Errorf("statectl %s on a damaged store: exit %d\n%s", short2(args), code, out)
			continue
		}
		okCases++
		t.Logf("exit %d  statectl %-60s %s", code, short2(args)+" (damaged store)", firstLine(out))
	}
	if ents, _ := os.ReadDir(foreignDir); len(ents) != 1 {
		t.Errorf("statectl wrote into a directory that is not a store: %v", ents)
	}
	t.Logf("%d malformed statectl invocations, each refused with its exit code and a message", okCases)
}

// TestBadInputCLICatchesPanic shows that cliVerdict fails a run that
// panicked inside statectl: a build with a nil-map write injected into
// diff (the -X seam in cmd/statectl/main.go) is caught, although statectl
// recovers the panic and prints one line.
func TestBadInputCLICatchesPanic(t *testing.T) {
	if testing.Short() {
		t.Skip("builds statectl")
	}
	bin := filepath.Join(t.TempDir(), "statectl")
	build := exec.Command("go", "build", "-ldflags", "-X main.injectPanic=diff", "-o", bin, "./cmd/statectl")
	build.Dir = ".."
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build statectl: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, "diff", "head", strings.Repeat("ab", 32), "--db", t.TempDir())
	out, _ := cmd.CombinedOutput()
	code := cmd.ProcessState.ExitCode()
	if code != 4 || !strings.Contains(string(out), "internal error") {
		t.Fatalf("injected panic: exit %d, %s", code, out)
	}
	if v := cliVerdict(code, string(out), 2); !strings.Contains(v, "internal error") {
		t.Fatalf("cliVerdict let an internal error pass: %q", v)
	}
	t.Logf("injected panic caught: %s", strings.TrimSpace(string(out)))
}

// cliCase is one bad statectl invocation and the exit code it must give.
type cliCase struct {
	want int
	args []string
}

// cliVerdict says what is wrong with a run of statectl on bad input, or ""
// if nothing: it must exit with want (1 failed, 2 bad input, 3 store) and
// one message, and never with an internal error (exit 4, a recovered
// panic) or a Go panic.
func cliVerdict(code int, out string, want int) string {
	switch {
	case strings.Contains(out, "panic:") || strings.Contains(out, "goroutine "):
		return "Go panic"
	case code == 4 || strings.Contains(out, "internal error"):
		return fmt.Sprintf("internal error (exit %d): a bug, not a verdict on the input", code)
	case code == 0:
		return "exit 0"
	case code != want:
		return fmt.Sprintf("exit %d, want %d", code, want)
	case strings.TrimSpace(out) == "":
		return "no message"
	}
	return ""
}

func mustRun(t *testing.T, run func(...string) (int, string), args ...string) string {
	t.Helper()
	code, out := run(args...)
	if code != 0 {
		t.Fatalf("statectl %v: %d %s", args, code, out)
	}
	return out
}

func short2(args []string) string {
	s := strings.Join(args, " ")
	if len(s) > 60 {
		s = s[:57] + "..."
	}
	return s
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > 120 {
		s = s[:117] + "..."
	}
	return s
}
