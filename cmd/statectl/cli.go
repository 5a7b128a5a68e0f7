package main

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/wasmstate/wasmstate/codec"
	"github.com/wasmstate/wasmstate/engine"
	"github.com/wasmstate/wasmstate/merkle"
	"github.com/wasmstate/wasmstate/pagestore"
)

// cli is the environment of one run: streams, terminal detection, the
// environment, and the flags every command shares.
type cli struct {
	cmd                  *command
	stdin                io.Reader
	stdout, stderr       io.Writer
	stdoutTTY, stderrTTY bool
	getenv               func(string) string
	// signals, when set, replaces Ctrl-C (tests); onPhase, when set, is
	// told when gc starts its mark and its sweep, and when it has acted on
	// a Ctrl-C (tests).
	signals chan os.Signal
	onPhase func(phase string)

	db      string
	wait    time.Duration
	json    bool
	quiet   bool
	verbose bool
}

// Errors that carry an exit code.

type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// errHelpShown ends a run whose --help was printed: exit 0.
var errHelpShown = errors.New("help shown")

func withCode(code int, err error) error {
	if err == nil {
		return nil
	}
	return &exitError{code: code, err: err}
}

// usagef reports a usage error (exit 2), pointing at the command's help.
func (c *cli) usagef(format string, args ...any) error {
	return &exitError{code: exitUsage, err: fmt.Errorf(format+" (see statectl %s --help)", append(args, c.cmd.name)...)}
}

// badInputf reports bad input (exit 2).
func badInputf(format string, args ...any) error {
	return &exitError{code: exitUsage, err: fmt.Errorf(format, args...)}
}

// failf reports a failed operation (exit 1).
func failf(format string, args ...any) error {
	return &exitError{code: exitFail, err: fmt.Errorf(format, args...)}
}

// exitCode classifies an error the engine, the store or a command
// returned.
func exitCode(err error) int {
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	switch {
	case errors.Is(err, pagestore.ErrCorrupt), errors.Is(err, pagestore.ErrVersion),
		errors.Is(err, pagestore.ErrGCPending), errors.Is(err, pagestore.ErrClosed),
		errors.Is(err, merkle.ErrMissingNode):
		return exitStore
	case errors.Is(err, engine.ErrNoFunction):
		return exitUsage
	case errors.Is(err, engine.ErrCallFailed):
		return exitFail
	case errors.Is(err, engine.ErrUnknownRoot), errors.Is(err, engine.ErrNoContract),
		errors.Is(err, engine.ErrBadInput), errors.Is(err, engine.ErrInvalidModule),
		errors.Is(err, codec.ErrParse):
		return exitUsage
	case errors.Is(err, pagestore.ErrNotFound):
		return exitStore
	}
	return exitFail
}

// interrupts returns a channel that receives Ctrl-C, and a function that
// gives Ctrl-C back its default (killing the process). Tests set c.signals.
func (c *cli) interrupts() (<-chan os.Signal, func()) {
	if c.signals != nil {
		return c.signals, func() {}
	}
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, os.Interrupt)
	var once sync.Once
	return ch, func() { once.Do(func() { signal.Stop(ch) }) }
}

// Flags.

// defaultDB is the store directory when --db is not given.
func (c *cli) defaultDB() string {
	if d := c.getenv("WASMSTATE_DB"); d != "" {
		return d
	}
	return "./wasmstate-db"
}

