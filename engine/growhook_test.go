package engine

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bytecodealliance/wasmtime-go/v39"

	"github.com/wasmstate/wasmstate/merkle"
)

// growWat is a contract whose export "grow" runs memory.grow(delta) on the
// delta in A (u32 for wasm32, u64 for wasm64) and returns memory.grow's
// result. Its fuel is the same whatever the delta: 7 operators, the hook's
// call and the function's entry (growFuel). max is the declared maximum
// ("" for none).
func growWat(t testing.TB, addr, max string) []byte {
	t.Helper()
	width := map[string]string{"i32": "4", "i64": "8"}[addr]
	src := strings.NewReplacer("ADDR", addr, "MAX", max, "WIDTH", width).Replace(`(module
  (memory (export "memory") ADDR 2 MAX)
  (global $A (export "A") ADDR (ADDR.const 0))
  (func (export "grow") (param i32) (result i32)
    (ADDR.store (global.get $A) (memory.grow (ADDR.load (global.get $A))))
    (i32.const WIDTH))
  (func (export "size") (param i32) (result i32)
    (ADDR.store (global.get $A) (memory.size))
    (i32.const WIDTH)))`)
	b, err := wasmtime.Wat2Wasm(src)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// growFuel is the fuel of growWat's grow: global.get ×2, load, call (the
// hook), memory.grow, store, i32.const, and the function's entry.
const growFuel = 8

func deltaArg(addr string, pages uint64) []byte {
	if addr == "i64" {
		return binary.LittleEndian.AppendUint64(nil, pages)
	}
	return binary.LittleEndian.AppendUint32(nil, uint32(pages))
}

// pagesOf is the contract's memory size in wasm pages, read from wasmtime.
func pagesOf(s *Session, id merkle.ContractID) uint64 {
	return s.contracts[id].mem.Size(s.wstore)
}

// TestGrowthPaidInMemoryGrow: memory.grow costs GasGrowHook, plus
// GasMemoryGrow per page when it grows, charged once; a growth refused by
// the declared maximum or by MaxMemoryBytes costs GasGrowHook only; a
// growth the frame cannot pay fails it out of gas before the memory grows
// (no page added, no reload of a grown instance, the whole limit spent).
// wasm32 and memory64, every tracker.
func TestGrowthPaidInMemoryGrow(t *testing.T) {
	forEachTracker(t, func(t *testing.T, kind mode) {
		o := kind.options()
		o.MaxMemoryBytes = 64 * merkle.WasmPageSize
		e, err := OpenInMemory(o)
		if err != nil {
			t.Fatal(err)
		}
		defer e.Close()
		s := newSession(t, e, merkle.EmptyState())
		ctx := context.Background()
		for _, addr := range []string{"i32", "i64"} {
			capped, err := s.Deploy(ctx, growWat(t, addr, "16"), DeployOptions{Nonce: 1})
			if err != nil {
				t.Fatal(err)
			}
			open, err := s.Deploy(ctx, growWat(t, addr, ""), DeployOptions{Nonce: 2})
			if err != nil {
				t.Fatal(err)
			}
			spent := func(id merkle.ContractID, pages uint64, want int64) uint64 {
				t.Helper()
				r, err := s.Call(ctx, id, "grow", deltaArg(addr, pages), 1<<40)
				if err != nil {
					t.Fatalf("%s grow %d: %v", addr, pages, err)
				}
				var got int64
				if addr == "i64" {
					got = int64(binary.LittleEndian.Uint64(r.Data))
				} else {
					got = int64(int32(binary.LittleEndian.Uint32(r.Data)))
				}
				if got != want {
					t.Fatalf("%s grow %d returned %d, want %d", addr, pages, got, want)
				}
				return r.GasSpent
			}
			base := uint64(growFuel + GasGrowHook)
			if got := spent(open, 0, 2); got != base {
				t.Errorf("%s grow 0: %d gas, want %d", addr, got, base)
			}
			if got := spent(open, 5, 2); got != base+5*GasMemoryGrow {
				t.Errorf("%s grow 5: %d gas, want %d (growth charged once)", addr, got, base+5*GasMemoryGrow)
			}
			if got := spent(capped, 14, 2); got != base+14*GasMemoryGrow {
				t.Errorf("%s grow to the declared maximum: %d gas, want %d", addr, got, base+14*GasMemoryGrow)
			}
			if got := spent(capped, 1, -1); got != base {
				t.Errorf("%s grow past the declared maximum: %d gas, want %d", addr, got, base)
			}
			if got := spent(open, 58, -1); got != base {
				t.Errorf("%s grow past MaxMemoryBytes: %d gas, want %d", addr, got, base)
			}
			if got := spent(open, 1<<32-1, -1); got != base {
				t.Errorf("%s grow by 2^32-1: %d gas, want %d", addr, got, base)
			}
			if got := spent(open, 57, 7); got != base+57*GasMemoryGrow {
				t.Errorf("%s grow to MaxMemoryBytes: %d gas, want %d", addr, got, base+57*GasMemoryGrow)
			}
			// Unpaid: 10 pages cost 101,708 gas; the frame has 50,000.
			unpaid, err := s.Deploy(ctx, growWat(t, addr, ""), DeployOptions{Nonce: 3})
			if err != nil {
				t.Fatal(err)
			}
			before, instances, rootBefore := pagesOf(s, unpaid), s.instances, root(t, s)
			_, err = s.Call(ctx, unpaid, "grow", deltaArg(addr, 10), 50_000)
			var ce *CallError
			if !errors.Is(err, ErrOutOfGas) || !errors.As(err, &ce) || ce.GasSpent != 50_000 {
				t.Fatalf("%s unpaid growth: %v, want ErrOutOfGas spending the whole limit", addr, err)
			}
			if after := pagesOf(s, unpaid); after != before || s.instances != instances || s.contracts[unpaid].reload {
				t.Fatalf("%s unpaid growth: %d pages (before %d), instances %d (before %d): the memory grew", addr, after, before, s.instances, instances)
			}
			if root(t, s) != rootBefore {
				t.Fatalf("%s unpaid growth changed the root", addr)
			}
		}
	})
}

// TestGrowthPaidNested: a callee's growth is charged to the callee's
// limit, once (its call-tree node shows exactly the hook and the pages);
// a callee that cannot pay for its growth fails out of gas (code -2 to
// its caller, which goes on) and its memory never grew.
func TestGrowthPaidNested(t *testing.T) {
	e := testEngine(t, auto)
	s := newSession(t, e, merkle.EmptyState())
	ctx := context.Background()
	cc := deploy(t, s, "callcenter", DeployOptions{})
	for _, addr := range []string{"i32", "i64"} {
		callee, err := s.Deploy(ctx, growWat(t, addr, ""), DeployOptions{Nonce: 7})
		if err != nil {
			t.Fatal(err)
		}
		arg := func(pages uint64) []byte {
			a := append(callee[:], binary.LittleEndian.AppendUint32(nil, 4)...)
			a = append(a, "grow"...)
			return append(a, deltaArg(addr, pages)...)
		}
		r, err := s.Call(ctx, cc, "delegate_query", arg(3), 1<<40)
		if err != nil {
			t.Fatal(err)
		}
		if len(r.CallTree.Children) != 1 {
			t.Fatalf("call tree: %+v", r.CallTree)
		}
		child := r.CallTree.Children[0]
		if want := uint64(growFuel + GasGrowHook + 3*GasMemoryGrow); child.GasSpent != want || child.MemoryLen != 5*merkle.WasmPageSize {
			t.Fatalf("%s nested growth: callee spent %d, memory %d; want %d, 5 pages", addr, child.GasSpent, child.MemoryLen, want)
		}
		// The callee gets 93% of what is left of 600,000: not enough for
		// 100 pages.
		before, instances := pagesOf(s, callee), s.instances
		r, err = s.Call(ctx, cc, "delegate_query", arg(100), 600_000)
		if err != nil {
			t.Fatal(err)
		}
		if code := int32(binary.LittleEndian.Uint32(r.Data)); code != -2 {
			t.Fatalf("%s nested unpaid growth: code %d, want -2 (out of gas)", addr, code)
		}
		if !r.CallTree.Children[0].Failed {
			t.Fatal("the callee's frame did not fail")
		}
		if pagesOf(s, callee) != before || s.instances != instances {
			t.Fatalf("%s nested unpaid growth: memory grew (%d pages, before %d)", addr, pagesOf(s, callee), before)
		}
	}
}

// TestUnpaidGrowthMapsNothing: growth the call cannot pay for — 4 GiB of
// a wasm32 memory, 1 TiB of a memory64 one under a 2 TiB cap — fails out
// of gas in memory.grow, before wasmtime reserves or maps anything: the
// process's address space and resident memory do not move, and the
// memory keeps its size. Run in a child process, so that nothing else
// moves them.
func TestUnpaidGrowthMapsNothing(t *testing.T) {
	if os.Getenv("WASMSTATE_UNPAID_CHILD") != "" {
		unpaidChild(t)
		return
	}
	for _, c := range []struct {
		contract string
		pages    uint64
		maxMem   uint64
	}{
		{"grower", 65533, 0}, // to the 4 GiB of wasm32, from 3 pages
		{"grower64", 1 << 24, 2 << 40},
	} {
		t.Run(c.contract, func(t *testing.T) {
			out, err := runChild("TestUnpaidGrowthMapsNothing", []string{"WASMSTATE_UNPAID_CHILD=1", "GROW_CONTRACT=" + c.contract,
				"GROW_PAGES=" + strconv.FormatUint(c.pages, 10), "GROW_MAX=" + strconv.FormatUint(c.maxMem, 10)}, 2*time.Minute)
			if err != nil {
				t.Fatalf("child: %v\n%s", err, tail(out, 3000))
			}
			t.Log(childResult(t, out, "unpaid: "))
		})
	}
}

// vmSize is the process's virtual address space (VmSize), in bytes.
func vmSize(t *testing.T) uint64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skipf("no /proc/self/status: %v", err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmSize:" {
			n, err := strconv.ParseUint(f[1], 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return n << 10
		}
	}
	t.Fatal("no VmSize")
	return 0
}

