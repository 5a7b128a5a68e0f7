package bench

import (
	"bytes"
	"context"
	"encoding/binary"
	"testing"

	"github.com/wasmstate/wasmstate/engine"
	"github.com/wasmstate/wasmstate/engine/dirty"
	"github.com/wasmstate/wasmstate/merkle"
)

// Fast checks (well under a second) that the benchmarks' own contracts do
// what the benchmarks assume.

func TestPageWriter(t *testing.T) {
	e := openEngine(t, "", dirty.Auto)
	defer e.Close()
	s := newSession(t, e, merkle.EmptyState())
	defer s.Close()
	id, err := deployPageWriter(s, 2, 0) // 128 KiB, 32 pages filled
	if err != nil {
		t.Fatal(err)
	}
	root := commit(t, s)
	for _, p := range []uint32{0, 17, 31} {
		if got := call(t, s, id, "read", u32s(p)); !bytes.Equal(got, []byte{byte(p + 1)}) {
			t.Fatalf("read(%d) = %x, want %02x", p, got, p+1)
		}
	}
	// write 4 pages with stride 8 from page 1: pages 1, 9, 17, 25.
	call(t, s, id, "write", u32s(4, 8, 1))
	root2 := commit(t, s)
	if root2 == root {
		t.Fatal("write changed nothing")
	}
	diff, err := e.Diff(context.Background(), root, root2)
	if err != nil {
		t.Fatal(err)
	}
	if len(diff) != 1 || len(diff[0].Pages) != 4 || diff[0].Pages[0] != 1 || diff[0].Pages[3] != 25 {
		t.Fatalf("diff = %+v, want pages 1, 9, 17, 25", diff)
	}
	p, err := e.ProvePage(context.Background(), root2, id, 9)
	if err != nil {
		t.Fatal(err)
	}
	page, err := merkle.VerifyPage(root2, id, 9, p)
	if err != nil {
		t.Fatal(err)
	}
	if binary.LittleEndian.Uint32(page[2048:]) != 10 || binary.LittleEndian.Uint32(page[2052:]) != 1 {
		t.Fatalf("page 9: id %d counter %d, want 10 and 1",
			binary.LittleEndian.Uint32(page[2048:]), binary.LittleEndian.Uint32(page[2052:]))
	}
	if _, err := s.Call(context.Background(), id, "read", u32s(32), bigGas); err == nil {
		t.Fatal("read past the memory did not trap")
	}
}

func TestKVContract(t *testing.T) {
	e := openEngine(t, "", dirty.Auto)
	defer e.Close()
	s := newSession(t, e, merkle.EmptyState())
	defer s.Close()
	const n = 300
	id := deploy(t, s, wasmCode(t, "kv"), engine.DeployOptions{InitArg: u32s(kvLog2Cap(n))})
	keys, vals := kvPairs(n)
	want := map[[32]byte][32]byte{}
	put := func(from, to int) {
		arg := binary.LittleEndian.AppendUint32(nil, uint32(to-from))
		for i := from; i < to; i++ {
			arg = append(arg, keys[i][:]...)
			arg = append(arg, vals[i][:]...)
			want[keys[i]] = vals[i]
		}
		got := call(t, s, id, "put_many", arg)
		if c := binary.LittleEndian.Uint32(got); int(c) != len(want) {
			t.Fatalf("put_many: %d keys stored, want %d", c, len(want))
		}
	}
	put(0, 200)
	put(200, n)
	// Overwrite some values.
	for i := 0; i < 50; i++ {
		vals[i][0]++
	}
	put(0, 50)
	for k, v := range want {
		if got := call(t, s, id, "get", k[:]); !bytes.Equal(got, v[:]) {
			t.Fatalf("get(%x) = %x, want %x", k, got, v)
		}
	}
	absent := [32]byte{1, 2, 3}
	if got := call(t, s, id, "get", absent[:]); len(got) != 0 {
		t.Fatalf("get(absent) = %x", got)
	}
	if got := call(t, s, id, "slot", absent[:]); binary.LittleEndian.Uint32(got) != 0xFFFFFFFF {
		t.Fatalf("slot(absent) = %x", got)
	}
	if _, err := s.Call(context.Background(), id, "put_many", u32s(1), bigGas); err == nil {
		t.Fatal("put_many with a short argument did not trap")
	}
	root := commit(t, s)
	for _, k := range []int{0, 150, n - 1} {
		r := call(t, s, id, "slot", keys[k][:])
		slot := uint64(binary.LittleEndian.Uint32(r))
		p, err := e.ProvePage(context.Background(), root, id, slot/merkle.PageSize)
		if err != nil {
			t.Fatal(err)
		}
		bin, err := p.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		v, err := verifyKV(root, id, keys[k], slot, bin)
		if err != nil || v != vals[k] {
			t.Fatalf("key %d: verify = %x, %v; want %x", k, v, err, vals[k])
		}
	}
}

func TestWithCustomSection(t *testing.T) {
	code := wasmCode(t, "counter")
	e := openEngine(t, "", dirty.Auto)
	defer e.Close()
	s := newSession(t, e, merkle.EmptyState())
	defer s.Close()
	a := deploy(t, s, withCustomSection(code, 1), engine.DeployOptions{})
	b := deploy(t, s, withCustomSection(code, 2), engine.DeployOptions{})
	if a == b {
		t.Fatal("custom sections did not change the code hash")
	}
	if got := call(t, s, a, "read_value", nil); got[0] != 0xfc {
		t.Fatalf("read_value = %x", got)
	}
}