// newFlagSet returns the command's flag set with the shared flags.
func newFlagSet(c *cli, cmd *command) *flag.FlagSet {
	fs := flag.NewFlagSet(cmd.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	if cmd.store {
		fs.StringVar(&c.db, "db", c.defaultDB(), "the store `DIR`; $WASMSTATE_DB if set, else ./wasmstate-db")
		fs.BoolVar(&c.verbose, "verbose", false, "log the engine's operational messages to stderr")
		fs.DurationVar(&c.wait, "wait", 0, "wait up to `DURATION` (e.g. 10s) for another process's lock on the store")
	}
	fs.BoolVar(&c.json, "json", false, "print JSON instead of text")
	fs.BoolVar(&c.quiet, "quiet", false, "no progress bars or hints on stderr")
	return fs
}

// flags returns the running command's flag set.
func (c *cli) flags() *flag.FlagSet { return newFlagSet(c, c.cmd) }

// parse parses args, which may mix flags and positional arguments ("--"
// ends the flags), and returns the positional ones. --help prints the
// command's help and returns errHelpShown.
func (c *cli) parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fmt.Fprint(c.stdout, commandHelp(c.cmd, fs))
				return nil, errHelpShown
			}
			return nil, c.usagef("%v", err)
		}
		rest := fs.Args()
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
			return append(pos, rest...), nil
		}
		if len(rest) == 0 {
			return pos, nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// isSet reports whether flag name was given.
func isSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// onceFlag is a string flag that may be given at most once: a repeated
// --arg is a mistake, not an override.
type onceFlag struct {
	value string
	set   bool
}

func (f *onceFlag) String() string { return f.value }

func (f *onceFlag) Set(s string) error {
	if f.set {
		return errors.New("given twice (a call takes one argument: pass a tuple such as (u64:1,u64:2))")
	}
	f.value, f.set = s, true
	return nil
}

// metaFlag collects repeated --meta KEY=VALUE flags.
type metaFlag struct {
	keys []string
	vals map[string][]byte
}

func (m *metaFlag) String() string { return "" }

func (m *metaFlag) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return fmt.Errorf("want KEY=VALUE, got %q", s)
	}
	b, err := parseValue(v)
	if err != nil {
		return err
	}
	if m.vals == nil {
		m.vals = map[string][]byte{}
	}
	if _, dup := m.vals[k]; dup {
		return fmt.Errorf("key %q given twice", k)
	}
	m.keys = append(m.keys, k)
	m.vals[k] = b
	return nil
}

// Arguments.

func clip(s string) string {
	if len(s) > 80 {
		return s[:77] + "..."
	}
	return s
}

// parseHash32 reads 64 hex digits, optionally 0x-prefixed.
func parseHash32(what, s string) (merkle.Hash, error) {
	t := strings.TrimPrefix(strings.TrimPrefix(s, "0x"), "0X")
	var h merkle.Hash
	if len(t) != 64 {
		return h, badInputf("%s %q: want 64 hex digits, got %d characters", what, clip(s), len(t))
	}
	if _, err := hex.Decode(h[:], []byte(t)); err != nil {
		return h, badInputf("%s %q: not hex: %v", what, clip(s), err)
	}
	return h, nil
}

func parseContract(s string) (merkle.ContractID, error) {
	h, err := parseHash32("contract id", s)
	return merkle.ContractID(h), err
}

// parseRootHex reads a root given as hex only (no store to ask for the
// head).
func parseRootHex(s string) (merkle.Hash, error) {
	if s == "empty" {
		return merkle.EmptyState(), nil
	}
	return parseHash32("root", s)
}

// parseValue reads a VALUE: "" (no bytes), @FILE, or a codec literal (hex,
// 0x-hex, u64:42, id:..., tuples).
func parseValue(s string) ([]byte, error) {
	if s == "" {
		return []byte{}, nil
	}
	if name, ok := strings.CutPrefix(s, "@"); ok {
		b, err := os.ReadFile(name)
		if err != nil {
			return nil, badInputf("value %s: %v", s, errors.Unwrap(err))
		}
		return b, nil
	}
	b, err := codec.ParseValue(s)
	if err != nil {
		return nil, badInputf("value %q: %v (want hex, @FILE or a literal such as u64:42)", clip(s), err)
	}
	return b, nil
}

// parseUint reads a decimal or 0x/0o/0b integer.
func parseUint(what, s string) (uint64, error) {
	v, err := strconv.ParseUint(s, 0, 64)
	if err != nil {
		return 0, badInputf("%s %q: want an unsigned integer", what, clip(s))
	}
	return v, nil
}

// parseRange reads OFFSET:LENGTH.
func parseRange(s string) (offset, length uint64, err error) {
	o, l, ok := strings.Cut(s, ":")
	if !ok {
		return 0, 0, badInputf("range %q: want OFFSET:LENGTH", clip(s))
	}
	if offset, err = parseUint("range offset", o); err != nil {
		return
	}
	if length, err = parseUint("range length", l); err != nil {
		return
	}
	if length == 0 {
		return 0, 0, badInputf("range %q: length 0", s)
	}
	return offset, length, nil
}

// readInput reads a file, or stdin for "-".
func (c *cli) readInput(name string) ([]byte, error) {
	if name == "-" {
		b, err := io.ReadAll(c.stdin)
		if err != nil {
			return nil, badInputf("read stdin: %v", err)
		}
		return b, nil
	}
	b, err := os.ReadFile(name)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			return nil, badInputf("read %s: %v", name, pe.Err)
		}
		return nil, badInputf("read %s: %v", name, err)
	}
	return b, nil
}

