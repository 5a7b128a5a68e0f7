package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"

	"github.com/wasmstate/wasmstate/engine"
	"github.com/wasmstate/wasmstate/merkle"
	"github.com/wasmstate/wasmstate/pagestore"
	"github.com/wasmstate/wasmstate/witness"
)

var runBlockCmd = &command{
	name:     "run",
	synopsis: "FILE|- [--base ROOT] [--meta KEY=VALUE]... [--dry-run] [--atomic] [--witness OUT [--witness-code]] [--json]",
	summary:  "run deploys and calls in one session, commit once (a block)",
	store:    true,
	help: `Runs the deploys and calls listed in FILE ("-": stdin) in order, in one
session based on --base (default: the head), prints a receipt per step, and
commits once at the end: the new root becomes the head. This is what a
block is. --dry-run runs everything and prints the root the session would
commit, writing nothing.

One step per line; blank lines and lines starting with # are skipped. A
line is either statectl's own syntax (words split on spaces; quote with ' or
"):

  deploy FILE [--id HEX] [--owner VALUE] [--init-arg VALUE] [--nonce N] [--gas N]
  call CONTRACT FUNCTION [--arg VALUE] [--gas N]

or a JSON object (a line starting with {):

  {"op": "deploy", "file": "c.wat", "owner": "0x0a", "init_arg": "u64:7", "nonce": 1, "id": "...", "gas": 1000}
  {"op": "call", "contract": "...", "function": "add", "arg": "u64:5", "gas": 1000}

VALUEs are those of call --arg. A CONTRACT may be @N, the contract the
deploy at step N (counting from 1) created. FILE paths are relative to the
current directory.

A failed step (a call that panics, traps or runs out of gas, a deploy whose
id is taken or whose init fails) changes nothing, gets a receipt saying why,
and the run goes on, as a failed transaction does in a block; --atomic
instead stops at the first failed step and commits nothing (exit 1). A step
that cannot be understood (a syntax error, an unknown contract, a missing
file) stops the run before anything is committed (exit 2).

--witness OUT records the block's witness (SPEC.md §17) and writes it to
OUT: what the block read of the base state, proven against the base root,
with every step and its result. Anyone holding only the base root checks
it with "statectl replay", no store needed. --witness-code puts the code
of the contracts the block ran into the witness as well. Recording needs
Linux with userfaultfd write-protection (exit 1 otherwise).

Examples:
  statectl run block.txt
  statectl run block.txt --witness block.witness
  printf 'deploy counter.wat\ncall @1 add --arg u64:5\n' | statectl run -
  statectl run block.jsonl --dry-run --json`,
	run: runRun,
}

// runStep is one parsed line of a run file.
type runStep struct {
	line     int
	op       string // "deploy" or "call"
	file     string
	code     []byte
	deploy   engine.DeployOptions
	contract string // as written: hex, prefix or @N
	call     callRequest
}

// stepJSON is a step's receipt.
type stepJSON struct {
	Step     int        `json:"step"`
	Line     int        `json:"line"`
	Op       string     `json:"op"`
	OK       bool       `json:"ok"`
	Error    *errorJSON `json:"error,omitempty"`
	Contract string     `json:"contract"`
	File     string     `json:"file,omitempty"`
	Call     *callJSON  `json:"call,omitempty"`
}

type runJSON struct {
	Base      string           `json:"base"`
	Steps     []stepJSON       `json:"steps"`
	Failed    int              `json:"failed"`
	Root      string           `json:"root,omitempty"`
	Committed bool             `json:"committed"`
	DryRun    bool             `json:"dry_run"`
	Witness   *witnessFileJSON `json:"witness,omitempty"`
}

