package pagestore

import "sync"

// entryOverhead approximates the memory an entry costs beyond its value:
// the key, the list links and the map slot. Counting it keeps a cache of
// small nodes from blowing far past its byte budget.
const entryOverhead = keyLen + 96

// cache is an LRU of verified values, bounded in bytes rather than entries
// because values range from 64-byte nodes to megabyte code blobs. A nil
// *cache is a valid, disabled cache.
//
// The list lives in one slice of entries linked by index, and an objIndex
// finds them: adding a value allocates nothing once the slice has grown.
// A commit adds a few thousand tree nodes, each evicting an old one; with
// a generic LRU (an allocation and map upkeep per entry) that was a sixth
// of the commit's CPU time.
type cache struct {
	mu      sync.Mutex
	index   objIndex
	entries []centry // entries[0] is the list's sentinel: next is the newest, prev the oldest
	free    int32    // first free entry, linked by next; 0 when none
	bytes   int64
	budget  int64
	hits    int64
	misses  int64
	hashes  []uint64 // scratch of addStaged
	sink    uint64   // where addStaged's touches go
}

type centry struct {
	key        objKey
	hash       uint64 // the index's hash of key
	val        []byte
	prev, next int32
}

func newCache(budget int64) *cache {
	if budget <= 0 {
		return nil
	}
	c := &cache{budget: budget}
	c.reset()
	return c
}

func (c *cache) reset() {
	c.index = newObjIndex(func(i int32) *objKey { return &c.entries[i].key })
	c.entries = make([]centry, 1, 64)
	c.free, c.bytes = 0, 0
}

// unlink takes entry i out of the list.
func (c *cache) unlink(i int32) {
	e := &c.entries[i]
	c.entries[e.prev].next = e.next
	c.entries[e.next].prev = e.prev
}

// pushFront makes entry i the newest.
func (c *cache) pushFront(i int32) {
	head := &c.entries[0]
	e := &c.entries[i]
	e.prev, e.next = 0, head.next
	c.entries[head.next].prev = i
	head.next = i
}

// drop removes entry i and frees its slot.
func (c *cache) drop(i int32) {
	c.unlink(i)
	e := &c.entries[i]
	c.index.delHashed(&e.key, e.hash)
	c.bytes -= int64(len(e.val)) + entryOverhead
	e.val, e.prev, e.next, e.hash = nil, 0, c.free, 0
	c.free = i
}

// get returns the cached value for k, counting a hit or a miss. The caller
// must not modify the value.
func (c *cache) get(k objKey) ([]byte, bool) {
	if c == nil {
		return nil, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	i := c.index.get(&k)
	if i == 0 {
		c.misses++
		return nil, false
	}
	c.hits++
	c.unlink(i)
	c.pushFront(i)
	return c.entries[i].val, true
}

// peek returns the cached value without counting or refreshing it, for
// whole-store walks (GC) that must not disturb the working set.
func (c *cache) peek(k objKey) ([]byte, bool) {
	if c == nil {
		return nil, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if i := c.index.get(&k); i != 0 {
		return c.entries[i].val, true
	}
	return nil, false
}

// contains reports whether k is cached, without counting or refreshing it.
func (c *cache) contains(k objKey) bool {
	if c == nil {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.index.get(&k) != 0
}

// add caches v (which must be verified and never modified afterwards),
// evicting least recently used entries while over budget.
func (c *cache) add(k objKey, v []byte) { c.addIf(k, v, nil) }

// addIf is add, done only if ok (when not nil) holds under the cache's
// lock, so that a concurrent remove is ordered before or after it.
func (c *cache) addIf(k objKey, v []byte, ok func() bool) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if ok != nil && !ok() {
		return
	}
	c.addLocked(k, v)
}

// addStaged caches the values of objs under one lock (a commit's new
// nodes). It first touches the index cells of the new keys and of the
// entries they will evict, so that those cache misses overlap.
func (c *cache) addStaged(objs []staged) {
	if c == nil || len(objs) == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	hs := c.hashes[:0]
	var acc uint64
	for i := range objs {
		h := c.index.hash(&objs[i].key)
		hs = append(hs, h)
		acc ^= c.index.touch(h)
	}
	if c.bytes+int64(len(objs))*(64+entryOverhead) > c.budget {
		v := c.entries[0].prev
		for range objs {
			if v == 0 {
				break
			}
			acc ^= c.index.touch(c.entries[v].hash)
			v = c.entries[v].prev
		}
	}
	c.sink += acc // keeps the touches
	for i := range objs {
		c.addHashed(objs[i].key, hs[i], objs[i].value)
	}
	if cap(hs) <= 1<<16 {
		c.hashes = hs[:0]
	}
}

func (c *cache) addLocked(k objKey, v []byte) { c.addHashed(k, c.index.hash(&k), v) }

func (c *cache) addHashed(k objKey, h uint64, v []byte) {
	cost := int64(len(v)) + entryOverhead
	if cost > c.budget/4 {
		return // one value must not flush a quarter of the cache
	}
	i, added := c.index.upsertHashed(&k, h, func() int32 {
		i := c.free
		if i != 0 {
			c.free = c.entries[i].next
		} else {
			if len(c.entries) > maxIndexed {
				return 0
			}
			i = int32(len(c.entries))
			c.entries = append(c.entries, centry{})
		}
		c.entries[i].key, c.entries[i].hash = k, h
		return i
	})
	switch {
	case i == 0:
		return
	case added:
		c.entries[i].val = v
		c.bytes += cost
	default:
		e := &c.entries[i]
		c.bytes += int64(len(v)) - int64(len(e.val))
		e.val = v
		c.unlink(i)
	}
	c.pushFront(i)
	for c.bytes > c.budget {
		oldest := c.entries[0].prev
		if oldest == 0 {
			break
		}
		c.drop(oldest)
	}
}

// remove drops k, after its value was deleted from the store.
func (c *cache) remove(k objKey) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if i := c.index.get(&k); i != 0 {
		c.drop(i)
	}
}

// purge empties the cache; the counters are kept.
func (c *cache) purge() {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.reset()
}

func (c *cache) stats(s *Stats) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	s.CacheHits = c.hits
	s.CacheMisses = c.misses
	s.CacheEntries = c.index.len()
	s.CacheBytes = c.bytes
	s.CacheBudget = c.budget
}
