package main

import (
	"context"
	"strings"

	"github.com/wasmstate/wasmstate/engine"
	"github.com/wasmstate/wasmstate/merkle"
)

var diffCmd = &command{
	name:     "diff",
	synopsis: "ROOT_A ROOT_B [--db DIR] [--json]",
	summary:  "contracts added, removed and changed between two roots, with changed pages",
	store:    true,
	help: `Compares two roots: the contracts added, removed and changed from ROOT_A to
ROOT_B, and for changed contracts the fields of the leaf that changed and
the pages whose contents differ. Unchanged subtrees are skipped by hash, so
the cost follows the size of the difference, not of the state.

Examples:
  statectl diff $OLD $(statectl root)
  statectl diff empty head --json`,
	run: runDiff,
}

type diffJSON struct {
	Contract string    `json:"contract"`
	Change   string    `json:"change"`
	Fields   []string  `json:"fields,omitempty"`
	Pages    []uint64  `json:"pages,omitempty"`
	Old      *leafJSON `json:"old,omitempty"`
	New      *leafJSON `json:"new,omitempty"`
}

func runDiff(c *cli, args []string) error {
	pos, err := c.parse(c.flags(), args)
	if err != nil {
		return err
	}
	if len(pos) != 2 {
		return c.usagef("want ROOT_A ROOT_B, got %d arguments", len(pos))
	}
	for _, p := range pos {
		if err := checkRootSyntax(p); err != nil {
			return err
		}
	}
	e, err := c.open(readStore)
	if err != nil {
		return err
	}
	defer e.Close()
	a, err := resolveRoot(e, pos[0])
	if err != nil {
		return err
	}
	b, err := resolveRoot(e, pos[1])
	if err != nil {
		return err
	}
	diffs, out, err := diffRoots(e, a, b)
	if err != nil {
		return err
	}
	if c.json {
		return c.writeJSON(map[string]any{"from": a.String(), "to": b.String(), "contracts": out})
	}
	renderDiff(c, a, b, diffs, out)
	return nil
}

// diffRoots compares two roots and describes each changed contract,
// naming the leaf fields that differ.
func diffRoots(e *engine.Engine, a, b merkle.Hash) ([]engine.ContractDiff, []diffJSON, error) {
	diffs, err := e.Diff(context.Background(), a, b)
	if err != nil {
		return nil, nil, err
	}
	out := []diffJSON{}
	for _, d := range diffs {
		j := diffJSON{Contract: d.ID.String(), Change: d.Change, Pages: d.Pages}
		if d.OldLeaf != nil {
			l := leafToJSON(*d.OldLeaf)
			j.Old = &l
		}
		if d.NewLeaf != nil {
			l := leafToJSON(*d.NewLeaf)
			j.New = &l
		}
		if d.OldLeaf != nil && d.NewLeaf != nil {
			o, n := d.OldLeaf, d.NewLeaf
			for _, f := range []struct {
				name string
				diff bool
			}{{"code_hash", o.CodeHash != n.CodeHash}, {"owner_hash", o.OwnerHash != n.OwnerHash},
				{"memory_kind", o.Kind != n.Kind}, {"memory_len", o.MemoryLen != n.MemoryLen},
				{"memory_root", o.MemoryRoot != n.MemoryRoot}, {"globals_hash", o.GlobalsHash != n.GlobalsHash}} {
				if f.diff {
					j.Fields = append(j.Fields, f.name)
				}
			}
		}
		out = append(out, j)
	}
	return diffs, out, nil
}

// renderDiff prints a diff as text.
func renderDiff(c *cli, a, b merkle.Hash, diffs []engine.ContractDiff, out []diffJSON) {
	c.printf("from %s\nto   %s\n", rootLabel(a), rootLabel(b))
	if len(out) == 0 {
		c.printf("no differences\n")
		return
	}
	for i, j := range out {
		d := diffs[i]
		switch j.Change {
		case "added":
			c.printf("added    %s (%s, %s)\n", j.Contract, d.NewLeaf.Kind, sizeLabel(d.NewLeaf.MemoryLen))
		case "removed":
			c.printf("removed  %s\n", j.Contract)
		default:
			c.printf("changed  %s: %s\n", j.Contract, strings.Join(j.Fields, ", "))
			if d.OldLeaf.MemoryLen != d.NewLeaf.MemoryLen {
				c.printf("         memory %d -> %d bytes\n", d.OldLeaf.MemoryLen, d.NewLeaf.MemoryLen)
			}
			if len(j.Pages) > 0 {
				c.printf("         %d page(s) changed: %s\n", len(j.Pages), pageRanges(j.Pages))
			}
		}
	}
}
