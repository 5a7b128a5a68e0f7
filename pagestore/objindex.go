package pagestore

import "hash/maphash"

// objIndex maps object keys to slots (int32 > 0) of an array its owner
// keeps (the cache's entries, the memory backend's values), which holds
// the keys: keyAt returns the key in a slot. It is an open-addressing hash
// table with linear probing over 16-byte cells (a key's 64-bit hash and
// its slot), so a probe run spans a cache line or two and the key itself
// is read only when a full hash matches; deletion shifts the following
// cells back instead of leaving tombstones. The table holds no pointers,
// so the garbage collector does not scan it.
//
// Why not a Go map: a commit inserts thousands of tree nodes into the
// cache (and the memory backend), each evicting another, in tables of
// hundreds of thousands of entries; map[objKey]int32 cost several cache
// misses per insert and delete (BenchmarkCacheCommitNodes). Positions
// come from a seeded hash of the whole key, so keys chosen to collide
// cannot build a long probe run without knowing the process's seed.
type objIndex struct {
	seed  maphash.Seed
	tab   []islot // a power of two long
	n     int     // keys held
	keyAt func(slot int32) *objKey
}

type islot struct {
	hash uint64
	slot int32 // 0: the cell is empty
}

// maxIndexed bounds the keys an objIndex (and what it indexes) holds.
const maxIndexed = 1<<31 - 2

const minIndexSize = 64

func newObjIndex(keyAt func(slot int32) *objKey) objIndex {
	return objIndex{seed: maphash.MakeSeed(), tab: make([]islot, minIndexSize), keyAt: keyAt}
}

func (x *objIndex) len() int { return x.n }

// find returns the table position of k (found) or of the empty slot where
// it would go.
func (x *objIndex) find(k *objKey, h uint64) (int, bool) {
	m := len(x.tab) - 1
	for p := int(h) & m; ; p = (p + 1) & m {
		s := &x.tab[p]
		if s.slot == 0 {
			return p, false
		}
		if s.hash == h && *x.keyAt(s.slot) == *k {
			return p, true
		}
	}
}

// hash is the hash the index places k by.
func (x *objIndex) hash(k *objKey) uint64 { return maphash.Bytes(x.seed, k[:]) }

// touch reads the cell where the probe for hash h starts. A loop that
// touches the cells of many keys before working on them one by one has
// their cache misses overlap (the loads are independent), instead of
// waiting for each in turn.
func (x *objIndex) touch(h uint64) uint64 { return x.tab[int(h)&(len(x.tab)-1)].hash }

// get returns the slot of k, 0 if k is not held.
func (x *objIndex) get(k *objKey) int32 {
	p, ok := x.find(k, maphash.Bytes(x.seed, k[:]))
	if !ok {
		return 0
	}
	return x.tab[p].slot
}

// upsert returns the slot of k if held; otherwise it takes a new slot
// from alloc, which must store k where keyAt finds it (and return 0 if it
// cannot: then nothing is added), and adds k there.
func (x *objIndex) upsert(k *objKey, alloc func() int32) (slot int32, added bool) {
	return x.upsertHashed(k, maphash.Bytes(x.seed, k[:]), alloc)
}

// upsertHashed is upsert for a key whose hash the caller has.
func (x *objIndex) upsertHashed(k *objKey, h uint64, alloc func() int32) (slot int32, added bool) {
	p, ok := x.find(k, h)
	if ok {
		return x.tab[p].slot, false
	}
	if slot = alloc(); slot == 0 {
		return 0, false
	}
	x.tab[p] = islot{hash: h, slot: slot}
	x.n++
	if x.n*4 >= len(x.tab)*3 {
		x.grow()
	}
	return slot, true
}

// del removes k, returning its slot (0 if it was not held).
func (x *objIndex) del(k *objKey) int32 {
	return x.delHashed(k, maphash.Bytes(x.seed, k[:]))
}

// delHashed is del for a key whose hash the caller has.
func (x *objIndex) delHashed(k *objKey, h uint64) int32 {
	p, ok := x.find(k, h)
	if !ok {
		return 0
	}
	slot := x.tab[p].slot
	x.n--
	// Backward shift: move each following entry of the run into the hole
	// unless its home position lies cyclically in (hole, its position].
	m := len(x.tab) - 1
	hole := p
	for j := (p + 1) & m; x.tab[j].slot != 0; j = (j + 1) & m {
		home := int(x.tab[j].hash) & m
		if hole <= j {
			if hole < home && home <= j {
				continue
			}
		} else if hole < home || home <= j {
			continue
		}
		x.tab[hole] = x.tab[j]
		hole = j
	}
	x.tab[hole] = islot{}
	return slot
}

// reserve makes room for n more keys without growing step by step.
func (x *objIndex) reserve(n int) {
	size := len(x.tab)
	for (x.n+n)*4 >= size*3 {
		size *= 2
	}
	if size > len(x.tab) {
		x.resize(size)
	}
}

func (x *objIndex) grow() { x.resize(2 * len(x.tab)) }

func (x *objIndex) resize(size int) {
	old := x.tab
	x.tab = make([]islot, size)
	m := len(x.tab) - 1
	for i := range old {
		s := &old[i]
		if s.slot == 0 {
			continue
		}
		p := int(s.hash) & m
		for x.tab[p].slot != 0 {
			p = (p + 1) & m
		}
		x.tab[p] = *s
	}
}

// reset empties the index (and shrinks it).
func (x *objIndex) reset() {
	x.tab, x.n = make([]islot, minIndexSize), 0
}
