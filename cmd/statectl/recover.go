package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/wasmstate/wasmstate/pagestore"
)

var recoverCmd = &command{
	name:     "recover",
	synopsis: "[--db DIR] [--json]",
	summary:  "recover from a damaged journal, listing the commits it drops",
	store:    true,
	help: `Opens the store accepting the loss a damaged goleveldb journal (*.log)
causes, and lists exactly the commits that are dropped: those whose records
were lost, and those whose records survived but which reach objects that were
lost with them. Every other command refuses such a store (exit 3, naming the
commits that would be lost) until this runs. A store without journal damage
is left as it is. Run fsck afterwards.

Examples:
  statectl recover
  statectl recover --json`,
	run: runRecover,
}

type droppedJSON struct {
	Root       string `json:"root"`
	Parent     string `json:"parent"`
	Time       int64  `json:"time"`
	Incomplete bool   `json:"incomplete"`
}

func runRecover(c *cli, args []string) error {
	pos, err := c.parse(c.flags(), args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return c.usagef("recover takes no arguments")
	}
	if st, err := os.Stat(c.db); errors.Is(err, fs.ErrNotExist) || (err == nil && !st.IsDir()) {
		return badInputf("no store at %s (set --db or $WASMSTATE_DB)", c.db)
	}
	s, err := pagestore.Open(context.Background(), c.db, &pagestore.Options{RecoverJournal: true})
	if err != nil {
		return withCode(exitStore, err)
	}
	defer s.Close()
	rep := s.JournalReport()
	dropped := []droppedJSON{}
	if rep != nil {
		for _, l := range rep.Dropped {
			dropped = append(dropped, droppedJSON{Root: l.Root.String(), Parent: l.Parent.String(), Time: l.Time, Incomplete: l.Incomplete})
		}
	}
	if c.json {
		out := map[string]any{"damaged": rep != nil, "dropped": dropped}
		if rep != nil {
			out["file"], out["damage"] = rep.File, oneLine(rep.Damage)
		}
		return c.writeJSON(out)
	}
	if rep == nil {
		c.printf("ok: no journal damage, nothing dropped\n")
		return nil
	}
	c.printf("recovered: %s\n", oneLine(rep.Damage))
	for _, d := range dropped {
		what := "record lost"
		if d.Incomplete {
			what = "objects lost"
		}
		c.printf("dropped  %s  parent %s  (%s)\n", d.Root, d.Parent, what)
	}
	c.printf("%s\n", fmt.Sprintf("%d commit(s) dropped", len(dropped)))
	return nil
}
