// Package crashtest runs the child half of a crash test and kills it with
// SIGKILL at a chosen moment. The child is the test binary itself, re-run
// on one test (say TestCrashChild) that works on a store and reports each
// event on stdout, one line per event, after the event; "R" means ready,
// and a line starting with "E " a failure. pagestore's and reliability's
// crash tests share it.
package crashtest

import (
	"bufio"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// Kill says when to kill the child, counted from its "R" line: after
// Delay, or, with Trigger set, just after its Nth line tagged Trigger (the
// text before the first space) and then After more (or when it exits).
type Kill struct {
	Delay   time.Duration
	Trigger string
	Nth     int
	After   time.Duration
}

// Run starts the test binary on the test named child with env added to the
// environment, kills it as k says, and returns its complete report lines
// (a line the kill cut short is dropped). A child that exits before "R" or
// reports "E ..." fails t.
func Run(t testing.TB, child string, env []string, k Kill) []string {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^"+child+"$", "-test.timeout=5m")
	cmd.Env = append(os.Environ(), env...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 4096)
	go func() {
		defer close(lines)
		br := bufio.NewReader(out)
		for {
			line, err := br.ReadString('\n')
			if err != nil { // a line cut by the kill is not a report
				io.Copy(io.Discard, br)
				return
			}
			lines <- strings.TrimSuffix(line, "\n")
		}
	}()
	var got []string
	for ready := false; !ready; {
		line, ok := <-lines
		if !ok {
			cmd.Wait()
			t.Fatalf("child exited before it was ready: %v\n%s", got, stderr.String())
		}
		got = append(got, line)
		ready = line == "R"
	}
	if k.Trigger == "" {
		time.Sleep(k.Delay)
	} else {
		for seen := 0; seen < k.Nth; {
			line, ok := <-lines
			if !ok {
				break
			}
			got = append(got, line)
			if tag, _, _ := strings.Cut(line, " "); tag == k.Trigger {
				seen++
			}
		}
		time.Sleep(k.After)
	}
	cmd.Process.Kill() // SIGKILL
	for line := range lines {
		got = append(got, line)
	}
	cmd.Wait()
	for _, line := range got {
		if strings.HasPrefix(line, "E ") {
			t.Fatalf("child failed: %s\n%s", line, stderr.String())
		}
	}
	return got
}

// Dir returns a directory for a crash test's store, removed when t ends:
// on tmpfs (/dev/shm) when there is one. A SIGKILL leaves the page cache
// intact, so what the tests check (atomic, complete commits across a
// process crash) does not depend on the disk, while fsync latency on a
// shared disk (up to 0.9 s measured here) would make them crawl. Power loss
// is not simulated either way.
func Dir(t testing.TB, pattern string) string {
	t.Helper()
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
		if dir, err := os.MkdirTemp("/dev/shm", pattern); err == nil {
			t.Cleanup(func() { os.RemoveAll(dir) })
			return dir
		}
	}
	return t.TempDir()
}
