package reliability

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/syndtr/goleveldb/leveldb/util"

	"github.com/wasmstate/wasmstate/engine"
	"github.com/wasmstate/wasmstate/internal/crashtest"
	"github.com/wasmstate/wasmstate/merkle"
	"github.com/wasmstate/wasmstate/pagestore"
)

// Corruption: faults injected into the store's files and values must
// surface as typed errors naming the damage (or leave the data intact),
// never as wrong data or a panic; Fsck must find every value-level fault.

const (
	corruptValuesEnv = "WASMSTATE_CORRUPT_VALUES" // value-level injections (default 150)
	corruptFilesEnv  = "WASMSTATE_CORRUPT_FILES"  // file-level injections (default 60)
)

func envInt(t *testing.T, name string, def int) int {
	if v := os.Getenv(name); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			t.Fatalf("%s=%q", name, v)
		}
		return n
	}
	return def
}

// contractView is everything readable about one contract under a root.
type contractView struct {
	leaf    merkle.ContractLeaf
	mem     []byte
	owner   []byte
	code    []byte
	globals []uint64
}

type snapshot map[merkle.Hash]map[merkle.ContractID]*contractView

// buildPristine makes a leveldb store with several commits (one deleted,
// then GC'd), compacted into table files, then two more commits left in
// the journal (a crash image). It returns the directory and what every
// root holds.
func buildPristine(t *testing.T) (string, snapshot) {
	t.Helper()
	dir := shmDir(t, "wasmstate-pristine-")
	e, err := engine.Open(context.Background(), dir, engine.Options{Logger: quiet, Now: fixedClock()})
	if err != nil {
		t.Fatal(err)
	}
	s := session(t, e, merkle.EmptyState())
	deployFixed(t, s)
	deploy(t, s, "counter64", engine.DeployOptions{Owner: []byte("c64")})
	deploy(t, s, "grower", engine.DeployOptions{})
	r := rand.New(rand.NewPCG(1, 2))
	write := func(n int) {
		for i := 0; i < n; i++ {
			id := []merkle.ContractID{fuzz32ID, fuzz64ID}[i%2]
			off := uint64(0x1000 + r.IntN(0xE000))
			data := make([]byte, 1+r.IntN(3000))
			for j := range data {
				data[j] = byte(r.Uint32())
			}
			call(t, s, id, "go", goArg(selStore, 0, [5]uint64{off, uint64(len(data))}, data))
		}
		call(t, s, counterID, "add", u64(uint64(r.IntN(100))))
		call(t, s, counterID, "set_global", u64(r.Uint64()))
	}
	var roots []merkle.Hash
	for i := 0; i < 4; i++ {
		write(6)
		roots = append(roots, commit(t, s))
	}
	if _, err := e.DeleteCommit(roots[1]); err != nil {
		t.Fatal(err)
	}
	if _, err := e.GC(context.Background()); err != nil {
		t.Fatal(err)
	}
	s.Close()
	e.Close()
	// Compact into tables; the next commits stay in the journal.
	db, err := pagestore.OpenLevelDB(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.DB().CompactRange(util.Range{}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if e, err = engine.Open(context.Background(), dir, engine.Options{Logger: quiet, Now: fixedClock()}); err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	s = session(t, e, roots[3])
	for i := 0; i < 2; i++ {
		write(4)
		commit(t, s)
	}
	s.Close()
	// The pristine copy is a crash image, taken while the engine is open:
	// journal damage is what an unclean stop leaves to find.
	crashed := shmDir(t, "wasmstate-pristine-crash-")
	copyDir(t, dir, crashed)
	snap := snapshot{}
	recs, err := e.Commits()
	if err != nil {
		t.Fatal(err)
	}
	for _, rec := range recs {
		v, err := readRoot(e, rec.Root, nil)
		if err != nil {
			t.Fatal(err)
		}
		snap[rec.Root] = v
	}
	return crashed, snap
}

// fixedClock makes commit records reproducible.
func fixedClock() func() time.Time {
	n := int64(0)
	return func() time.Time { n++; return time.Unix(1_700_000_000, n) }
}

// readRoot reads every contract under root through Inspect, range proofs
// (verified against the root) and a session's calls. With want, every
// value read must equal want's (a read may fail, but only with a typed
// error, which readRoot returns after reading everything else); without
// it, any error is returned at once.
func readRoot(e *engine.Engine, root merkle.Hash, want map[merkle.ContractID]*contractView) (map[merkle.ContractID]*contractView, error) {
	got := map[merkle.ContractID]*contractView{}
	var errs []error
	fail := func(err error) error {
		if want == nil {
			return err
		}
		errs = append(errs, err)
		return nil
	}
	leaves, err := e.Contracts(context.Background(), root)
	if err != nil {
		if err := fail(fmt.Errorf("contracts: %w", err)); err != nil {
			return nil, err
		}
	} else if want != nil && len(leaves) != len(want) {
		return nil, wrongData("root %s lists %d contracts, want %d", short(root), len(leaves), len(want))
	}
	ids := make([]merkle.ContractID, 0, len(leaves))
	for _, l := range leaves {
		ids = append(ids, l.ID)
		if want != nil && (want[l.ID] == nil || want[l.ID].leaf != l) {
			return nil, wrongData("leaf of %s under %s differs", short(merkle.Hash(l.ID)), short(root))
		}
	}
	if want != nil {
		ids = ids[:0]
		for id := range want {
			ids = append(ids, id)
		}
	}
	for _, id := range ids {
		v := &contractView{}
		w := want[id]
		info, err := e.Inspect(context.Background(), root, id)
		if err != nil {
			if err := fail(fmt.Errorf("inspect %s: %w", short(merkle.Hash(id)), err)); err != nil {
				return nil, err
			}
		} else {
			v.leaf, v.owner, v.code, v.globals = info.Leaf, info.Owner, info.Code, info.Globals
			if w != nil && (v.leaf != w.leaf || !bytes.Equal(v.owner, w.owner) || !bytes.Equal(v.code, w.code) || !slices.Equal(v.globals, w.globals)) {
				return nil, wrongData("Inspect of %s under %s differs", short(merkle.Hash(id)), short(root))
			}
		}
		n := v.leaf.MemoryLen
		if w != nil {
			n = w.leaf.MemoryLen
		}
		p, err := e.ProveRange(context.Background(), root, id, 0, n)
		if err == nil {
			v.mem, err = merkle.VerifyRange(root, id, 0, n, p)
			if err != nil {
				return nil, wrongData("range proof of %s under %s does not verify: %v", short(merkle.Hash(id)), short(root), err)
			}
			if w != nil && !bytes.Equal(v.mem, w.mem) {
				return nil, wrongData("memory of %s under %s differs", short(merkle.Hash(id)), short(root))
			}
		} else if err := fail(fmt.Errorf("prove %s: %w", short(merkle.Hash(id)), err)); err != nil {
			return nil, err
		}
		got[id] = v
	}
	// Through a session: the contracts load (pages verified) and answer.
	s, err := e.NewSession(root, engine.SessionOptions{})
	if err != nil {
		if err := fail(fmt.Errorf("session: %w", err)); err != nil {
			return nil, err
		}
	} else {
		defer s.Close()
		m, err := readModel(s)
		switch {
		case err != nil:
			if err := fail(fmt.Errorf("calls: %w", err)); err != nil {
				return nil, err
			}
		case want != nil:
			for _, id := range []merkle.ContractID{fuzz32ID, fuzz64ID} {
				if !bytes.Equal(m.mem[id], want[id].mem) {
					return nil, wrongData("memory of %s read by calls under %s differs", short(merkle.Hash(id)), short(root))
				}
			}
			if m.glb != want[counterID].globals[1] {
				return nil, wrongData("counter global read by a call under %s differs", short(root))
			}
		}
	}
	return got, errors.Join(errs...)
}

var errWrongData = errors.New("WRONG DATA")

func wrongData(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{errWrongData}, args...)...)
}