func runRun(c *cli, args []string) error {
	fs := c.flags()
	var meta metaFlag
	fs.Var(&meta, "meta", "session metadata `KEY=VALUE` (repeatable, each key once)")
	baseFlag := fs.String("base", "head", "`ROOT` to run on: 64 hex digits (or a unique prefix), head or empty")
	dry := fs.Bool("dry-run", false, "run everything but commit nothing")
	atomic := fs.Bool("atomic", false, "stop at the first failed step and commit nothing")
	witnessOut := fs.String("witness", "", "record the block's witness and write it to `OUT`")
	witnessCode := fs.Bool("witness-code", false, "put the code of the contracts the block ran into the witness")
	pos, err := c.parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return c.usagef("want one FILE (or - for stdin), got %d arguments", len(pos))
	}
	input, err := c.readInput(pos[0])
	if err != nil {
		return err
	}
	steps, err := parseRunFile(c, input)
	if err != nil {
		return err
	}
	if err := checkRootSyntax(*baseFlag); err != nil {
		return err
	}
	if *witnessCode && *witnessOut == "" {
		return c.usagef("--witness-code needs --witness OUT")
	}
	if *witnessOut != "" {
		if err := checkOutputDir(*witnessOut); err != nil {
			return err
		}
	}
	e, err := c.openForRun(*dry)
	if err != nil {
		return err
	}
	defer e.Close()
	base, err := resolveRoot(e, *baseFlag)
	if err != nil {
		return err
	}
	s, err := e.NewSession(base, engine.SessionOptions{Metadata: meta.vals, RecordWitness: *witnessOut != ""})
	if err != nil {
		return err
	}
	defer s.Close()

	out, err := runSteps(e, s, steps, *atomic)
	out.Base, out.DryRun = base.String(), *dry
	if err != nil {
		return err
	}
	if *atomic && out.Failed > 0 {
		renderRun(c, out)
		last := out.Steps[len(out.Steps)-1]
		return failf("step %d (line %d) failed: %s; nothing committed (--atomic)", last.Step, last.Line, last.Error.Message)
	}
	// The witness is taken before the commit (which would add itself as
	// an operation) and written once the commit succeeded.
	var w *witness.Witness
	if *witnessOut != "" {
		if w, err = s.Witness(context.Background(), engine.WitnessOptions{IncludeCode: *witnessCode}); err != nil {
			return err
		}
	}
	var root merkle.Hash
	if *dry {
		root, err = s.Root()
	} else {
		root, err = s.Commit(context.Background())
		out.Committed = err == nil
	}
	if err != nil {
		return err
	}
	out.Root = root.String()
	if w != nil {
		if out.Witness, err = writeWitness(w, *witnessOut, *witnessCode); err != nil {
			return err
		}
	}
	renderRun(c, out)
	return nil
}

// writeWitness writes a witness to name.
func writeWitness(w *witness.Witness, name string, code bool) (*witnessFileJSON, error) {
	b, err := w.MarshalBinary()
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(name, b, 0o644); err != nil {
		return nil, outputError("write witness", err)
	}
	return &witnessFileJSON{File: name, Bytes: len(b), Pages: w.PageCount(), Contracts: len(w.Contracts), Code: code}, nil
}

// witnessFileJSON describes a witness file written by run.
type witnessFileJSON struct {
	File      string `json:"file"`
	Bytes     int    `json:"bytes"`
	Pages     int    `json:"pages"`
	Contracts int    `json:"contracts"`
	Code      bool   `json:"code"`
}

// openForRun opens the store like deploy does (creating it in a missing or
// empty directory), or, for a dry run, read-only; a dry run where no store
// exists yet runs on an empty in-memory one and creates nothing.
func (c *cli) openForRun(dry bool) (*engine.Engine, error) {
	if !dry {
		return c.open(createStore)
	}
	if st, err := pagestore.ProbeDir(c.db); err == nil && (st == pagestore.DirMissing || st == pagestore.DirEmpty) {
		return engine.OpenInMemory(engine.Options{Logger: slog.New(slog.DiscardHandler)})
	}
	return c.open(readStore)
}

// runSteps runs the steps in s and returns their receipts. Only a step
// that cannot be run at all (an unknown contract) is an error.
func runSteps(e *engine.Engine, s *engine.Session, steps []*runStep, atomic bool) (*runJSON, error) {
	out := &runJSON{Steps: []stepJSON{}}
	deployed := map[int]merkle.ContractID{} // step number -> contract
	for i, st := range steps {
		rec := stepJSON{Step: i + 1, Line: st.line, Op: st.op, File: st.file}
		switch st.op {
		case "deploy":
			id, err := s.Deploy(context.Background(), st.code, st.deploy)
			if err != nil {
				if exitCode(err) == exitUsage && !errors.Is(err, engine.ErrContractExists) && !errors.Is(err, engine.ErrCallFailed) {
					return out, fmt.Errorf("line %d: %w", st.line, err)
				}
				rec.Error = &errorJSON{Kind: errorKind(err), Message: oneLine(err.Error())}
			} else {
				rec.OK, rec.Contract = true, id.String()
				deployed[i+1] = id
			}
		case "call":
			id, err := stepContract(e, st, i+1, deployed)
			if err != nil {
				return out, err
			}
			req := st.call
			req.id = id
			cj := callIn(s, &req)
			if errors.Is(cj.err, engine.ErrNoFunction) || errors.Is(cj.err, engine.ErrNoContract) {
				return out, fmt.Errorf("line %d: %w", st.line, cj.err)
			}
			rec.OK, rec.Error, rec.Contract, rec.Call = cj.OK, cj.Error, id.String(), cj
		}
		if !rec.OK {
			out.Failed++
		}
		out.Steps = append(out.Steps, rec)
		if atomic && !rec.OK {
			break
		}
	}
	return out, nil
}

