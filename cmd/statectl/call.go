package main

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/wasmstate/wasmstate/engine"
	"github.com/wasmstate/wasmstate/merkle"
)

// DefaultCallGas is the gas limit of a call without --gas.
const DefaultCallGas = 100_000_000

var callCmd = &command{
	name:     "call",
	synopsis: "CONTRACT FUNCTION [--arg VALUE] [--meta KEY=VALUE]... [--base ROOT] [--gas N] [--commit] [--feed]",
	summary:  "call a contract function (and optionally commit)",
	store:    true,
	help: `Calls FUNCTION of CONTRACT with the argument --arg in a session based on
--base (default: the head) and prints the return data (hex, and as a u64
when it is 8 bytes), the gas spent and the limit, the events (source, topic,
data, whether reverted), and the call tree. Without --commit nothing is
written and the root the session would commit is shown; with --commit the
session is committed and the new root becomes the head.

--meta sets session metadata the contract reads with hd; Dusk contracts
expect block_height as a u64, so: --meta block_height=u64:100.
--feed streams what the contract sends with feed, one chunk per line.

A failed call (panic, trap, out of gas) changes nothing and exits 1.

Examples:
  statectl call CONTRACT read_value
  statectl call CONTRACT add --arg u64:5 --commit
  statectl call CONTRACT read_block_height --meta block_height=u64:100
  statectl call CONTRACT transfer --arg "(id:0100000000000000000000000000000000000000000000000000000000000000,u64:10)"
  statectl call CONTRACT feed_num --arg u32:3 --feed --json`,
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

type callJSON struct {
	Contract  string        `json:"contract"`
	Function  string        `json:"function"`
	Base      string        `json:"base"`
	Result    string        `json:"result"`
	ResultU64 *uint64       `json:"result_u64,omitempty"`
	GasSpent  uint64        `json:"gas_spent"`
	GasLimit  uint64        `json:"gas_limit"`
	Events    []eventJSON   `json:"events"`
	CallTree  *callNodeJSON `json:"call_tree"`
	Fed       []string      `json:"fed,omitempty"`
	Debug     []string      `json:"debug,omitempty"`
	Root      string        `json:"root"`
	Committed bool          `json:"committed"`
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

func runCall(c *cli, args []string) error {
	fs := c.flags()
	argFlag := fs.String("arg", "", "the argument, a `VALUE` (hex, @FILE or literal such as u64:5)")
	var meta metaFlag
	fs.Var(&meta, "meta", "session metadata `KEY=VALUE` (repeatable), e.g. block_height=u64:100")
	baseFlag := fs.String("base", "head", "`ROOT` to call on: 64 hex digits, head or empty")
	gas := fs.Uint64("gas", DefaultCallGas, "gas limit")
	commit := fs.Bool("commit", false, "commit the session after the call; the new root becomes the head")
	feed := fs.Bool("feed", false, "feeder mode: print what the contract feeds as it arrives")
	debug := fs.Bool("debug", false, "collect and print the contracts' debug messages")
	pos, err := c.parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 2 {
		return c.usagef("want CONTRACT FUNCTION, got %d arguments", len(pos))
	}
	id, err := parseContract(pos[0])
	if err != nil {
		return err
	}
	fn := pos[1]
	arg, err := parseValue(*argFlag)
	if err != nil {
		return err
	}
	if *gas == 0 {
		return c.usagef("--gas 0")
	}

	e, err := c.open(false)
	if err != nil {
		return err
	}
	defer e.Close()
	base, err := resolveRoot(e, *baseFlag)
	if err != nil {
		return err
	}
	s, err := e.NewSession(base, engine.SessionOptions{Metadata: meta.vals, Debug: *debug})
	if err != nil {
		return err
	}
	defer s.Close()

	out := callJSON{Contract: id.String(), Function: fn, Base: base.String(), Events: []eventJSON{}}
	var sink func([]byte) error
	if *feed {
		sink = func(b []byte) error {
			if !c.json {
				c.printf("fed       %s\n", hexOrEmpty(b))
			}
			out.Fed = append(out.Fed, hex.EncodeToString(b))
			return nil
		}
	}
	r, err := s.CallFeed(id, fn, arg, *gas, sink)
	for _, m := range s.DebugMessages() {
		out.Debug = append(out.Debug, fmt.Sprintf("%s: %s", m.Contract, m.Message))
	}
	if err != nil {
		if !c.json {
			for _, d := range out.Debug {
				c.printf("debug     %s\n", d)
			}
		}
		return err
	}
	out.Result, out.GasSpent, out.GasLimit, out.CallTree = hex.EncodeToString(r.Data), r.GasSpent, r.GasLimit, treeJSON(r.CallTree)
	if len(r.Data) == 8 {
		v := binary.LittleEndian.Uint64(r.Data)
		out.ResultU64 = &v
	}
	for _, ev := range r.Events {
		out.Events = append(out.Events, eventJSON{Source: ev.Source.String(), Topic: ev.Topic, Data: hex.EncodeToString(ev.Data), Reverted: ev.Reverted})
	}
	var root merkle.Hash
	if *commit {
		root, err = s.Commit()
		out.Committed = true
	} else {
		root, err = s.Root()
	}
	if err != nil {
		return err
	}
	out.Root = root.String()
	if c.json {
		return c.writeJSON(out)
	}

	res := hexOrEmpty(r.Data)
	if out.ResultU64 != nil {
		res += fmt.Sprintf(" (u64 %d)", *out.ResultU64)
	} else if len(r.Data) > 0 {
		res += fmt.Sprintf(" (%d bytes)", len(r.Data))
	}
	c.printf("result    %s\n", res)
	c.printf("gas       %d spent of %d\n", r.GasSpent, r.GasLimit)
	if len(r.Events) == 0 {
		c.printf("events    none\n")
	}
	for i, ev := range r.Events {
		rev := ""
		if ev.Reverted {
			rev = " REVERTED"
		}
		c.printf("event %-3d %s topic %q data %s%s\n", i, ev.Source, ev.Topic, hexOrEmpty(ev.Data), rev)
	}
	for _, d := range out.Debug {
		c.printf("debug     %s\n", d)
	}
	c.printf("call tree\n")
	printTree(c, r.CallTree, 1)
	if *commit {
		c.printf("root      %s (committed, new head)\n", root)
	} else {
		c.printf("root      %s (not committed; --commit keeps it)\n", root)
	}
	return nil
}

func printTree(c *cli, n *engine.CallNode, depth int) {
	if n == nil {
		return
	}
	failed := ""
	if n.Failed {
		failed = " FAILED"
	}
	c.printf("%s%s.%s  gas %d/%d  memory %d bytes%s\n", strings.Repeat("  ", depth),
		n.Contract.String()[:16], n.Function, n.GasSpent, n.GasLimit, n.MemoryLen, failed)
	for _, ch := range n.Children {
		printTree(c, ch, depth+1)
	}
}
