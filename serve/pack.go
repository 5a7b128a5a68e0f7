package serve

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"net/http"
	"time"

	"github.com/wasmstate/wasmstate/merkle"
	"github.com/wasmstate/wasmstate/pagestore"
)

// Packs (SPEC.md §16.2): a new replica asks for whole subtrees, one request
// each, instead of one request per 32 objects of a level. A pack is every
// object under a node in depth-first pre-order, so a client that verified a
// parent knows the hash of each record that follows before it arrives, and
// checks it on receipt; it is bounded (PackBytes, and half the request
// timeout), and a client continues a partial pack with packs of the
// subtrees it did not get.

// Pack framing: each record is length:u32 ‖ value; the trailer is
// packEnd:u32 ‖ status:u8.
const (
	packEnd      = 0xFFFFFFFF
	PackComplete = 0 // trailer status: every object of the subtree was sent
	PackPartial  = 1 // trailer status: the server stopped early; the client continues
)

// maxPackRecords bounds the records of one pack, and so the set of objects
// the server remembers to leave out the second time they come up.
const maxPackRecords = 1 << 16

// objectReader is the bulk read the pagestore offers (verified, not cached).
type objectReader interface {
	ReadObject(k pagestore.Kind, h merkle.Hash) ([]byte, error)
}

// readObject reads an object for a pack: through the store's bulk read if
// it has one, else through the ordinary getters.
func (h *Handler) readObject(r pagestore.Ref) ([]byte, error) {
	if or, ok := h.e.Store().(objectReader); ok {
		return or.ReadObject(r.Kind, r.Hash)
	}
	a, err := h.object(r.Kind, r.Hash)
	if err != nil {
		return nil, err
	}
	return a.body, nil
}

// acquire takes one of the MaxConcurrent slots, waiting at most QueueWait.
func (h *Handler) acquire(ctx context.Context) *apiError {
	wait := time.NewTimer(h.cfg.QueueWait)
	defer wait.Stop()
	select {
	case h.slots <- struct{}{}:
		return nil
	case <-wait.C:
		return errorf(http.StatusServiceUnavailable, CodeBusy, "%d requests in progress; retry", h.cfg.MaxConcurrent)
	case <-ctx.Done():
		return errorf(http.StatusServiceUnavailable, CodeTimeout, "client gone")
	}
}

// pack streams the pack of rt's node.
func (h *Handler) pack(w http.ResponseWriter, r *http.Request, rt route) {
	if _, ok := negotiate(r.Header.Get("Accept"), typeBinary); !ok {
		writeError(w, errorf(http.StatusNotAcceptable, CodeNotAcceptable, "this endpoint answers with %s", typeBinary))
		return
	}
	if err := h.acquire(r.Context()); err != nil {
		writeError(w, err)
		return
	}
	defer func() { <-h.slots }()
	start := time.Now()
	root := pagestore.Ref{Kind: rt.kind, Hash: rt.hash, Height: rt.height}
	if root.Implicit() {
		writeError(w, errorf(http.StatusNotFound, CodeNotFound, "empty subtrees are implicit, never served"))
		return
	}
	if h.slow != nil {
		h.slow()
	}
	first, err := h.readObject(root)
	if err != nil {
		writeError(w, h.objectError(r, root, err))
		return
	}
	rc := http.NewResponseController(w)
	_ = rc.SetWriteDeadline(start.Add(h.cfg.RequestTimeout))
	hd := w.Header()
	hd.Set("Content-Type", typeBinary)
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Cache-Control", ImmutableCacheControl)
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead {
		return
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	status, n, perr := h.writePack(r.Context(), bw, root, first, start)
	if perr != nil {
		// The status line is out: end the pack early, so the client asks
		// again from the object that failed and gets the error then. A
		// missing object is what a request at the wrong height meets (a
		// client's mistake, not worth a warning); damage is.
		log := h.cfg.Logger.Warn
		if errors.Is(perr, pagestore.ErrNotFound) {
			log = h.cfg.Logger.Debug
		}
		log("serve: pack ended early", "path", r.URL.Path, "records", n, "err", perr)
	}
	var trailer [5]byte
	binary.LittleEndian.PutUint32(trailer[:4], packEnd)
	trailer[4] = byte(status)
	bw.Write(trailer[:])
	bw.Flush()
}

// writePack writes the records of the subtree under root (whose value is
// first) to w: pre-order, left before right (pagestore.AppendChildren),
// implicit values and objects already written in this pack left out. It
// stops, with PackPartial, once PackBytes or maxPackRecords are written or
// half the request timeout has passed, at a read error (returned), or when
// the client goes. n counts records.
func (h *Handler) writePack(ctx context.Context, w *bufio.Writer, root pagestore.Ref, first []byte, start time.Time) (status, n int, err error) {
	type key [1 + merkle.HashSize]byte
	seen := map[key]struct{}{}
	stack := []pagestore.Ref{root}
	var kids []pagestore.Ref
	var lenBuf [4]byte
	written := 0
	soft := start.Add(h.cfg.RequestTimeout / 2)
	for len(stack) > 0 {
		r := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if r.Implicit() {
			continue
		}
		var k key
		k[0] = byte(r.Kind)
		copy(k[1:], r.Hash[:])
		if _, dup := seen[k]; dup {
			continue
		}
		if n > 0 && (written >= h.cfg.PackBytes || n >= maxPackRecords || n%256 == 0 && (time.Now().After(soft) || ctx.Err() != nil)) {
			return PackPartial, n, nil
		}
		v := first
		if n > 0 {
			if v, err = h.readObject(r); err != nil {
				return PackPartial, n, err
			}
		}
		seen[k] = struct{}{}
		if kids, err = pagestore.AppendChildren(kids[:0], r, v); err != nil {
			return PackPartial, n, err
		}
		if h.cfg.TamperForTesting && len(v) > 0 {
			v = bytes.Clone(v)
			v[len(v)-1] ^= 1
		}
		binary.LittleEndian.PutUint32(lenBuf[:], uint32(len(v)))
		w.Write(lenBuf[:])
		if _, err := w.Write(v); err != nil {
			return PackPartial, n, nil // the client is gone (or stopped reading)
		}
		written += 4 + len(v)
		n++
		for i := len(kids) - 1; i >= 0; i-- {
			stack = append(stack, kids[i])
		}
	}
	return PackComplete, n, nil
}

// objectError is the answer for an object the store could not read.
func (h *Handler) objectError(r *http.Request, ref pagestore.Ref, err error) *apiError {
	var ae *apiError
	switch {
	case errors.As(err, &ae):
		return ae
	case errors.Is(err, pagestore.ErrNotFound):
		return errorf(http.StatusNotFound, CodeNotFound, "no %s %s", ref.Kind, ref.Hash)
	}
	h.cfg.Logger.Warn("serve: request failed", "path", r.URL.Path, "err", err)
	return storeError(err)
}
