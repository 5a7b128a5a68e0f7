package pagestore

import (
	"context"
	"fmt"

	"github.com/wasmstate/wasmstate/merkle"
)

// walker visits every object reachable from a set of state roots. Inner
// nodes (state and memory) are read, verified and descended into; pages,
// code, owners and globals are only recorded in seen, since nothing hangs
// below them. Objects are content addressed, so a subtree already seen is
// identical wherever else it appears and is skipped.
type walker struct {
	s        *Store
	ctx      context.Context
	seen     map[objKey]struct{}
	useCache bool // GC may read verified nodes from the cache; Fsck must not
	root     merkle.Hash
	// problem is told of every missing or damaged object; a non-nil return
	// stops the walk with that error.
	problem func(Problem) error
	// tick, if set, is called after every node read.
	tick func()
	// onLeaf, if set, is called when a page, code, owner or globals key is
	// first reached.
	onLeaf func(objKey)
	n      int
}

type walkItem struct {
	key    objKey
	height int // memory-tree height of a memory node or page (0)
}

func newWalker(ctx context.Context, s *Store, problem func(Problem) error) *walker {
	return &walker{s: s, ctx: ctx, seen: make(map[objKey]struct{}), problem: problem}
}

func (w *walker) read(key objKey) ([]byte, error) {
	if w.useCache {
		if v, ok := w.s.cache.peek(key); ok {
			return v, nil
		}
	}
	return w.s.read(key)
}

// report hands a problem to the walker's handler, keeping only data faults
// (missing or corrupt objects); any other error aborts the walk.
func (w *walker) report(k Kind, h merkle.Hash, err error) error {
	if !isDataFault(err) {
		return err
	}
	return w.problem(Problem{Kind: k, Key: h, Root: w.root, Err: err})
}

// walk visits everything reachable from the state root.
func (w *walker) walk(root merkle.Hash) error {
	w.root = root
	if err := w.ctx.Err(); err != nil {
		return err
	}
	stack := []walkItem{{key: makeKey(KindStateNode, root)}}
	for len(stack) > 0 {
		it := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		k, h := it.key.kind(), it.key.hash()
		if _, ok := w.seen[it.key]; ok {
			continue
		}
		switch k {
		case KindStateNode:
			if h == merkle.EmptyState() {
				continue
			}
		case KindMemoryNode:
			if h == merkle.EmptyMemory(it.height) {
				continue
			}
		case KindPage:
			if h == merkle.EmptyPageHash() {
				continue
			}
		}
		w.seen[it.key] = struct{}{}
		if k != KindStateNode && k != KindMemoryNode {
			if w.onLeaf != nil {
				w.onLeaf(it.key)
			}
			continue
		}
		if w.n++; w.n%1024 == 0 {
			if err := w.ctx.Err(); err != nil {
				return err
			}
		}
		v, err := w.read(it.key)
		if w.tick != nil {
			w.tick()
		}
		if err != nil {
			if err := w.report(k, h, err); err != nil {
				return err
			}
			continue
		}
		if k == KindMemoryNode {
			ck := KindMemoryNode
			if it.height == 1 {
				ck = KindPage
			}
			stack = append(stack,
				walkItem{key: makeKey(ck, merkle.Hash(v[32:])), height: it.height - 1},
				walkItem{key: makeKey(ck, merkle.Hash(v[:32])), height: it.height - 1})
			continue
		}
		if len(v) == 2*merkle.HashSize {
			stack = append(stack,
				walkItem{key: makeKey(KindStateNode, merkle.Hash(v[32:]))},
				walkItem{key: makeKey(KindStateNode, merkle.Hash(v[:32]))})
			continue
		}
		leaf, err := merkle.DecodeContractLeaf(v)
		if err != nil {
			// The bytes hash correctly, so the hashes inside are what was
			// committed: report the leaf and still walk what it names.
			if err := w.report(k, h, &CorruptionError{Kind: k, Key: h, Reason: fmt.Sprintf("malformed contract leaf: %v", err)}); err != nil {
				return err
			}
		}
		stack = append(stack,
			walkItem{key: makeKey(KindCode, leaf.CodeHash)},
			walkItem{key: makeKey(KindOwner, leaf.OwnerHash)},
			walkItem{key: makeKey(KindGlobals, leaf.GlobalsHash)},
			walkItem{key: makeKey(KindMemoryNode, leaf.MemoryRoot), height: merkle.MemoryTreeHeight})
	}
	return nil
}

func isDataFault(err error) bool {
	switch err.(type) {
	case *NotFoundError, *CorruptionError:
		return true
	}
	return false
}
