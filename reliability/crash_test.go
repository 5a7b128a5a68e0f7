package reliability

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/zeebo/blake3"

	"github.com/wasmstate/wasmstate/engine"
	"github.com/wasmstate/wasmstate/internal/crashtest"
	"github.com/wasmstate/wasmstate/merkle"
)

// The crash harness re-executes the test binary as a child that runs
// engine sessions on a leveldb store: deploys, calls (failing ones too),
// commits, branches from older roots, DeleteCommit and GC, in a loop. The
// parent SIGKILLs it at a random moment, reopens the store and checks every
// root the child reported against what the child said it would hold.
const (
	crashDirEnv   = "WASMSTATE_CRASH_DIR"   // set in the child: the store's directory
	crashSeedEnv  = "WASMSTATE_CRASH_SEED"  // child: its random seed; parent: the run's seed
	crashKillsEnv = "WASMSTATE_CRASH_KILLS" // number of kills (default crashKillsShort)
)

// crashKillsShort is the number of kills of a normal test run.
const crashKillsShort = 50

// The child's protocol, one line per event, written after the event:
//
//	R                  engine open
//	c <root> <expect>  about to Commit root, which must hold expect
//	C <root>           Commit returned root
//	d <root>           about to DeleteCommit root
//	D <root>           DeleteCommit returned (not deferred)
//	x <root>           DeleteCommit deferred (the root may or may not go)
//	g                  about to GC
//	G                  GC returned
//	E <error>          failed (the child then exits 1)
//
// expect is "w32=<len>:<digest>;w64=<len>:<digest>;ctr=<value>:<global>":
// the memory length and BLAKE3 of the whole memory (argument buffer zero)
// of the two fuzzer contracts, and the counter's value and global.

// crashOptions are the engine options of the child and the checks.
func crashOptions() engine.Options {
	return engine.Options{Logger: quiet, MaxMemoryBytes: 64 << 20}
}

// maxWasmPages bounds the fuzzer contracts' memories in the crash test.
const maxWasmPages = 12

func TestCrashChild(t *testing.T) {
	dir := os.Getenv(crashDirEnv)
	if dir == "" {
		t.Skip("run by TestCrash")
	}
	seed, _ := strconv.ParseUint(os.Getenv(crashSeedEnv), 10, 64)
	if err := crashChild(dir, seed); err != nil {
		fmt.Printf("E %s\n", strings.ReplaceAll(err.Error(), "\n", " | "))
		os.Exit(1)
	}
	os.Exit(0)
}

// model is what a session's fixed contracts hold: the fuzzers' memories
// (argument buffer zero) and the counter's value and global.
type model struct {
	mem      map[merkle.ContractID][]byte
	ctr, glb uint64
}

func (m *model) expect() string {
	var b strings.Builder
	for _, c := range []struct {
		name string
		id   merkle.ContractID
	}{{"w32", fuzz32ID}, {"w64", fuzz64ID}} {
		fmt.Fprintf(&b, "%s=%d:%s;", c.name, len(m.mem[c.id]), memDigest(m.mem[c.id]))
	}
	fmt.Fprintf(&b, "ctr=%d:%d", m.ctr, m.glb)
	return b.String()
}

func memDigest(mem []byte) string {
	sum := blake3.Sum256(mem)
	return hex.EncodeToString(sum[:8])
}

// readModel reads the fixed contracts of a session through calls: the
// fuzzers' memories in 64 KiB loads (the argument buffer, scratch, counts
// as zero), the counter's value and global.
func readModel(s *engine.Session) (*model, error) {
	m := &model{mem: map[merkle.ContractID][]byte{}}
	for _, id := range []merkle.ContractID{fuzz32ID, fuzz64ID} {
		r, err := s.Call(context.Background(), id, "go", goArg(selSize, 0, [5]uint64{}, nil), gas)
		if err != nil {
			return nil, fmt.Errorf("size of %s: %w", short(merkle.Hash(id)), err)
		}
		pages := binary.LittleEndian.Uint64(r.Data)
		mem := make([]byte, pages*merkle.WasmPageSize)
		for off := uint64(0); off < uint64(len(mem)); off += merkle.WasmPageSize {
			if off == argBuf {
				continue
			}
			r, err := s.Call(context.Background(), id, "go", goArg(selLoad, merkle.WasmPageSize, [5]uint64{off, merkle.WasmPageSize}, nil), gas)
			if err != nil {
				return nil, fmt.Errorf("load %d of %s: %w", off, short(merkle.Hash(id)), err)
			}
			copy(mem[off:], r.Data)
		}
		m.mem[id] = mem
	}
	r, err := s.Call(context.Background(), counterID, "read_value", nil, gas)
	if err != nil {
		return nil, err
	}
	m.ctr = binary.LittleEndian.Uint64(r.Data)
	if r, err = s.Call(context.Background(), counterID, "get_global", nil, gas); err != nil {
		return nil, err
	}
	m.glb = binary.LittleEndian.Uint64(r.Data)
	return m, nil
}

