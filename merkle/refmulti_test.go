package merkle

import (
	"bytes"
	"encoding/binary"
	"sort"
)

// A from-scratch reader and verifier of multiproofs (SPEC.md §7.6), part of
// the reference of refproof_test.go: it shares with the package only the
// BLAKE3 primitive (refKeyed) and the reference's own leaf decoder and
// reader. It follows the section's text step by step, not the package's
// code, so TestReferenceAgrees can hold the two to the same verdicts.

type refRange struct {
	id             [32]byte
	offset, length uint64
}

// refSNode is a node of a decoded state part.
type refSNode struct {
	tag         byte
	leaf        refLeaf
	hash        Hash
	depth       int
	routed      []int // indices of the ids routed here
	left, right *refSNode
}

type refMulti struct {
	ids    [][32]byte
	keys   []Hash
	root   *refSNode
	ranges []refRange
	idx    []int      // per range, its idindex
	pages  [][]uint64 // per memory part, its derived page set
	data   [][][]byte // per memory part, per page: 4096 bytes
	sibs   [][]Hash   // per memory part, its siblings in slot order
}

// refStatePart reads nids, the ids and the pre-order nodes.
func (r *refReader) refStatePart(m *refMulti) {
	n := binary.LittleEndian.Uint32(r.take(4))
	if r.err != nil || n > 65536 || uint64(n)*32 > uint64(len(r.b)) {
		r.err = refMalformed
		return
	}
	for i := uint32(0); i < n; i++ {
		id := [32]byte(r.take(32))
		k := refKeyed("state key", id[:])
		if i > 0 && bytes.Compare(m.keys[i-1][:], k[:]) >= 0 {
			r.err = refMalformed
			return
		}
		m.ids, m.keys = append(m.ids, id), append(m.keys, k)
	}
	all := make([]int, n)
	for i := range all {
		all[i] = i
	}
	m.root = r.refStateNode(m, 0, all)
}

func (r *refReader) refStateNode(m *refMulti, depth int, routed []int) *refSNode {
	tag := r.u8()
	if r.err != nil {
		return nil
	}
	nd := &refSNode{tag: tag, depth: depth, routed: routed}
	explored := len(routed) > 0
	switch tag {
	case 0:
	case 1:
		if !explored {
			r.err = refMalformed
			return nil
		}
		nd.leaf = r.leaf()
	case 2:
		if !explored || depth == 256 {
			r.err = refMalformed
			return nil
		}
		var l, rt []int
		for _, i := range routed {
			if refBit(m.keys[i], depth) == 0 {
				l = append(l, i)
			} else {
				rt = append(rt, i)
			}
		}
		if nd.left = r.refStateNode(m, depth+1, l); r.err != nil {
			return nil
		}
		nd.right = r.refStateNode(m, depth+1, rt)
	case 3:
		if explored {
			r.err = refMalformed
			return nil
		}
		nd.hash = Hash(r.take(32))
		if nd.hash == (Hash{}) {
			r.err = refMalformed
		}
	default:
		r.err = refMalformed
	}
	if r.err != nil {
		return nil
	}
	return nd
}

// refSlots enumerates the sibling slots of a page set as §7.6 writes it:
// per height, for each known index ascending whose partner is unknown.
func refSlots(pages []uint64) (heights []int) {
	known := map[uint64]bool{}
	for _, p := range pages {
		known[p] = true
	}
	for h := 0; h < 30; h++ {
		var list []uint64
		for j := range known {
			list = append(list, j)
		}
		sort.Slice(list, func(a, b int) bool { return list[a] < list[b] })
		next := map[uint64]bool{}
		for _, j := range list {
			if !known[j^1] {
				heights = append(heights, h)
			}
			next[j>>1] = true
		}
		known = next
	}
	return heights
}

// refMemPart reads a memory part for the given pages (§7.3's rules).
func (r *refReader) refMemPart(pages []uint64) ([][]byte, []Hash) {
	var data [][]byte
	for _, set := range r.bitmap(len(pages)) {
		pg := make([]byte, 4096)
		if set {
			copy(pg, r.take(4096))
			if r.err == nil && bytes.Equal(pg, make([]byte, 4096)) {
				r.err = refMalformed
			}
		}
		data = append(data, pg)
	}
	heights := refSlots(pages)
	sibs := r.hashes(r.bitmap(len(heights)), func(i int) Hash { return refEmpty(heights[i]) })
	return data, sibs
}