// stepContract resolves a step's CONTRACT: @N, or an id or prefix.
func stepContract(e *engine.Engine, st *runStep, step int, deployed map[int]merkle.ContractID) (merkle.ContractID, error) {
	if n, ok := strings.CutPrefix(st.contract, "@"); ok {
		k, err := strconv.Atoi(n)
		if err != nil || k < 1 || k >= step {
			return merkle.ContractID{}, badInputf("line %d: %s: want @N, N the number of an earlier deploy step", st.line, st.contract)
		}
		id, ok := deployed[k]
		if !ok {
			return merkle.ContractID{}, badInputf("line %d: %s: step %d is not a deploy that succeeded", st.line, st.contract, k)
		}
		return id, nil
	}
	id, err := resolveContract(e, st.contract)
	if err != nil {
		return id, fmt.Errorf("line %d: %w", st.line, err)
	}
	return id, nil
}

func renderRun(c *cli, out *runJSON) {
	if c.json {
		c.writeJSON(out)
		return
	}
	for _, st := range out.Steps {
		status := "ok"
		if !st.OK {
			status = "FAILED: " + st.Error.Message
		}
		switch st.Op {
		case "deploy":
			c.printf("step %-3d deploy %s  %s  %s\n", st.Step, st.File, orDash(st.Contract), status)
		case "call":
			gas := ""
			if st.Call != nil {
				gas = fmt.Sprintf("gas %d/%d", st.Call.GasSpent, st.Call.GasLimit)
				if st.Call.OK {
					status = "ok, result " + hexOrEmpty(st.Call.data)
				}
			}
			c.printf("step %-3d call %s.%s  %s  %s\n", st.Step, st.Contract[:16], st.Call.Function, gas, status)
		}
	}
	switch {
	case out.Committed:
		c.printf("root     %s (committed, new head; %d of %d steps failed)\n", out.Root, out.Failed, len(out.Steps))
	case out.DryRun:
		c.printf("root     %s (dry run, not committed; %d of %d steps failed)\n", out.Root, out.Failed, len(out.Steps))
	}
	if w := out.Witness; w != nil {
		c.printf("witness  %s (%d bytes: %d pages of %d contracts, from base %s)\n", w.File, w.Bytes, w.Pages, w.Contracts, out.Base)
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// parseRunFile reads every step before anything runs, so a malformed line
// stops the run before it starts.
func parseRunFile(c *cli, input []byte) ([]*runStep, error) {
	var steps []*runStep
	sc := bufio.NewScanner(bytes.NewReader(input))
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		var st *runStep
		var err error
		if strings.HasPrefix(text, "{") {
			st, err = parseJSONStep(text)
		} else {
			st, err = parseTextStep(text)
		}
		if err != nil {
			return nil, badInputf("line %d: %v", line, errors.Unwrap(err))
		}
		st.line = line
		if st.op == "deploy" {
			if st.code, err = loadModule(c, st.file); err != nil {
				return nil, badInputf("line %d: %v", line, err)
			}
		}
		steps = append(steps, st)
	}
	if err := sc.Err(); err != nil {
		return nil, badInputf("read steps: %v", err)
	}
	if len(steps) == 0 {
		return nil, badInputf("no steps (one deploy or call per line)")
	}
	return steps, nil
}

// splitWords splits a line on spaces, honouring ' and " quotes.
func splitWords(s string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	var quote rune
	for _, r := range s {
		switch {
		case quote != 0:
			if r == quote {
				quote = 0
			} else {
				cur.WriteRune(r)
			}
		case r == '\'' || r == '"':
			quote, inWord = r, true
		case r == ' ' || r == '\t':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if quote != 0 {
		return nil, fmt.Errorf("unclosed %c", quote)
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}

func wrapStep(err error) error { return &exitError{code: exitUsage, err: err} }

func parseTextStep(text string) (*runStep, error) {
	words, err := splitWords(text)
	if err != nil {
		return nil, wrapStep(err)
	}
	fs := flag.NewFlagSet(words[0], flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	st := &runStep{op: words[0]}
	var posArgs []string
	parse := func(args []string) error {
		for {
			if err := fs.Parse(args); err != nil {
				return err
			}
			rest := fs.Args()
			if len(rest) == 0 {
				return nil
			}
			posArgs = append(posArgs, rest[0])
			args = rest[1:]
		}
	}
	switch st.op {
	case "deploy":
		id := fs.String("id", "", "")
		owner := fs.String("owner", "", "")
		initArg := fs.String("init-arg", "", "")
		nonce := fs.Uint64("nonce", 0, "")
		gas := fs.Uint64("gas", engine.DefaultDeployGas, "")
		if err := parse(words[1:]); err != nil {
			return nil, wrapStep(err)
		}
		if len(posArgs) != 1 {
			return nil, wrapStep(errors.New("want: deploy FILE [--id HEX] [--owner VALUE] [--init-arg VALUE] [--nonce N] [--gas N]"))
		}
		return st, st.setDeploy(posArgs[0], *id, *owner, *initArg, *nonce, *gas)
	case "call":
		var arg onceFlag
		fs.Var(&arg, "arg", "")
		gas := fs.Uint64("gas", DefaultCallGas, "")
		if err := parse(words[1:]); err != nil {
			return nil, wrapStep(err)
		}
		if len(posArgs) != 2 {
			return nil, wrapStep(errors.New("want: call CONTRACT FUNCTION [--arg VALUE] [--gas N]"))
		}
		return st, st.setCall(posArgs[0], posArgs[1], arg.value, *gas)
	}
	return nil, wrapStep(fmt.Errorf("unknown step %q: want deploy or call", st.op))
}

func parseJSONStep(text string) (*runStep, error) {
	var j struct {
		Op       string  `json:"op"`
		File     string  `json:"file"`
		ID       string  `json:"id"`
		Owner    string  `json:"owner"`
		InitArg  string  `json:"init_arg"`
		Nonce    uint64  `json:"nonce"`
		Gas      *uint64 `json:"gas"`
		Contract string  `json:"contract"`
		Function string  `json:"function"`
		Arg      string  `json:"arg"`
	}
	dec := json.NewDecoder(strings.NewReader(text))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&j); err != nil {
		return nil, wrapStep(fmt.Errorf("JSON step: %v", err))
	}
	st := &runStep{op: j.Op}
	switch j.Op {
	case "deploy":
		if j.File == "" || j.Contract != "" || j.Function != "" || j.Arg != "" {
			return nil, wrapStep(errors.New(`deploy step: want "file" and optionally "id", "owner", "init_arg", "nonce", "gas"`))
		}
		gas := uint64(engine.DefaultDeployGas)
		if j.Gas != nil {
			gas = *j.Gas
		}
		return st, st.setDeploy(j.File, j.ID, j.Owner, j.InitArg, j.Nonce, gas)
	case "call":
		if j.Contract == "" || j.Function == "" || j.File != "" || j.Owner != "" || j.InitArg != "" || j.ID != "" {
			return nil, wrapStep(errors.New(`call step: want "contract", "function" and optionally "arg", "gas"`))
		}
		gas := uint64(DefaultCallGas)
		if j.Gas != nil {
			gas = *j.Gas
		}
		return st, st.setCall(j.Contract, j.Function, j.Arg, gas)
	}
	return nil, wrapStep(fmt.Errorf(`"op" %q: want "deploy" or "call"`, j.Op))
}

func (st *runStep) setDeploy(file, id, owner, initArg string, nonce, gas uint64) error {
	st.file = file
	if gas == 0 {
		return wrapStep(errors.New("gas 0"))
	}
	st.deploy = engine.DeployOptions{GasLimit: gas, Nonce: nonce}
	var err error
	if id != "" {
		cid, err := parseContract(id)
		if err != nil {
			return wrapStep(err)
		}
		st.deploy.ID = &cid
	}
	if st.deploy.Owner, err = parseValue(owner); err != nil {
		return wrapStep(err)
	}
	if st.deploy.InitArg, err = parseValue(initArg); err != nil {
		return wrapStep(err)
	}
	return nil
}

func (st *runStep) setCall(contract, fn, arg string, gas uint64) error {
	if gas == 0 {
		return wrapStep(errors.New("gas 0"))
	}
	if !strings.HasPrefix(contract, "@") {
		if err := checkContractSyntax(contract); err != nil {
			return wrapStep(err)
		}
	}
	st.contract = contract
	st.call = callRequest{fn: fn, gas: gas}
	var err error
	if st.call.arg, err = parseValue(arg); err != nil {
		return wrapStep(err)
	}
	return nil
}
