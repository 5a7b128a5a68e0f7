// Command statectl deploys and calls wasmstate contracts, and inspects,
// proves, verifies, diffs and maintains a wasmstate store.
//
// Run `statectl --help` for the commands, `statectl CMD --help` for one of
// them, and `statectl demo` for a guided tour. Exit codes: 0 success, 1 the
// operation failed (a call, a verification), 2 usage or bad input, 3 store
// error or corruption, 4 internal error (a bug in statectl).
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
)

// Exit codes.
const (
	exitOK    = 0 // success
	exitFail  = 1 // the operation failed: a call failed, a proof did not verify, ...
	exitUsage = 2 // usage error or bad input: unknown flag, malformed hex, missing file, unknown root
	exitStore = 3 // the store cannot be opened or is corrupt; fsck found problems
	// exitInternal: statectl itself failed (a panic it recovered): a bug,
	// never a verdict about the input, so scripts and tests can tell.
	exitInternal = 4
)

// injectPanic names a command that panics when it starts. It is empty in
// every build but the one reliability/badinput_test.go makes (with
// -ldflags -X) to prove that its check catches an internal error.
var injectPanic string

func main() {
	os.Exit(run(os.Args[1:], newCLI()))
}

// newCLI returns the environment of a real run.
func newCLI() *cli {
	return &cli{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr,
		stdoutTTY: isTerminal(os.Stdout), stderrTTY: isTerminal(os.Stderr), getenv: os.Getenv}
}

// isTerminal reports whether f is a character device (a terminal).
func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// command is one subcommand.
type command struct {
	name     string
	synopsis string // after "statectl NAME"
	summary  string // one line for the command list
	help     string // description and examples
	store    bool   // opens the store: takes --db and --verbose
	run      func(c *cli, args []string) error
}

// commands lists the subcommands in the order --help shows them.
func commands() []*command {
	return []*command{
		demoCmd,
		initCmd,
		deployCmd,
		callCmd,
		runBlockCmd,
		rootCmd,
		commitsCmd,
		contractsCmd,
		inspectCmd,
		readCmd,
		proveCmd,
		verifyCmd,
		replayCmd,
		diffCmd,
		deleteCmd,
		headCmd,
		gcCmd,
		fsckCmd,
		recoverCmd,
		serveCmd,
		syncCmd,
		versionCmd,
		completionCmd,
	}
}

func lookup(name string) *command {
	for _, c := range commands() {
		if c.name == name {
			return c
		}
	}
	return nil
}

const toolHelp = `statectl - deploy and call wasmstate contracts; inspect, prove, verify and
maintain a wasmstate store.

Usage:
  statectl COMMAND [ARGS] [FLAGS]
  statectl COMMAND --help        help and examples for one command

Commands:
%s
Every store command takes --db DIR: the store directory, by default
$WASMSTATE_DB if set, else ./wasmstate-db; only init, deploy, run and demo
create a store, and only in a missing or empty directory. Store commands also
take --wait DURATION (wait for another process's lock) and --quiet. Every
command that prints data takes --json. Flags may come before or after the
arguments; a ROOT is 64 hex digits (optionally 0x-prefixed), a unique prefix
of at least 8 of a commit's root, "head" or "empty"; a CONTRACT is a contract
id or a unique prefix of at least 8 of one. A VALUE (call arguments, metadata, owners) is hex ("0a0b",
"0x0a0b"), @FILE for a file's bytes, or a typed literal: u64:42, i32:-1,
bool:true, id:<64 hex>, hex:, or a tuple such as (u64:1,id:<64 hex>).

Exit codes:
  0  success
  1  the operation failed: a contract call failed, a proof did not verify
     (whether malformed, invalid or out of range)
  2  usage error or bad input: unknown flag, malformed hex or value, missing
     file, unknown root or contract, invalid module
  3  store error: the store cannot be opened, is locked, corrupt or not a
     wasmstate store; fsck found problems
  4  internal error: a bug in statectl (please report it)

Examples:
  statectl demo
  statectl deploy testdata/contracts/counter.wat
  statectl call CONTRACT add --arg u64:5 --commit
  statectl prove --root $(statectl root) CONTRACT --page 0 -o page0.proof
  statectl verify --root ROOT page0.proof --contract CONTRACT --page 0
`