var hexHash = regexp.MustCompile(`[0-9a-f]{64}`)

// namesDamage reports whether an error message names a key (a hash) or a
// database file.
func namesDamage(msg string) bool {
	if hexHash.MatchString(msg) {
		return true
	}
	for _, f := range []string{"file=", "CURRENT", "MANIFEST", ".ldb", ".log", "entry point"} {
		if strings.Contains(msg, f) {
			return true
		}
	}
	return false
}

// typedDamage reports whether err is a typed error about stored data that
// names a key or file.
func typedDamage(err error) bool {
	for _, s := range []error{pagestore.ErrCorrupt, pagestore.ErrNotFound, pagestore.ErrVersion, pagestore.ErrGCPending,
		merkle.ErrMissingNode, engine.ErrUnknownRoot} {
		if errors.Is(err, s) {
			return namesDamage(err.Error()) || errors.Is(err, pagestore.ErrVersion) || errors.Is(err, pagestore.ErrGCPending)
		}
	}
	return false
}

// checkErrs checks that every error errors.Join gathered is typed.
func checkErrs(t *testing.T, what string, err error) {
	t.Helper()
	if err == nil {
		return
	}
	var errs []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	} else {
		errs = []error{err}
	}
	for _, e := range errs {
		if !typedDamage(e) {
			t.Fatalf("%s: untyped error %T: %v", what, e, e)
		}
	}
}

