package pagestore

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/golang/snappy"
	"github.com/wasmstate/wasmstate/merkle"
)

func TestPageCodec(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	var scratch []byte
	for name, p := range map[string][]byte{"sparse": sparsePage(r), "random": randomPage(r)} {
		stored, s := encodePage(scratch, p)
		scratch = s
		switch name {
		case "sparse":
			if len(stored) >= merkle.PageSize/4 || stored[0] != pageSnappy {
				t.Fatalf("sparse page stored in %d bytes (tag %#x)", len(stored), stored[0])
			}
		case "random":
			if !bytes.Equal(stored, p) {
				t.Fatal("an incompressible page is not stored as it is")
			}
		}
		got, err := decodePage(append([]byte(nil), stored...))
		if err != nil || !bytes.Equal(got, p) {
			t.Fatalf("%s: decode: %v", name, err)
		}
	}
}

func TestDecodePageRejects(t *testing.T) {
	short := snappy.Encode(nil, make([]byte, merkle.PageSize-1))
	long := snappy.Encode(nil, make([]byte, merkle.PageSize+1))
	good := append([]byte{pageSnappy}, snappy.Encode(nil, make([]byte, merkle.PageSize))...)
	for name, v := range map[string][]byte{
		"empty":             nil,
		"tag only":          {pageSnappy},
		"unknown tag":       append([]byte{0x02}, good[1:]...),
		"truncated":         good[:len(good)-1],
		"decodes too short": append([]byte{pageSnappy}, short...),
		"decodes too long":  append([]byte{pageSnappy}, long...),
		"page minus a byte": make([]byte, merkle.PageSize-1),
		"page plus a byte":  make([]byte, merkle.PageSize+1),
	} {
		if _, err := decodePage(v); err == nil {
			t.Errorf("%s: decoded", name)
		}
	}
}

// TestLevelDBCompressesPages: on leveldb a compressible page is stored
// compressed and an incompressible one as it is; both read back (after a
// reopen too), Fsck is clean, and a damaged compressed value is a
// corruption error naming the page.
func TestLevelDBCompressesPages(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(context.Background(), dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(7, 8))
	sparse, random := sparsePage(r), randomPage(r)
	hs, hr := merkle.HashPage(sparse), merkle.HashPage(random)
	b := NewBatch()
	b.PutPage(hs, sparse)
	b.PutPage(hr, random)
	if _, err := s.Commit(b); err != nil {
		t.Fatal(err)
	}
	stored := func(h merkle.Hash) []byte {
		key := makeKey(KindPage, h)
		v, err := s.Backend().Get(key[:])
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	if v := stored(hs); len(v) >= merkle.PageSize || v[0] != pageSnappy {
		t.Fatalf("sparse page stored in %d bytes", len(v))
	}
	if v := stored(hr); !bytes.Equal(v, random) {
		t.Fatal("random page not stored as it is")
	}
	check := func() {
		t.Helper()
		for h, want := range map[merkle.Hash][]byte{hs: sparse, hr: random} {
			got, err := s.Page(h)
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("page %s: %v", h, err)
			}
			v, err := s.ReadObject(KindPage, h)
			if err != nil || !bytes.Equal(v, want) {
				t.Fatalf("ReadObject %s: %v", h, err)
			}
		}
		if probs, err := s.Fsck(context.Background(), nil); err != nil || len(probs) != 0 {
			t.Fatalf("fsck: %v %v", probs, err)
		}
	}
	check()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if s, err = Open(context.Background(), dir, nil); err != nil {
		t.Fatal(err)
	}
	defer func() { s.Close() }()
	check()

	// Damage: a flipped byte in the compressed value, a compressed value
	// of another page, and an unknown tag are each a corruption error.
	v := stored(hs)
	other := append([]byte(nil), sparse...)
	other[0]++
	otherStored, _ := encodePage(nil, other)
	bad := map[string][]byte{
		"flipped":      append(append([]byte(nil), v[:len(v)-1]...), v[len(v)-1]^0xff),
		"another page": otherStored,
		"unknown tag":  append([]byte{0x7f}, v[1:]...),
	}
	for name, bv := range bad {
		overwrite(t, s.Backend(), KindPage, hs, bv)
		// Reopened, so that the page is not in the cache.
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if s, err = Open(context.Background(), dir, nil); err != nil {
			t.Fatal(err)
		}
		_, err := s.Page(hs)
		if err == nil {
			t.Fatalf("%s: read", name)
		}
		mustCorrupt(t, err, KindPage, hs)
	}
}

