package pagestore

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/wasmstate/wasmstate/merkle"
)

// GCStats reports what a GC kept and reclaimed.
type GCStats struct {
	Roots            int   // distinct roots marked from (records, head, pinned)
	LiveObjects      int64 // objects kept
	LiveBytes        int64 // value bytes kept
	ReclaimedObjects int64 // objects deleted
	ReclaimedBytes   int64 // value bytes deleted
	ReclaimedBlobs   int64 // blobs deleted (only with GCOptions.DropBlob)
}

// GCOptions tune GCWithOptions.
type GCOptions struct {
	// Pinned roots are kept with everything they reach although they have
	// no commit record: the base roots of open sessions, and roots whose
	// objects were committed without a record yet.
	Pinned []merkle.Hash
	// DropBlob, when set, is asked about every blob; the blobs it returns
	// true for are deleted. codeLive reports whether the code with a given
	// hash survives this GC, so compiled-code entries of dead code can go.
	// When nil, blobs are left alone.
	DropBlob func(key []byte, codeLive func(code merkle.Hash) bool) bool
	// Progress, if set, is called from time to time (every 1,024 objects
	// or so) with how far GC got; it must be quick.
	Progress func(GCProgress)
}

// GCProgress is how far a GC got, for progress bars.
type GCProgress struct {
	// Phase is "mark" (nothing deleted yet; cancellable) or "sweep".
	Phase string
	// Objects is the number of objects marked (mark) or visited (sweep)
	// so far.
	Objects int64
	// Fraction estimates the share of the phase done, from 0 to 1: roots
	// walked during the mark, the position in the (uniformly hashed)
	// keyspace of each kind during the sweep.
	Fraction float64
}

// sweepBatchOps bounds a sweep batch, so deleting much garbage does not
// build one huge batch in memory.
const sweepBatchOps = 10000

// GC reclaims every page, node, code, owner and globals value that no commit
// record's root, the head, nor a pinned root reaches; it is
// GCWithOptions(ctx, GCOptions{Pinned: pinned}).
func (s *Store) GC(ctx context.Context, pinned []merkle.Hash) (GCStats, error) {
	return s.GCWithOptions(ctx, GCOptions{Pinned: pinned})
}

// GCWithOptions runs a mark-and-sweep collection under the store-wide write
// lock, so no commit interleaves. Mark walks from every root; if it meets a
// missing or damaged object GC stops before deleting anything (run Fsck),
// since it could not know what that object references. Cancelling ctx stops
// GC during mark. The sweep is not interruptible: it iterates the object
// keyspace and deletes unmarked keys in batches, under a 'G' marker that
// makes the next open finish an interrupted sweep.
func (s *Store) GCWithOptions(ctx context.Context, o GCOptions) (GCStats, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gcMu.Lock()
	defer s.gcMu.Unlock()
	st, err := s.gc(ctx, o)
	if err != nil {
		return st, err
	}
	s.gcPending = nil
	return st, nil
}

// resumeGC finishes a GC whose sweep was interrupted, with the pinned roots
// it recorded; commit records cannot have changed since, so it marks the
// same live set.
func (s *Store) resumeGC(ctx context.Context) error {
	key := []byte{byte(KindGCMarker)}
	v, err := s.kv.Get(key)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("pagestore: open: read gc marker: %w", err)
	}
	pinned, err := decodeGCMarker(v)
	if err != nil {
		return fmt.Errorf("pagestore: open: %w", err)
	}
	if _, err := s.GC(ctx, pinned); err != nil {
		return fmt.Errorf("pagestore: open: finish interrupted gc: %w", err)
	}
	return nil
}

func encodeGCMarker(pinned []merkle.Hash) []byte {
	b := make([]byte, 0, 1+4+32*len(pinned)+4)
	b = append(b, 1)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(pinned)))
	for _, p := range pinned {
		b = append(b, p[:]...)
	}
	return appendCRC(b, []byte{byte(KindGCMarker)})
}

func decodeGCMarker(v []byte) ([]merkle.Hash, error) {
	body, ok := checkCRC(v, []byte{byte(KindGCMarker)})
	if !ok || len(body) < 5 || body[0] != 1 {
		return nil, &CorruptionError{Kind: KindGCMarker, Reason: fmt.Sprintf("marker %x", v)}
	}
	n := binary.LittleEndian.Uint32(body[1:5])
	if uint64(len(body)) != 5+32*uint64(n) {
		return nil, &CorruptionError{Kind: KindGCMarker, Reason: fmt.Sprintf("length %d for %d roots", len(v), n)}
	}
	out := make([]merkle.Hash, n)
	for i := range out {
		out[i] = merkle.Hash(body[5+32*i:])
	}
	return out, nil
}

