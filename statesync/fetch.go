package statesync

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/wasmstate/wasmstate/merkle"
	"github.com/wasmstate/wasmstate/pagestore"
)

// kindNames are the object kinds' names in the URLs of SPEC.md §14.
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
		return nil, fmt.Errorf("%w: %v", ErrTransport, err)
	}
	req.Header.Set("Accept", "application/octet-stream")
	resp, err := s.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrTransport, err)
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
	var got merkle.Hash
	switch k {
	case pagestore.KindPage:
		if len(v) != merkle.PageSize {
			return fmt.Errorf("%w: page of %d bytes", ErrBadObject, len(v))
		}
		got = merkle.DomainPage.Sum(v)
	case pagestore.KindMemoryNode:
		if len(v) != 2*merkle.HashSize {
			return fmt.Errorf("%w: memory node of %d bytes", ErrBadObject, len(v))
		}
		got = merkle.DomainMemoryNode.Sum2(merkle.Hash(v[:32]), merkle.Hash(v[32:]))
	case pagestore.KindStateNode:
		switch len(v) {
		case 2 * merkle.HashSize:
			got = merkle.DomainStateNode.Sum2(merkle.Hash(v[:32]), merkle.Hash(v[32:]))
		case merkle.ContractLeafSize:
			if _, err := merkle.DecodeContractLeaf(v); err != nil {
				return fmt.Errorf("%w: %v", ErrBadObject, err)
			}
			got = merkle.DomainContract.Sum(v)
		default:
			return fmt.Errorf("%w: state node of %d bytes", ErrBadObject, len(v))
		}
	case pagestore.KindCode:
		got = merkle.DomainCode.Sum(v)
	case pagestore.KindOwner:
		got = merkle.DomainOwner.Sum(v)
	case pagestore.KindGlobals:
		got = merkle.DomainGlobals.Sum(v)
	default:
		return fmt.Errorf("%w: kind %s", ErrBadObject, k)
	}
	if got != h {
		return fmt.Errorf("%w: the bytes hash to %s", ErrBadObject, got)
	}
	return nil
}
