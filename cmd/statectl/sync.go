package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/wasmstate/wasmstate/lightclient"
	"github.com/wasmstate/wasmstate/merkle"
	"github.com/wasmstate/wasmstate/pagestore"
	"github.com/wasmstate/wasmstate/statesync"
)

var syncCmd = &command{
	name:     "sync",
	synopsis: "--from URL --root ROOT [--parallel N] [--packs auto|on|off] [--db DIR] [--json]",
	summary:  "make this store a replica of a root served by a peer",
	store:    true,
	help: `Fetches from a peer running 'statectl serve' every object reachable from
ROOT that this store lacks, checks each against its hash before storing it,
then writes ROOT's commit record and moves the head to ROOT. The store is
created if needed. Trust comes from ROOT alone: a peer that sends a wrong,
truncated or missing object stops the sync (exit 1) with nothing committed.

A new replica (a store with no head) is filled from packs, each a whole
subtree in one request; a replica that has a head asks for single objects
and fetches only what changed since the roots it holds (--packs on or off
forces one way). A sync that is interrupted or fails resumes where it
stopped when run again, from the same peer or another. On a terminal, stderr shows
objects, bytes, rate and ETA (a lower bound while the tree is being
discovered).

ROOT is 64 hex digits, the root you trust (from your chain's headers), or
"head" to take the peer's word for its head (then you trust the peer).

Examples:
  statectl sync --from http://127.0.0.1:8545 --root ROOT --db replica
  statectl sync --from http://127.0.0.1:8545 --root head --db replica --json`,
	run: runSync,
}

func runSync(c *cli, args []string) error {
	fs := c.flags()
	from := fs.String("from", "", "the peer's base `URL`, e.g. http://127.0.0.1:8545")
	rootArg := fs.String("root", "", "the `ROOT` to sync (64 hex digits, or head: the peer's head)")
	parallel := fs.Int("parallel", statesync.DefaultParallel, "requests in flight (`N`)")
	timeout := fs.Duration("timeout", statesync.DefaultTimeout, "time limit of one request")
	packs := fs.String("packs", "auto", "fetch whole subtrees as packs: `auto` (when the store has no head), on or off")
	pos, err := c.parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return c.usagef("sync takes no arguments")
	}
	if *from == "" || *rootArg == "" {
		return c.usagef("sync needs --from URL and --root ROOT")
	}
	mode, ok := map[string]statesync.PackMode{"auto": statesync.PacksAuto, "on": statesync.PacksOn, "off": statesync.PacksOff}[*packs]
	if !ok {
		return c.usagef("--packs %q: want auto, on or off", *packs)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var root merkle.Hash
	if *rootArg == "head" {
		cl, err := lightclient.NewClient(*from, &lightclient.ClientOptions{Timeout: *timeout})
		if err != nil {
			return badInputf("--from %q: want http(s)://host[:port]", *from)
		}
		if root, err = cl.Head(ctx); err != nil {
			return failf("ask the peer for its head: %v", err)
		}
	} else if root, err = parseRootHex(*rootArg); err != nil {
		return err
	}
	// Sync writes verified objects below any engine: it opens the store
	// itself (creating it in a missing or empty directory).
	store, err := pagestore.Open(context.Background(), c.db, &pagestore.Options{LockWait: c.wait})
	if err != nil {
		return storeOpenError(c.db, err)
	}
	defer store.Close()
	opts := &statesync.Options{Parallel: *parallel, Timeout: *timeout, Packs: mode}
	drawn := false
	if c.stderrTTY {
		opts.Progress = func(p statesync.Progress) {
			fmt.Fprintf(c.stderr, "\rsync: %d objects of %d known, %s, %s/s, ETA %s, %d stored already\x1b[K",
				p.Fetched, p.Known, mb(float64(p.Bytes)), mb(p.Rate), p.ETA.Round(time.Second), p.Skipped)
			drawn = true
		}
	}
	st, err := statesync.Sync(ctx, store, *from, root, opts)
	if drawn {
		fmt.Fprint(c.stderr, "\r\x1b[K")
	}
	if err != nil {
		if errors.Is(err, statesync.ErrBadObject) || errors.Is(err, statesync.ErrMissing) || errors.Is(err, statesync.ErrTransport) ||
			errors.Is(err, context.Canceled) {
			return failf("%v (nothing committed; run again to resume)", err)
		}
		return err
	}
	secs := st.Duration.Seconds()
	rate := 0.0
	if secs > 0 {
		rate = float64(st.Bytes) / secs
	}
	if c.json {
		return c.writeJSON(map[string]any{"root": root.String(), "head": root.String(), "objects": st.Fetched, "bytes": st.Bytes,
			"skipped": st.Skipped, "requests": st.Requests, "packs": st.Packs, "redundant": st.Redundant, "seconds": secs, "bytes_per_second": rate})
	}
	c.printf("synced %s: %d objects, %s in %.2fs (%s/s), %d subtrees already stored; head moved\n",
		root, st.Fetched, mb(float64(st.Bytes)), secs, mb(rate), st.Skipped)
	return nil
}

func mb(b float64) string { return fmt.Sprintf("%.1f MB", b/1e6) }
