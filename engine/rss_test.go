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

// rssBytes is the process's resident anonymous and shared memory (where
// linear memories, images, shadows and wasmtime's own allocations live)
// less the Go heap and stacks in use: what the engine holds outside Go's
// allocator, which the Go runtime neither accounts nor returns. The Go
// heap is left out because goleveldb keeps read buffers in sync.Pools
// whose release the runtime schedules, not the engine.
func rssBytes(t *testing.T) uint64 {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skipf("no /proc/self/status: %v", err)
	}
	var kib uint64
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && (f[0] == "RssAnon:" || f[0] == "RssShmem:") {
			n, err := strconv.ParseUint(f[1], 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			kib += n
		}
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return kib<<10 - min(kib<<10, ms.HeapInuse+ms.StackInuse)
}

// settle runs the GC until wasmtime-go's finalizers (which free the C
// side of modules, stores and values) have run, and returns freed memory
// to the OS.
func settle() {
	for range 3 {
		runtime.GC()
		time.Sleep(20 * time.Millisecond)
	}
	debug.FreeOSMemory()
	trimCHeap()
}

// TestMemoryReturned: after sessions that loaded, grew and wrote a 64 MiB
// memory (warm sets, images, a failed growth) are closed and the engine is
// closed, the memory the engine held outside the Go heap (rssBytes) is
// back within 10 % of where it was before (measured in a child process, so
// that other tests' memory does not count).
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
	dir := t.TempDir()
	o := auto.options()
	open := func(o Options) *Engine {
		e, err := Open(context.Background(), dir, o)
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	// The store: a 64 MiB memory, every page written (no warm set kept).
	cold := o
	cold.WarmSets = -1
	e := open(cold)
	s, _ := e.NewSession(merkle.EmptyState(), SessionOptions{})
	id, err := s.Deploy(context.Background(), wasm(t, "pagewriter"), DeployOptions{})
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
	r, err := s.Commit(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	e.Close()
	// sessions loads the contract warm and cold (image), writes, grows
	// it and fails a growth, rounds times, then closes everything.
	sessions := func(rounds int) {
		e := open(o)
		for i := range rounds {
			s, _ := e.NewSession(r, SessionOptions{})  // warm after the first round
			s2, _ := e.NewSession(r, SessionOptions{}) // cold: maps the image
			for _, ss := range []*Session{s, s2} {
				if _, err := ss.Call(context.Background(), id, "write", u32s(8, 200, uint32(i)), 1<<40); err != nil {
					t.Fatal(err)
				}
				// A growth by 256 MiB, paid, in a session then dropped,
				// and one that fails after the grow (growth is paid
				// before it happens: a call that cannot pay grows nothing).
				if _, err := ss.Call(context.Background(), id, "grow", u32s(4096), 1<<40); err != nil {
					t.Fatal(err)
				}
				gid, err := ss.Deploy(context.Background(), wasm(t, "grower"), DeployOptions{Nonce: uint64(i)})
				if err != nil {
					t.Fatal(err)
				}
				if _, err := ss.Call(context.Background(), gid, "grow_and_panic", u32s(4096), 1<<40); !errors.Is(err, ErrPanic) {
					t.Fatalf("grow_and_panic: %v", err)
				}
			}
			s2.Close()
			s.Close()
		}
		if err := e.Close(); err != nil {
			t.Fatal(err)
		}
		settle()
	}
	settle()
	before := rssBytes(t)
	sessions(1)
	after1 := rssBytes(t)
	sessions(8)
	after := max(rssBytes(t), after1)
	fmt.Printf("rss: before %d KiB, after %d KiB (%+.1f%%)\n", before>>10, after>>10, 100*float64(after)/float64(before)-100)
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
	if after > before+before/10 {
		t.Fatalf("resident memory %d KiB after closing, %d KiB before: not returned", after>>10, before>>10)
	}
}
