package main

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/wasmstate/wasmstate/merkle"
	"github.com/wasmstate/wasmstate/pagestore"
)

type verifyOut struct {
	Verified     bool   `json:"verified"`
	Kind         string `json:"kind"`
	Contract     string `json:"contract"`
	ClaimChecked bool   `json:"claim_checked"`
	Present      bool   `json:"present"`
	Offset       uint64 `json:"offset"`
	Length       uint64 `json:"length"`
	Data         string `json:"data"`
}

func u64At(t *testing.T, hexData string, off int) uint64 {
	t.Helper()
	b, err := hex.DecodeString(hexData)
	if err != nil || len(b) < off+8 {
		t.Fatalf("data %q: %v", hexData, err)
	}
	return binary.LittleEndian.Uint64(b[off:])
}

// TestEndToEnd deploys the counter, calls it, proves and verifies its
// state, tampers with a proof, commits newer state and proves the old root.
func TestEndToEnd(t *testing.T) {
	db := filepath.Join(t.TempDir(), "db")
	tmp := t.TempDir()
	file := func(name string) string { return filepath.Join(tmp, name) }

	var dep deployJSON
	okJSON(t, db, &dep, "deploy", counterWAT)
	id := dep.Contract
	if _, err := merkle.ParseContractID(id); err != nil || dep.Root == merkle.EmptyState().String() {
		t.Fatalf("deploy output %+v", dep)
	}

	// A call that is not committed leaves the head alone.
	var read callJSON
	okJSON(t, db, &read, "call", id, "read_value")
	if read.ResultU64 == nil || *read.ResultU64 != 0xfc || read.Committed {
		t.Fatalf("read_value: %+v", read)
	}
	if r := ok(t, db, "root"); strings.TrimSpace(r.stdout) != dep.Root {
		t.Fatalf("head moved without --commit: %s, want %s", r.stdout, dep.Root)
	}

	var add callJSON
	okJSON(t, db, &add, "call", id, "add", "--arg", "u64:5", "--commit")
	if add.ResultU64 == nil || *add.ResultU64 != 0xfc+5 || !add.Committed || add.GasSpent == 0 || add.GasSpent > add.GasLimit ||
		add.CallTree == nil || add.CallTree.Function != "add" || add.Base != dep.Root {
		t.Fatalf("add: %+v", add)
	}
	r1 := add.Root
	if r := ok(t, db, "root"); strings.TrimSpace(r.stdout) != r1 {
		t.Fatalf("head %s, want %s", r.stdout, r1)
	}
	// Text output names the pieces.
	txt := ok(t, db, "call", id, "read_value")
	for _, want := range []string{"result    0101000000000000 (u64 257)", "gas ", "call tree", ".read_value", "not committed"} {
		if !strings.Contains(txt.stdout, want) {
			t.Errorf("call output lacks %q:\n%s", want, txt.stdout)
		}
	}

	// Prove page 0 and two ranges under r1, and verify them.
	ok(t, db, "prove", "--root", r1, id, "--page", "0", "-o", file("page0.proof"))
	ok(t, db, "prove", "--root", r1, id, "--range", "0:8", "-o", file("counter.proof"))
	ok(t, db, "prove", "--root", r1, id, "--range", "4090:16", "--json", "-o", file("across.json"))
	var v verifyOut
	okJSON(t, "", &v, "verify", "--root", r1, file("page0.proof"), "--contract", id, "--page", "0")
	if !v.Verified || !v.ClaimChecked || v.Kind != "range" || v.Offset != 0 || v.Length != 4096 || u64At(t, v.Data, 0) != 257 {
		t.Fatalf("verify page: %+v", v)
	}
	okJSON(t, "", &v, "verify", "--root", r1, file("counter.proof"), "--contract", id, "--range", "0:8")
	if v.Data != "0101000000000000" {
		t.Fatalf("verify range: %+v", v)
	}
	okJSON(t, "", &v, "verify", "--root", r1, file("across.json"), "--contract", id, "--range", "4090:16")
	if v.Offset != 4090 || v.Length != 16 {
		t.Fatalf("verify JSON range across pages: %+v", v)
	}
	// Without a claim, verify prints the proof's own claim.
	txt = ok(t, "", "verify", "--root", r1, file("page0.proof"))
	for _, want := range []string{"verified  range proof (binary", "none given", "contract  " + id, "bytes     0..4096"} {
		if !strings.Contains(txt.stdout, want) {
			t.Errorf("verify output lacks %q:\n%s", want, txt.stdout)
		}
	}
	// Proof to stdout, JSON and binary, is the same proof.
	js := ok(t, db, "prove", "--root", r1, id, "--page", "0", "--json")
	if !json.Valid([]byte(js.stdout)) {
		t.Errorf("prove --json is not JSON:\n%s", js.stdout)
	}
	if err := os.WriteFile(file("stdout.json"), []byte(js.stdout), 0o644); err != nil {
		t.Fatal(err)
	}
	ok(t, "", "verify", "--root", r1, file("stdout.json"), "--contract", id, "--page", "0")
	binOut := ok(t, db, "prove", "--root", r1, id, "--page", "0")
	page0, _ := os.ReadFile(file("page0.proof"))
	if !bytes.Equal([]byte(binOut.stdout), page0) {
		t.Errorf("binary proof on stdout differs from -o")
	}

	// The proof does not answer other questions.
	other := strings.Repeat("ab", 32)
	for _, args := range [][]string{
		{"--contract", id, "--page", "1"},
		{"--contract", other, "--page", "0"},
		{"--contract", id, "--range", "0:4095"},
		{"--contract", id, "--absent"},
		{"--contract", id}, // a leaf proof
	} {
		r := sc(t, "", append([]string{"verify", "--root", r1, file("page0.proof")}, args...)...)
		wantError(t, r, exitFail, "NOT proven")
	}

	// Tampering: every mutated byte is caught, with exit 1.
	for i := 0; i < len(page0); i += 131 {
		bad := bytes.Clone(page0)
		bad[i] ^= 0x20
		name := file("bad.proof")
		if err := os.WriteFile(name, bad, 0o644); err != nil {
			t.Fatal(err)
		}
		wantError(t, sc(t, "", "verify", "--root", r1, name, "--contract", id, "--page", "0"), exitFail, "")
		wantError(t, sc(t, "", "verify", "--root", r1, name), exitFail, "")
	}

	// Newer state; the old root stays provable.
	var inc callJSON
	okJSON(t, db, &inc, "call", id, "increment", "--commit")
	r2 := inc.Root
	if r2 == r1 {
		t.Fatal("increment did not change the root")
	}
	ok(t, db, "prove", "--root", r1, id, "--range", "0:8", "-o", file("old.proof"))
	ok(t, db, "prove", "--root", r2, id, "--range", "0:8", "-o", file("new.proof"))
	okJSON(t, "", &v, "verify", "--root", r1, file("old.proof"), "--contract", id, "--range", "0:8")
	if u64At(t, v.Data, 0) != 257 {
		t.Errorf("old root: counter %s", v.Data)
	}
	okJSON(t, "", &v, "verify", "--root", r2, file("new.proof"), "--contract", id, "--range", "0:8")
	if u64At(t, v.Data, 0) != 258 {
		t.Errorf("new root: counter %s", v.Data)
	}
	wantError(t, sc(t, "", "verify", "--root", r2, file("old.proof"), "--contract", id, "--range", "0:8"), exitFail, "NOT proven")
	wantError(t, sc(t, "", "verify", "--root", r1, file("new.proof")), exitFail, "does not verify")

	// Leaf and absence proofs.
	ok(t, db, "prove", id, "--leaf", "-o", file("leaf.proof"))
	okJSON(t, "", &v, "verify", "--root", r2, file("leaf.proof"), "--contract", id)
	if v.Kind != "contract" || !v.Present {
		t.Errorf("leaf: %+v", v)
	}
	ok(t, db, "prove", other, "--absent", "-o", file("absent.proof"))
	okJSON(t, "", &v, "verify", "--root", r2, file("absent.proof"), "--contract", other, "--absent")
	if v.Kind != "absence" || v.Present || v.Contract != other {
		t.Errorf("absence: %+v", v)
	}
	wantError(t, sc(t, db, "prove", id, "--absent", "-o", file("x")), exitFail, "exists")
	wantError(t, sc(t, db, "prove", other, "--leaf", "-o", file("x")), exitUsage, "no such contract")

	// Diff, inspect, commits, contracts, root: all JSON.
	var diff struct {
		Contracts []diffJSON `json:"contracts"`
	}
	okJSON(t, db, &diff, "diff", r1, r2)
	if len(diff.Contracts) != 1 || diff.Contracts[0].Change != "changed" || !slices.Equal(diff.Contracts[0].Pages, []uint64{0}) {
		t.Errorf("diff: %+v", diff)
	}
	okJSON(t, db, &diff, "diff", "empty", r2)
	if len(diff.Contracts) != 1 || diff.Contracts[0].Change != "added" {
		t.Errorf("diff from empty: %+v", diff)
	}
	var insp inspectJSON
	okJSON(t, db, &insp, "inspect", id, "--root", r1)
	if insp.Leaf.Contract != id || insp.Leaf.MemoryKind != "wasm32" || insp.Leaf.MemoryLen != 131072 ||
		!slices.Equal(insp.Pages, []uint64{0}) || len(insp.Globals) != 2 || insp.Globals[0] != 0x1000 {
		t.Errorf("inspect: %+v", insp)
	}
	var commits struct {
		Head    string       `json:"head"`
		Commits []commitJSON `json:"commits"`
	}
	okJSON(t, db, &commits, "commits", "--reverse")
	if len(commits.Commits) != 3 || commits.Head != r2 || commits.Commits[2].Root != r2 || commits.Commits[2].Parent != r1 ||
		!commits.Commits[2].Head || !slices.Equal(commits.Commits[2].Changed, []string{id}) {
		t.Errorf("commits: %+v", commits)
	}
	var contracts struct {
		Contracts []leafJSON `json:"contracts"`
	}
	okJSON(t, db, &contracts, "contracts")
	if len(contracts.Contracts) != 1 || contracts.Contracts[0].Contract != id {
		t.Errorf("contracts: %+v", contracts)
	}
	var root struct {
		Root  string `json:"root"`
		Empty bool   `json:"empty"`
	}
	okJSON(t, db, &root, "root")
	if root.Root != r2 || root.Empty {
		t.Errorf("root: %+v", root)
	}

	// Maintenance: fsck is clean (and draws no progress bar when piped),
	// delete + gc reclaims, and the deleted root is unknown afterwards.
	r := ok(t, db, "fsck")
	if !strings.HasPrefix(r.stdout, "ok: ") || r.stderr != "" {
		t.Errorf("fsck: %v", r)
	}
	var fsck struct {
		OK       bool  `json:"ok"`
		Objects  int   `json:"objects"`
		Problems []any `json:"problems"`
	}
	okJSON(t, db, &fsck, "fsck")
	if !fsck.OK || fsck.Objects == 0 || len(fsck.Problems) != 0 {
		t.Errorf("fsck --json: %+v", fsck)
	}
	var del struct {
		Deleted string `json:"deleted"`
		Head    string `json:"head"`
	}
	okJSON(t, db, &del, "delete", r1)
	if del.Deleted != r1 || del.Head != r2 {
		t.Errorf("delete: %+v", del)
	}
	var gc struct {
		Reclaimed int64 `json:"reclaimed_objects"`
	}
	r = okJSON(t, db, &gc, "gc")
	if gc.Reclaimed == 0 || r.stderr != "" {
		t.Errorf("gc reclaimed nothing, or drew on a pipe: %v", r)
	}
	wantError(t, sc(t, db, "prove", "--root", r1, id, "--page", "0", "-o", file("x")), exitUsage, "unknown root")
	ok(t, db, "fsck")
	// A proof outlives its commit: verify needs only the root.
	ok(t, "", "verify", "--root", r1, file("old.proof"), "--contract", id, "--range", "0:8")
}