func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, en := range entries {
		if en.Name() == "LOCK" {
			continue
		}
		in, err := os.Open(filepath.Join(src, en.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out, err := os.Create(filepath.Join(dst, en.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(out, in); err != nil {
			t.Fatal(err)
		}
		in.Close()
		out.Close()
	}
}

type storedKV struct {
	key, value []byte
}

func allKeys(t *testing.T, dir string) []storedKV {
	t.Helper()
	db, err := pagestore.OpenLevelDB(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var out []storedKV
	err = db.Iterate(nil, func(k, v []byte) error {
		out = append(out, storedKV{bytes.Clone(k), bytes.Clone(v)})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// Value-level faults, written through the backend.
var valueFaults = []string{"flip", "truncate", "extend", "delete", "swap", "zero"}

func TestCorruptValues(t *testing.T) {
	n := envInt(t, corruptValuesEnv, 150)
	if raceEnabled {
		n = min(n, 40)
	}
	pristine, snap := buildPristine(t)
	kvs := allKeys(t, pristine)
	byKind := map[byte][]storedKV{}
	for _, kv := range kvs {
		byKind[kv.key[0]] = append(byKind[kv.key[0]], kv)
	}
	var kinds []byte
	for k := range byKind {
		kinds = append(kinds, k)
	}
	kinds = append(kinds, 'G') // a damaged GC marker, which is normally absent
	sort.Slice(kinds, func(i, j int) bool { return kinds[i] < kinds[j] })
	head := headOf(t, pristine)
	seed := uint64(time.Now().UnixNano())
	t.Logf("%d value injections over %d keys of kinds %q; seed %d", n, len(kvs), kinds, seed)
	r := rand.New(rand.NewPCG(seed, 3))
	type tally struct{ injected, faults, detected, notFault int }
	tallies := map[string]*tally{}
	work := shmDir(t, "wasmstate-corrupt-")
	injected := 0
	for i := 0; injected < n && i < 100*n; i++ {
		kind := kinds[i%len(kinds)]
		fault := valueFaults[(i/len(kinds))%len(valueFaults)]
		if kind == 'G' {
			fault = "garbage"
		}
		var victim storedKV
		if kind != 'G' {
			list := byKind[kind]
			victim = list[r.IntN(len(list))]
		} else {
			victim = storedKV{key: []byte{'G'}}
		}
		newVal, del, ok := applyValueFault(r, fault, victim, byKind[kind])
		if !ok {
			continue // e.g. no other value to swap with
		}
		injected++
		dir := filepath.Join(work, strconv.Itoa(i))
		os.Mkdir(dir, 0o755)
		copyDir(t, pristine, dir)
		db, err := pagestore.OpenLevelDB(dir, nil)
		if err != nil {
			t.Fatal(err)
		}
		b := db.NewBatch()
		if del {
			b.Delete(victim.key)
		} else {
			b.Put(victim.key, newVal)
		}
		if err := db.Write(b, true); err != nil {
			t.Fatal(err)
		}
		db.Close()

		name := fmt.Sprintf("%s/%s", pagestore.Kind(kind), fault)
		tl := tallies[name]
		if tl == nil {
			tl = &tally{}
			tallies[name] = tl
		}
		tl.injected++
		isFault, detected := checkValueFault(t, dir, snap, head, kind, victim.key, fault)
		if isFault {
			tl.faults++
			if detected {
				tl.detected++
			} else {
				t.Errorf("%s of %x: not detected", fault, victim.key)
			}
		} else {
			tl.notFault++
		}
		os.RemoveAll(dir)
	}
	var names []string
	var inj, faults, det, nf int
	for name, tl := range tallies {
		names = append(names, name)
		inj, faults, det, nf = inj+tl.injected, faults+tl.faults, det+tl.detected, nf+tl.notFault
	}
	sort.Strings(names)
	for _, name := range names {
		tl := tallies[name]
		t.Logf("  %-24s injected %3d, faults %3d, detected %3d, not a fault %d", name, tl.injected, tl.faults, tl.detected, tl.notFault)
	}
	t.Logf("value-level: %d injections, %d faults, %d detected (%d are not faults: deleting the head or a blob is a legal state, and a compressed page can change and still decode to the same, verified page)", inj, faults, det, nf)
}

func headOf(t *testing.T, dir string) merkle.Hash {
	e, err := engine.Open(context.Background(), dir, engine.Options{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	h, err := e.Head()
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// applyValueFault returns the damaged value (or a deletion).
func applyValueFault(r *rand.Rand, fault string, victim storedKV, same []storedKV) (val []byte, del, ok bool) {
	v := bytes.Clone(victim.value)
	switch fault {
	case "flip":
		if len(v) == 0 {
			return nil, false, false
		}
		v[r.IntN(len(v))] ^= 1 << r.IntN(8)
	case "truncate":
		if len(v) == 0 {
			return nil, false, false
		}
		v = v[:r.IntN(len(v))]
	case "extend":
		v = append(v, byte(r.Uint32()))
	case "delete":
		return nil, true, true
	case "swap":
		for _, try := range r.Perm(len(same)) {
			if o := same[try]; !bytes.Equal(o.value, v) {
				return bytes.Clone(o.value), false, true
			}
		}
		return nil, false, false
	case "zero":
		if len(v) == 0 || bytes.Count(v, []byte{0}) == len(v) {
			return nil, false, false
		}
		v = make([]byte, len(v))
	case "garbage":
		v = []byte{1, 2, 3, 4, 5, 6, 7, 8, 9}
	}
	return v, false, true
}

// checkValueFault opens the damaged store, reads every root and runs Fsck.
// It reports whether the injection is a fault at all and whether it was
// detected: by Fsck naming the key, or (version record) at open.
func checkValueFault(t *testing.T, dir string, snap snapshot, head merkle.Hash, kind byte, key []byte, fault string) (isFault, detected bool) {
	t.Helper()
	e, err := engine.Open(context.Background(), dir, engine.Options{Logger: quiet})
	if kind == 'V' {
		if !errors.Is(err, pagestore.ErrVersion) {
			t.Fatalf("damaged version record (%s): open: %v", fault, err)
		}
		return true, true
	}
	if kind == 'r' && fault == "delete" {
		// The store's commit log names a record deleted behind its back
		// (pagestore/journal.go), head or not.
		var je *pagestore.JournalError
		if !errors.As(err, &je) || len(je.Lost) != 1 || je.Lost[0].Root != merkle.Hash(key[1:]) {
			t.Fatalf("commit record %x deleted: open: want a JournalError naming it, got %v", key, err)
		}
		return true, true
	}
	if err != nil {
		t.Fatalf("%s of %x: open: %v", fault, key, err)
	}
	defer e.Close()
	// A blob is the compiled-code cache: Fsck does not check it, but a
	// damaged one reads as corrupt, and the engine then recompiles (and
	// rewrites it) when it loads the contract, so look before the reads.
	blobDetected := false
	if kind == 'x' {
		_, err := e.Store().(*pagestore.Store).Blob(key[1:]) // tests reach the whole store
		blobDetected = errors.Is(err, pagestore.ErrCorrupt)
	}
	// Reads: exact or typed errors.
	for root, want := range snap {
		_, err := readRoot(e, root, want)
		if errors.Is(err, errWrongData) {
			t.Fatalf("%s of %x: root %s: %v", fault, key, short(root), err)
		}
		checkErrs(t, fmt.Sprintf("%s of %x: root %s", fault, key, short(root)), err)
	}
	problems, err := e.Store().Fsck(context.Background(), nil)
	if err != nil {
		t.Fatalf("%s of %x: fsck: %v", fault, key, err)
	}
	var h merkle.Hash
	if len(key) == 33 {
		h = merkle.Hash(key[1:])
	}
	named := false
	for _, p := range problems {
		if !typedDamage(p.Err) && p.Kind != pagestore.KindHead && p.Kind != pagestore.KindGCMarker {
			t.Fatalf("%s of %x: fsck problem with an untyped error: %v", fault, key, p)
		}
		switch {
		case p.Kind == pagestore.Kind(kind) && p.Key == h:
			named = true
		case kind == 'H' && p.Kind == pagestore.KindHead:
			named = true
		case kind == 'G' && p.Kind == pagestore.KindGCMarker:
			named = true
		case kind == 'r' && fault == "delete" && p.Kind == pagestore.KindHead && p.Key == h:
			named = true // the head's record deleted: the head names it
		}
	}
	switch kind {
	case 'x':
		if fault == "delete" {
			return false, false // a cache miss
		}
		// The reads above ran the contracts: recompiled, the cache healed.
		if _, err := e.Store().(*pagestore.Store).Blob(key[1:]); err != nil {
			t.Fatalf("%s of blob %x: not rewritten: %v", fault, key, err)
		}
		return true, blobDetected
	case 'H':
		if fault == "delete" {
			return len(problems) > 0, len(problems) > 0 // no head is a legal state
		}
	case 'p':
		// A page is stored snappy-compressed (store format 2), and a copy
		// among zeros decodes the same from another offset: a changed value
		// that still reads back as the page its key names (the read checks
		// the hash) holds exactly the right page.
		if !named {
			if _, err := e.Store().(*pagestore.Store).Page(h); err == nil {
				return false, false
			}
		}
	case 'G':
		// Commits are refused until a GC succeeds.
		s, err := e.NewSession(head, engine.SessionOptions{})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		call(t, s, counterID, "increment", nil)
		if _, err := s.Commit(context.Background()); !errors.Is(err, pagestore.ErrGCPending) {
			t.Fatalf("commit with a damaged GC marker: %v", err)
		}
	}
	if len(problems) > 0 && !named {
		t.Logf("%s of %x: fsck found %d problems, none naming the key: %v", fault, key, len(problems), problems[0])
	}
	return true, named
}

// File-level faults on the goleveldb files.
var fileFaults = []string{"flip1", "flip8", "truncate", "delete", "zero4k", "append"}

func TestCorruptFiles(t *testing.T) {
	n := envInt(t, corruptFilesEnv, 60)
	if raceEnabled {
		n = min(n, 20)
	}
	pristine, snap := buildPristine(t)
	var files []string
	entries, _ := os.ReadDir(pristine)
	for _, en := range entries {
		switch name := en.Name(); {
		case strings.HasSuffix(name, ".ldb"), strings.HasSuffix(name, ".log"),
			strings.HasPrefix(name, "MANIFEST-"), name == "CURRENT":
			files = append(files, name)
		}
	}
	sort.Strings(files)
	seed := uint64(time.Now().UnixNano())
	t.Logf("%d file injections over %v; seed %d", n, files, seed)
	r := rand.New(rand.NewPCG(seed, 4))
	work := shmDir(t, "wasmstate-corrupt-files-")
	outcomes := map[string]int{}
	perFile := map[string]map[string]int{}
	for i := 0; i < n; i++ {
		file := files[i%len(files)]
		fault := fileFaults[(i/len(files))%len(fileFaults)]
		dir := filepath.Join(work, strconv.Itoa(i))
		os.Mkdir(dir, 0o755)
		copyDir(t, pristine, dir)
		crashtest.DamageFile(t, r, filepath.Join(dir, file), fault)
		out := checkFileFault(t, dir, snap, file+" "+fault)
		outcomes[out]++
		kind := strings.TrimLeft(filepath.Ext(file), ".")
		if kind == "" {
			kind = strings.SplitN(file, "-", 2)[0]
		}
		if perFile[kind] == nil {
			perFile[kind] = map[string]int{}
		}
		perFile[kind][out]++
		os.RemoveAll(dir)
	}
	t.Logf("file-level outcomes of %d injections: %v", n, outcomes)
	for k, m := range perFile {
		t.Logf("  %-9s %v", k, m)
	}
}

// checkFileFault opens a store with a damaged file and reads everything.
// Outcomes: "refused" (open failed with a typed error), "detected" (Fsck
// or reads reported typed errors), "intact" (every root reads back exactly
// and Fsck is clean), "silent-loss" (roots missing, nothing reported).
// Wrong data, an untyped error or a panic fails the test.
func checkFileFault(t *testing.T, dir string, snap snapshot, what string) string {
	t.Helper()
	e, err := engine.Open(context.Background(), dir, engine.Options{Logger: quiet})
	if err != nil {
		if !typedDamage(err) {
			t.Fatalf("%s: open: untyped error %T: %v", what, err, err)
		}
		return "refused"
	}
	defer e.Close()
	readErrs, missing := 0, 0
	for root, want := range snap {
		_, err := readRoot(e, root, want)
		if errors.Is(err, errWrongData) {
			t.Fatalf("%s: root %s: %v", what, short(root), err)
		}
		checkErrs(t, what+": root "+short(root), err)
		if err != nil {
			if ok, herr := e.Store().HasRoot(root); herr == nil && !ok {
				missing++
			} else {
				readErrs++
			}
		}
	}
	problems, err := e.Store().Fsck(context.Background(), nil)
	if err != nil {
		if !typedDamage(err) {
			t.Fatalf("%s: fsck: untyped error %T: %v", what, err, err)
		}
		return "detected"
	}
	switch {
	case len(problems) > 0 || readErrs > 0:
		return "detected"
	case missing > 0:
		// The commit log makes every loss of an acknowledged commit an
		// error at open (pagestore/journal.go), journal damage included.
		t.Errorf("%s: %d of %d roots gone, nothing reported", what, missing, len(snap))
		return "silent-loss"
	}
	return "intact"
}
