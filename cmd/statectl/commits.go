package main

import (
	"slices"
	"time"

	"github.com/wasmstate/wasmstate/merkle"
)

var commitsCmd = &command{
	name:     "commits",
	synopsis: "[-n N] [--reverse] [--db DIR] [--json]",
	summary:  "list the commits: root, parent, time, changed contracts",
	store:    true,
	help: `Lists the commit records, newest first: each one's root, the root it was
derived from (its parent, which may since have been deleted), when it was
made and the contracts whose leaves it changed. The head is marked. -n N
shows the newest N only; --reverse lists oldest first.

Examples:
  statectl commits
  statectl commits -n 5
  statectl commits --reverse --json`,
	run: runCommits,
}

type commitJSON struct {
	Root         string   `json:"root"`
	Parent       string   `json:"parent"`
	ParentKnown  bool     `json:"parent_known"`
	Time         string   `json:"time"`
	TimeUnixNano int64    `json:"time_unix_nano"`
	Changed      []string `json:"changed"`
	Head         bool     `json:"head"`
}

func runCommits(c *cli, args []string) error {
	fs := c.flags()
	limit := fs.Int("n", 0, "show the newest `N` commits only (0: all)")
	reverse := fs.Bool("reverse", false, "oldest first")
	pos, err := c.parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return c.usagef("commits takes no arguments")
	}
	if *limit < 0 {
		return c.usagef("-n %d: want 0 or more", *limit)
	}
	e, err := c.open(readStore)
	if err != nil {
		return err
	}
	defer e.Close()
	head, err := e.Head()
	if err != nil {
		return err
	}
	recs, err := e.Commits()
	if err != nil {
		return err
	}
	known := map[merkle.Hash]bool{merkle.EmptyState(): true}
	for _, r := range recs {
		known[r.Root] = true
	}
	slices.Reverse(recs) // newest first
	if *limit > 0 && len(recs) > *limit {
		recs = recs[:*limit]
	}
	if *reverse {
		slices.Reverse(recs)
	}
	out := []commitJSON{}
	for _, r := range recs {
		j := commitJSON{Root: r.Root.String(), Parent: r.Parent.String(), ParentKnown: known[r.Parent],
			Time: time.Unix(0, r.Time).UTC().Format(time.RFC3339Nano), TimeUnixNano: r.Time,
			Changed: []string{}, Head: r.Root == head}
		for _, id := range r.Changed {
			j.Changed = append(j.Changed, id.String())
		}
		out = append(out, j)
	}
	if c.json {
		return c.writeJSON(map[string]any{"head": head.String(), "commits": out})
	}
	if len(out) == 0 {
		c.printf("no commits (head: %s)\n", rootLabel(head))
		return nil
	}
	for i, j := range out {
		if i > 0 {
			c.printf("\n")
		}
		mark := ""
		if j.Head {
			mark = " (head)"
		}
		parent := rootLabel(recs[i].Parent)
		if !j.ParentKnown {
			parent += " (deleted)"
		}
		c.printf("root     %s%s\n", j.Root, mark)
		c.printf("parent   %s\n", parent)
		c.printf("time     %s\n", j.Time)
		c.printf("changed  %d contract(s)\n", len(j.Changed))
		for _, id := range j.Changed {
			c.printf("         %s\n", id)
		}
	}
	return nil
}