// TestVersionUpgrade: a version 1 store (pages stored as they are) opens,
// and a writer moves its record to FormatVersion; a read-only open leaves
// it; versions outside [1, FormatVersion] are refused with a VersionError.
func TestVersionUpgrade(t *testing.T) {
	kv := NewMemoryBackend()
	r := rand.New(rand.NewPCG(9, 10))
	p := sparsePage(r)
	h := merkle.HashPage(p)
	setVersion := func(v uint32) {
		b := kv.NewBatch()
		b.Put([]byte{byte(KindVersion)}, binary.LittleEndian.AppendUint32([]byte(versionMagic), v))
		key := makeKey(KindPage, h)
		b.Put(key[:], p)
		if err := kv.Write(b, true); err != nil {
			t.Fatal(err)
		}
	}
	version := func() uint32 {
		v, err := kv.Get([]byte{byte(KindVersion)})
		if err != nil {
			t.Fatal(err)
		}
		return binary.LittleEndian.Uint32(v[len(versionMagic):])
	}
	setVersion(1)
	ro, err := NewStore(kv, &Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := ro.Page(h); err != nil || !bytes.Equal(got, p) {
		t.Fatalf("read-only open of version 1: %v", err)
	}
	if version() != 1 {
		t.Fatal("a read-only open changed the version record")
	}
	s, err := NewStore(kv, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := s.Page(h); err != nil || !bytes.Equal(got, p) {
		t.Fatalf("version 1 page: %v", err)
	}
	if v := version(); v != FormatVersion {
		t.Fatalf("version record %d after a writer's open, want %d", v, FormatVersion)
	}
	for _, v := range []uint32{0, FormatVersion + 1} {
		setVersion(v)
		_, err := NewStore(kv, nil)
		var ve *VersionError
		if !errors.Is(err, ErrVersion) || !errors.As(err, &ve) || ve.Found != v || ve.Want != FormatVersion {
			t.Fatalf("version %d: %v", v, err)
		}
	}
}

// TestWriteOrder: a leveldb batch is written in key order (by the first 8
// bytes of the key), as a permutation of the staged objects, with the
// packed ranks and with the comparison sort of very large batches.
func TestWriteOrder(t *testing.T) {
	kv, err := OpenLevelDB(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer kv.Close()
	r := rand.New(rand.NewPCG(11, 12))
	objs := make([]staged, 5000)
	for i := range objs {
		var h merkle.Hash
		for j := range h {
			h[j] = byte(r.Uint32())
		}
		if i%10 == 0 && i > 0 {
			copy(h[:7], objs[i-1].key[1:8]) // same 8-byte prefix as the one before
		}
		objs[i].key = makeKey([]Kind{KindPage, KindMemoryNode, KindStateNode}[i%3], h)
	}
	check := func(name string, order []int32) {
		t.Helper()
		seen := make([]bool, len(objs))
		for i, oi := range order {
			if seen[oi] {
				t.Fatalf("%s: %d twice", name, oi)
			}
			seen[oi] = true
			if i > 0 && bytes.Compare(objs[order[i-1]].key[:8], objs[oi].key[:8]) > 0 {
				t.Fatalf("%s: out of order at %d", name, i)
			}
		}
		if len(order) != len(objs) {
			t.Fatalf("%s: %d of %d", name, len(order), len(objs))
		}
	}
	check("packed", writeOrder(kv, objs))
	order := make([]int32, len(objs))
	for i := range order {
		order[i] = int32(i)
	}
	check("comparison", sortedByKey(objs, order))
	// A backend that does not ask for key order keeps the staging order.
	for i, oi := range writeOrder(NewMemoryBackend(), objs) {
		if int(oi) != i {
			t.Fatal("memory backend: reordered")
		}
	}
}

// TestEncodeSparse checks the zero-run encoder against snappy's decoder on
// pages with runs of every length at the start, middle and end, and that
// it leaves pages with more than maxSparseLiteral non-zero bytes to snappy.
func TestEncodeSparse(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for trial := range 5000 {
		p := make([]byte, merkle.PageSize)
		words := r.IntN(maxSparseLiteral/8 + 1)
		if trial%10 == 0 {
			words = 0
		}
		for range words {
			w := r.IntN(len(p) / 8)
			switch trial % 4 {
			case 0: // clustered at the ends
				if r.IntN(2) == 0 {
					w = r.IntN(4)
				} else {
					w = len(p)/8 - 1 - r.IntN(4)
				}
			case 1: // one cluster
				w = (len(p)/8/2 + r.IntN(20)) % (len(p) / 8)
			}
			// One non-zero byte (zeros around it) or a random word.
			v := uint64(1+r.IntN(255)) << (8 * r.IntN(8))
			if r.IntN(2) == 0 {
				v |= r.Uint64()
			}
			binary.LittleEndian.PutUint64(p[8*w:], v)
		}
		c, ok := encodeSparse(nil, p)
		if !ok {
			t.Fatalf("trial %d: %d non-zero words refused", trial, words)
		}
		got, err := snappy.Decode(nil, c)
		if err != nil || !bytes.Equal(got, p) {
			t.Fatalf("trial %d: snappy decode: %v (equal %v)", trial, err, bytes.Equal(got, p))
		}
		if std := snappy.Encode(nil, p); len(c) > len(std)+maxSparseLiteral/2 {
			t.Fatalf("trial %d: %d bytes, snappy %d", trial, len(c), len(std))
		}
		if stored, _ := encodePage(nil, p); !bytes.Equal(stored[1:], c) {
			t.Fatalf("trial %d: encodePage does not use the sparse encoding", trial)
		}
	}
	// Just over the limit: snappy's turn.
	p := make([]byte, merkle.PageSize)
	for w := range maxSparseLiteral/8 + 1 {
		p[16*w] = 1
	}
	if _, ok := encodeSparse(nil, p); ok {
		t.Fatal("a page over the literal limit was encoded sparse")
	}
	if _, ok := encodeSparse(nil, p[:len(p)-1]); ok {
		t.Fatal("a page of odd length was encoded sparse")
	}
	// The benchmarks' pages (pagewriter.wat): an id and a counter in the
	// middle, within a few bytes of what snappy makes of them.
	p = make([]byte, merkle.PageSize)
	binary.LittleEndian.PutUint32(p[2048:], 12345)
	binary.LittleEndian.PutUint32(p[2052:], 7)
	c, ok := encodeSparse(nil, p)
	if std := snappy.Encode(nil, p); !ok || len(c) > len(std)+4 {
		t.Fatalf("pagewriter page: %d bytes (ok %v), snappy %d", len(c), ok, len(std))
	}
}

// BenchmarkEncodePage: the stored form of a page like the commit
// benchmarks' (8 non-zero bytes) and of one with 16 scattered bytes.
func BenchmarkEncodePage(b *testing.B) {
	bench := make([]byte, merkle.PageSize)
	binary.LittleEndian.PutUint64(bench[2048:], 0x700003039)
	for name, p := range map[string][]byte{"pagewriter": bench, "sparse16": sparsePage(rand.New(rand.NewPCG(1, 2)))} {
		b.Run(name, func(b *testing.B) {
			var scratch []byte
			for b.Loop() {
				_, scratch = encodePage(scratch, p)
			}
		})
	}
}
