package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wasmstate/wasmstate/merkle"
)

// statusKiB reads fields of /proc/self/status, in bytes.
func statusBytes(t *testing.T, fields ...string) []uint64 {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skipf("no /proc/self/status: %v", err)
	}
	out := make([]uint64, len(fields))
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) < 2 {
			continue
		}
		for i, name := range fields {
			if f[0] == name+":" {
				n, err := strconv.ParseUint(f[1], 10, 64)
				if err != nil {
					t.Fatal(err)
				}
				out[i] += n << 10
			}
		}
	}
	return out
}

// rssBytes is the process's resident anonymous and shared memory, where
// linear memories, images, shadows, wasmtime's own allocations and the Go
// heap live. Under the race detector the runtime's shadow and metadata
// (raceShadow) are left out: they cover every address Go code touched,
// linear memories included, and the race runtime never returns them.
func rssBytes(t *testing.T) uint64 {
	t.Helper()
	v := statusBytes(t, "RssAnon", "RssShmem")
	return v[0] + v[1] - min(v[0]+v[1], raceShadow(t))
}

// raceShadow is the resident size of the race runtime's shadow and
// metadata mappings (ThreadSanitizer's Go layout on linux/amd64 puts them
// in [0x2000_0000_0000, 0x4000_0000_0000)); 0 without the race detector.
func raceShadow(t *testing.T) uint64 {
	t.Helper()
	if !raceEnabled {
		return 0
	}
	b, err := os.ReadFile("/proc/self/smaps")
	if err != nil {
		t.Skipf("no /proc/self/smaps: %v", err)
	}
	var kib uint64
	in := false
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) == 0 {
			continue
		}
		if lo, _, ok := strings.Cut(f[0], "-"); ok && len(f) >= 5 {
			a, err := strconv.ParseUint(lo, 16, 64)
			in = err == nil && a >= 0x2000_0000_0000 && a < 0x4000_0000_0000
			continue
		}
		if in && f[0] == "Rss:" && len(f) >= 2 {
			n, _ := strconv.ParseUint(f[1], 10, 64)
			kib += n
		}
	}
	return kib << 10
}

// settle waits (up to 5 s) for the goroutines started since the child
// began to end — a closed goleveldb DB keeps its caches reachable from a
// drain goroutine for up to a second after Close —, runs the GC until
// wasmtime-go's finalizers (which free the C side of modules, stores and
// values) have run, and returns freed memory to the OS.
func settle(goroutines int) {
	for end := time.Now().Add(5 * time.Second); runtime.NumGoroutine() > goroutines && time.Now().Before(end); {
		time.Sleep(20 * time.Millisecond)
	}
	for range 3 {
		runtime.GC()
		time.Sleep(20 * time.Millisecond)
	}
	debug.FreeOSMemory()
	trimCHeap()
}

