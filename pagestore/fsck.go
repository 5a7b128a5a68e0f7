package pagestore

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/wasmstate/wasmstate/merkle"
)

// Problem is one fault Fsck found.
type Problem struct {
	Kind Kind        // kind of the faulty object or record
	Key  merkle.Hash // its hash (the root, for commit records)
	Root merkle.Hash // a commit root from which the object is reachable
	Err  error       // a *NotFoundError, a *CorruptionError, or ErrGCPending
}

// String describes the problem and where it was reached from.
func (p Problem) String() string {
	return fmt.Sprintf("%v (reached from root %s)", p.Err, p.Root)
}

// Fsck rehashes everything reachable from every commit root and the head,
// reading the backend (never the cache), and returns every missing or
// corrupted object and record it finds, each once. The error is for what
// stopped the check itself: cancellation or a backend failure.
//
// progress, if not nil, is called as objects are checked with the number
// done and the total; while trees are being walked the total is the number
// discovered so far, a lower bound, and it is exact once the walk is over.
// Inner nodes are checked during the walk; pages, code, owners and globals
// afterwards, in key order, so the bulk of the reads is sequential.
//
// Fsck runs beside commits; it only excludes GC, which would make garbage it
// is deleting look missing.
func (s *Store) Fsck(ctx context.Context, progress func(done, total int)) ([]Problem, error) {
	s.gcMu.RLock()
	defer s.gcMu.RUnlock()
	var problems []Problem
	add := func(p Problem) error {
		problems = append(problems, p)
		return nil
	}
	if _, err := s.kv.Get([]byte{byte(KindGCMarker)}); err == nil {
		add(Problem{Kind: KindGCMarker, Err: fmt.Errorf("%w: marker present", ErrGCPending)})
	}

	// Roots: every record key, the record checked as we go, and the head.
	var roots []merkle.Hash
	err := s.kv.Iterate([]byte{byte(KindCommit)}, func(key, v []byte) error {
		k, ok := parseKey(key)
		if !ok {
			return add(Problem{Kind: KindCommit, Err: &CorruptionError{Kind: KindCommit, Reason: fmt.Sprintf("key %x has the wrong length", key)}})
		}
		roots = append(roots, k.hash())
		if _, err := decodeRecord(k.hash(), v); err != nil {
			add(Problem{Kind: KindCommit, Key: k.hash(), Root: k.hash(), Err: err})
		}
		return nil
	})
	if err != nil {
		if isDataFault(err) || errors.Is(err, ErrCorrupt) {
			add(Problem{Kind: KindCommit, Err: err})
		} else {
			return problems, fmt.Errorf("pagestore: fsck: list commits: %w", err)
		}
	}
	head, ok, err := s.Head()
	switch {
	case err != nil && isDataFault(err):
		add(Problem{Kind: KindHead, Err: err})
	case err != nil:
		return problems, fmt.Errorf("pagestore: fsck: %w", err)
	case ok && head != merkle.EmptyState():
		if !slices.Contains(roots, head) {
			add(Problem{Kind: KindHead, Key: head, Root: head, Err: &NotFoundError{Kind: KindCommit, Key: head}})
			roots = append(roots, head)
		}
	}

	// Walk: verifies every inner node and collects the leaves, each with a
	// root it was reached from, for the report.
	type leaf struct {
		key  objKey
		root int
	}
	var leaves []leaf
	rootIdx := 0
	done := 0
	w := newWalker(ctx, s, add)
	w.onLeaf = func(k objKey) { leaves = append(leaves, leaf{k, rootIdx}) }
	w.tick = func() {
		done++
		if progress != nil && done%256 == 0 {
			progress(done, len(w.seen))
		}
	}
	for i, r := range roots {
		rootIdx = i
		if err := w.walk(r); err != nil {
			return problems, fmt.Errorf("pagestore: fsck: walk from %s: %w", r, err)
		}
	}

	total := done + len(leaves)
	if progress != nil {
		progress(done, total)
	}
	slices.SortFunc(leaves, func(a, b leaf) int { return cmp.Compare(string(a.key[:]), string(b.key[:])) })
	for i, l := range leaves {
		k := l.key
		if i%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return problems, fmt.Errorf("pagestore: fsck: %w", err)
			}
		}
		if _, err := s.read(k); err != nil {
			if !isDataFault(err) {
				return problems, fmt.Errorf("pagestore: fsck: %w", err)
			}
			add(Problem{Kind: k.kind(), Key: k.hash(), Root: roots[l.root], Err: err})
		}
		done++
		if progress != nil && (done%1024 == 0 || done == total) {
			progress(done, total)
		}
	}
	if progress != nil && len(leaves) == 0 {
		progress(total, total)
	}
	return problems, nil
}
