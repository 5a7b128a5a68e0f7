package main

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/wasmstate/wasmstate/engine"
	"github.com/wasmstate/wasmstate/merkle"
)

// DefaultCallGas is the gas limit of a call without --gas.
const DefaultCallGas = 100_000_000

var callCmd = &command{
	name:     "call",
	synopsis: "CONTRACT FUNCTION [--arg VALUE | --driver FILE --json-arg JSON] [--meta KEY=VALUE]... [--base ROOT] [--gas N] [--commit] [--feed]",
	summary:  "call a contract function (and optionally commit)",
	store:    true,
	help: `Calls FUNCTION of CONTRACT with the argument --arg in a session based on
--base (default: the head) and prints the return data (hex, and as a u64
when it is 8 bytes), the gas spent and the limit, the events (source, topic,
data, whether reverted), and the call tree. Without --commit nothing is
written and the root the session would commit is shown; with --commit the
session is committed and the new root becomes the head.

--arg is given at most once (a call takes one argument: pass a tuple such
as (u64:1,u64:2) for several values). --meta sets session metadata the
contract reads with hd, each key at most once; Dusk contracts expect
block_height as a u64, so: --meta block_height=u64:100.
--feed streams what the contract sends with feed, one chunk per line.

--driver FILE loads the contract's data driver (a Dusk data-driver wasm
module, see README) in a sandbox: it encodes --json-arg into the argument
bytes, and decodes the result into JSON (shown as "decoded").

A failed call (panic, trap, out of gas) changes nothing and exits 1. With
--json its output is still JSON: "ok": false, "error": {"kind",
"message"}, the gas spent, the events (all reverted) and the call tree as
far as the call got.

Examples:
  statectl call CONTRACT read_value
  statectl call CONTRACT add --arg u64:5 --commit
  statectl call CONTRACT read_block_height --meta block_height=u64:100
  statectl call CONTRACT transfer --arg "(id:0100000000000000000000000000000000000000000000000000000000000000,u64:10)"
  statectl call CONTRACT feed_num --arg u32:3 --feed --json
  statectl call CONTRACT add --driver counter_driver.wasm --json-arg 5 --commit`,
	run: runCall,
}

type eventJSON struct {
	Source   string `json:"source"`
	Topic    string `json:"topic"`
	Data     string `json:"data"`
	Reverted bool   `json:"reverted"`
}

type callNodeJSON struct {
	Contract  string          `json:"contract"`
	Function  string          `json:"function"`
	GasLimit  uint64          `json:"gas_limit"`
	GasSpent  uint64          `json:"gas_spent"`
	MemoryLen uint64          `json:"memory_len"`
	Failed    bool            `json:"failed"`
	Children  []*callNodeJSON `json:"children,omitempty"`
}

// errorJSON is a failure in JSON output: a stable kind and the message.
type errorJSON struct {
	Kind    string `json:"kind"`
	Message string `json:"message"`
}

// callJSON is the outcome of one call, whether it succeeded or not.
type callJSON struct {
	OK        bool            `json:"ok"`
	Error     *errorJSON      `json:"error,omitempty"`
	Contract  string          `json:"contract"`
	Function  string          `json:"function"`
	Base      string          `json:"base"`
	Result    string          `json:"result"`
	ResultU64 *uint64         `json:"result_u64,omitempty"`
	Decoded   json.RawMessage `json:"decoded,omitempty"`
	GasSpent  uint64          `json:"gas_spent"`
	GasLimit  uint64          `json:"gas_limit"`
	Events    []eventJSON     `json:"events"`
	CallTree  *callNodeJSON   `json:"call_tree"`
	Fed       []string        `json:"fed,omitempty"`
	Debug     []string        `json:"debug,omitempty"`
	Root      string          `json:"root,omitempty"`
	Committed bool            `json:"committed"`

	data []byte // the return data, for text output
	err  error  // the failure, for the exit code
	ran  bool   // the call ran (succeeded or failed in the contract)
}

func treeJSON(n *engine.CallNode) *callNodeJSON {
	if n == nil {
		return nil
	}
	j := &callNodeJSON{Contract: n.Contract.String(), Function: n.Function, GasLimit: n.GasLimit,
		GasSpent: n.GasSpent, MemoryLen: n.MemoryLen, Failed: n.Failed}
	for _, ch := range n.Children {
		j.Children = append(j.Children, treeJSON(ch))
	}
	return j
}