func unpaidChild(t *testing.T) {
	pages, _ := strconv.ParseUint(os.Getenv("GROW_PAGES"), 10, 64)
	maxMem, _ := strconv.ParseUint(os.Getenv("GROW_MAX"), 10, 64)
	o := auto.options()
	o.MaxMemoryBytes = maxMem
	e, err := OpenInMemory(o)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	s := newSession(t, e, merkle.EmptyState())
	id := deploy(t, s, os.Getenv("GROW_CONTRACT"), DeployOptions{})
	arg := u32s(uint32(pages))
	const limit = 100_000_000 // pays for 9,999 pages
	// A paid growth first, so that whatever wasmtime and the tracker set
	// up on a first growth is in place before the measurement.
	call(t, s, id, "grow", u32s(1))
	memBefore := pagesOf(s, id)
	settle(runtime.NumGoroutine())
	vmBefore, rssBefore := vmSize(t), rssBytes(t)
	t0 := time.Now()
	_, err = s.Call(context.Background(), id, "grow", arg, limit)
	took := time.Since(t0)
	vmAfter, rssAfter := vmSize(t), rssBytes(t)
	var ce *CallError
	if !errors.Is(err, ErrOutOfGas) || !errors.As(err, &ce) || ce.GasSpent != limit {
		t.Fatalf("growth of %d pages at gas %d: %v, want ErrOutOfGas spending the limit", pages, limit, err)
	}
	if got := pagesOf(s, id); got != memBefore {
		t.Fatalf("the memory has %d pages, %d before", got, memBefore)
	}
	// Threads the runtime starts take some address space (glibc reserves
	// a 64 MiB malloc arena per thread): far below what growth would.
	if vmAfter > vmBefore+256<<20 {
		t.Fatalf("address space grew by %d MiB", (vmAfter-vmBefore)>>20)
	}
	if rssAfter > rssBefore+8<<20 {
		t.Fatalf("resident memory grew by %d KiB", (rssAfter-rssBefore)>>10)
	}
	fmt.Printf("unpaid: %d pages refused out of gas in %v; address space %+d KiB, resident %+d KiB\n",
		pages, took, int64(vmAfter-vmBefore)>>10, int64(rssAfter-rssBefore)>>10)
}
