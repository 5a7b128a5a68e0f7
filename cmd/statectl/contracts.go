package main

import (
	"context"
	"fmt"

	"github.com/wasmstate/wasmstate/merkle"
)

var contractsCmd = &command{
	name:     "contracts",
	synopsis: "[--root ROOT] [--db DIR] [--json]",
	summary:  "list the contracts under a root",
	store:    true,
	help: `Lists every contract under --root (default: the head), in state-tree
order, with its code hash and memory.

Examples:
  statectl contracts
  statectl contracts --root $(statectl root) --json`,
	run: runContracts,
}

type leafJSON struct {
	Contract    string `json:"contract"`
	CodeHash    string `json:"code_hash"`
	OwnerHash   string `json:"owner_hash"`
	MemoryKind  string `json:"memory_kind"`
	MemoryLen   uint64 `json:"memory_len"`
	MemoryRoot  string `json:"memory_root"`
	GlobalsHash string `json:"globals_hash"`
	LeafHash    string `json:"leaf_hash"`
}

func runContracts(c *cli, args []string) error {
	fs := c.flags()
	rootFlag := fs.String("root", "head", "`ROOT`: 64 hex digits, head or empty")
	pos, err := c.parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return c.usagef("contracts takes no arguments")
	}
	e, err := c.open(readStore)
	if err != nil {
		return err
	}
	defer e.Close()
	root, err := resolveRoot(e, *rootFlag)
	if err != nil {
		return err
	}
	leaves, err := e.Contracts(context.Background(), root)
	if err != nil {
		return err
	}
	out := []leafJSON{}
	for _, l := range leaves {
		out = append(out, leafToJSON(l))
	}
	if c.json {
		return c.writeJSON(map[string]any{"root": root.String(), "contracts": out})
	}
	c.printf("root %s: %d contract(s)\n", rootLabel(root), len(out))
	for _, l := range out {
		c.printf("%s  code %s  %s %s\n", l.Contract, l.CodeHash[:16], l.MemoryKind, sizeLabel(l.MemoryLen))
	}
	return nil
}

// sizeLabel prints a memory length in bytes and KiB/MiB.
func sizeLabel(n uint64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d bytes (%d MiB)", n, n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d bytes (%d KiB)", n, n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

func leafToJSON(l merkle.ContractLeaf) leafJSON {
	return leafJSON{Contract: l.ID.String(), CodeHash: l.CodeHash.String(), OwnerHash: l.OwnerHash.String(),
		MemoryKind: l.Kind.String(), MemoryLen: l.MemoryLen, MemoryRoot: l.MemoryRoot.String(),
		GlobalsHash: l.GlobalsHash.String(), LeafHash: l.Hash().String()}
}