func eventsJSON(evs []engine.Event) []eventJSON {
	out := []eventJSON{}
	for _, ev := range evs {
		out = append(out, eventJSON{Source: ev.Source.String(), Topic: ev.Topic, Data: hex.EncodeToString(ev.Data), Reverted: ev.Reverted})
	}
	return out
}

// errorKind names the class of a failure for JSON output; the names are
// stable (README, statectl call --help).
func errorKind(err error) string {
	for _, k := range []struct {
		err  error
		kind string
	}{
		{engine.ErrOutOfGas, "out_of_gas"},
		{engine.ErrPanic, "panic"},
		{engine.ErrTrap, "trap"},
		{engine.ErrMemoryLimit, "memory_limit"},
		{engine.ErrCallDepth, "call_depth"},
		{engine.ErrNoFunction, "no_function"},
		{engine.ErrNoContract, "no_contract"},
		{engine.ErrUnknownRoot, "unknown_root"},
		{engine.ErrContractExists, "contract_exists"},
		{engine.ErrInvalidModule, "invalid_module"},
		{engine.ErrBadInput, "bad_input"},
		{engine.ErrInternal, "internal"},
	} {
		if errors.Is(err, k.err) {
			return k.kind
		}
	}
	switch exitCode(err) {
	case exitUsage:
		return "bad_input"
	case exitStore:
		return "store"
	}
	return "failed"
}

// callRequest is a parsed call: what to call, with what, on which base.
type callRequest struct {
	id   merkle.ContractID
	fn   string
	arg  []byte
	gas  uint64
	feed func([]byte) error // nil: not a feeder call
}

// callIn runs one call in s and returns its outcome; a failed call is an
// outcome with err set (the session is as before the call), not an error.
// An error is returned only when the call could not be made at all.
func callIn(s *engine.Session, req *callRequest) *callJSON {
	out := &callJSON{Contract: req.id.String(), Function: req.fn, Base: s.Base().String(), Events: []eventJSON{}, GasLimit: req.gas}
	nDebug := len(s.DebugMessages())
	r, err := s.CallFeed(context.Background(), req.id, req.fn, req.arg, req.gas, req.feed)
	for _, m := range s.DebugMessages()[nDebug:] {
		out.Debug = append(out.Debug, fmt.Sprintf("%s: %s", m.Contract, m.Message))
	}
	if err != nil {
		out.err = err
		out.Error = &errorJSON{Kind: errorKind(err), Message: oneLine(err.Error())}
		var ce *engine.CallError
		if errors.As(err, &ce) {
			out.ran = ce.CallTree != nil
			out.GasSpent, out.GasLimit = ce.GasSpent, ce.GasLimit
			out.Events, out.CallTree = eventsJSON(ce.Events), treeJSON(ce.CallTree)
		}
		return out
	}
	out.OK, out.ran = true, true
	out.data = r.Data
	out.Result, out.GasSpent, out.GasLimit, out.CallTree = hex.EncodeToString(r.Data), r.GasSpent, r.GasLimit, treeJSON(r.CallTree)
	out.Events = eventsJSON(r.Events)
	if len(r.Data) == 8 {
		v := binary.LittleEndian.Uint64(r.Data)
		out.ResultU64 = &v
	}
	return out
}