func toolUsage() string {
	var b strings.Builder
	for _, c := range commands() {
		fmt.Fprintf(&b, "  %-10s %s\n", c.name, c.summary)
	}
	return fmt.Sprintf(toolHelp, b.String())
}

// run runs statectl with args and returns the exit code. It never panics:
// a panic is reported as one line.
func run(args []string, c *cli) (code int) {
	name := ""
	defer func() {
		if p := recover(); p != nil {
			prefix := "statectl: "
			if name != "" {
				prefix += name + ": "
			}
			fmt.Fprintf(c.stderr, "%sinternal error (a bug in statectl, please report it): %s\n", prefix, oneLine(fmt.Sprint(p)))
			code = exitInternal
		}
	}()
	if len(args) == 0 {
		fmt.Fprintf(c.stderr, "statectl: missing command (see statectl --help)\n")
		return exitUsage
	}
	switch args[0] {
	case "--version", "-version":
		args = append([]string{"version"}, args[1:]...)
	case "-h", "-help", "--help", "help":
		if len(args) > 1 && args[0] == "help" {
			if cmd := lookup(args[1]); cmd != nil {
				fmt.Fprint(c.stdout, commandHelp(cmd, newFlagSet(c, cmd)))
				return exitOK
			}
			fmt.Fprintf(c.stderr, "statectl: help: unknown command %q (see statectl --help)\n", args[1])
			return exitUsage
		}
		fmt.Fprint(c.stdout, toolUsage())
		return exitOK
	}
	cmd := lookup(args[0])
	if cmd == nil {
		fmt.Fprintf(c.stderr, "statectl: unknown command %q (see statectl --help)\n", args[0])
		return exitUsage
	}
	name = cmd.name
	c.cmd = cmd
	if injectPanic == cmd.name {
		var m map[string]int
		m["injected"]++ // a nil-map write: the panic the seam exists for
	}
	err := cmd.run(c, args[1:])
	if err == nil || errors.Is(err, errHelpShown) {
		return exitOK
	}
	code = exitCode(err)
	fmt.Fprintf(c.stderr, "statectl: %s: %s\n", cmd.name, oneLine(err.Error()))
	return code
}

// oneLine folds a possibly multi-line message (wasmtime's WAT errors, for
// one) into a single line, without any Rust backtrace.
func oneLine(s string) string {
	// wasmtime's errors may carry a Rust backtrace: not for users.
	if i := strings.Index(s, "Stack backtrace:"); i >= 0 {
		s = s[:i]
	}
	var parts []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			parts = append(parts, l)
		}
	}
	return strings.Join(parts, " | ")
}

// commandHelp renders a command's --help.
func commandHelp(cmd *command, fs *flag.FlagSet) string {
	var b bytes.Buffer
	fmt.Fprintf(&b, "usage: statectl %s %s\n\n%s\n\n%s\n", cmd.name, cmd.synopsis, cmd.summary, strings.TrimSpace(cmd.help))
	b.WriteString("\nFlags:\n")
	fs.VisitAll(func(f *flag.Flag) {
		typ, usage := flag.UnquoteUsage(f)
		head := "  --" + f.Name
		if len(f.Name) == 1 {
			head = "  -" + f.Name
		}
		if typ != "" {
			head += " " + typ
		}
		def := ""
		if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0" {
			def = fmt.Sprintf(" (default %s)", f.DefValue)
		}
		if len(head) <= 22 {
			fmt.Fprintf(&b, "%-23s %s%s\n", head, usage, def)
		} else {
			fmt.Fprintf(&b, "%s\n%-23s %s%s\n", head, "", usage, def)
		}
	})
	b.WriteString("\nExit codes: 0 ok, 1 operation failed, 2 usage or bad input, 3 store error, 4 internal error.\n")
	if cmd.store {
		b.WriteString("The store is --db, else $WASMSTATE_DB, else ./wasmstate-db.\n")
	}
	return b.String()
}
