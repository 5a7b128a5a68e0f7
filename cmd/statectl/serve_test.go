package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// freePort returns a port on 127.0.0.1 that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// startServe runs statectl serve on db and returns its URL; the server is
// stopped at the end of the test, and stops by itself after a minute.
func startServe(t *testing.T, db string, extra ...string) string {
	t.Helper()
	args := append([]string{"serve", "--db", db, "--listen", "127.0.0.1:0", "--max-duration", "60s"}, extra...)
	cmd := exec.Command(statectlBin, args...)
	cmd.Env = env()
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			t.Error("statectl serve did not stop on SIGTERM")
		}
	})
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("serve printed nothing: %v", err)
	}
	m := regexp.MustCompile(`http://127\.0\.0\.1:\d+`).FindString(line)
	if m == "" {
		t.Fatalf("serve printed %q", line)
	}
	go io.Copy(io.Discard, out)
	return m
}

func TestServeAndSync(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	id := strings.Repeat("07", 32)
	ok(t, a, "deploy", counterWAT, "--id", id)
	ok(t, a, "call", id, "add", "--arg", "u64:5", "--commit")
	root := strings.TrimSpace(ok(t, a, "root").stdout)
	url := startServe(t, a)

	// The store is the server's now.
	wantError(t, sc(t, a, "root"), exitStore, "another process is using the store")

	resp, err := http.Get(url + "/v1/head")
	if err != nil {
		t.Fatal(err)
	}
	var head struct{ Root string }
	json.NewDecoder(resp.Body).Decode(&head)
	resp.Body.Close()
	if head.Root != root {
		t.Fatalf("served head %q, want %s", head.Root, root)
	}

	var sum struct {
		Root    string
		Objects int
		Bytes   int
	}
	okJSON(t, b, &sum, "sync", "--from", url, "--root", root)
	if sum.Root != root || sum.Objects == 0 || sum.Bytes == 0 {
		t.Errorf("sync summary %+v", sum)
	}
	ok(t, b, "fsck")
	if got := strings.TrimSpace(ok(t, b, "root").stdout); got != root {
		t.Errorf("replica root %s, want %s", got, root)
	}
	// Byte-identical proofs.
	pb := filepath.Join(dir, "b.proof")
	ok(t, b, "prove", "--root", root, id, "--page", "0", "-o", pb)
	resp, err = http.Get(fmt.Sprintf("%s/v1/roots/%s/contracts/%s/pages/0/proof", url, root, id))
	if err != nil {
		t.Fatal(err)
	}
	served, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	local, _ := os.ReadFile(pb)
	if len(served) == 0 || string(served) != string(local) {
		t.Error("the replica's proof differs from the server's")
	}
	// Again: nothing to fetch.
	okJSON(t, b, &sum, "sync", "--from", url, "--root", "head")
	if sum.Objects != 0 {
		t.Errorf("second sync fetched %d objects", sum.Objects)
	}
	// Bad input and a lying peer.
	wantError(t, sc(t, b, "sync", "--from", url), exitUsage, "--root")
	wantError(t, sc(t, b, "sync", "--from", url, "--root", "xyz"), exitUsage, "root")
	var unknown = strings.Repeat("0", 63) + "1"
	wantError(t, sc(t, filepath.Join(dir, "c"), "sync", "--from", url, "--root", unknown), exitFail, "nothing committed")
	liar := startServe(t, b, "--tamper-for-testing")
	wantError(t, sc(t, filepath.Join(dir, "d"), "sync", "--from", liar, "--root", root), exitFail, "bad object")
	var fsck struct{ OK bool }
	okJSON(t, filepath.Join(dir, "d"), &fsck, "fsck")
	if !fsck.OK {
		t.Error("fsck after a refused sync")
	}
	if got := strings.TrimSpace(ok(t, filepath.Join(dir, "d"), "root").stdout); got != strings.Repeat("0", 64) {
		t.Errorf("a refused sync moved the head to %s", got)
	}
}

// TestServeSyncWalkthrough runs the ```sh blocks of README's "Serve and
// sync" section, two nodes on loopback, so the documentation cannot rot.
func TestServeSyncWalkthrough(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	if _, err := exec.LookPath("curl"); err != nil {
		t.Fatal("curl is needed (scripts/setup.sh installs it)")
	}
	md, err := os.ReadFile(repoPath("README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, sec, ok := strings.Cut(string(md), "\n## Serve and sync\n")
	if !ok {
		t.Fatal("README has no Serve and sync section")
	}
	sec, _, _ = strings.Cut(sec, "\n## ")
	blocks := shBlock.FindAllStringSubmatch(sec, -1)
	if len(blocks) < 3 {
		t.Fatalf("%d sh blocks", len(blocks))
	}
	var script strings.Builder
	script.WriteString("set -e\n")
	for i, m := range blocks {
		fmt.Fprintf(&script, "echo '### block %d' >&2\n%s", i+1, m[1])
	}
	work := t.TempDir()
	if err := os.MkdirAll(filepath.Join(work, "testdata", "contracts"), 0o755); err != nil {
		t.Fatal(err)
	}
	src, _ := os.ReadFile(counterWAT)
	os.WriteFile(filepath.Join(work, "testdata", "contracts", "counter.wat"), src, 0o644)
	cmd := exec.Command(sh, "-c", script.String())
	cmd.Dir = work
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // so the servers die with it
	path := filepath.Dir(statectlBin) + string(os.PathListSeparator) + os.Getenv("PATH")
	cmd.Env = env("PATH="+path, fmt.Sprintf("PORT=%d", freePort(t)))
	timer := time.AfterFunc(3*time.Minute, func() { syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) })
	out, err := cmd.CombinedOutput()
	timer.Stop()
	if cmd.Process != nil {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // any server left behind
	}
	if err != nil {
		t.Fatalf("walkthrough failed: %v\nscript:\n%s\noutput:\n%s", err, script.String(), out)
	}
	for _, want := range []string{"node B proves exactly what node A serves", `"objects":`, "ok: "} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	// The incremental sync fetched a handful of objects, not the state.
	m := regexp.MustCompile(`"objects": (\d+)`).FindStringSubmatch(string(out))
	if m == nil || len(m[1]) > 2 {
		t.Errorf("incremental sync summary: %v\n%s", m, out)
	}
}
