package main

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"strconv"
	"strings"

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

	db      string
	json    bool
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
	}
	fs.BoolVar(&c.json, "json", false, "print JSON instead of text")
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
	if _, dup := m.vals[k]; !dup {
		m.keys = append(m.keys, k)
	}
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
		return merkle.EmptyState, nil
	}
	return parseHash32("root", s)
}

// resolveRoot reads a ROOT argument: "head", "empty" or hex. A hex root
// must be committed in the store.
func resolveRoot(e *engine.Engine, s string) (merkle.Hash, error) {
	switch s {
	case "head", "":
		return e.Head()
	case "empty":
		return merkle.EmptyState, nil
	}
	h, err := parseHash32("root", s)
	if err != nil {
		return h, err
	}
	if h == merkle.EmptyState {
		return h, nil
	}
	if _, err := e.Store().CommitRecord(h); err != nil {
		if errors.Is(err, pagestore.ErrNotFound) {
			return h, fmt.Errorf("%w: %s (see statectl commits)", engine.ErrUnknownRoot, h)
		}
		return h, err
	}
	return h, nil
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

// Store.

// openNoArgs parses the common flags of a command that takes no
// arguments and opens the existing store.
func (c *cli) openNoArgs(name string, args []string) (*engine.Engine, error) {
	pos, err := c.parse(c.flags(), args)
	if err != nil {
		return nil, err
	}
	if len(pos) != 0 {
		return nil, c.usagef("%s takes no arguments", name)
	}
	return c.open(false)
}

// open opens the engine on --db. Unless create is set, the directory must
// exist already: read-only commands never create a store by accident.
func (c *cli) open(create bool) (*engine.Engine, error) {
	return c.openWith(create, engine.Options{})
}

// openWith is open with engine options (the logger is set here).
func (c *cli) openWith(create bool, opts engine.Options) (*engine.Engine, error) {
	if !create {
		st, err := os.Stat(c.db)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, badInputf("no store at %s (set --db or $WASMSTATE_DB; deploy or demo create one)", c.db)
		}
		if err == nil && !st.IsDir() {
			return nil, badInputf("store %s is not a directory", c.db)
		}
	}
	logger := slog.New(slog.DiscardHandler)
	if c.verbose {
		logger = slog.New(slog.NewTextHandler(c.stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	opts.Logger = logger
	e, err := engine.Open(c.db, opts)
	if err != nil {
		msg := err.Error()
		if strings.Contains(msg, "resource temporarily unavailable") || strings.Contains(msg, "locked") {
			msg += " (is another statectl or process using the store?)"
		}
		return nil, withCode(exitStore, errors.New(msg))
	}
	return e, nil
}

// Output.

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
	if r == merkle.EmptyState {
		return r.String() + " (empty state)"
	}
	return r.String()
}