// mutate makes 1..4 random changes through s (at least one that changes
// the state) and applies them to m; it also makes calls that must fail
// and change nothing.
func mutate(r *rand.Rand, s *engine.Session, m *model) error {
	for n := 1 + r.IntN(4); n > 0; n-- {
		id := fuzz32ID
		if r.IntN(2) == 0 {
			id = fuzz64ID
		}
		mem := m.mem[id]
		switch x := r.IntN(20); {
		case x < 12: // write random bytes somewhere outside the argument buffer
			length := 1 + r.IntN(8192)
			if r.IntN(4) == 0 {
				length = 1 + r.IntN(16)
			}
			var off int
			for {
				off = r.IntN(len(mem) - length)
				if off+length <= argBuf || off >= argBuf+merkle.WasmPageSize {
					break
				}
			}
			data := make([]byte, length)
			for i := range data {
				if r.IntN(4) != 0 {
					data[i] = byte(r.Uint32())
				}
			}
			if _, err := s.Call(context.Background(), id, "go", goArg(selStore, 0, [5]uint64{uint64(off), uint64(length)}, data), gas); err != nil {
				return fmt.Errorf("store: %w", err)
			}
			copy(mem[off:], data)
		case x < 14: // grow by one wasm page
			if len(mem) >= maxWasmPages*merkle.WasmPageSize {
				continue
			}
			if _, err := s.Call(context.Background(), id, "go", goArg(selGrow, 0, [5]uint64{1}, nil), gas); err != nil {
				return fmt.Errorf("grow: %w", err)
			}
			m.mem[id] = append(mem, make([]byte, merkle.WasmPageSize)...)
		case x < 16: // the counter and its global
			v := r.Uint64N(1000)
			if _, err := s.Call(context.Background(), counterID, "add", u64(v), gas); err != nil {
				return fmt.Errorf("add: %w", err)
			}
			m.ctr += v
			g := r.Uint64()
			if _, err := s.Call(context.Background(), counterID, "set_global", u64(g), gas); err != nil {
				return fmt.Errorf("set_global: %w", err)
			}
			m.glb = g
		default: // calls that fail after writing: nothing may stick
			var arg []byte
			switch r.IntN(3) {
			case 0: // store straddling the end of memory
				arg = goArg(selStore, 0, [5]uint64{uint64(len(mem) - 8), 64}, make([]byte, 64))
			case 1: // grow, then run out of gas in a loop
				if _, err := s.Call(context.Background(), id, "go", goArg(selGrow, 0, [5]uint64{1}, nil), 5_000); err == nil {
					// 5,000 gas cannot pay a 10,000-gas page growth: the
					// frame fails at its end and its growth is reverted.
					return errors.New("grow with too little gas succeeded")
				}
				arg = goArg(selLoop, 0, [5]uint64{}, nil)
			default: // panic with a message
				arg = goArg(selPanic, 0, [5]uint64{8}, []byte("crash me"))
			}
			if _, err := s.Call(context.Background(), id, "go", arg, 200_000); !errors.Is(err, engine.ErrCallFailed) {
				return fmt.Errorf("failing call: %v", err)
			}
		}
	}
	// One change for sure, so the root moves.
	v := 1 + r.Uint64N(9)
	if _, err := s.Call(context.Background(), counterID, "add", u64(v), gas); err != nil {
		return fmt.Errorf("add: %w", err)
	}
	m.ctr += v
	return nil
}