// refDerivePages returns, per distinct idindex (ascending), the union of
// the pages its ranges cover, or false past 65,536 pages in all.
func refDerivePages(ranges []refRange, idx []int) ([][]uint64, bool) {
	type iv struct{ a, b uint64 }
	byID := map[int][]iv{}
	var order []int
	for i, rg := range ranges {
		if _, ok := byID[idx[i]]; !ok {
			order = append(order, idx[i])
		}
		byID[idx[i]] = append(byID[idx[i]], iv{rg.offset >> 12, (rg.offset + rg.length - 1) >> 12})
	}
	sort.Ints(order)
	total := uint64(0)
	var merged [][]iv
	for _, id := range order {
		ivs := byID[id]
		sort.Slice(ivs, func(a, b int) bool { return ivs[a].a < ivs[b].a })
		var out []iv
		for _, v := range ivs {
			if len(out) > 0 && v.a <= out[len(out)-1].b+1 {
				out[len(out)-1].b = max(out[len(out)-1].b, v.b)
			} else {
				out = append(out, v)
			}
		}
		for _, v := range out {
			total += v.b - v.a + 1
		}
		merged = append(merged, out)
	}
	if total > 65536 {
		return nil, false
	}
	sets := make([][]uint64, len(merged))
	for k, ivs := range merged {
		for _, v := range ivs {
			for p := v.a; p <= v.b; p++ {
				sets[k] = append(sets[k], p)
			}
		}
	}
	return sets, true
}

func refDecodeMulti(b []byte) (*refMulti, error) {
	r := &refReader{b: b}
	if r.u8() != 1 || r.u8() != 4 {
		return nil, refMalformed
	}
	m := &refMulti{}
	r.refStatePart(m)
	if r.err != nil {
		return nil, r.err
	}
	n := binary.LittleEndian.Uint32(r.take(4))
	if r.err != nil || n > 65536 || uint64(n)*20 > uint64(len(r.b)) {
		return nil, refMalformed
	}
	total := uint64(0)
	for i := uint32(0); i < n; i++ {
		x := int(binary.LittleEndian.Uint32(r.take(4)))
		rg := refRange{offset: r.u64(), length: r.u64()}
		if r.err != nil || x >= len(m.ids) {
			return nil, refMalformed
		}
		rg.id = m.ids[x]
		if rg.length == 0 || rg.length > 16<<20 || rg.offset > 1<<42 || rg.offset+rg.length > 1<<42 {
			return nil, refMalformed
		}
		if i > 0 {
			px, p := m.idx[i-1], m.ranges[i-1]
			ascending := x > px || x == px && (rg.offset > p.offset || rg.offset == p.offset && rg.length > p.length)
			if !ascending {
				return nil, refMalformed
			}
		}
		if total += rg.length; total > 256<<20 {
			return nil, refMalformed
		}
		m.ranges, m.idx = append(m.ranges, rg), append(m.idx, x)
	}
	sets, ok := refDerivePages(m.ranges, m.idx)
	if !ok {
		return nil, refMalformed
	}
	m.pages = sets
	for _, set := range sets {
		data, sibs := r.refMemPart(set)
		if r.err != nil {
			return nil, r.err
		}
		m.data, m.sibs = append(m.data, data), append(m.sibs, sibs)
	}
	if r.err != nil || len(r.b) != 0 {
		return nil, refMalformed
	}
	return m, nil
}

// refEval hashes a state subtree and reports the shape and path findings.
func refEval(m *refMulti, nd *refSNode, present map[[32]byte]refLeaf, shapeBad, pathBad *bool) Hash {
	switch nd.tag {
	case 0:
		return Hash{}
	case 3:
		return nd.hash
	case 1:
		lk := refKeyed("state key", nd.leaf.id[:])
		for _, i := range nd.routed {
			for d := 0; d < nd.depth; d++ {
				if refBit(lk, d) != refBit(m.keys[i], d) {
					*pathBad = true
				}
			}
			if m.ids[i] == nd.leaf.id {
				present[nd.leaf.id] = nd.leaf
			}
		}
		return nd.leaf.hash()
	}
	l := refEval(m, nd.left, present, shapeBad, pathBad)
	r := refEval(m, nd.right, present, shapeBad, pathBad)
	lt, rt := nd.left.tag, nd.right.tag
	if lt == 0 && (rt == 0 || rt == 1) || rt == 0 && lt == 1 {
		*shapeBad = true
	}
	return refKeyed("state node", l[:], r[:])
}

// refMemRoot rebuilds a memory root from a part (§7.6, memory part).
func refMemRoot(pages []uint64, data [][]byte, sibs []Hash) Hash {
	type e struct {
		j uint64
		h Hash
	}
	var list []e
	for i, p := range pages {
		list = append(list, e{p, refKeyed("page", data[i])})
	}
	s := 0
	for h := 0; h < 30; h++ {
		var next []e
		for i := 0; i < len(list); i++ {
			x := list[i]
			var parent Hash
			switch {
			case x.j%2 == 0 && i+1 < len(list) && list[i+1].j == x.j+1:
				parent = refKeyed("memory node", x.h[:], list[i+1].h[:])
				i++
			case x.j%2 == 0:
				parent = refKeyed("memory node", x.h[:], sibs[s][:])
				s++
			default:
				parent = refKeyed("memory node", sibs[s][:], x.h[:])
				s++
			}
			next = append(next, e{x.j / 2, parent})
		}
		list = next
	}
	return list[0].h
}