// TestBadInput checks that bad input gives one line on stderr and the
// documented exit code.
func TestBadInput(t *testing.T) {
	db := filepath.Join(t.TempDir(), "db")
	tmp := t.TempDir()
	var dep deployJSON
	okJSON(t, db, &dep, "deploy", counterWAT)
	id, root := dep.Contract, dep.Root
	ok(t, db, "prove", id, "--page", "0", "-o", filepath.Join(tmp, "good.proof"))
	unknown := strings.Repeat("12", 32)
	garbage := filepath.Join(tmp, "garbage.proof")
	os.WriteFile(garbage, []byte("\x01\x01not a proof"), 0o644)
	badWAT := filepath.Join(tmp, "bad.wat")
	os.WriteFile(badWAT, []byte("(module\n  (func (export \"x\") (param i32) (result i32)\n    i32.bogus))\n"), 0o644)
	badWasm := filepath.Join(tmp, "bad.wasm")
	os.WriteFile(badWasm, []byte("\x00asm\x01\x00\x00\x00\x01"), 0o644)
	empty := filepath.Join(tmp, "empty.proof")
	os.WriteFile(empty, nil, 0o644)
	missing := filepath.Join(tmp, "missing")

	cases := []struct {
		name     string
		db       string
		args     []string
		code     int
		contains string
	}{
		{"no command", "", nil, exitUsage, "missing command"},
		{"unknown command", "", []string{"frobnicate"}, exitUsage, "unknown command"},
		{"unknown flag", db, []string{"root", "--bogus"}, exitUsage, "flag provided but not defined"},
		{"extra argument", db, []string{"root", "x"}, exitUsage, "no arguments"},
		{"missing arguments", db, []string{"call", id}, exitUsage, "CONTRACT FUNCTION"},
		{"unknown root (prove)", db, []string{"prove", "--root", unknown, id, "--page", "0"}, exitUsage, "unknown root"},
		{"unknown root (call)", db, []string{"call", id, "read_value", "--base", unknown}, exitUsage, "unknown root"},
		{"unknown root (inspect)", db, []string{"inspect", id, "--root", unknown}, exitUsage, "unknown root"},
		{"unknown root (diff)", db, []string{"diff", root, unknown}, exitUsage, "unknown root"},
		{"unknown root (delete)", db, []string{"delete", unknown}, exitUsage, "unknown root"},
		{"malformed root", db, []string{"inspect", id, "--root", "xyz"}, exitUsage, "want 64 hex digits"},
		{"malformed hex root", "", []string{"verify", "--root", strings.Repeat("zz", 32), garbage}, exitUsage, "not hex"},
		{"malformed contract", db, []string{"inspect", "0x12"}, exitUsage, "contract id"},
		{"malformed arg", db, []string{"call", id, "add", "--arg", "0xabc"}, exitUsage, "value"},
		{"malformed literal", db, []string{"call", id, "add", "--arg", "u64:-1"}, exitUsage, "value"},
		{"malformed meta", db, []string{"call", id, "read_value", "--meta", "noequals"}, exitUsage, "KEY=VALUE"},
		{"malformed range", db, []string{"prove", id, "--range", "5"}, exitUsage, "OFFSET:LENGTH"},
		{"missing arg file", db, []string{"call", id, "add", "--arg", "@" + missing}, exitUsage, "no such file"},
		{"missing module", db, []string{"deploy", missing + ".wat"}, exitUsage, "no such file"},
		{"missing proof file", "", []string{"verify", "--root", root, missing}, exitUsage, "no such file"},
		{"invalid WAT", db, []string{"deploy", badWAT}, exitUsage, "not valid WebAssembly text"},
		{"invalid wasm", db, []string{"deploy", badWasm}, exitUsage, "invalid contract module"},
		{"unknown contract", db, []string{"call", unknown, "read_value"}, exitUsage, "no such contract"},
		{"unknown function", db, []string{"call", id, "nope"}, exitUsage, "no such function"},
		{"call fails (trap)", db, []string{"call", id, "add", "--arg", "u32:5"}, exitFail, "trapped"},
		{"call fails (gas)", db, []string{"call", id, "add", "--arg", "u64:5", "--gas", "10"}, exitFail, "out of gas"},
		{"contract exists", db, []string{"deploy", counterWAT}, exitFail, "already exists"},
		{"corrupted proof", "", []string{"verify", "--root", root, garbage, "--contract", id, "--page", "0"}, exitFail, "malformed"},
		{"empty proof", "", []string{"verify", "--root", root, empty}, exitFail, "malformed"},
		{"wrong root", "", []string{"verify", "--root", unknown, filepath.Join(tmp, "good.proof")}, exitFail, "does not verify"},
		{"verify without root", "", []string{"verify", garbage}, exitUsage, "--root is required"},
		{"verify claim without contract", "", []string{"verify", "--root", root, garbage, "--page", "0"}, exitUsage, "need --contract"},
		{"prove without mode", db, []string{"prove", id}, exitUsage, "exactly one of"},
		{"prove two modes", db, []string{"prove", id, "--page", "0", "--leaf"}, exitUsage, "exactly one of"},
		{"page out of range", db, []string{"prove", id, "--page", "32", "-o", filepath.Join(tmp, "x")}, exitUsage, "out of range"},
		{"no store", filepath.Join(tmp, "nostore"), []string{"root"}, exitUsage, "no store at"},
		{"store is a file", garbage, []string{"commits"}, exitStore, "is a file, not a store directory"},
		{"store dir holds other files (read)", tmp, []string{"root"}, exitStore, "not a wasmstate store"},
		{"store dir holds other files (deploy)", tmp, []string{"deploy", counterWAT}, exitStore, "not a wasmstate store"},
		{"store dir holds other files (init)", tmp, []string{"init"}, exitStore, "not a wasmstate store"},
		{"init on a store", db, []string{"init"}, exitUsage, "already holds a store"},
		{"--arg twice", db, []string{"call", id, "add", "--arg", "u64:1", "--arg", "u64:2"}, exitUsage, "given twice"},
		{"--meta key twice", db, []string{"call", id, "read_value", "--meta", "k=01", "--meta", "k=02"}, exitUsage, "given twice"},
		{"delete empty", db, []string{"delete", "empty"}, exitUsage, "no commit record"},
		{"prove -o into a missing dir", db, []string{"prove", id, "--page", "0", "-o", filepath.Join(missing, "f")}, exitUsage, "no such file"},
		{"head set unknown", db, []string{"head", "set", unknown}, exitUsage, "unknown root"},
		{"head without set", db, []string{"head", root}, exitUsage, "head set ROOT"},
		{"root prefix too short", db, []string{"inspect", id, "--root", root[:7]}, exitUsage, "want 64 hex digits"},
		{"no root with prefix", db, []string{"inspect", id, "--root", "ffffffff"}, exitUsage, "no commit's root starts with ffffffff"},
		{"no contract with prefix", db, []string{"inspect", "ffffffff"}, exitUsage, "no known contract id starts with"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			wantError(t, sc(t, tc.db, tc.args...), tc.code, tc.contains)
		})
	}
	// A refused directory is left as it was.
	if ents, _ := os.ReadDir(tmp); slices.ContainsFunc(ents, func(e os.DirEntry) bool { return e.Name() == "CURRENT" || e.Name() == "LOCK" }) {
		t.Errorf("statectl wrote a database into a directory of other files: %v", ents)
	}
	// Nothing above created the store it was pointed at.
	if _, err := os.Stat(filepath.Join(tmp, "nostore")); !os.IsNotExist(err) {
		t.Errorf("a read-only command created a store: %v", err)
	}
}

