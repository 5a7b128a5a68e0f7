package pagestore

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/wasmstate/wasmstate/merkle"
)

func TestOpenRefusesForeignDirectory(t *testing.T) {
	dir := t.TempDir()
	mine := filepath.Join(dir, "notes.txt")
	os.WriteFile(mine, []byte("mine"), 0o644)
	if _, err := Open(context.Background(), dir, nil); !errors.Is(err, ErrNotStore) {
		t.Fatalf("open of a directory with other files: %v", err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Fatalf("open wrote into a foreign directory: %v", ents)
	}
	if _, err := Open(context.Background(), mine, nil); !errors.Is(err, ErrNotStore) {
		t.Fatalf("open of a regular file: %v", err)
	}
	if st, err := ProbeDir(dir); st != DirOther || err != nil {
		t.Fatalf("probe: %v %v", st, err)
	}
}

func TestOpenNoCreate(t *testing.T) {
	for _, o := range []*Options{{NoCreate: true}, {ReadOnly: true}} {
		missing := filepath.Join(t.TempDir(), "db")
		if _, err := Open(context.Background(), missing, o); !errors.Is(err, ErrNoStore) {
			t.Fatalf("%+v on a missing dir: %v", o, err)
		}
		if _, err := os.Stat(missing); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("%+v created the directory", o)
		}
		empty := t.TempDir()
		if _, err := Open(context.Background(), empty, o); !errors.Is(err, ErrNoStore) {
			t.Fatalf("%+v on an empty dir: %v", o, err)
		}
	}
	dir := filepath.Join(t.TempDir(), "db")
	s, err := Open(context.Background(), dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if st, _ := ProbeDir(dir); st != DirDatabase {
		t.Fatalf("probe after create: %v", st)
	}
	s, err = Open(context.Background(), dir, &Options{NoCreate: true})
	if err != nil {
		t.Fatalf("NoCreate on a store: %v", err)
	}
	s.Close()
}

func TestOpenReadOnlyAndLockWait(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "db")
	s, err := Open(context.Background(), dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	// A writer holds the lock: another open fails at once with ErrLocked...
	if _, err := Open(context.Background(), dir, &Options{ReadOnly: true}); !errors.Is(err, ErrLocked) {
		t.Fatalf("open beside a writer: %v", err)
	}
	// ... or waits for it.
	start := time.Now()
	go func() { time.Sleep(200 * time.Millisecond); s.Close() }()
	r1, err := Open(context.Background(), dir, &Options{ReadOnly: true, LockWait: 10 * time.Second})
	if err != nil {
		t.Fatalf("open with LockWait: %v", err)
	}
	if time.Since(start) < 150*time.Millisecond {
		t.Fatal("did not wait for the lock")
	}
	defer r1.Close()
	// Readers share the lock.
	r2, err := Open(context.Background(), dir, &Options{ReadOnly: true})
	if err != nil {
		t.Fatalf("second reader: %v", err)
	}
	defer r2.Close()
	if _, _, err := r2.Head(); err != nil {
		t.Fatal(err)
	}
	if err := r2.SetHead(merkle.EmptyState()); !errors.Is(err, ErrReadOnly) {
		t.Fatalf("write to a read-only store: %v", err)
	}
	if _, err := Open(context.Background(), dir, &Options{LockWait: 100 * time.Millisecond}); !errors.Is(err, ErrLocked) {
		t.Fatalf("writer beside readers: %v", err)
	}
}

func TestGCProgress(t *testing.T) {
	s := newMemStore(t, nil)
	w := newWorld(s, merkle.EmptyState())
	b := NewBatch()
	for i := range 40 {
		w.deploy(b, cid(i+1), []byte{byte(i)}, nil)
	}
	w.commit(t, s, b, 1)
	var phases []string
	last := map[string]float64{}
	_, err := s.GCWithOptions(context.Background(), GCOptions{Progress: func(p GCProgress) {
		if len(phases) == 0 || phases[len(phases)-1] != p.Phase {
			phases = append(phases, p.Phase)
		}
		if p.Fraction < last[p.Phase] || p.Fraction > 1 {
			t.Errorf("%s fraction went from %v to %v", p.Phase, last[p.Phase], p.Fraction)
		}
		last[p.Phase] = p.Fraction
	}})
	if err != nil {
		t.Fatal(err)
	}
	if len(phases) == 0 || phases[len(phases)-1] != "sweep" {
		t.Fatalf("phases reported: %v", phases)
	}
}

// A store that lost its CURRENT file is corrupt, not foreign and not new:
// opening must not start an empty database over its tables.
func TestOpenLostCurrent(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "db")
	s, err := Open(context.Background(), dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	os.Remove(filepath.Join(dir, "CURRENT"))
	if st, _ := ProbeDir(dir); st != DirDatabase {
		t.Fatalf("probe: %v", st)
	}
	if _, err := Open(context.Background(), dir, nil); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("open without CURRENT: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "CURRENT")); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("open recreated CURRENT")
	}
}