func crashChild(dir string, seed uint64) error {
	e, err := engine.Open(context.Background(), dir, crashOptions())
	if err != nil {
		return err
	}
	defer e.Close()
	fmt.Println("R")
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	head, err := e.Head()
	if err != nil {
		return err
	}
	s, err := e.NewSession(head, engine.SessionOptions{})
	if err != nil {
		return err
	}
	leaves, err := e.Contracts(context.Background(), head)
	if err != nil {
		return err
	}
	if len(leaves) == 0 {
		for _, c := range []struct {
			name string
			id   merkle.ContractID
		}{{"counter", counterID}, {"fuzzer", fuzz32ID}, {"fuzzer64", fuzz64ID}} {
			code, err := wasmErr(c.name)
			if err != nil {
				return err
			}
			id := c.id
			if _, err := s.Deploy(context.Background(), code, engine.DeployOptions{ID: &id, Owner: []byte(c.name)}); err != nil {
				return err
			}
		}
	}
	m, err := readModel(s)
	if err != nil {
		return err
	}
	commitAs := func(s *engine.Session, m *model) error {
		root, err := s.Root()
		if err != nil {
			return err
		}
		fmt.Printf("c %s %s\n", root, m.expect())
		got, err := s.Commit(context.Background())
		if err != nil {
			return err
		}
		if got != root {
			return fmt.Errorf("Commit returned %s, Root said %s", got, root)
		}
		fmt.Printf("C %s\n", root)
		return nil
	}
	deadline := time.Now().Add(2 * time.Minute) // in case the parent is gone
	for i := 1; time.Now().Before(deadline); i++ {
		if err := mutate(r, s, m); err != nil {
			return err
		}
		if err := commitAs(s, m); err != nil {
			return err
		}
		if i%3 == 0 {
			// As a node does, block after block: the next session opens at
			// the root just committed and takes the warm set this one
			// leaves (engine/warm.go), so kills also land in commits of
			// handed-on instances.
			root := s.Base()
			s.Close()
			if s, err = e.NewSession(root, engine.SessionOptions{}); err != nil {
				return fmt.Errorf("reopen at %s: %w", root, err)
			}
		}
		recs, err := e.Commits()
		if err != nil {
			return err
		}
		if i%5 == 0 && len(recs) > 1 {
			// A branch from an older root, committed and closed.
			base := recs[r.IntN(len(recs))].Root
			b, err := e.NewSession(base, engine.SessionOptions{})
			if err != nil {
				return fmt.Errorf("branch at %s: %w", base, err)
			}
			bm, err := readModel(b)
			if err == nil {
				err = mutate(r, b, bm)
			}
			if err == nil {
				err = commitAs(b, bm)
			}
			b.Close()
			if err != nil {
				return err
			}
		}
		// Keep about ten records, so GC has garbage to reclaim and the
		// checks stay short.
		for _, v := range r.Perm(len(recs))[:min(2, max(0, len(recs)-10))] {
			if victim := recs[v].Root; victim != s.Base() {
				fmt.Printf("d %s\n", victim)
				deferred, err := e.DeleteCommit(victim)
				if err != nil {
					return err
				}
				if deferred {
					fmt.Printf("x %s\n", victim)
				} else {
					fmt.Printf("D %s\n", victim)
				}
			}
		}
		if i%7 == 0 {
			fmt.Println("g")
			if _, err := e.GC(context.Background()); err != nil {
				return err
			}
			fmt.Println("G")
		}
	}
	return nil
}

// rootState is what the child's reports say of a root.
type rootState uint8

const (
	announced rootState = iota + 1 // a commit may have landed
	committed                      // the commit landed: the root must be there
	deleting                       // a deletion may have landed
	deleted                        // the deletion landed: the root must be gone
)

type crashLog struct {
	state  map[merkle.Hash]rootState
	expect map[merkle.Hash]string
	// counts
	commits, deletes, gcs int
	cut                   map[string]int // what each kill interrupted
}