// TestVerifyOpensNoStore: verify works with $WASMSTATE_DB pointing
// nowhere and leaves it so.
func TestVerifyOpensNoStore(t *testing.T) {
	db := filepath.Join(t.TempDir(), "db")
	var dep deployJSON
	okJSON(t, db, &dep, "deploy", counterWAT)
	proof := filepath.Join(t.TempDir(), "p")
	ok(t, db, "prove", dep.Contract, "--leaf", "-o", proof)
	nowhere := filepath.Join(t.TempDir(), "nowhere")
	r := runIn(t, "", env("WASMSTATE_DB="+nowhere), "verify", "--root", dep.Root, proof, "--contract", dep.Contract)
	if r.code != 0 {
		t.Fatal(r)
	}
	if _, err := os.Stat(nowhere); !os.IsNotExist(err) {
		t.Errorf("verify touched $WASMSTATE_DB: %v", err)
	}
	// And stdin works.
	b, err := os.ReadFile(proof)
	if err != nil {
		t.Fatal(err)
	}
	if r := runCmd(t, "", env(), bytes.NewReader(b), "verify", "--root", dep.Root, "-", "--contract", dep.Contract); r.code != 0 {
		t.Error(r)
	}
}

// TestEnvDB: $WASMSTATE_DB is the default store, --db overrides it.
func TestEnvDB(t *testing.T) {
	envDB := filepath.Join(t.TempDir(), "env-db")
	flagDB := filepath.Join(t.TempDir(), "flag-db")
	r := runIn(t, "", env("WASMSTATE_DB="+envDB), "deploy", counterWAT, "--json")
	if r.code != 0 {
		t.Fatal(r)
	}
	if _, err := os.Stat(envDB); err != nil {
		t.Fatalf("deploy did not use $WASMSTATE_DB: %v", err)
	}
	r = runIn(t, "", env("WASMSTATE_DB="+envDB), "root", "--db", flagDB)
	wantError(t, r, exitUsage, "no store at "+flagDB)
	// The default without either is ./wasmstate-db in the working directory.
	wd := t.TempDir()
	if r := runIn(t, wd, env(), "deploy", mustAbs(t, counterWAT)); r.code != 0 {
		t.Fatal(r)
	}
	if _, err := os.Stat(filepath.Join(wd, "wasmstate-db")); err != nil {
		t.Errorf("no ./wasmstate-db: %v", err)
	}
}

