package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/wasmstate/wasmstate/engine"
	"github.com/wasmstate/wasmstate/merkle"
)

// Several claims at once: statectl prove and verify build one multiproof
// (SPEC.md §7.6) when given more than one claim. A --page or --range value
// is either bare (N, OFFSET:LENGTH), for every CONTRACT argument, or names
// its contract (CONTRACT:N, CONTRACT:OFFSET:LENGTH).

// listFlag collects the values of a repeatable flag.
type listFlag struct{ values []string }

func (f *listFlag) String() string { return strings.Join(f.values, ",") }

func (f *listFlag) Set(s string) error {
	f.values = append(f.values, s)
	return nil
}

// claimValue is one --page or --range value: contract is "" when bare.
type claimValue struct {
	contract       string
	offset, length uint64
}

// parseClaimValues reads --page and --range values; qualified reports
// whether any names its contract.
func parseClaimValues(pages, ranges []string) (vals []claimValue, qualified bool, err error) {
	for _, s := range pages {
		v := claimValue{}
		n := s
		if i := strings.IndexByte(s, ':'); i >= 0 {
			v.contract, n = s[:i], s[i+1:]
			qualified = true
		}
		idx, err := parseUint("page", n)
		if err != nil {
			return nil, false, err
		}
		if idx >= merkle.MaxPages {
			return nil, false, badInputf("page %d: beyond the largest memory (%d pages)", idx, merkle.MaxPages)
		}
		v.offset, v.length = idx*merkle.PageSize, merkle.PageSize
		vals = append(vals, v)
	}
	for _, s := range ranges {
		v := claimValue{}
		r := s
		if strings.Count(s, ":") == 2 {
			i := strings.IndexByte(s, ':')
			v.contract, r = s[:i], s[i+1:]
			qualified = true
		}
		if v.offset, v.length, err = parseRange(r); err != nil {
			return nil, false, err
		}
		vals = append(vals, v)
	}
	for _, v := range vals {
		if v.contract != "" {
			if err := checkContractSyntax(v.contract); err != nil {
				return nil, false, err
			}
		}
	}
	return vals, qualified, nil
}

// multiMode is how the CONTRACT arguments of a multi claim are claimed.
type multiMode struct {
	leaf, absent, lookup bool
}

// buildMultiClaim resolves the contracts of a multi claim (positional
// arguments and qualified values) and builds it; bare values apply to
// every positional contract. resolve maps a CONTRACT argument to an id.
func buildMultiClaim(c *cli, pos []string, vals []claimValue, m multiMode, resolve func(string) (merkle.ContractID, error)) (claim merkle.MultiClaim, ids []merkle.ContractID, err error) {
	bare := false
	for _, v := range vals {
		bare = bare || v.contract == ""
	}
	modes := 0
	for _, on := range []bool{bare, m.leaf, m.absent, m.lookup} {
		if on {
			modes++
		}
	}
	if len(pos) > 0 && modes != 1 {
		return claim, nil, c.usagef("want exactly one of --page/--range (bare), --leaf, --absent and --lookup for the CONTRACT arguments")
	}
	if len(pos) == 0 && modes != 0 {
		return claim, nil, c.usagef("bare --page/--range values, --leaf, --absent and --lookup need CONTRACT arguments (or name the contract: --page CONTRACT:N)")
	}
	if len(pos) == 0 && len(vals) == 0 {
		return claim, nil, c.usagef("want a CONTRACT argument or --page/--range values naming contracts")
	}
	for _, s := range pos {
		id, err := resolve(s)
		if err != nil {
			return claim, nil, err
		}
		ids = append(ids, id)
		claim.IDs = append(claim.IDs, id)
	}
	for _, v := range vals {
		targets := ids
		if v.contract != "" {
			id, err := resolve(v.contract)
			if err != nil {
				return claim, nil, err
			}
			targets = []merkle.ContractID{id}
		}
		for _, id := range targets {
			claim.Ranges = append(claim.Ranges, merkle.ByteRange{ID: id, Offset: v.offset, Length: v.length})
		}
	}
	return claim, ids, nil
}