// gcRoots lists the roots GC keeps: every record's key (a damaged record
// value still names its root), the head and the pinned roots.
func (s *Store) gcRoots(pinned []merkle.Hash) ([]merkle.Hash, error) {
	set := make(map[merkle.Hash]struct{})
	var roots []merkle.Hash
	add := func(r merkle.Hash) {
		if _, ok := set[r]; !ok {
			set[r] = struct{}{}
			roots = append(roots, r)
		}
	}
	err := s.kv.Iterate([]byte{byte(KindCommit)}, func(key, _ []byte) error {
		k, ok := parseKey(key)
		if !ok {
			return &CorruptionError{Kind: KindCommit, Reason: fmt.Sprintf("key %x has the wrong length", key)}
		}
		add(k.hash())
		return nil
	})
	if err != nil {
		return nil, err
	}
	head, ok, err := s.Head()
	if err != nil {
		return nil, err
	}
	if ok {
		add(head)
	}
	for _, p := range pinned {
		add(p)
	}
	return roots, nil
}

func (s *Store) gc(ctx context.Context, o GCOptions) (GCStats, error) {
	var st GCStats
	roots, err := s.gcRoots(o.Pinned)
	if err != nil {
		return st, fmt.Errorf("pagestore: gc: list roots: %w", err)
	}
	st.Roots = len(roots)

	// Mark.
	w := newWalker(ctx, s, func(p Problem) error {
		return fmt.Errorf("pagestore: gc: mark from root %s: %w (nothing deleted; run Fsck)", p.Root, p.Err)
	})
	w.useCache = true
	rootsDone := 0
	if o.Progress != nil {
		w.tick = func() {
			if w.n%1024 == 0 {
				o.Progress(GCProgress{Phase: "mark", Objects: int64(len(w.seen)), Fraction: float64(rootsDone) / float64(len(roots))})
			}
		}
	}
	for _, r := range roots {
		rootsDone++
		if err := w.walk(r); err != nil {
			if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
				return st, fmt.Errorf("pagestore: gc: mark: %w", err)
			}
			return st, err
		}
	}
	if err := ctx.Err(); err != nil {
		return st, fmt.Errorf("pagestore: gc: %w", err)
	}

	// The marker must be durable before any deletion is.
	marker := []byte{byte(KindGCMarker)}
	wb := s.kv.NewBatch()
	wb.Put(marker, encodeGCMarker(o.Pinned))
	if err := s.kv.Write(wb, true); err != nil {
		return st, fmt.Errorf("pagestore: gc: write marker: %w", err)
	}

	st, err = s.sweep(w.seen, o, st)
	if err != nil {
		// Some garbage may be gone and some not: no commit may deduplicate
		// against what is left until a GC completes.
		s.gcPending = err
	}
	return st, err
}

// sweep deletes every object not in live, parents' kinds first (see
// objectKinds), and the blobs o.DropBlob selects, then removes the marker.
func (s *Store) sweep(live map[objKey]struct{}, o GCOptions, st GCStats) (GCStats, error) {
	s.sweepGen.Add(1)
	defer s.sweepGen.Add(1)
	marker := []byte{byte(KindGCMarker)}
	wb := s.kv.NewBatch()
	var deleted []objKey
	flush := func(sync bool) error {
		if err := s.kv.Write(wb, sync); err != nil {
			return err
		}
		wb.Reset()
		for _, k := range deleted {
			s.cache.remove(k)
		}
		deleted = deleted[:0]
		return nil
	}
	var visited int64
	if o.Progress != nil {
		o.Progress(GCProgress{Phase: "sweep"})
	}
	for ki, kind := range objectKinds {
		err := s.kv.Iterate([]byte{byte(kind)}, func(key, v []byte) error {
			if visited++; o.Progress != nil && visited%1024 == 0 {
				// Keys are hashes, uniform in the keyspace: the position of
				// this one estimates the share of its kind done.
				pos := 0.0
				if len(key) >= 9 {
					pos = float64(binary.BigEndian.Uint64(key[1:9])) / (1 << 64)
				}
				o.Progress(GCProgress{Phase: "sweep", Objects: visited, Fraction: (float64(ki) + pos) / float64(len(objectKinds))})
			}
			k, ok := parseKey(key)
			if ok {
				if _, ok := live[k]; ok {
					st.LiveObjects++
					st.LiveBytes += int64(len(v))
					return nil
				}
			}
			// Unmarked, or a malformed key no object can have: garbage.
			wb.Delete(key)
			if ok {
				deleted = append(deleted, k)
			}
			st.ReclaimedObjects++
			st.ReclaimedBytes += int64(len(v))
			if wb.Len() >= sweepBatchOps {
				return flush(false)
			}
			return nil
		})
		if err != nil {
			return st, fmt.Errorf("pagestore: gc: sweep %s: %w", kind, err)
		}
	}
	if o.DropBlob != nil {
		codeLive := func(h merkle.Hash) bool {
			_, ok := live[makeKey(KindCode, h)]
			return ok
		}
		err := s.kv.Iterate([]byte{byte(KindBlob)}, func(key, _ []byte) error {
			if !o.DropBlob(append([]byte(nil), key[1:]...), codeLive) {
				return nil
			}
			wb.Delete(key)
			st.ReclaimedBlobs++
			if wb.Len() >= sweepBatchOps {
				return flush(false)
			}
			return nil
		})
		if err != nil {
			return st, fmt.Errorf("pagestore: gc: sweep blobs: %w", err)
		}
	}
	wb.Delete(marker)
	if err := flush(true); err != nil {
		return st, fmt.Errorf("pagestore: gc: sweep: %w", err)
	}
	return st, nil
}
