package main

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wasmstate/wasmstate/merkle"
	"github.com/wasmstate/wasmstate/pagestore"
)

// A failed call --json still prints JSON on stdout: ok false, the error
// kind and message, the gas spent, the events (reverted) and the call tree.
func TestCallFailureJSON(t *testing.T) {
	db := filepath.Join(t.TempDir(), "db")
	var d deployJSON
	okJSON(t, db, &d, "deploy", contractWAT("eventer"))
	r := sc(t, db, "call", d.Contract, "emit_and_panic", "--arg", "0x01", "--json")
	wantError(t, r, exitFail, "eventer panic")
	var out struct {
		OK    *bool `json:"ok"`
		Error *struct {
			Kind    string `json:"kind"`
			Message string `json:"message"`
		} `json:"error"`
		GasSpent uint64        `json:"gas_spent"`
		Events   []eventJSON   `json:"events"`
		CallTree *callNodeJSON `json:"call_tree"`
		Root     *string       `json:"root"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		t.Fatalf("failed call --json is not JSON: %v\n%v", err, r)
	}
	if out.OK == nil || *out.OK || out.Error == nil || out.Error.Kind != "panic" || !strings.Contains(out.Error.Message, "eventer panic") {
		t.Errorf("ok/error: %+v %+v", out.OK, out.Error)
	}
	if out.GasSpent == 0 || len(out.Events) == 0 || out.CallTree == nil || !out.CallTree.Failed || out.Root != nil {
		t.Errorf("gas %d, events %+v, tree %+v, root %v", out.GasSpent, out.Events, out.CallTree, out.Root)
	}
	for _, ev := range out.Events {
		if !ev.Reverted {
			t.Errorf("event of a failed call not flagged reverted: %+v", ev)
		}
	}
	// Success carries "ok": true; an unknown function is kind no_function.
	var c callJSON
	okJSON(t, db, &c, "call", d.Contract, "emit_events", "--arg", "u32:1")
	if !c.OK || c.Error != nil {
		t.Errorf("success: ok %v error %+v", c.OK, c.Error)
	}
	r = sc(t, db, "call", d.Contract, "nope", "--json")
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil || out.Error == nil || out.Error.Kind != "no_function" || r.code != exitUsage {
		t.Errorf("no such function --json: %v %+v\n%v", err, out.Error, r)
	}
	// Text output of a failure shows the trace too.
	r = sc(t, db, "call", d.Contract, "emit_and_panic", "--arg", "0x01")
	if !strings.Contains(r.stdout, "REVERTED") || !strings.Contains(r.stdout, "FAILED") || !strings.Contains(r.stdout, "nothing changed") {
		t.Errorf("failure text:\n%v", r)
	}
}

// deploy --json and inspect --json write the owner the same way: hex, ""
// for none.
func TestOwnerJSON(t *testing.T) {
	db := filepath.Join(t.TempDir(), "db")
	var d deployJSON
	okJSON(t, db, &d, "deploy", counterWAT)
	var in struct {
		Owner string `json:"owner"`
	}
	okJSON(t, db, &in, "inspect", d.Contract)
	if d.Owner != "" || in.Owner != "" {
		t.Errorf("no owner: deploy %q, inspect %q", d.Owner, in.Owner)
	}
	okJSON(t, db, &d, "deploy", counterWAT, "--owner", "0x0a0b")
	okJSON(t, db, &in, "inspect", d.Contract)
	if d.Owner != "0a0b" || in.Owner != "0a0b" {
		t.Errorf("owner: deploy %q, inspect %q", d.Owner, in.Owner)
	}
}

// Deleting the head whose parent was deleted moves the head to the newest
// remaining commit; head set moves it anywhere; prefixes resolve.
func TestHeadAndPrefixes(t *testing.T) {
	db := filepath.Join(t.TempDir(), "db")
	var d1, d2 deployJSON
	okJSON(t, db, &d1, "deploy", counterWAT)
	okJSON(t, db, &d2, "deploy", counterWAT, "--nonce", "1")
	var c callJSON
	okJSON(t, db, &c, "call", d1.Contract[:10], "increment", "--commit")
	r3 := c.Root
	ok(t, db, "delete", d2.Root[:12]) // r3's parent
	var del struct {
		Head string `json:"head"`
	}
	okJSON(t, db, &del, "delete", "head")
	if del.Head != d1.Root {
		t.Errorf("head after deleting it with its parent gone: %s, want the remaining commit %s", del.Head, d1.Root)
	}
	var h struct {
		Head, Previous string
	}
	okJSON(t, db, &h, "head", "set", "empty")
	if h.Head != strings.Repeat("0", 64) || h.Previous != d1.Root {
		t.Errorf("head set empty: %+v", h)
	}
	okJSON(t, db, &h, "head", "set", d1.Root[:8])
	if got := strings.TrimSpace(ok(t, db, "root").stdout); got != d1.Root || h.Head != d1.Root {
		t.Errorf("head set by prefix: root %s, want %s", got, d1.Root)
	}
	wantError(t, sc(t, db, "head", "set", r3), exitUsage, "unknown root")
	// commits -n 1 lists the newest only.
	var cs struct {
		Commits []commitJSON `json:"commits"`
	}
	okJSON(t, db, &cs, "commits", "-n", "1")
	if len(cs.Commits) != 1 || cs.Commits[0].Root != d1.Root {
		t.Errorf("commits -n 1: %+v", cs.Commits)
	}
}

func TestMatchPrefixAmbiguous(t *testing.T) {
	a, _ := parseHash32("root", "abcdef01"+strings.Repeat("0", 56))
	b, _ := parseHash32("root", "abcdef01"+strings.Repeat("1", 56))
	if _, _, err := matchPrefix("root", "abcdef01", []merkle.Hash{a, b}); err == nil || exitCode(err) != exitUsage ||
		!strings.Contains(err.Error(), "ambiguous") {
		t.Errorf("ambiguous prefix: %v", err)
	}
	if h, ok, err := matchPrefix("root", "abcdef011", []merkle.Hash{a, b}); !ok || err != nil || h != b {
		t.Errorf("unique prefix: %v %v", ok, err)
	}
}

// --wait waits for another process's lock; without it the error says so.
func TestWaitForLock(t *testing.T) {
	db := filepath.Join(t.TempDir(), "db")
	var d deployJSON
	okJSON(t, db, &d, "deploy", counterWAT)
	st, err := pagestore.Open(context.Background(), db, nil)
	if err != nil {
		t.Fatal(err)
	}
	wantError(t, sc(t, db, "commits"), exitStore, "--wait")
	go func() { time.Sleep(300 * time.Millisecond); st.Close() }()
	ok(t, db, "commits", "--wait", "20s")
	// Read commands share the lock with each other.
	ro, err := pagestore.Open(context.Background(), db, &pagestore.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	ok(t, db, "commits")
	ok(t, db, "root")
	wantError(t, sc(t, db, "call", d.Contract, "read_value", "--commit"), exitStore, "locked")
}

// read prints committed memory (hex, typed, JSON) at any root; inspect and
// the no-such-function error list the exports.
func TestReadAndExports(t *testing.T) {
	db := filepath.Join(t.TempDir(), "db")
	var d deployJSON
	okJSON(t, db, &d, "deploy", counterWAT)
	ok(t, db, "call", d.Contract, "add", "--arg", "u64:5", "--commit")
	if got := strings.TrimSpace(ok(t, db, "read", d.Contract, "0:8").stdout); got != "0101000000000000" {
		t.Errorf("read hex: %q", got)
	}
	if got := strings.TrimSpace(ok(t, db, "read", d.Contract[:8], "0:8", "--as", "u64", "--root", d.Root).stdout); got != "u64:252" {
		t.Errorf("read --as u64 at the deploy root: %q", got)
	}
	var r readJSON
	okJSON(t, db, &r, "read", d.Contract, "0:16", "--as", "(u64,u32,u32)")
	if r.Data != "01010000000000000000000000000000" || r.Value != "(u64:257,u32:0,u32:0)" || r.Length != 16 {
		t.Errorf("read --json: %+v", r)
	}
	wantError(t, sc(t, db, "read", d.Contract, "0:8", "--as", "u32"), exitUsage, "4 bytes, got 8")
	wantError(t, sc(t, db, "read", d.Contract, "131072:1"), exitUsage, "out of range")
	wantError(t, sc(t, db, "read", d.Contract, "0"), exitUsage, "OFFSET:LENGTH")
	var in struct {
		Exports []string `json:"exports"`
	}
	okJSON(t, db, &in, "inspect", d.Contract)
	if strings.Join(in.Exports, ",") != "add,get_global,increment,read_value,set_global" {
		t.Errorf("inspect exports: %v", in.Exports)
	}
	wantError(t, sc(t, db, "call", d.Contract, "incremnt"), exitUsage, "exports: add, get_global, increment, read_value, set_global")
}

// run: one session, a receipt per step, one commit; failed calls are
// receipts, not errors; --dry-run and --atomic write nothing; a bad line
// stops the run before it starts.
func TestRunBlock(t *testing.T) {
	db := filepath.Join(t.TempDir(), "db")
	dir := t.TempDir()
	block := filepath.Join(dir, "block.txt")
	os.WriteFile(block, []byte("# a block\ndeploy "+counterWAT+"\ncall @1 add --arg u64:5\n\ncall @1 add --arg u32:5\n"+
		`{"op":"call","contract":"@1","function":"read_value","gas":100000}`+"\n"), 0o644)
	var dry runJSON
	okJSON(t, db, &dry, "run", block, "--dry-run")
	if _, err := os.Stat(db); !os.IsNotExist(err) {
		t.Fatalf("dry run created the store: %v", err)
	}
	var out runJSON
	okJSON(t, db, &out, "run", block)
	if len(out.Steps) != 4 || out.Failed != 1 || !out.Committed || out.Root != dry.Root {
		t.Fatalf("run: %+v (dry-run root %s)", out, dry.Root)
	}
	if !out.Steps[0].OK || out.Steps[1].Call.ResultU64 == nil || *out.Steps[1].Call.ResultU64 != 0xfc+5 ||
		out.Steps[2].OK || out.Steps[2].Error.Kind != "trap" || out.Steps[3].Call.GasLimit != 100000 || out.Steps[3].Line != 6 {
		t.Errorf("receipts: %+v", out.Steps)
	}
	var cs struct {
		Commits []commitJSON `json:"commits"`
	}
	okJSON(t, db, &cs, "commits")
	if len(cs.Commits) != 1 || cs.Commits[0].Root != out.Root || !cs.Commits[0].Head {
		t.Fatalf("one commit for the whole block: %+v", cs.Commits)
	}
	id := out.Steps[0].Contract
	// --atomic: the failed step stops the run, nothing is committed.
	os.WriteFile(block, []byte("call "+id+" add --arg u64:1\ncall "+id[:8]+" add --arg u32:1\n"), 0o644)
	wantError(t, sc(t, db, "run", block, "--atomic"), exitFail, "nothing committed")
	// A bad line: exit 2 before anything runs.
	for _, bad := range []string{"call " + id + " add\nfrob\n", "call @1 add\n", `{"op":"call","contract":"` + id + `","function":"add","extra":1}` + "\n",
		"deploy /nonexistent.wat\n", "call " + id + " nope\n", ""} {
		os.WriteFile(block, []byte(bad), 0o644)
		wantError(t, sc(t, db, "run", block), exitUsage, "")
	}
	if got := strings.TrimSpace(ok(t, db, "root").stdout); got != out.Root {
		t.Fatalf("head moved: %s, want %s", got, out.Root)
	}
	// stdin.
	r := runCmd(t, "", env(), strings.NewReader("call "+id+" increment\n"), "run", "-", "--db", db)
	if r.code != 0 || !strings.Contains(r.stdout, "committed") {
		t.Fatalf("run -: %v", r)
	}
}

// call --driver encodes --json-arg and decodes the result with a data
// driver (driver/testdata/counter_driver.wat, written to Dusk's ABI).
func TestCallWithDriver(t *testing.T) {
	db := filepath.Join(t.TempDir(), "db")
	drv := repoPath("driver", "testdata", "counter_driver.wat")
	var d deployJSON
	okJSON(t, db, &d, "deploy", counterWAT)
	var c callJSON
	okJSON(t, db, &c, "call", d.Contract, "add", "--driver", drv, "--json-arg", "5", "--commit")
	if c.ResultU64 == nil || *c.ResultU64 != 0xfc+5 || string(c.Decoded) != "257" {
		t.Errorf("add via driver: result %v decoded %s", c.ResultU64, c.Decoded)
	}
	okJSON(t, db, &c, "call", d.Contract, "read_value", "--driver", drv, "--json-arg", "null")
	if string(c.Decoded) != "257" {
		t.Errorf("read_value decoded %s", c.Decoded)
	}
	wantError(t, sc(t, db, "call", d.Contract, "add", "--driver", drv, "--json-arg", `"five"`), exitUsage, "JSON number")
	wantError(t, sc(t, db, "call", d.Contract, "add", "--json-arg", "5"), exitUsage, "needs --driver")
	wantError(t, sc(t, db, "call", d.Contract, "add", "--driver", drv, "--json-arg", "5", "--arg", "u64:5"), exitUsage, "not both")
	wantError(t, sc(t, db, "call", d.Contract, "add", "--driver", drv, "--json-arg", "{"), exitUsage, "not valid JSON")
	wantError(t, sc(t, db, "call", d.Contract, "add", "--driver", counterWAT, "--json-arg", "5"), exitUsage, "not a valid data driver")
}

// version reports the toolchain and formats; the wasmtime-go module linked
// in must be the version the engine keys its compiled-code cache with.
func TestVersion(t *testing.T) {
	var v versionJSON
	okJSON(t, "", &v, "version")
	if v.Go == "" || v.StoreFormat != pagestore.FormatVersion || v.ProofVersion != 1 || v.Wasmtime != v.WasmtimeCache {
		t.Errorf("version: %+v (wasmtime-go linked %s, engine cache key %s)", v, v.Wasmtime, v.WasmtimeCache)
	}
	if r := ok(t, "", "--version"); !strings.Contains(r.stdout, "store format   "+strconv.Itoa(pagestore.FormatVersion)) {
		t.Errorf("--version:\n%s", r.stdout)
	}
}

func TestCompletion(t *testing.T) {
	for _, shell := range []string{"bash", "zsh", "fish"} {
		out := ok(t, "", "completion", shell).stdout
		for _, cmd := range commands() {
			if !strings.Contains(out, cmd.name) {
				t.Errorf("%s completion lacks %s", shell, cmd.name)
			}
		}
		if !strings.Contains(out, "json-arg") || !strings.Contains(out, "wait") {
			t.Errorf("%s completion lacks flags", shell)
		}
		if sh, err := exec.LookPath(shell); err == nil {
			f := filepath.Join(t.TempDir(), "c")
			os.WriteFile(f, []byte(out), 0o644)
			if b, err := exec.Command(sh, "-n", f).CombinedOutput(); err != nil {
				t.Errorf("%s -n: %v %s", shell, err, b)
			}
		} else if shell == "bash" {
			t.Errorf("no bash to check the script with")
		}
	}
	wantError(t, sc(t, "", "completion", "tcsh"), exitUsage, "bash, zsh or fish")
}

// Ctrl-C during gc's mark stops it with nothing deleted and says so in
// words; during the sweep it is acknowledged at once and the sweep
// finishes (a second Ctrl-C would kill the process, see gc --help).
func TestGCInterrupt(t *testing.T) {
	db := filepath.Join(t.TempDir(), "db")
	var d deployJSON
	okJSON(t, db, &d, "deploy", counterWAT)
	ok(t, db, "call", d.Contract, "increment", "--commit")
	ok(t, db, "delete", d.Root) // garbage for the sweep
	for _, phase := range []string{"mark", "sweep"} {
		var stdout, stderr strings.Builder
		c := &cli{stdin: strings.NewReader(""), stdout: &stdout, stderr: &stderr, getenv: func(string) string { return "" },
			signals: make(chan os.Signal, 1)}
		acted := make(chan struct{})
		c.onPhase = func(p string) {
			switch p {
			case phase:
				c.signals <- os.Interrupt
				<-acted // gc has seen the Ctrl-C before it goes on
			case "interrupted":
				close(acted)
			}
		}
		code := run([]string{"gc", "--db", db}, c)
		switch phase {
		case "mark":
			if code != exitFail || stderr.String() != "statectl: gc: interrupted during the mark: nothing was deleted\n" || stdout.Len() != 0 {
				t.Errorf("Ctrl-C in the mark: exit %d, stderr %q, stdout %q", code, stderr.String(), stdout.String())
			}
		case "sweep":
			if code != 0 || !strings.Contains(stderr.String(), "interrupted during the sweep: finishing it") ||
				!strings.Contains(stdout.String(), "reclaimed") {
				t.Errorf("Ctrl-C in the sweep: exit %d, stderr %q, stdout %q", code, stderr.String(), stdout.String())
			}
		}
	}
	ok(t, db, "fsck")
}