// TestMemoryReturned: after sessions that loaded, grew and wrote a 64 MiB
// memory (warm sets, images, a failed growth) are closed and the engine is
// closed, the process's resident memory (rssBytes, Go heap included) is
// back within 10 % of where it was before (measured in a child process, so
// that other tests' memory does not count). "Before" is taken after the
// same rounds on a one-page memory, so that what a process sets up once
// and keeps (wasmtime's code registry and signal state, malloc arenas,
// the Go runtime's own structures: about 1.5 MiB here, a quarter of this
// small process) is in the baseline, and what is measured is what the
// 64 MiB rounds leave behind.
func TestMemoryReturned(t *testing.T) {
	if os.Getenv("WASMSTATE_RSS_CHILD") == "" {
		cmd := exec.Command(os.Args[0], "-test.run=^TestMemoryReturned$", "-test.v")
		cmd.Env = append(os.Environ(), "WASMSTATE_RSS_CHILD=1")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("child: %v\n%s", err, tail(string(out), 3000))
		}
		if i := bytes.Index(out, []byte("rss:")); i >= 0 {
			t.Log(strings.SplitN(string(out[i:]), "\n", 2)[0])
		}
		return
	}
	goroutines := runtime.NumGoroutine()
	dir := t.TempDir()
	o := auto.options()
	open := func(o Options) *Engine {
		e, err := Open(context.Background(), dir, o)
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	// The store: the contract at one page (small), then grown to a
	// 64 MiB memory with every page written (big); no warm set kept.
	cold := o
	cold.WarmSets = -1
	e := open(cold)
	s, _ := e.NewSession(merkle.EmptyState(), SessionOptions{})
	id, err := s.Deploy(context.Background(), wasm(t, "pagewriter"), DeployOptions{})
	if err != nil {
		t.Fatal(err)
	}
	small, err := s.Commit(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range []struct {
		fn  string
		arg []byte
	}{{"grow", u32s(1023)}, {"fill", u32s(0, 1024*16)}} {
		if _, err := s.Call(context.Background(), id, st.fn, st.arg, 1<<40); err != nil {
			t.Fatal(err)
		}
	}
	big, err := s.Commit(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	e.Close()
	// sessions loads the contract at root r warm and cold (image), writes
	// its first pages (all of them for the big root: every page resident),
	// grows it by grow pages and fails such a growth, rounds times, then
	// closes everything.
	sessions := func(r merkle.Hash, rounds int, pages, grow uint32) {
		e := open(o)
		for i := range rounds {
			s, _ := e.NewSession(r, SessionOptions{})  // warm after the first round
			s2, _ := e.NewSession(r, SessionOptions{}) // cold: maps the image
			for _, ss := range []*Session{s, s2} {
				if _, err := ss.Call(context.Background(), id, "write", u32s(pages, 1, 0), 1<<40); err != nil {
					t.Fatal(err)
				}
				// A paid growth in a session then dropped, and one that
				// fails after the grow (growth is paid before it happens:
				// a call that cannot pay grows nothing).
				if _, err := ss.Call(context.Background(), id, "grow", u32s(grow), 1<<40); err != nil {
					t.Fatal(err)
				}
				gid, err := ss.Deploy(context.Background(), wasm(t, "grower"), DeployOptions{Nonce: uint64(i)})
				if err != nil {
					t.Fatal(err)
				}
				if _, err := ss.Call(context.Background(), gid, "grow_and_panic", u32s(grow), 1<<40); !errors.Is(err, ErrPanic) {
					t.Fatalf("grow_and_panic: %v", err)
				}
			}
			s2.Close()
			s.Close()
		}
		if err := e.Close(); err != nil {
			t.Fatal(err)
		}
		settle(goroutines)
	}
	sessions(small, 2, 16, 1)
	before := rssBytes(t)
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	heapBefore := ms.HeapInuse
	// Reset the high-water mark (VmHWM) to the current resident set.
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		t.Skipf("cannot reset the peak resident set: %v", err)
	}
	sessions(big, 1, 1024*16, 4096) // 256 MiB growths
	after1 := rssBytes(t)
	sessions(big, 8, 1024*16, 4096)
	// The race runtime's shadow only grows: what it holds now is at least
	// what it held at the peak.
	peak := statusBytes(t, "VmHWM")[0] - raceShadow(t)
	after := max(rssBytes(t), after1)
	runtime.ReadMemStats(&ms)
	heap := ms.HeapInuse
	used := peak - min(peak, before)
	fmt.Printf("rss: before %d KiB, peak %d KiB, after %d KiB: %.1f%% of the %d KiB used not returned; Go heap %d -> %d KiB\n",
		before>>10, peak>>10, after>>10, 100*float64(after-min(after, before))/float64(max(used, 1)), used>>10, heapBefore>>10, heap>>10)
	if used < 64<<20 {
		t.Fatalf("the sessions took %d KiB at their peak: the measure needs them to fill a 64 MiB memory", used>>10)
	}
	// Images are files in memory, not in the process's RSS: none may stay
	// open or mapped (a leaked warm set keeps its images mapped).
	if maps, err := os.ReadFile("/proc/self/maps"); err == nil {
		if n := strings.Count(string(maps), "wasmstate-image"); n > 0 {
			t.Fatalf("%d mappings of memory images left after the engine closed", n)
		}
	}
	fds, _ := os.ReadDir("/proc/self/fd")
	for _, fd := range fds {
		if l, err := os.Readlink("/proc/self/fd/" + fd.Name()); err == nil && strings.Contains(l, "wasmstate-image") {
			t.Fatalf("memory image fd %s (%s) left open after the engine closed", fd.Name(), l)
		}
	}
	if after > before+used/10 {
		t.Fatalf("resident memory %d KiB after closing, %d KiB before, %d KiB at the peak: not returned", after>>10, before>>10, peak>>10)
	}
	if heap > heapBefore+4<<20 {
		t.Fatalf("Go heap in use %d KiB after closing, %d KiB before: not returned", heap>>10, heapBefore>>10)
	}
}