// refMultiResult is what a multiproof proves, per claim item.
type refMultiResult struct {
	leaves map[[32]byte]*refLeaf // every id of the proof: its leaf or nil
	data   map[refRange][]byte
}

// refVerifyMulti runs the ordered checks of §7.6. With claim == false it
// skips steps 2–4 (a verifier with no claim).
func refVerifyMulti(root Hash, proof []byte, claim bool, ids [][32]byte, ranges []refRange) (*refMultiResult, error) {
	// 1.
	m, err := refDecodeMulti(proof)
	if err != nil {
		if len(proof) >= 2 && proof[0] == 1 && proof[1] != 4 && claim {
			// Another kind: malformed if it does not decode as that kind.
			if _, err := refDecode(proof); err != nil {
				return nil, refMalformed
			}
			return nil, refInvalid // 2. or 3.
		}
		return nil, err
	}
	if claim {
		// 2.
		for _, rg := range ranges {
			if rg.length == 0 || rg.length > 16<<20 || rg.offset > 1<<42 || rg.offset+rg.length > 1<<42 {
				return nil, refInvalid
			}
		}
		// 4. Sets: the claim's ids plus its ranges' ids; its ranges.
		wantIDs := map[[32]byte]bool{}
		for _, id := range ids {
			wantIDs[id] = true
		}
		wantR := map[refRange]bool{}
		for _, rg := range ranges {
			wantIDs[rg.id], wantR[rg] = true, true
		}
		if len(wantIDs) != len(m.ids) || len(wantR) != len(m.ranges) {
			return nil, refInvalid
		}
		for _, id := range m.ids {
			if !wantIDs[id] {
				return nil, refInvalid
			}
		}
		for _, rg := range m.ranges {
			if !wantR[rg] {
				return nil, refInvalid
			}
		}
	}
	present := map[[32]byte]refLeaf{}
	var shapeBad, pathBad bool
	got := refEval(m, m.root, present, &shapeBad, &pathBad)
	// 5.
	if shapeBad {
		return nil, refInvalid
	}
	// 6.
	for _, rg := range m.ranges {
		if _, ok := present[rg.id]; !ok {
			return nil, refInvalid
		}
	}
	// 7.
	for _, rg := range m.ranges {
		if rg.offset+rg.length > present[rg.id].memLen {
			return nil, refOutOfRange
		}
	}
	// 8. Memory parts in ascending idindex order.
	k := 0
	for i, rg := range m.ranges {
		if i > 0 && m.idx[i] == m.idx[i-1] {
			continue
		}
		if refMemRoot(m.pages[k], m.data[k], m.sibs[k]) != present[rg.id].memRoot {
			return nil, refInvalid
		}
		k++
	}
	// 9.
	if pathBad || got != root {
		return nil, refInvalid
	}
	res := &refMultiResult{leaves: map[[32]byte]*refLeaf{}, data: map[refRange][]byte{}}
	for _, id := range m.ids {
		if l, ok := present[id]; ok {
			res.leaves[id] = &l
		} else {
			res.leaves[id] = nil
		}
	}
	k = -1
	for i, rg := range m.ranges {
		if i == 0 || m.idx[i] != m.idx[i-1] {
			k++
		}
		var mem []byte
		first := rg.offset >> 12
		for pi, p := range m.pages[k] {
			if p >= first && p <= (rg.offset+rg.length-1)>>12 {
				mem = append(mem, m.data[k][pi]...)
			}
		}
		start := rg.offset - first<<12
		res.data[rg] = mem[start : start+rg.length]
	}
	return res, nil
}

// summary encodes a result over a claim: per claim id 0 (absent) or 1 and
// the leaf encoding, then per claim range its bytes; what both verifiers
// must agree on.
func (res *refMultiResult) summary(ids [][32]byte, ranges []refRange) []byte {
	var out []byte
	for _, id := range ids {
		if l := res.leaves[id]; l != nil {
			out = append(append(out, 1), l.encode()...)
		} else {
			out = append(out, 0)
		}
	}
	for _, rg := range ranges {
		out = append(out, res.data[rg]...)
	}
	return out
}

// multiSummary is summary for the package's result.
func multiSummary(m *MultiProven, ids []ContractID, ranges []ByteRange) []byte {
	var out []byte
	for _, id := range ids {
		if l, _ := m.Leaf(id); l != nil {
			out = append(append(out, 1), l.Encode()...)
		} else {
			out = append(out, 0)
		}
	}
	for _, rg := range ranges {
		d, _ := m.Bytes(rg)
		out = append(out, d...)
	}
	return out
}