// checkOutputDir checks, before any work, that the directory a file is to
// be written into exists: a mistyped -o is bad input (exit 2).
func checkOutputDir(name string) error {
	dir := filepath.Dir(name)
	st, err := os.Stat(dir)
	if err != nil {
		return badInputf("output %s: directory %s: %v", name, dir, errors.Unwrap(err))
	}
	if !st.IsDir() {
		return badInputf("output %s: %s is not a directory", name, dir)
	}
	return nil
}

// outputError classifies a failed write of an output file: a path that
// cannot be written is bad input (exit 2); anything else (a full disk) a
// failed operation.
func outputError(what string, err error) error {
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission) || errors.Is(err, syscall.ENOTDIR) || errors.Is(err, syscall.EISDIR) {
		return badInputf("%s: %v", what, err)
	}
	return failf("%s: %v", what, err)
}

// Store.

// openMode says how a command uses the store.
type openMode int

const (
	// readStore opens an existing store read-only (a shared lock: several
	// readers may run at once).
	readStore openMode = iota
	// writeStore opens an existing store for writing.
	writeStore
	// createStore opens a store for writing, creating it in a missing or
	// empty directory.
	createStore
)

// openNoArgs parses the common flags of a command that takes no
// arguments and opens the existing store.
func (c *cli) openNoArgs(name string, args []string, mode openMode) (*engine.Engine, error) {
	pos, err := c.parse(c.flags(), args)
	if err != nil {
		return nil, err
	}
	if len(pos) != 0 {
		return nil, c.usagef("%s takes no arguments", name)
	}
	return c.open(mode)
}

// open opens the engine on --db. Only createStore creates a store, and only
// in a missing or empty directory; a directory holding anything else is
// refused, so a mistyped --db never scatters database files among a user's
// own.
func (c *cli) open(mode openMode) (*engine.Engine, error) {
	return c.openWith(mode, engine.Options{})
}

// openWith is open with engine options (the logger is set here; the cache
// size goes to the store).
func (c *cli) openWith(mode openMode, opts engine.Options) (*engine.Engine, error) {
	logger := slog.New(slog.DiscardHandler)
	if c.verbose {
		logger = slog.New(slog.NewTextHandler(c.stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	st, err := pagestore.Open(context.Background(), c.db, &pagestore.Options{ReadOnly: mode == readStore, NoCreate: mode != createStore, LockWait: c.wait, CacheBytes: opts.CacheBytes})
	if err != nil {
		return nil, storeOpenError(c.db, err)
	}
	opts.Logger = logger
	e, err := engine.OpenStore(st, opts)
	if err != nil {
		return nil, withCode(exitStore, err)
	}
	return e, nil
}

// storeOpenError explains why --db could not be opened.
func storeOpenError(dir string, err error) error {
	switch {
	case errors.Is(err, pagestore.ErrNoStore):
		return badInputf("no store at %s (set --db or $WASMSTATE_DB; init, deploy or demo create one)", dir)
	case errors.Is(err, pagestore.ErrNotStore):
		if st, serr := os.Stat(dir); serr == nil && !st.IsDir() {
			return withCode(exitStore, fmt.Errorf("%s is a file, not a store directory", dir))
		}
		return withCode(exitStore, fmt.Errorf("%s is not a wasmstate store (it is not an empty directory): refusing to use it; "+
			"init, deploy and demo create a store only in a missing or empty directory", dir))
	case errors.Is(err, pagestore.ErrVersion):
		return withCode(exitStore, fmt.Errorf("%s is not a wasmstate store of this version: refusing to use it (%v)", dir, err))
	case errors.Is(err, pagestore.ErrLocked):
		return withCode(exitStore, fmt.Errorf("%v (another process is using the store; --wait 10s waits for it)", err))
	}
	return withCode(exitStore, err)
}

// Output.

// compactJSON renders v on one line.
func compactJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

func (c *cli) printf(format string, args ...any) { fmt.Fprintf(c.stdout, format, args...) }

// writeJSON prints v as indented JSON.
func (c *cli) writeJSON(v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	b = append(b, '\n')
	_, err = c.stdout.Write(b)
	return err
}

func hexOrEmpty(b []byte) string {
	if len(b) == 0 {
		return "(empty)"
	}
	return hex.EncodeToString(b)
}

// rootLabel describes a root for text output.
func rootLabel(r merkle.Hash) string {
	if r == merkle.EmptyState() {
		return r.String() + " (empty state)"
	}
	return r.String()
}
