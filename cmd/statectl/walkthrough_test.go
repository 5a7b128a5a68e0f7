package main

import (
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var shBlock = regexp.MustCompile("(?s)```sh\n(.*?)```")

// walkthroughScript extracts the ```sh blocks of WALKTHROUGH.md, in order,
// as one shell script. `go run ./cmd/statectl` becomes `statectl`: the
// test runs the binary it built, on PATH.
func walkthroughScript(t *testing.T) (string, int) {
	t.Helper()
	md, err := os.ReadFile("WALKTHROUGH.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := shBlock.FindAllStringSubmatch(string(md), -1)
	if len(blocks) == 0 {
		t.Fatal("no ```sh blocks in WALKTHROUGH.md")
	}
	var b strings.Builder
	b.WriteString("set -e\n")
	for i, m := range blocks {
		fmt.Fprintf(&b, "echo '### block %d' >&2\n", i+1)
		b.WriteString(strings.ReplaceAll(m[1], "go run ./cmd/statectl", "statectl"))
	}
	return b.String(), len(blocks)
}

// TestWalkthrough runs the walkthrough's commands in order, in a temp dir
// holding a copy of testdata/contracts, with statectl on PATH and
// $WASMSTATE_DB set to a temp dir, so the documentation cannot rot.
func TestWalkthrough(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	script, n := walkthroughScript(t)
	md, _ := os.ReadFile("WALKTHROUGH.md")
	if !strings.Contains(strings.SplitN(string(md), "```sh\n", 2)[1], "go run ./cmd/statectl demo") {
		t.Error("the walkthrough's first command is not go run ./cmd/statectl demo")
	}
	work := t.TempDir()
	src := repoPath("testdata", "contracts")
	err = filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		dst := filepath.Join(work, "testdata", "contracts", rel)
		if d.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(dst, b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	scriptFile := filepath.Join(t.TempDir(), "walkthrough.sh")
	if err := os.WriteFile(scriptFile, []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(t.TempDir(), "db")
	path := filepath.Dir(statectlBin) + string(os.PathListSeparator) + os.Getenv("PATH")
	cmd := exec.Command(sh, scriptFile)
	cmd.Dir = work
	cmd.Env = append(env(), "WASMSTATE_DB="+db, "PATH="+path)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("walkthrough failed: %v\nscript:\n%s\noutput:\n%s", err, script, out)
	}
	if got := strings.Count(string(out), "### block "); got != n {
		t.Errorf("ran %d of %d blocks", got, n)
	}
	// The failures the walkthrough demonstrates happened, with exit 1.
	for _, want := range []string{"tampered proof rejected (exit 1)", "old proof rejected under the new root (exit 1)", "ok: ",
		"no such function (exit 2)", "exports: add, get_global, increment, read_value, set_global", "0101000000000000", "u64:257",
		"(dry run, not committed; 1 of 4 steps failed)", "(committed, new head; 1 of 4 steps failed)",
		"the head is the old root again"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if _, err := os.Stat(db); err != nil {
		t.Errorf("the walkthrough did not use $WASMSTATE_DB: %v", err)
	}
	if _, err := os.Stat(filepath.Join(work, "wasmstate-db")); err == nil {
		t.Error("the walkthrough wrote ./wasmstate-db despite $WASMSTATE_DB")
	}
}
