package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
)

var fsckCmd = &command{
	name:     "fsck",
	synopsis: "[--db DIR] [--json]",
	summary:  "check the store: rehash everything every commit reaches",
	store:    true,
	help: `Checks the store: reads everything reachable from every commit record and
the head straight from disk, rehashes it and compares it with its key, and
lists every missing or corrupted object or record, one per line, with a
root it was reached from. Exits 0 if the store is sound and 3 if it found
problems. On a terminal, stderr shows a progress bar; piped, none.

Examples:
  statectl fsck
  statectl fsck --json`,
	run: runFsck,
}

type problemJSON struct {
	Kind  string `json:"kind"`
	Key   string `json:"key"`
	Root  string `json:"root"`
	Error string `json:"error"`
}

func runFsck(c *cli, args []string) error {
	e, err := c.openNoArgs("fsck", args, readStore)
	if err != nil {
		return err
	}
	defer e.Close()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	bar := c.progress("fsck")
	checked := 0
	problems, err := e.Store().Fsck(ctx, func(done, total int) {
		checked = total
		bar.update(done, total)
	})
	bar.finish()
	if err != nil {
		return withCode(exitStore, err)
	}
	out := []problemJSON{}
	for _, p := range problems {
		out = append(out, problemJSON{Kind: p.Kind.String(), Key: p.Key.String(), Root: p.Root.String(), Error: oneLine(p.Err.Error())})
	}
	if c.json {
		if err := c.writeJSON(map[string]any{"ok": len(out) == 0, "objects": checked, "problems": out}); err != nil {
			return err
		}
	} else {
		for _, p := range problems {
			c.printf("problem  %s\n", oneLine(p.String()))
		}
		if len(problems) == 0 {
			c.printf("ok: %d objects checked, no problems\n", checked)
		}
	}
	if len(problems) > 0 {
		return withCode(exitStore, fmt.Errorf("%d problem(s) found in %s", len(problems), c.db))
	}
	return nil
}
