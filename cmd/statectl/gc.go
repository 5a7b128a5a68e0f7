package main

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/wasmstate/wasmstate/pagestore"
)

var gcCmd = &command{
	name:     "gc",
	synopsis: "[--db DIR] [--json] [--quiet]",
	summary:  "reclaim objects no commit reaches",
	store:    true,
	help: `Garbage-collects the store: marks everything reachable from every commit
record and the head, then deletes every page, node, code, owner and globals
value left unmarked. On a terminal, stderr shows the phase, the share done,
the objects per second and the time left (--quiet: nothing).

Ctrl-C during the mark stops gc with nothing deleted. During the sweep the
first Ctrl-C says the sweep is finishing and lets it finish; a second one
kills statectl at once, which is safe too: the next open of the store
finishes the sweep before anything else.

Examples:
  statectl delete $OLD && statectl gc
  statectl gc --json`,
	run: runGC,
}

func runGC(c *cli, args []string) error {
	e, err := c.openNoArgs("gc", args, writeStore)
	if err != nil {
		return err
	}
	defer e.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	bar := c.progress("gc")
	var sweeping atomic.Bool
	sigs, stopSignals := c.interrupts()
	defer stopSignals()
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-sigs:
		case <-done:
			return
		}
		// The next Ctrl-C gets Go's default: the process dies (safe, see
		// help).
		stopSignals()
		bar.finish()
		// During the mark, gc stops at once and says so (its error);
		// a sweep cannot stop halfway, so say why nothing happens yet.
		if sweeping.Load() {
			fmt.Fprintf(c.stderr, "statectl: gc: interrupted during the sweep: finishing it (Ctrl-C again to kill statectl; the next open finishes the sweep)\n")
		}
		cancel()
		if c.onPhase != nil {
			c.onPhase("interrupted")
		}
	}()
	if c.onPhase != nil {
		c.onPhase("mark")
	}
	// The CLI has no open session, so nothing is pinned: this is e.GC.
	st, err := e.GCWithOptions(ctx, pagestore.GCOptions{Progress: func(p pagestore.GCProgress) {
		if sweeping.Swap(p.Phase == "sweep") != (p.Phase == "sweep") && c.onPhase != nil {
			c.onPhase(p.Phase)
		}
		bar.fraction("gc "+p.Phase, p.Objects, p.Fraction)
	}})
	bar.finish()
	if errors.Is(err, context.Canceled) {
		return failf("interrupted during the mark: nothing was deleted")
	}
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
