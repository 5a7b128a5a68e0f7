package statesync

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/wasmstate/wasmstate/pagestore"
)

// Pack framing (SPEC.md §16.2): records length:u32 ‖ value, in the
// subtree's pre-order, then the trailer packEnd:u32 ‖ status:u8.
const (
	packEnd      = 0xFFFFFFFF
	packComplete = 0
	packPartial  = 1
)

// chunkBytes is how many bytes of records a pack's worker checks before it
// hands them to the syncing goroutine, so that storing overlaps fetching.
const chunkBytes = 1 << 20

func packURL(base string, r pagestore.Ref) string {
	if r.Kind == pagestore.KindMemoryNode {
		return fmt.Sprintf("%s/v1/packs/memory-node/%d/%s", base, r.Height, r.Hash)
	}
	return base + "/v1/packs/state-node/" + r.Hash.String()
}

// fetchPack streams the pack of req.pack to out in chunks of checked
// records; the last result has done set. A request that fails before any
// record arrived is retried like an object's; a pack cut later ends with
// cut set, and the syncing goroutine continues it.
func (s *syncer) fetchPack(ctx context.Context, req *request, out chan<- result) {
	for attempt := 0; ; attempt++ {
		last, sent, err := s.packOnce(ctx, req, out)
		got := sent || len(last.refs) > 0
		if err != nil && !got && errors.Is(err, ErrTransport) && ctx.Err() == nil && attempt < s.opts.Retries {
			continue
		}
		last.req, last.done, last.err = req, true, err
		last.cut = err != nil && got && errors.Is(err, ErrTransport)
		out <- last
		return
	}
}

// packOnce makes one pack request. It sends full chunks to out and returns
// the last one (not sent), whether it sent any, and the error that ended
// the pack: every record before it was checked.
func (s *syncer) packOnce(ctx context.Context, req *request, out chan<- result) (result, bool, error) {
	root := req.pack.ref
	chunk, sent := result{req: req}, false
	fail := func(r pagestore.Ref, err error) (result, bool, error) {
		return chunk, sent, &ObjectError{Kind: r.Kind, Hash: r.Hash, Err: err}
	}
	ctx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
	defer cancel()
	url := packURL(s.base, root)
	hreq, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fail(root, fmt.Errorf("%w: %w", ErrTransport, err))
	}
	hreq.Header.Set("Accept", "application/octet-stream")
	resp, err := s.hc.Do(hreq)
	if err != nil {
		return fail(root, fmt.Errorf("%w: pack: %w", ErrTransport, err))
	}
	defer resp.Body.Close()
	s.requests.Add(1)
	s.packReqs.Add(1)
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusNotFound:
		io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
		return fail(root, fmt.Errorf("%w: %s answered 404", ErrMissing, url))
	default:
		io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
		return fail(root, fmt.Errorf("%w: %s answered %s", ErrTransport, url, resp.Status))
	}
	return s.readPack(bufio.NewReaderSize(resp.Body, 64<<10), req, out)
}

// readPack reads and checks the records of req's pack from br (the body
// of a 200 answer), with packOnce's results.
func (s *syncer) readPack(br *bufio.Reader, req *request, out chan<- result) (result, bool, error) {
	root := req.pack.ref
	chunk, sent := result{req: req}, false
	fail := func(r pagestore.Ref, err error) (result, bool, error) {
		return chunk, sent, &ObjectError{Kind: r.Kind, Hash: r.Hash, Err: err}
	}
	cut := func(n int, err error) (result, bool, error) {
		return fail(root, fmt.Errorf("%w: pack cut short after %d records: %w", ErrTransport, n, err))
	}
	bad := func(r pagestore.Ref, format string, args ...any) (result, bool, error) {
		return fail(r, fmt.Errorf("%w: pack: %s", ErrBadObject, fmt.Sprintf(format, args...)))
	}
	stack := []pagestore.Ref{root}
	seen := map[[33]byte]struct{}{}
	// next pops the ref of the next record: the next object of the
	// pre-order that is neither implicit nor already in this pack.
	next := func() (pagestore.Ref, bool) {
		for len(stack) > 0 {
			r := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if _, dup := seen[key(r.Kind, r.Hash)]; !dup && !r.Implicit() {
				return r, true
			}
		}
		return pagestore.Ref{}, false
	}
	var total int64
	size := 0
	var hdr [4]byte
	var kids []pagestore.Ref
	var err error
	for n := 0; ; n++ {
		if _, err := io.ReadFull(br, hdr[:]); err != nil {
			return cut(n, err)
		}
		length := binary.LittleEndian.Uint32(hdr[:])
		if length == packEnd {
			status, err := br.ReadByte()
			if err != nil {
				return cut(n, err)
			}
			if _, err := br.ReadByte(); err != io.EOF {
				if err == nil {
					return bad(root, "bytes after the trailer")
				}
				return cut(n, err)
			}
			switch status {
			case packComplete:
				if r, more := next(); more {
					return bad(r, "the pack says it is complete but leaves this object out")
				}
			case packPartial:
				if n == 0 {
					return bad(root, "a partial pack with no record")
				}
			default:
				return bad(root, "trailer status %d", status)
			}
			return chunk, sent, nil
		}
		r, ok := next()
		if !ok {
			return bad(root, "more records than the subtree has objects (%d)", n)
		}
		if limit := maxSize(r.Kind, s.opts.MaxObject); int64(length) > limit {
			return bad(r, "record of %d bytes (limit %d)", length, limit)
		}
		if total += 4 + int64(length); total > s.opts.MaxPack {
			return bad(r, "the pack exceeds %d bytes", s.opts.MaxPack)
		}
		v := make([]byte, length)
		if _, err := io.ReadFull(br, v); err != nil {
			return cut(n, err)
		}
		if err := check(r.Kind, r.Hash, v); err != nil {
			return fail(r, err)
		}
		seen[key(r.Kind, r.Hash)] = struct{}{}
		if kids, err = pagestore.AppendChildren(kids[:0], r, v); err != nil {
			return bad(r, "%v", err)
		}
		chunk.refs = append(chunk.refs, r)
		chunk.vals = append(chunk.vals, v)
		if len(kids) > 0 && s.storedBefore(r) {
			// Resuming: the rest of this subtree is stored. Stop here
			// and let the syncing goroutine ask for what follows it.
			return chunk, sent, nil
		}
		for i := len(kids) - 1; i >= 0; i-- {
			stack = append(stack, kids[i])
		}
		if size += len(v); size >= chunkBytes {
			out <- chunk
			chunk, sent, size = result{req: req}, true, 0
		}
	}
}

// storedBefore reports whether r is stored and no pack has run into it
// yet in this sync. Only a store that held objects when the sync began
// asks: a pack that runs into a stored subtree stops there rather than
// bring it all again (a resumed sync), once per subtree, since a subtree
// that many contracts share would otherwise stop every pack.
func (s *syncer) storedBefore(r pagestore.Ref) bool {
	if s.fresh {
		return false
	}
	if ok, err := s.st.Has(r.Kind, r.Hash); err != nil || !ok {
		return false
	}
	k := key(r.Kind, r.Hash)
	s.enteredMu.Lock()
	defer s.enteredMu.Unlock()
	if s.entered[k] {
		return false
	}
	s.entered[k] = true
	return true
}
