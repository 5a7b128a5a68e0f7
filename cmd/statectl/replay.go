package main

import (
	"context"
	"errors"
	"log/slog"

	"github.com/wasmstate/wasmstate/engine"
	"github.com/wasmstate/wasmstate/merkle"
	"github.com/wasmstate/wasmstate/witness"
)

var replayCmd = &command{
	name:     "replay",
	synopsis: "WITNESS --pre ROOT --post ROOT [--code FILE]... [--code-db] [--json]",
	summary:  "check a block from its witness alone: re-execute it and compare roots",
	store:    true, // --db for --code-db only
	help: `Re-executes the block recorded in WITNESS (written by "statectl run
--witness") with no store: every page, leaf and node the block reads comes
from the witness, checked against --pre first. It accepts the witness only
if every step returns what the witness says and the state it leaves has root
--post. A read of something the witness does not hold is "incomplete"; a
witness that does not hold against --pre is "invalid"; another result or
root is "mismatch". Exit 0 when accepted, 1 when rejected.

Code: from the witness when it carries it (run --witness-code), else from
the files given with --code (wasm or WebAssembly text, matched by hash), or
with --code-db from the store in --db (opened read-only; it is used for
nothing else).

The replay proves that the witness's steps lead from --pre to --post: the
printed "ops digest" commits to those steps (SPEC.md §17.3), for a node to
compare with what its block commits to.

Examples:
  statectl replay block.witness --pre ROOT --post ROOT
  statectl replay block.witness --pre ROOT --post ROOT --code counter.wat --json`,
	run: runReplay,
}

type replayJSON struct {
	Accepted  bool   `json:"accepted"`
	Verdict   string `json:"verdict"` // "accepted", "malformed", "invalid", "incomplete", "mismatch", "error"
	Error     string `json:"error,omitempty"`
	Pre       string `json:"pre"`
	Post      string `json:"post"`
	Ops       int    `json:"ops"`
	Pages     int    `json:"pages"`
	Contracts int    `json:"contracts"`
	GasSpent  uint64 `json:"gas_spent"`
	OpsDigest string `json:"ops_digest,omitempty"`
	Bytes     int    `json:"bytes"`
}

func runReplay(c *cli, args []string) error {
	fs := c.flags()
	preFlag := fs.String("pre", "", "the `ROOT` the block started from (64 hex digits, or empty)")
	postFlag := fs.String("post", "", "the `ROOT` the block claims to end at")
	var codeFiles listFlag
	fs.Var(&codeFiles, "code", "a contract module `FILE` (wasm or text; repeatable)")
	codeDB := fs.Bool("code-db", false, "take missing code from the store in --db (read-only)")
	pos, err := c.parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return c.usagef("want one WITNESS file, got %d arguments", len(pos))
	}
	if *preFlag == "" || *postFlag == "" {
		return c.usagef("--pre and --post are required")
	}
	pre, err := parseRootHex(*preFlag)
	if err != nil {
		return err
	}
	post, err := parseRootHex(*postFlag)
	if err != nil {
		return err
	}
	data, err := c.readInput(pos[0])
	if err != nil {
		return err
	}
	code := map[merkle.Hash][]byte{}
	for _, f := range codeFiles.values {
		b, err := loadModule(c, f)
		if err != nil {
			return err
		}
		code[merkle.HashCode(b)] = b
	}
	src := engine.MapCode(code)
	if *codeDB {
		e, err := c.open(readStore)
		if err != nil {
			return err
		}
		defer e.Close()
		files := src
		src = func(h merkle.Hash) ([]byte, error) {
			if b, err := files(h); err == nil {
				return b, nil
			}
			return e.Store().Code(h)
		}
	}
	out := replayJSON{Pre: pre.String(), Post: post.String(), Bytes: len(data)}
	res, err := replayWitness(data, pre, post, src)
	if err != nil {
		out.Verdict, out.Error = witnessVerdict(err), oneLine(err.Error())
		if c.json {
			if werr := c.writeJSON(out); werr != nil {
				return werr
			}
		}
		return failf("rejected (%s): %s", out.Verdict, oneLine(err.Error()))
	}
	out.Accepted, out.Verdict = true, "accepted"
	out.Ops, out.Pages, out.Contracts, out.GasSpent = res.Ops, res.Pages, res.Contracts, res.GasSpent
	out.OpsDigest = res.OpsDigest.String()
	if c.json {
		return c.writeJSON(out)
	}
	c.printf("accepted: %s -> %s\n", pre, post)
	c.printf("  %d steps, %d contracts, %d pages (%d-byte witness), gas %d\n", res.Ops, res.Contracts, res.Pages, len(data), res.GasSpent)
	c.printf("  ops digest %s\n", res.OpsDigest)
	return nil
}

func replayWitness(data []byte, pre, post merkle.Hash, src engine.CodeSource) (*engine.ReplayResult, error) {
	w, err := witness.Decode(data)
	if err != nil {
		return nil, err
	}
	return engine.Replay(context.Background(), w, pre, post, engine.ReplayOptions{Code: src,
		Options: engine.Options{Logger: slog.New(slog.DiscardHandler)}})
}

// witnessVerdict names the class of a replay failure.
func witnessVerdict(err error) string {
	for _, v := range []struct {
		err  error
		name string
	}{{witness.ErrMalformed, "malformed"}, {witness.ErrInvalid, "invalid"},
		{witness.ErrIncomplete, "incomplete"}, {witness.ErrMismatch, "mismatch"}} {
		if errors.Is(err, v.err) {
			return v.name
		}
	}
	return "error"
}
