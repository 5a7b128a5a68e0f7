package main

import (
	"context"
	"os"
	"os/signal"
)

var gcCmd = &command{
	name:     "gc",
	synopsis: "[--db DIR] [--json]",
	summary:  "reclaim objects no commit reaches",
	store:    true,
	help: `Garbage-collects the store: marks everything reachable from every commit
record and the head, then deletes every page, node, code, owner and globals
value left unmarked. An interrupted sweep is finished at the next open.
On a terminal, stderr shows a progress bar (the store reports no progress
during GC, so the bar shows activity and elapsed time); piped, it shows
none.

Examples:
  statectl delete $OLD && statectl gc
  statectl gc --json`,
	run: runGC,
}

func runGC(c *cli, args []string) error {
	e, err := c.openNoArgs("gc", args)
	if err != nil {
		return err
	}
	defer e.Close()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	bar := c.progress("gc")
	bar.spin()
	st, err := e.GC(ctx)
	bar.finish()
	if err != nil {
		return err
	}
	if c.json {
		return c.writeJSON(map[string]any{"roots": st.Roots, "live_objects": st.LiveObjects, "live_bytes": st.LiveBytes,
			"reclaimed_objects": st.ReclaimedObjects, "reclaimed_bytes": st.ReclaimedBytes})
	}
	c.printf("roots      %d\n", st.Roots)
	c.printf("kept       %d objects, %d bytes\n", st.LiveObjects, st.LiveBytes)
	c.printf("reclaimed  %d objects, %d bytes\n", st.ReclaimedObjects, st.ReclaimedBytes)
	return nil
}
