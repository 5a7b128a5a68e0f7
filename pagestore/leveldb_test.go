package pagestore

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/syndtr/goleveldb/leveldb/opt"
	"github.com/syndtr/goleveldb/leveldb/util"
	"github.com/wasmstate/wasmstate/merkle"
)

// levelWithPages creates a leveldb store in a new directory holding n
// random pages, flushed into table files, and closes it.
func levelWithPages(t *testing.T, n int) (string, [][]byte) {
	t.Helper()
	dir := t.TempDir()
	s, err := Open(context.Background(), dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(21, 22))
	var pages [][]byte
	b := NewBatch()
	for i := 0; i < n; i++ {
		p := randomPage(r)
		pages = append(pages, p)
		b.PutPage(merkle.HashPage(p), p)
	}
	if _, err := s.Commit(b); err != nil {
		t.Fatal(err)
	}
	if err := s.Backend().(*LevelDB).DB().CompactRange(util.Range{}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return dir, pages
}

// flipOnDisk flips one byte inside every copy of needle in the
// directory's table files: a compaction may leave an obsolete table behind
// for a while, and damaging only that copy would leave the live one intact.
func flipOnDisk(t *testing.T, dir string, needle []byte) {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "*.ldb"))
	found := false
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		changed := false
		for off := 0; ; {
			i := bytes.Index(data[off:], needle)
			if i < 0 {
				break
			}
			data[off+i+len(needle)/2] ^= 0x01
			off += i + len(needle)
			changed = true
		}
		if changed {
			found = true
			if err := os.WriteFile(f, data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	if !found {
		t.Fatalf("value not found in the table files of %s", dir)
	}
}

func TestIntegrityLevelDB(t *testing.T) {
	for _, strict := range []bool{true, false} {
		name := "block-checksums"
		if !strict {
			name = "no-block-checksums" // the store's own rehash catches it
		}
		t.Run(name, func(t *testing.T) {
			dir, pages := levelWithPages(t, 20)
			// A damaged block takes down every key it holds (16 KiB of
			// them, LevelDBOptions): damage the page with the last key,
			// and read the neighbour with the first key, 19 pages (76
			// KiB of tables) apart, beside the version record.
			slices.SortFunc(pages, func(a, b []byte) int {
				ha, hb := merkle.HashPage(a), merkle.HashPage(b)
				return bytes.Compare(ha[:], hb[:])
			})
			victim, neighbour := pages[len(pages)-1], pages[0]
			vh := merkle.HashPage(victim)
			flipOnDisk(t, dir, victim)

			o := LevelDBOptions()
			if !strict {
				o.Strict = opt.NoStrict
			}
			db, err := OpenLevelDB(dir, o)
			if err != nil {
				t.Fatal(err)
			}
			s, err := NewStore(db, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			_, err = s.Page(vh)
			mustCorrupt(t, err, KindPage, vh)
			if strict && !strings.Contains(err.Error(), "backend reports damage") {
				t.Fatalf("expected leveldb to detect it: %v", err)
			}
			if !strict && !strings.Contains(err.Error(), "hashes to") {
				t.Fatalf("expected the rehash to detect it: %v", err)
			}
			// Its neighbours are intact.
			if p, err := s.Page(merkle.HashPage(neighbour)); err != nil || !bytes.Equal(p, neighbour) {
				t.Fatalf("neighbour: %v", err)
			}
		})
	}
}

func TestIntegrityLevelDBOverwrite(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(context.Background(), dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	w := newWorld(s, merkle.EmptyState())
	b := NewBatch()
	w.deploy(b, cid(1), []byte("code"), []byte("owner"))
	w.writePage(b, cid(1), 2, randomPage(rand.New(rand.NewPCG(1, 3))))
	root := w.commit(t, s, b, 1)
	leaf := w.contracts[cid(1)].leaf
	overwrite(t, s.Backend(), KindMemoryNode, leaf.MemoryRoot, make([]byte, 64))
	s.Close()

	s, err = Open(context.Background(), dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	_, _, err = s.MemoryNode(leaf.MemoryRoot)
	mustCorrupt(t, err, KindMemoryNode, leaf.MemoryRoot)
	problems, err := s.Fsck(context.Background(), nil)
	if err != nil || len(problems) != 1 || problems[0].Key != leaf.MemoryRoot || problems[0].Root != root {
		t.Fatalf("fsck: %v %v", problems, err)
	}
	if !errors.Is(problems[0].Err, ErrCorrupt) {
		t.Fatal(problems[0].Err)
	}
}

func TestLevelDBReopen(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(context.Background(), dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	w := newWorld(s, merkle.EmptyState())
	b := NewBatch()
	w.deploy(b, cid(1), []byte("code"), []byte("owner"))
	w.writePage(b, cid(1), 2, []byte("hello"))
	root := w.commit(t, s, b, 1)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); !errors.Is(err, ErrClosed) {
		t.Fatalf("second close: %v", err)
	}
	s, err = Open(context.Background(), dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	checkRoot(t, s, root, w.snapshot())
	if h, ok, err := s.Head(); !ok || err != nil || h != root {
		t.Fatal("head lost across reopen")
	}
	// A locked directory cannot be opened twice.
	if _, err := Open(context.Background(), dir, nil); err == nil {
		t.Fatal("opened a directory twice")
	}
}