func mustAbs(t *testing.T, p string) string {
	a, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// TestCorruptStore damages a stored page behind the store's back: fsck
// lists the problem and exits 3, and reading the page fails with exit 3.
func TestCorruptStore(t *testing.T) {
	db := filepath.Join(t.TempDir(), "db")
	var dep deployJSON
	okJSON(t, db, &dep, "deploy", counterWAT)
	ok(t, db, "call", dep.Contract, "add", "--arg", "u64:1", "--commit")

	ldb, err := pagestore.OpenLevelDB(db, nil)
	if err != nil {
		t.Fatal(err)
	}
	it := ldb.DB().NewIterator(nil, nil)
	var pages [][]byte
	for it.Next() {
		if k := it.Key(); k[0] == byte(pagestore.KindPage) {
			pages = append(pages, bytes.Clone(k))
		}
	}
	it.Release()
	if len(pages) == 0 {
		t.Fatal("no pages in the store")
	}
	for _, k := range pages {
		junk := bytes.Repeat([]byte{0x5a}, merkle.PageSize)
		if err := ldb.DB().Put(k, junk, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := ldb.Close(); err != nil {
		t.Fatal(err)
	}

	r := sc(t, db, "fsck")
	wantError(t, r, exitStore, "problem(s) found")
	if n := strings.Count(r.stdout, "problem  "); n < len(pages) {
		t.Errorf("fsck listed %d problems, want at least %d:\n%v", n, len(pages), r)
	}
	var fsck struct {
		OK       bool `json:"ok"`
		Problems []struct {
			Kind  string `json:"kind"`
			Error string `json:"error"`
		} `json:"problems"`
	}
	r = sc(t, db, "fsck", "--json")
	if r.code != exitStore {
		t.Fatal(r)
	}
	if err := jsonUnmarshal(r.stdout, &fsck); err != nil || fsck.OK || len(fsck.Problems) == 0 || fsck.Problems[0].Kind != "page" {
		t.Errorf("fsck --json: %+v %v", fsck, err)
	}
	wantError(t, sc(t, db, "prove", dep.Contract, "--page", "0", "-o", filepath.Join(t.TempDir(), "p")), exitStore, "corrupt")
	wantError(t, sc(t, db, "call", dep.Contract, "read_value"), exitStore, "")
}

func contractWAT(name string) string { return repoPath("testdata", "contracts", name+".wat") }

// TestCallOutputs covers what call prints: events (and reverted ones),
// fed chunks, nested call trees, debug messages and metadata.
func TestCallOutputs(t *testing.T) {
	db := filepath.Join(t.TempDir(), "db")
	roots := map[string]string{}
	deploy := func(name string) string {
		var d deployJSON
		okJSON(t, db, &d, "deploy", contractWAT(name))
		roots[name] = d.Root
		return d.Contract
	}
	counter, center, eventer, feeder, owner, meta := deploy("counter"), deploy("callcenter"), deploy("eventer"),
		deploy("feeder"), deploy("owner"), deploy("metadata")

	var c callJSON
	okJSON(t, db, &c, "call", eventer, "emit_events", "--arg", "u32:2")
	if len(c.Events) != 2 || c.Events[1].Topic != "number" || c.Events[1].Data != "01000000" || c.Events[1].Source != eventer || c.Events[0].Reverted {
		t.Errorf("events: %+v", c.Events)
	}
	txt := ok(t, db, "call", eventer, "emit_events", "--arg", "u32:1")
	if !strings.Contains(txt.stdout, `topic "number" data 00000000`) {
		t.Errorf("event text:\n%s", txt.stdout)
	}
	wantError(t, sc(t, db, "call", eventer, "emit_and_panic", "--arg", "0x01"), exitFail, "eventer panic")

	okJSON(t, db, &c, "call", feeder, "feed_num", "--arg", "u32:3", "--feed")
	if strings.Join(c.Fed, ",") != "00000000,01000000,02000000" {
		t.Errorf("fed: %v", c.Fed)
	}
	txt = ok(t, db, "call", feeder, "feed_num", "--arg", "u32:2", "--feed")
	if strings.Count(txt.stdout, "fed       ") != 2 {
		t.Errorf("fed text:\n%s", txt.stdout)
	}

	okJSON(t, db, &c, "call", center, "query_counter", "--arg", "id:"+counter)
	if c.ResultU64 == nil || *c.ResultU64 != 0xfc || c.CallTree == nil || len(c.CallTree.Children) != 1 ||
		c.CallTree.Children[0].Contract != counter || c.CallTree.Children[0].Function != "read_value" {
		t.Errorf("nested call: %+v", c.CallTree)
	}
	txt = ok(t, db, "call", center, "query_counter", "--arg", "id:"+counter)
	if !strings.Contains(txt.stdout, "    "+counter[:16]+".read_value") {
		t.Errorf("call tree text:\n%s", txt.stdout)
	}

	okJSON(t, db, &c, "call", owner, "debug", "--arg", "0x6869", "--debug")
	if len(c.Debug) != 1 || !strings.HasSuffix(c.Debug[0], ": hi") {
		t.Errorf("debug: %v", c.Debug)
	}

	okJSON(t, db, &c, "call", meta, "read_block_height", "--meta", "block_height=u64:100")
	if c.ResultU64 == nil || *c.ResultU64 != 100 {
		t.Errorf("metadata: %+v", c)
	}
	okJSON(t, db, &c, "call", meta, "read_meta", "--arg", "0x"+hex.EncodeToString([]byte("chain_id")), "--meta", "chain_id=0x07")
	if c.Result != "07" {
		t.Errorf("read_meta: %+v", c)
	}
	// Calls on an older base do not move the head unless committed.
	head := strings.TrimSpace(ok(t, db, "root").stdout)
	okJSON(t, db, &c, "call", counter, "increment", "--base", roots["counter"])
	if c.Base != roots["counter"] || c.Committed {
		t.Errorf("call on an old base: %+v", c)
	}
	wantError(t, sc(t, db, "call", counter, "increment", "--base", "empty"), exitUsage, "no such contract")
	if got := strings.TrimSpace(ok(t, db, "root").stdout); got != head {
		t.Errorf("head moved: %s", got)
	}
}

// TestLockedStore: a store another process holds gives exit 3 and says
// why.
func TestLockedStore(t *testing.T) {
	db := filepath.Join(t.TempDir(), "db")
	ok(t, db, "deploy", counterWAT)
	ldb, err := pagestore.OpenLevelDB(db, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ldb.Close()
	wantError(t, sc(t, db, "root"), exitStore, "another")
	wantError(t, sc(t, db, "deploy", counterWAT, "--nonce", "1"), exitStore, "")
}
