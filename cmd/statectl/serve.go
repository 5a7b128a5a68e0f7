package main

import (
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/wasmstate/wasmstate/engine"
	"github.com/wasmstate/wasmstate/serve"
)

// serveCacheMB is statectl serve's default store cache: a server's
// working set is the top of the trees and the pages clients ask for, more
// than the 64 MiB an embedded engine takes by default.
const serveCacheMB = 256

var serveCmd = &command{
	name:     "serve",
	synopsis: "[--listen ADDR] [--cors ORIGINS] [--db DIR] [--json]",
	summary:  "serve proofs, objects and heads over HTTP (read-only)",
	store:    true,
	help: `Serves the store over HTTP, read-only (SPEC.md §16): the head and commit
records, contract leaves, proofs of pages, byte ranges, contracts and
absences at any retained root (binary or JSON by Accept), raw objects by
hash and packs of whole subtrees for 'statectl sync', and a stream of new
heads at /v1/heads.

The server owns the store while it runs: other statectl commands on the
same --db fail (exit 3, store in use) until it stops; read through the server
instead. It listens on 127.0.0.1:8545 by default; put a TLS-terminating
proxy or CDN in front to serve the internet (see README "Scaling reads").
It prints the address it listens on, then serves until interrupted
(Ctrl-C, SIGTERM) or until --max-duration has passed.

Examples:
  statectl serve
  statectl serve --listen 127.0.0.1:8545 --cors '*'
  curl -s http://127.0.0.1:8545/v1/head
  curl -s -H 'Accept: application/json' \
    http://127.0.0.1:8545/v1/roots/ROOT/contracts/CONTRACT/pages/0/proof`,
	run: runServe,
}

func runServe(c *cli, args []string) error {
	fs := c.flags()
	listen := fs.String("listen", "127.0.0.1:8545", "the `ADDR` (host:port) to listen on; port 0 picks a free one")
	cors := fs.String("cors", "", "comma-separated `ORIGINS` browsers may read from (\"*\": any); default none")
	maxConc := fs.Int("max-concurrent", serve.DefaultMaxConcurrent, "requests computed at once (`N`)")
	timeout := fs.Duration("timeout", serve.DefaultRequestTimeout, "time limit of one request")
	maxRange := fs.Uint64("max-range", 16<<20, "longest byte range one proof may cover (`BYTES`, at most 16 MiB)")
	cacheMB := fs.Int64("cache-mb", serveCacheMB, "the store's cache of verified objects, in `MiB` (0: pagestore's default, 64); hot proofs are cheaper from memory")
	answerMB := fs.Int64("answer-cache-mb", serve.DefaultAnswerCacheBytes>>20, "the cache of recent proofs, leaves and commit records, in `MiB` (0: none)")
	packMB := fs.Int("pack-mb", serve.DefaultPackBytes>>20, "end a pack of a subtree (for syncing replicas) after this many `MiB`")
	maxDur := fs.Duration("max-duration", 0, "stop by itself after this long (0: run until interrupted)")
	tamper := fs.Bool("tamper-for-testing", false, "corrupt every proof and object served (to demonstrate that clients reject a lying server)")
	pos, err := c.parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return c.usagef("serve takes no arguments")
	}
	if *cacheMB < 0 || *answerMB < 0 {
		return c.usagef("--cache-mb %d, --answer-cache-mb %d: want 0 or more", *cacheMB, *answerMB)
	}
	answerBytes := *answerMB << 20
	if answerBytes == 0 {
		answerBytes = -1 // none
	}
	if *packMB < 1 || *packMB > serve.DefaultMaxResponseBytes>>20 {
		return c.usagef("--pack-mb %d: want 1 to %d", *packMB, serve.DefaultMaxResponseBytes>>20)
	}
	e, err := c.openWith(writeStore, engine.Options{CacheBytes: *cacheMB << 20})
	if err != nil {
		return err
	}
	defer e.Close()
	cfg := serve.Config{MaxConcurrent: *maxConc, RequestTimeout: *timeout, MaxRange: *maxRange, PackBytes: *packMB << 20, AnswerCacheBytes: answerBytes, TamperForTesting: *tamper}
	for _, o := range strings.Split(*cors, ",") {
		if o = strings.TrimSpace(o); o != "" {
			cfg.CORSOrigins = append(cfg.CORSOrigins, o)
		}
	}
	h := serve.New(e, cfg)
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return badInputf("listen on %s: %v", *listen, err)
	}
	// Requests have no body, so ReadHeaderTimeout bounds the whole read;
	// the handler sets write deadlines itself.
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    16 << 10,
	}
	url := "http://" + ln.Addr().String()
	if c.json {
		if err := c.writeJSON(map[string]any{"listening": url}); err != nil {
			return err
		}
	} else {
		c.printf("serving %s on %s (Ctrl-C stops)\n", c.db, url)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *maxDur > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *maxDur)
		defer cancel()
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	h.Close()
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return nil
}