func runCall(c *cli, args []string) error {
	fs := c.flags()
	var argFlag onceFlag
	fs.Var(&argFlag, "arg", "the argument, a `VALUE` (hex, @FILE or literal such as u64:5); at most once")
	var meta metaFlag
	fs.Var(&meta, "meta", "session metadata `KEY=VALUE` (repeatable, each key once), e.g. block_height=u64:100")
	baseFlag := fs.String("base", "head", "`ROOT` to call on: 64 hex digits (or a unique prefix of 8 or more), head or empty")
	gas := fs.Uint64("gas", DefaultCallGas, "gas limit")
	commit := fs.Bool("commit", false, "commit the session after the call; the new root becomes the head")
	feed := fs.Bool("feed", false, "feeder mode: print what the contract feeds as it arrives")
	debug := fs.Bool("debug", false, "collect and print the contracts' debug messages")
	drv := addDriverFlags(fs)
	pos, err := c.parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 2 {
		return c.usagef("want CONTRACT FUNCTION, got %d arguments", len(pos))
	}
	if *gas == 0 {
		return c.usagef("--gas 0")
	}
	req := &callRequest{fn: pos[1], gas: *gas}
	if req.arg, err = parseValue(argFlag.value); err != nil {
		return err
	}
	dc, err := drv.load(c, argFlag.set)
	if err != nil {
		return err
	}
	if dc != nil {
		defer dc.d.Close()
		if b, ok, err := dc.encode(req.fn); err != nil {
			return err
		} else if ok {
			req.arg = b
		}
	}

	e, err := c.open(writeStore)
	if err != nil {
		return err
	}
	defer e.Close()
	if req.id, err = resolveContract(e, pos[0]); err != nil {
		return err
	}
	base, err := resolveRoot(e, *baseFlag)
	if err != nil {
		return err
	}
	s, err := e.NewSession(base, engine.SessionOptions{Metadata: meta.vals, Debug: *debug})
	if err != nil {
		return err
	}
	defer s.Close()

	var fed []string
	if *feed {
		req.feed = func(b []byte) error {
			if !c.json {
				c.printf("fed       %s\n", hexOrEmpty(b))
			}
			fed = append(fed, hex.EncodeToString(b))
			return nil
		}
	}
	out := callIn(s, req)
	out.Fed = fed
	if errors.Is(out.err, engine.ErrNoFunction) {
		// Name what the contract does export (engine.Exports), so a typo
		// is one look away from its fix.
		if exports, err := e.Exports(base, req.id); err == nil {
			out.err = fmt.Errorf("%w (%s has %s)", out.err, req.id.String()[:16], engine.ExportsHint(exports))
			out.Error.Message = oneLine(out.err.Error())
		}
	}
	if out.err == nil && dc != nil {
		if out.Decoded, err = dc.decode(req.fn, out.data); err != nil {
			return err
		}
	}
	if out.err == nil {
		var root merkle.Hash
		if *commit {
			root, err = s.Commit(context.Background())
			out.Committed = true
		} else {
			root, err = s.Root()
		}
		if err != nil {
			return err
		}
		out.Root = root.String()
	}
	if c.json {
		if err := c.writeJSON(out); err != nil {
			return err
		}
		return out.err
	}
	renderCall(c, out)
	return out.err
}

// renderCall prints a call's outcome as text; a call that did not run
// prints nothing (its error says why).
func renderCall(c *cli, out *callJSON) {
	if !out.ran {
		return
	}
	if out.OK {
		res := hexOrEmpty(out.data)
		if out.ResultU64 != nil {
			res += fmt.Sprintf(" (u64 %d)", *out.ResultU64)
		} else if len(out.data) > 0 {
			res += fmt.Sprintf(" (%d bytes)", len(out.data))
		}
		c.printf("result    %s\n", res)
		if out.Decoded != nil {
			c.printf("decoded   %s\n", compactJSON(out.Decoded))
		}
		c.printf("gas       %d spent of %d\n", out.GasSpent, out.GasLimit)
	}
	if len(out.Events) == 0 && out.OK {
		c.printf("events    none\n")
	}
	for i, ev := range out.Events {
		rev := ""
		if ev.Reverted {
			rev = " REVERTED"
		}
		data := ev.Data
		if data == "" {
			data = "(empty)"
		}
		c.printf("event %-3d %s topic %q data %s%s\n", i, ev.Source, ev.Topic, data, rev)
	}
	for _, d := range out.Debug {
		c.printf("debug     %s\n", d)
	}
	if out.CallTree != nil {
		c.printf("call tree\n")
		printTree(c, out.CallTree, 1)
	}
	switch {
	case !out.OK:
		c.printf("failed    after %d gas of %d; nothing changed\n", out.GasSpent, out.GasLimit)
	case out.Committed:
		c.printf("root      %s (committed, new head)\n", out.Root)
	default:
		c.printf("root      %s (not committed; --commit keeps it)\n", out.Root)
	}
}

func printTree(c *cli, n *callNodeJSON, depth int) {
	if n == nil {
		return
	}
	failed := ""
	if n.Failed {
		failed = " FAILED"
	}
	c.printf("%s%s.%s  gas %d/%d  memory %d bytes%s\n", strings.Repeat("  ", depth),
		n.Contract[:16], n.Function, n.GasSpent, n.GasLimit, n.MemoryLen, failed)
	for _, ch := range n.Children {
		printTree(c, ch, depth+1)
	}
}