func (l *crashLog) apply(t *testing.T, line string) {
	tag, rest, _ := strings.Cut(line, " ")
	arg, exp, _ := strings.Cut(rest, " ")
	var h merkle.Hash
	if strings.Contains("cCdDx", tag) && len(tag) == 1 {
		var err error
		if h, err = merkle.ParseHash(arg); err != nil {
			t.Fatalf("child line %q: %v", line, err)
		}
	}
	switch tag {
	case "c":
		if old, ok := l.expect[h]; ok && old != exp {
			t.Fatalf("root %s announced with two contents:\n%s\n%s", h, old, exp)
		}
		l.expect[h] = exp
		if l.state[h] != committed {
			l.state[h] = announced
		}
	case "C":
		l.state[h] = committed
		l.commits++
	case "d", "x":
		l.state[h] = deleting
	case "D":
		l.state[h] = deleted
		l.deletes++
	case "G":
		l.gcs++
	case "E":
		t.Fatalf("child failed: %s", rest)
	}
}

func TestCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test in -short mode")
	}
	kills := crashKillsShort
	if raceEnabled {
		kills = 15 // the race detector makes every child start and check slow
	}
	if v := os.Getenv(crashKillsEnv); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("%s=%q", crashKillsEnv, v)
		}
		kills = n
	}
	seed := uint64(time.Now().UnixNano())
	if v := os.Getenv(crashSeedEnv); v != "" {
		seed, _ = strconv.ParseUint(v, 10, 64)
	}
	t.Logf("%d kills, seed %d (%s=%d to repeat)", kills, seed, crashSeedEnv, seed)
	dir := shmDir(t, "wasmstate-crash-")
	r := rand.New(rand.NewPCG(seed, 7))
	l := &crashLog{state: map[merkle.Hash]rootState{}, expect: map[merkle.Hash]string{}, cut: map[string]int{}}
	var checked, maxRoots int
	var checkTime time.Duration
	start := time.Now()
	for k := 0; k < kills; k++ {
		// Half the kills come at a random time, half right after the
		// child announced its n-th commit, deletion or GC, so that many
		// land inside those.
		delay, trigger, nth := time.Duration(r.IntN(350))*time.Millisecond, "", 0
		if k%2 == 1 {
			trigger, nth = [...]string{"c", "c", "d", "g"}[r.IntN(4)], 1+r.IntN(12)
		}
		got := runChild(t, dir, r.Uint64(), delay, trigger, nth)
		if len(got) > 0 {
			last := got[len(got)-1]
			switch last[0] {
			case 'c', 'd', 'g':
				l.cut[last[:1]]++
			default:
				l.cut["other"]++
			}
		}
		for _, line := range got {
			l.apply(t, line)
		}
		t0 := time.Now()
		n := crashCheck(t, dir, l)
		checkTime += time.Since(t0)
		checked += n
		maxRoots = max(maxRoots, n)
		if (k+1)%100 == 0 {
			t.Logf("%d kills, %d commits acknowledged, %v", k+1, l.commits, time.Since(start).Round(time.Second))
		}
	}
	t.Logf("checks took %v", checkTime.Round(time.Millisecond))
	t.Logf("%d kills in %v: %d commits, %d deletes, %d GCs acknowledged; %d root checks (at most %d roots at once); "+
		"kills inside Commit %d, DeleteCommit %d, GC %d, elsewhere %d",
		kills, time.Since(start).Round(time.Millisecond), l.commits, l.deletes, l.gcs, checked, maxRoots,
		l.cut["c"], l.cut["d"], l.cut["g"], l.cut["other"])
	if l.commits < kills {
		t.Fatalf("only %d commits in %d runs: the child hardly ran", l.commits, kills)
	}
}

// runChild starts a child on dir and kills it with SIGKILL: delay after it
// reported the engine open or, with a trigger, as soon as it reports its
// nth line with that tag (or when it exits). It returns the child's
// complete report lines.
func runChild(t *testing.T, dir string, seed uint64, delay time.Duration, trigger string, nth int) []string {
	t.Helper()
	return crashtest.Run(t, "TestCrashChild", []string{crashDirEnv + "=" + dir, fmt.Sprintf("%s=%d", crashSeedEnv, seed)},
		crashtest.Kill{Delay: delay, Trigger: trigger, Nth: nth})
}