type proveRangeJSON struct {
	Contract string `json:"contract"`
	Offset   uint64 `json:"offset"`
	Length   uint64 `json:"length"`
}

type proveMultiSummaryJSON struct {
	File      string           `json:"file"`
	Bytes     int              `json:"bytes"`
	Encoding  string           `json:"encoding"`
	Kind      string           `json:"kind"`
	Root      string           `json:"root"`
	Contracts []string         `json:"contracts"`
	Ranges    []proveRangeJSON `json:"ranges"`
}

// runProveMulti is prove with several claims: one multiproof.
func runProveMulti(c *cli, pos []string, vals []claimValue, m multiMode, rootFlag, outFile string) error {
	if !c.json && outFile == "" && c.stdoutTTY {
		return c.usagef("refusing to write a binary proof to a terminal: use -o FILE, redirect stdout, or --json")
	}
	if outFile != "" {
		if err := checkOutputDir(outFile); err != nil {
			return err
		}
	}
	if err := checkRootSyntax(rootFlag); err != nil {
		return err
	}
	for _, s := range pos {
		if err := checkContractSyntax(s); err != nil {
			return err
		}
	}
	e, err := c.open(readStore)
	if err != nil {
		return err
	}
	defer e.Close()
	root, err := resolveRoot(e, rootFlag)
	if err != nil {
		return err
	}
	claim, ids, err := buildMultiClaim(c, pos, vals, m, func(s string) (merkle.ContractID, error) { return resolveContract(e, s) })
	if err != nil {
		return err
	}
	proof, err := e.ProveMulti(context.Background(), root, claim)
	if errors.Is(err, merkle.ErrOutOfRange) {
		return withCode(exitUsage, err)
	}
	if err != nil {
		return err
	}
	if m.leaf || m.absent {
		m2, err := merkle.VerifyMulti(root, proof, claim)
		if err != nil {
			return err
		}
		for _, id := range ids {
			l, _ := m2.Leaf(id)
			if m.leaf && l == nil {
				return fmt.Errorf("%w: %s under root %s", engine.ErrNoContract, id, root)
			}
			if m.absent && l != nil {
				return failf("contract %s exists under root %s: its absence cannot be proven (try --leaf)", id, root)
			}
		}
	}
	data, encoding, err := encodeProof(c, proof)
	if err != nil {
		return err
	}
	if outFile == "" {
		_, err = c.stdout.Write(data)
		return err
	}
	if err := os.WriteFile(outFile, data, 0o644); err != nil {
		return outputError("write proof", err)
	}
	if c.json {
		sum := proveMultiSummaryJSON{File: outFile, Bytes: len(data), Encoding: encoding, Kind: proof.Kind().String(),
			Root: root.String(), Contracts: []string{}, Ranges: []proveRangeJSON{}}
		for _, id := range proof.State.IDs {
			sum.Contracts = append(sum.Contracts, id.String())
		}
		for _, r := range proof.Ranges {
			sum.Ranges = append(sum.Ranges, proveRangeJSON{Contract: r.ID.String(), Offset: r.Offset, Length: r.Length})
		}
		return c.writeJSON(sum)
	}
	c.printf("wrote %d-byte %s multi proof to %s: %d contracts, %d ranges under root %s\n", len(data), encoding, outFile,
		len(proof.State.IDs), len(proof.Ranges), root)
	return nil
}

// encodeProof encodes a proof as prove writes it: indented JSON with a
// final newline under --json, else binary.
func encodeProof(c *cli, proof merkle.Proof) ([]byte, string, error) {
	if c.json {
		data, err := jsonIndent(proof)
		return data, "json", err
	}
	data, err := proof.MarshalBinary()
	return data, "binary", err
}
