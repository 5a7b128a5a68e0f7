package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/wasmstate/wasmstate/engine"
	"github.com/wasmstate/wasmstate/merkle"
)

var proveCmd = &command{
	name:     "prove",
	synopsis: "--root ROOT CONTRACT... (--page N | --range OFFSET:LENGTH | --absent | --leaf | --lookup)... [-o FILE] [--json]",
	summary:  "prove pages, byte ranges, contracts' leaves or absences, one or many at once",
	store:    true,
	help: `Builds a proof about the state under --root (default: the head) that
anyone holding only that root can check with statectl verify or the
lightclient package:

  --page N               page N (4 KiB) of CONTRACT's memory
  --range OFFSET:LENGTH  LENGTH bytes at OFFSET of CONTRACT's memory (up to 16 MiB)
  --leaf                 CONTRACT's leaf: code hash, owner hash, memory kind,
                         length and root, globals hash
  --absent               that no contract has the id CONTRACT

Several claims at once make one multiproof (SPEC.md §7.6), which sends
every node their paths share once:

  --page, --range        repeatable; a bare value (N, OFFSET:LENGTH) applies
                         to every CONTRACT argument, CONTRACT:N and
                         CONTRACT:OFFSET:LENGTH to that contract only
  CONTRACT...            several contracts, with --leaf, --absent or
  --lookup               --lookup (each one's leaf or absence, whichever holds)

One CONTRACT with one claim gives the single proof of that kind.

The proof is written in the binary encoding (SPEC.md §7.3), or in JSON
(§7.5) with --json, to -o FILE or to stdout. A binary proof is not written
to a terminal: use -o, redirect stdout, or --json. With -o a summary is
printed instead. Numbers are decimal or 0x-prefixed hex.

Examples:
  statectl prove --root $(statectl root) CONTRACT --page 0 -o page0.proof
  statectl prove CONTRACT --range 0:8 --json > counter.json
  statectl prove --root $OLD CONTRACT --leaf -o leaf.proof
  statectl prove CONTRACT --absent -o absent.proof
  statectl prove CONTRACT --page 0 --page 7 --range 4096:16 -o three.proof
  statectl prove A B C --lookup --page D:3 --json > many.json`,
	run: runProve,
}

type proveSummaryJSON struct {
	File     string  `json:"file"`
	Bytes    int     `json:"bytes"`
	Encoding string  `json:"encoding"`
	Kind     string  `json:"kind"`
	Root     string  `json:"root"`
	Contract string  `json:"contract"`
	Offset   *uint64 `json:"offset,omitempty"`
	Length   *uint64 `json:"length,omitempty"`
}