// crashCheck reopens the store after a kill and checks it against the
// child's reports; it returns the number of roots it checked.
func crashCheck(t *testing.T, dir string, l *crashLog) int {
	t.Helper()
	e, err := engine.Open(context.Background(), dir, crashOptions())
	if err != nil {
		t.Fatalf("reopen after kill: %v", err)
	}
	defer e.Close()
	problems, err := e.Store().Fsck(context.Background(), nil)
	if err != nil {
		t.Fatalf("fsck: %v", err)
	}
	for _, p := range problems {
		t.Errorf("fsck after kill: %v", p)
	}
	recs, err := e.Commits()
	if err != nil {
		t.Fatal(err)
	}
	present := map[merkle.Hash]bool{}
	for _, rec := range recs {
		present[rec.Root] = true
		switch l.state[rec.Root] {
		case 0:
			t.Errorf("record %s was never announced", rec.Root)
		case deleted:
			t.Errorf("record %s was deleted (acknowledged) but is back", rec.Root)
		}
	}
	for h, st := range l.state {
		if st == committed && !present[h] {
			t.Errorf("acknowledged root %s lost", h)
		}
	}
	head, err := e.Head()
	if err != nil {
		t.Fatal(err)
	}
	if head != merkle.EmptyState() && !present[head] {
		t.Errorf("head %s has no record", head)
	}
	if t.Failed() {
		t.FailNow()
	}
	for h := range present {
		if err := checkRoot(e, h, l.expect[h]); err != nil {
			t.Fatalf("root %s (state %d): %v", h, l.state[h], err)
		}
	}
	// A deleted root does not open.
	for h, st := range l.state {
		if st == deleted {
			if _, err := e.NewSession(h, engine.SessionOptions{}); !errors.Is(err, engine.ErrUnknownRoot) {
				t.Fatalf("deleted root %s: NewSession: %v", h, err)
			}
		}
	}
	return len(present)
}

// checkRoot reads root back twice, through proofs (verified against the
// root) and through a session's calls, and compares with expect.
func checkRoot(e *engine.Engine, root merkle.Hash, expect string) error {
	if err := checkRootProofs(e, root, expect); err != nil {
		return fmt.Errorf("through proofs: %w", err)
	}
	s, err := e.NewSession(root, engine.SessionOptions{})
	if err != nil {
		return err
	}
	defer s.Close()
	m, err := readModel(s)
	if err != nil {
		return fmt.Errorf("through calls: %w", err)
	}
	if got := m.expect(); got != expect {
		return fmt.Errorf("through calls: holds %s, want %s", got, expect)
	}
	return nil
}

func checkRootProofs(e *engine.Engine, root merkle.Hash, expect string) error {
	var parts []string
	for _, c := range []struct {
		name string
		id   merkle.ContractID
	}{{"w32", fuzz32ID}, {"w64", fuzz64ID}} {
		info, err := e.Inspect(context.Background(), root, c.id)
		if err != nil {
			return err
		}
		n := info.Leaf.MemoryLen
		p, err := e.ProveRange(context.Background(), root, c.id, 0, n)
		if err != nil {
			return err
		}
		mem, err := merkle.VerifyRange(root, c.id, 0, n, p)
		if err != nil {
			return err
		}
		for i := argBuf; i < argBuf+merkle.WasmPageSize; i++ {
			if mem[i] != 0 {
				return fmt.Errorf("%s: argument buffer byte %#x is %#x in committed state", c.name, i, mem[i])
			}
		}
		parts = append(parts, fmt.Sprintf("%s=%d:%s", c.name, n, memDigest(mem)))
	}
	p, err := e.ProveRange(context.Background(), root, counterID, 0, 8)
	if err != nil {
		return err
	}
	v, err := merkle.VerifyRange(root, counterID, 0, 8, p)
	if err != nil {
		return err
	}
	info, err := e.Inspect(context.Background(), root, counterID)
	if err != nil {
		return err
	}
	// counter.wat's globals: $sp (i32), then $g (i64).
	parts = append(parts, fmt.Sprintf("ctr=%d:%d", binary.LittleEndian.Uint64(v), info.Globals[1]))
	if got := strings.Join(parts, ";"); got != expect {
		return fmt.Errorf("holds %s, want %s", got, expect)
	}
	return nil
}
