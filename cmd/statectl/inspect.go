package main

import (
	"context"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/wasmstate/wasmstate/engine"
	"github.com/wasmstate/wasmstate/merkle"
)

var inspectCmd = &command{
	name:     "inspect",
	synopsis: "CONTRACT [--root ROOT] [--db DIR] [--json]",
	summary:  "describe a contract: code, owner, memory, pages, globals, exports",
	store:    true,
	help: `Describes CONTRACT under --root (default: the head): its code hash and
size, its owner, its memory (kind, length, root) and which of its 4 KiB
pages are non-zero (only those are stored and need proving), its persisted
mutable globals, and its leaf hash.

Examples:
  statectl inspect 0100000000000000000000000000000000000000000000000000000000000000
  statectl inspect CONTRACT --root $OLD --json`,
	run: runInspect,
}

type inspectJSON struct {
	Root     string   `json:"root"`
	Leaf     leafJSON `json:"leaf"`
	CodeSize int      `json:"code_size"`
	Owner    string   `json:"owner"`
	Pages    []uint64 `json:"pages"`
	Globals  []uint64 `json:"globals"`
	Exports  []string `json:"exports"`
}

func runInspect(c *cli, args []string) error {
	fs := c.flags()
	rootFlag := fs.String("root", "head", "`ROOT`: 64 hex digits, head or empty")
	pos, err := c.parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return c.usagef("want one CONTRACT argument, got %d", len(pos))
	}
	e, id, root, err := c.openContractAt(pos[0], *rootFlag)
	if err != nil {
		return err
	}
	defer e.Close()
	info, err := e.Inspect(context.Background(), root, id)
	if err != nil {
		return err
	}
	out := inspectJSON{Root: root.String(), Leaf: leafToJSON(info.Leaf), CodeSize: len(info.Code),
		Owner: hex.EncodeToString(info.Owner), Pages: []uint64{}, Globals: info.Globals, Exports: info.Exports}
	if out.Exports == nil {
		out.Exports = []string{}
	}
	if out.Globals == nil {
		out.Globals = []uint64{}
	}
	err = merkle.NewMemTree(info.Leaf.MemoryRoot, e.Store()).ForEachPage(func(i uint64, _ merkle.Hash) error {
		out.Pages = append(out.Pages, i)
		return nil
	})
	if err != nil {
		return err
	}
	if c.json {
		return c.writeJSON(out)
	}
	l := info.Leaf
	c.printf("contract     %s\n", l.ID)
	c.printf("root         %s\n", rootLabel(root))
	c.printf("code hash    %s (%d bytes)\n", l.CodeHash, len(info.Code))
	c.printf("owner        %s (hash %s)\n", hexOrEmpty(info.Owner), l.OwnerHash)
	c.printf("memory       %s, %s = %d pages of 4 KiB\n", l.Kind, sizeLabel(l.MemoryLen), l.MemoryLen/merkle.PageSize)
	c.printf("memory root  %s\n", l.MemoryRoot)
	c.printf("pages        %d non-zero: %s\n", len(out.Pages), pageRanges(out.Pages))
	var gs []string
	for i, g := range info.Globals {
		gs = append(gs, fmt.Sprintf("[%d] %d (%#x)", i, g, g))
	}
	if len(gs) == 0 {
		gs = []string{"none"}
	}
	c.printf("globals      %s (hash %s)\n", strings.Join(gs, ", "), l.GlobalsHash)
	c.printf("exports      %s\n", strings.TrimPrefix(engine.ExportsHint(info.Exports), "exports: "))
	c.printf("leaf hash    %s\n", l.Hash())
	return nil
}

// pageRanges prints sorted page indices compactly: "0-3, 16".
func pageRanges(pages []uint64) string {
	if len(pages) == 0 {
		return "none"
	}
	var parts []string
	for i := 0; i < len(pages); {
		j := i
		for j+1 < len(pages) && pages[j+1] == pages[j]+1 {
			j++
		}
		if i == j {
			parts = append(parts, fmt.Sprint(pages[i]))
		} else {
			parts = append(parts, fmt.Sprintf("%d-%d", pages[i], pages[j]))
		}
		i = j + 1
	}
	return strings.Join(parts, ", ")
}