func runProve(c *cli, args []string) error {
	fs := c.flags()
	rootFlag := fs.String("root", "head", "`ROOT` the proof is about: 64 hex digits or head")
	var pageList, rangeList listFlag
	fs.Var(&pageList, "page", "prove page `N` (or CONTRACT:N); repeatable")
	fs.Var(&rangeList, "range", "prove the byte range `OFFSET:LENGTH` (or CONTRACT:OFFSET:LENGTH); repeatable")
	absent := fs.Bool("absent", false, "prove that no contract has the id CONTRACT")
	leaf := fs.Bool("leaf", false, "prove CONTRACT's leaf")
	lookup := fs.Bool("lookup", false, "prove each CONTRACT's leaf or its absence, whichever holds (a multiproof)")
	outFile := fs.String("o", "", "write the proof to `FILE` instead of stdout")
	fs.Lookup("json").Usage = "write the proof in JSON (SPEC.md §7.5, §7.6) instead of binary (§7.3)"
	pos, err := c.parse(fs, args)
	if err != nil {
		return err
	}
	// Several claims make one multiproof; one claim keeps its own kind.
	vals, qualified, err := parseClaimValues(pageList.values, rangeList.values)
	if err != nil {
		return err
	}
	if qualified || *lookup || len(pos) > 1 || len(vals) > 1 {
		return runProveMulti(c, pos, vals, multiMode{leaf: *leaf, absent: *absent, lookup: *lookup}, *rootFlag, *outFile)
	}
	page, rng := "", ""
	if len(pageList.values) == 1 {
		page = pageList.values[0]
	}
	if len(rangeList.values) == 1 {
		rng = rangeList.values[0]
	}
	if len(pos) != 1 {
		return c.usagef("want one CONTRACT argument, got %d", len(pos))
	}
	modes := 0
	for _, m := range []string{"page", "range", "absent", "leaf"} {
		if isSet(fs, m) {
			modes++
		}
	}
	if modes != 1 {
		return c.usagef("want exactly one of --page, --range, --absent and --leaf")
	}
	var offset, length uint64
	switch {
	case isSet(fs, "page"):
		n, err := parseUint("page", page)
		if err != nil {
			return err
		}
		if n >= merkle.MaxPages {
			return badInputf("page %d: beyond the largest memory (%d pages)", n, merkle.MaxPages)
		}
		offset, length = n*merkle.PageSize, merkle.PageSize
	case isSet(fs, "range"):
		if offset, length, err = parseRange(rng); err != nil {
			return err
		}
	}
	if !c.json && *outFile == "" && c.stdoutTTY {
		return c.usagef("refusing to write a binary proof to a terminal: use -o FILE, redirect stdout, or --json")
	}

	if *outFile != "" {
		if err := checkOutputDir(*outFile); err != nil {
			return err
		}
	}
	e, id, root, err := c.openContractAt(pos[0], *rootFlag)
	if err != nil {
		return err
	}
	defer e.Close()
	mode := "range"
	switch {
	case *absent:
		mode = "absent"
	case *leaf:
		mode = "leaf"
	case isSet(fs, "page"):
		mode = "page"
	}
	proof, what, err := makeProof(e, root, id, mode, offset, length)
	if err != nil {
		return err
	}

	data, encoding, err := encodeProof(c, proof)
	if err != nil {
		return err
	}
	if *outFile == "" {
		_, err = c.stdout.Write(data)
		return err
	}
	if err := os.WriteFile(*outFile, data, 0o644); err != nil {
		return outputError("write proof", err)
	}
	if c.json {
		sum := proveSummaryJSON{File: *outFile, Bytes: len(data), Encoding: encoding, Kind: proof.Kind().String(),
			Root: root.String(), Contract: id.String()}
		if proof.Kind() == merkle.KindRange {
			sum.Offset, sum.Length = &offset, &length
		}
		return c.writeJSON(sum)
	}
	c.printf("wrote %d-byte %s %s proof to %s: %s under root %s\n", len(data), encoding, proof.Kind(), *outFile, what, root)
	return nil
}

// makeProof builds the proof prove was asked for (mode "page", "range",
// "absent" or "leaf") and describes it in words.
func makeProof(e *engine.Engine, root merkle.Hash, id merkle.ContractID, mode string, offset, length uint64) (merkle.Proof, string, error) {
	var proof merkle.Proof
	what := ""
	absent, leaf := mode == "absent", mode == "leaf"
	switch {
	case absent || leaf:
		p, err := e.ProveContract(context.Background(), root, id)
		if err != nil {
			return nil, "", err
		}
		if leaf && p.Kind() != merkle.KindContract {
			return nil, "", fmt.Errorf("%w: %s under root %s", engine.ErrNoContract, id, root)
		}
		if absent && p.Kind() != merkle.KindAbsence {
			return nil, "", failf("contract %s exists under root %s: its absence cannot be proven (try --leaf)", id, root)
		}
		proof = p
		what = "absence of " + id.String()
		if leaf {
			what = "leaf of " + id.String()
		}
	default:
		p, err := e.ProveRange(context.Background(), root, id, offset, length)
		if errors.Is(err, merkle.ErrOutOfRange) {
			return nil, "", withCode(exitUsage, err)
		}
		if err != nil {
			return nil, "", err
		}
		proof = p
		what = fmt.Sprintf("bytes %d+%d of %s", offset, length, id)
		if mode == "page" {
			what = fmt.Sprintf("page %d (%s)", offset/merkle.PageSize, what)
		}
	}
	return proof, what, nil
}

// jsonIndent is the JSON form prove writes: indented, with a final newline.
func jsonIndent(v any) ([]byte, error) {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(data, '\n'), nil
}
