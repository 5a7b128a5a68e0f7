package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wasmstate/wasmstate/engine"
	"github.com/wasmstate/wasmstate/merkle"
)

// TestRunWitnessReplay: run --witness writes a block's witness; replay
// accepts it against the right roots with code from a file, the witness or
// the store, and rejects (exit 1, with the class) a tampered witness, the
// wrong pre-root and missing code.
func TestRunWitnessReplay(t *testing.T) {
	probe, err := engine.OpenInMemory(engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	s, err := probe.NewSession(merkle.EmptyState(), engine.SessionOptions{RecordWitness: true})
	if err == nil {
		s.Close()
	}
	probe.Close()
	if err != nil && os.Getenv("WASMSTATE_REQUIRE_UFFD") == "" {
		t.Skip(err)
	}
	dir := t.TempDir()
	db := filepath.Join(dir, "db")
	var dep struct{ Contract string }
	okJSON(t, db, &dep, "deploy", counterWAT)
	pre := strings.TrimSpace(ok(t, db, "root").stdout)
	block := filepath.Join(dir, "block.txt")
	os.WriteFile(block, []byte("call "+dep.Contract+" add --arg u64:7\ncall "+dep.Contract+" read_value\ndeploy "+counterWAT+" --nonce 9\n"), 0o644)
	wfile := filepath.Join(dir, "block.witness")
	var run struct {
		Root    string
		Witness struct {
			File         string
			Bytes, Pages int
		}
	}
	okJSON(t, db, &run, "run", block, "--witness", wfile)
	if run.Witness.File != wfile || run.Witness.Bytes == 0 || run.Witness.Pages == 0 {
		t.Fatalf("run --witness reported %+v", run.Witness)
	}
	post := run.Root
	var rep struct {
		Accepted  bool
		Verdict   string
		Ops       int
		OpsDigest string `json:"ops_digest"`
	}
	okJSON(t, "", &rep, "replay", wfile, "--pre", pre, "--post", post, "--code", counterWAT)
	if !rep.Accepted || rep.Verdict != "accepted" || rep.Ops != 3 || len(rep.OpsDigest) != 64 {
		t.Fatalf("replay: %+v", rep)
	}
	ok(t, db, "replay", wfile, "--pre", pre, "--post", post, "--code-db")
	wantError(t, sc(t, "", "replay", wfile, "--pre", pre, "--post", post), exitFail, "rejected (incomplete)")
	wantError(t, sc(t, "", "replay", wfile, "--pre", post, "--post", post, "--code", counterWAT), exitFail, "rejected (invalid)")
	b, _ := os.ReadFile(wfile)
	b[len(b)-40] ^= 1 // the last operation's gas spent
	bad := filepath.Join(dir, "bad.witness")
	os.WriteFile(bad, b, 0o644)
	wantError(t, sc(t, "", "replay", bad, "--pre", pre, "--post", post, "--code", counterWAT), exitFail, "rejected (mismatch)")
	os.WriteFile(bad, b[:100], 0o644)
	wantError(t, sc(t, "", "replay", bad, "--pre", pre, "--post", post, "--code", counterWAT), exitFail, "rejected (malformed)")
	// With the code in the witness, nothing else is needed.
	block2 := filepath.Join(dir, "block2.txt")
	os.WriteFile(block2, []byte("call "+dep.Contract+" add --arg u64:1\n"), 0o644)
	okJSON(t, db, &run, "run", block2, "--witness", wfile, "--witness-code")
	ok(t, "", "replay", wfile, "--pre", post, "--post", run.Root)
	wantError(t, sc(t, db, "run", block2, "--witness-code"), exitUsage, "--witness-code needs --witness")
}
