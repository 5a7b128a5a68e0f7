package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// statectlBin is the binary TestMain builds; the end-to-end tests run it
// as a user would.
var statectlBin string

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "statectl-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	statectlBin = filepath.Join(dir, "statectl")
	out, err := exec.Command("go", "build", "-o", statectlBin, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "go build: %v\n%s", err, out)
		return 1
	}
	return m.Run()
}

// result is what one run of the binary did.
type result struct {
	args           []string
	stdout, stderr string
	code           int
}

func (r result) String() string {
	return fmt.Sprintf("statectl %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(r.args, " "), r.code, r.stdout, r.stderr)
}

// env is the environment of a run: the test's, without WASMSTATE_DB
// unless given.
func env(extra ...string) []string {
	var out []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "WASMSTATE_DB=") {
			out = append(out, kv)
		}
	}
	return append(out, extra...)
}

// runIn runs the binary in dir with environment environ.
func runIn(t *testing.T, dir string, environ []string, args ...string) result {
	t.Helper()
	return runCmd(t, dir, environ, nil, args...)
}

// runCmd runs the binary in dir with environment environ and stdin.
func runCmd(t *testing.T, dir string, environ []string, stdin io.Reader, args ...string) result {
	t.Helper()
	cmd := exec.Command(statectlBin, args...)
	cmd.Dir, cmd.Env, cmd.Stdin = dir, environ, stdin
	var so, se bytes.Buffer
	cmd.Stdout, cmd.Stderr = &so, &se
	err := cmd.Run()
	r := result{args: args, stdout: so.String(), stderr: se.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run statectl %v: %v", args, err)
	}
	return r
}

// sc runs statectl with --db db appended for store commands.
func sc(t *testing.T, db string, args ...string) result {
	t.Helper()
	if db != "" {
		args = append(args, "--db", db)
	}
	return runIn(t, "", env(), args...)
}

// ok runs statectl and fails the test unless it exits 0.
func ok(t *testing.T, db string, args ...string) result {
	t.Helper()
	r := sc(t, db, args...)
	if r.code != 0 {
		t.Fatalf("want success:\n%v", r)
	}
	return r
}

// okJSON runs statectl with --json and decodes its output into v.
func okJSON(t *testing.T, db string, v any, args ...string) result {
	t.Helper()
	r := ok(t, db, append(args, "--json")...)
	if err := json.Unmarshal([]byte(r.stdout), v); err != nil {
		t.Fatalf("output is not JSON: %v\n%v", err, r)
	}
	return r
}

// wantError checks a failed run: the exit code, and stderr exactly one
// line "statectl: <cmd>: ..." with no Go panic or stack trace.
func wantError(t *testing.T, r result, code int, contains string) {
	t.Helper()
	if r.code != code {
		t.Errorf("want exit %d:\n%v", code, r)
		return
	}
	lines := strings.Split(strings.TrimSuffix(r.stderr, "\n"), "\n")
	if len(lines) != 1 || !strings.HasSuffix(r.stderr, "\n") {
		t.Errorf("want one line on stderr, got %d:\n%v", len(lines), r)
	}
	prefix := "statectl: "
	if len(r.args) > 0 && lookup(r.args[0]) != nil {
		prefix += r.args[0] + ": "
	}
	if !strings.HasPrefix(r.stderr, prefix) {
		t.Errorf("stderr does not start with %q:\n%v", prefix, r)
	}
	for _, bad := range []string{"goroutine ", "panic:", ".go:", "backtrace", "anyhow"} {
		if strings.Contains(r.stderr, bad) {
			t.Errorf("stderr holds %q:\n%v", bad, r)
		}
	}
	if contains != "" && !strings.Contains(r.stderr, contains) {
		t.Errorf("stderr lacks %q:\n%v", contains, r)
	}
}

func jsonUnmarshal(s string, v any) error { return json.Unmarshal([]byte(s), v) }

func repoPath(parts ...string) string {
	return filepath.Join(append([]string{"..", ".."}, parts...)...)
}

var counterWAT = repoPath("testdata", "contracts", "counter.wat")
