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
// The list lives in one slice of entries linked by index, and the map
// holds indexes: adding a value allocates nothing once the slice has
// grown, and the map has no pointers for the garbage collector to scan.
// A commit adds a few thousand tree nodes, and a generic LRU's allocation
// and map upkeep per entry was a sixth of its CPU time.
type cache struct {
	mu      sync.Mutex
	index   map[objKey]int32
	entries []centry // entries[0] is the list's sentinel: next is the newest, prev the oldest
	free    int32    // first free entry, linked by next; 0 when none
	bytes   int64
	budget  int64
	hits    int64
	misses  int64
}

type centry struct {
	key        objKey
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
	c.index = make(map[objKey]int32)
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
	delete(c.index, e.key)
	c.bytes -= int64(len(e.val)) + entryOverhead
	e.val, e.prev, e.next = nil, 0, c.free
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
	i, ok := c.index[k]
	if !ok {
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
	if i, ok := c.index[k]; ok {
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
	_, ok := c.index[k]
	return ok
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
// nodes).
func (c *cache) addStaged(objs []staged) {
	if c == nil || len(objs) == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := range objs {
		c.addLocked(objs[i].key, objs[i].value)
	}
}

func (c *cache) addLocked(k objKey, v []byte) {
	cost := int64(len(v)) + entryOverhead
	if cost > c.budget/4 {
		return // one value must not flush a quarter of the cache
	}
	if i, ok := c.index[k]; ok {
		e := &c.entries[i]
		c.bytes += int64(len(v)) - int64(len(e.val))
		e.val = v
		c.unlink(i)
		c.pushFront(i)
	} else {
		i := c.free
		if i != 0 {
			c.free = c.entries[i].next
		} else {
			i = int32(len(c.entries))
			c.entries = append(c.entries, centry{})
		}
		c.entries[i].key, c.entries[i].val = k, v
		c.pushFront(i)
		c.index[k] = i
		c.bytes += cost
	}
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
	if i, ok := c.index[k]; ok {
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
	s.CacheEntries = len(c.index)
	s.CacheBytes = c.bytes
	s.CacheBudget = c.budget
}
