package statesync

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/wasmstate/wasmstate/merkle"
	"github.com/wasmstate/wasmstate/pagestore"
)

// kindNames are the object kinds' names in the URLs of SPEC.md §16.
var kindNames = map[pagestore.Kind]string{
	pagestore.KindPage:       "page",
	pagestore.KindMemoryNode: "memory-node",
	pagestore.KindStateNode:  "state-node",
	pagestore.KindCode:       "code",
	pagestore.KindOwner:      "owner",
	pagestore.KindGlobals:    "globals",
}

// maxSize is the largest value of each kind a peer may send; more is a bad
// object (and bounds what an endless answer can make us read).
func maxSize(k pagestore.Kind, maxObject int64) int64 {
	switch k {
	case pagestore.KindPage:
		return merkle.PageSize
	case pagestore.KindMemoryNode:
		return 2 * merkle.HashSize
	case pagestore.KindStateNode:
		return merkle.ContractLeafSize
	}
	return maxObject
}

// maxBatch is the most objects one request asks for (the server's
// serve.MaxBatch). Code is fetched one at a time: a module may be MiBs.
const maxBatch = 32

// fetchBatch gets the objects of nodes (one kind, hashes strictly
// ascending) in one request, with the retries of fetch, and checks each.
func (s *syncer) fetchBatch(ctx context.Context, nodes []*node) ([][]byte, error) {
	if len(nodes) == 1 {
		v, err := s.fetch(ctx, nodes[0].ref.Kind, nodes[0].ref.Hash)
		if err != nil {
			return nil, &ObjectError{Kind: nodes[0].ref.Kind, Hash: nodes[0].ref.Hash, Err: err}
		}
		return [][]byte{v}, nil
	}
	var vs [][]byte
	var err error
	for attempt := 0; attempt <= s.opts.Retries; attempt++ {
		vs, err = s.fetchBatchOnce(ctx, nodes)
		if err == nil || !errors.Is(err, ErrTransport) || ctx.Err() != nil {
			break
		}
	}
	return vs, err
}

func (s *syncer) fetchBatchOnce(ctx context.Context, nodes []*node) ([][]byte, error) {
	k := nodes[0].ref.Kind
	ctx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
	defer cancel()
	url := make([]byte, 0, len(s.base)+32+65*len(nodes))
	url = append(url, s.base+"/v1/objects/"+kindNames[k]+"/"...)
	for i, n := range nodes {
		if i > 0 {
			url = append(url, ',')
		}
		url = append(url, n.ref.Hash.String()...)
	}
	first := &ObjectError{Kind: k, Hash: nodes[0].ref.Hash}
	fail := func(err error) ([][]byte, error) {
		first.Err = fmt.Errorf("batch of %d: %w", len(nodes), err)
		return nil, first
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, string(url), nil)
	if err != nil {
		return fail(fmt.Errorf("%w: %w", ErrTransport, err))
	}
	req.Header.Set("Accept", "application/octet-stream")
	resp, err := s.hc.Do(req)
	if err != nil {
		return fail(fmt.Errorf("%w: %w", ErrTransport, err))
	}
	defer resp.Body.Close()
	s.requests.Add(1)
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusNotFound:
		io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
		return fail(fmt.Errorf("%w: the peer answered 404", ErrMissing))
	default:
		io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
		return fail(fmt.Errorf("%w: the peer answered %s", ErrTransport, resp.Status))
	}
	limit := maxSize(k, s.opts.MaxObject)
	body, err := io.ReadAll(io.LimitReader(resp.Body, int64(len(nodes))*(4+limit)+1))
	if err != nil {
		return fail(fmt.Errorf("%w: %w", ErrTransport, err))
	}
	return decodeBatch(k, nodes, body, limit)
}

// decodeBatch splits a batch answer (per object: u32 length, then the
// value) and checks each value against its node's kind and hash. The
// bytes come from the peer: anything but exactly len(nodes) well-formed,
// matching objects is an error.
func decodeBatch(k pagestore.Kind, nodes []*node, body []byte, limit int64) ([][]byte, error) {
	first := &ObjectError{Kind: k, Hash: nodes[0].ref.Hash}
	fail := func(err error) ([][]byte, error) {
		first.Err = fmt.Errorf("batch of %d: %w", len(nodes), err)
		return nil, first
	}
	vs := make([][]byte, len(nodes))
	for i, n := range nodes {
		if len(body) < 4 {
			return fail(fmt.Errorf("%w: the answer ends before object %d", ErrBadObject, i))
		}
		size := int64(binary.LittleEndian.Uint32(body))
		if size > limit || size > int64(len(body)-4) {
			return fail(fmt.Errorf("%w: object %d of %d bytes (limit %d, %d left)", ErrBadObject, i, size, limit, len(body)-4))
		}
		v := body[4 : 4+size : 4+size]
		body = body[4+size:]
		if err := check(k, n.ref.Hash, v); err != nil {
			return nil, &ObjectError{Kind: k, Hash: n.ref.Hash, Err: err}
		}
		vs[i] = v
	}
	if len(body) != 0 {
		return fail(fmt.Errorf("%w: %d bytes after the last object", ErrBadObject, len(body)))
	}
	return vs, nil
}

// fetch gets one object from the peer and checks it against its hash and
// kind before anything else sees it.
func (s *syncer) fetch(ctx context.Context, k pagestore.Kind, h merkle.Hash) ([]byte, error) {
	var err error
	for attempt := 0; attempt <= s.opts.Retries; attempt++ {
		var v []byte
		v, err = s.fetchOnce(ctx, k, h)
		if err == nil || !errors.Is(err, ErrTransport) || ctx.Err() != nil {
			return v, err
		}
	}
	return nil, err
}

func (s *syncer) fetchOnce(ctx context.Context, k pagestore.Kind, h merkle.Hash) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
	defer cancel()
	url := s.base + "/v1/objects/" + kindNames[k] + "/" + h.String()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrTransport, err)
	}
	req.Header.Set("Accept", "application/octet-stream")
	resp, err := s.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrTransport, err)
	}
	defer resp.Body.Close()
	s.requests.Add(1)
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusNotFound:
		io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
		return nil, fmt.Errorf("%w: %s answered 404", ErrMissing, url)
	default:
		io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
		return nil, fmt.Errorf("%w: %s answered %s", ErrTransport, url, resp.Status)
	}
	limit := maxSize(k, s.opts.MaxObject)
	v, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("%w: reading %s: %v", ErrTransport, url, err)
	}
	if int64(len(v)) > limit {
		return nil, fmt.Errorf("%w: more than %d bytes", ErrBadObject, limit)
	}
	if err := check(k, h, v); err != nil {
		return nil, err
	}
	return v, nil
}

// check verifies that v is a well-formed object of kind k hashing to h.
func check(k pagestore.Kind, h merkle.Hash, v []byte) error {
	err := pagestore.CheckObject(k, h, v)
	var ce *pagestore.CorruptionError
	if errors.As(err, &ce) {
		return fmt.Errorf("%w: %s", ErrBadObject, ce.Reason)
	}
	return err
}

// isNotFound reports whether the peer answered 404.
func isNotFound(err error) bool { return errors.Is(err, ErrMissing) }
