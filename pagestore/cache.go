package pagestore

import (
	"math"
	"sync"

	"github.com/hashicorp/golang-lru/v2/simplelru"
)

// entryOverhead approximates the memory an entry costs beyond its value:
// the key, the list element and the map slot. Counting it keeps a cache of
// small nodes from blowing far past its byte budget.
const entryOverhead = keyLen + 96

// cache is an LRU of verified values, bounded in bytes rather than entries
// because values range from 64-byte nodes to megabyte code blobs. A nil
// *cache is a valid, disabled cache.
type cache struct {
	mu     sync.Mutex
	lru    *simplelru.LRU[objKey, []byte]
	bytes  int64
	budget int64
	hits   int64
	misses int64
}

func newCache(budget int64) *cache {
	if budget <= 0 {
		return nil
	}
	c := &cache{budget: budget}
	// The entry bound is effectively unlimited; add evicts by bytes.
	lru, err := simplelru.NewLRU[objKey, []byte](math.MaxInt32, func(_ objKey, v []byte) {
		c.bytes -= int64(len(v)) + entryOverhead
	})
	if err != nil {
		return nil // unreachable: the size is positive
	}
	c.lru = lru
	return c
}

// get returns the cached value for k, counting a hit or a miss. The caller
// must not modify the value.
func (c *cache) get(k objKey) ([]byte, bool) {
	if c == nil {
		return nil, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.lru.Get(k)
	if ok {
		c.hits++
	} else {
		c.misses++
	}
	return v, ok
}

// peek returns the cached value without counting or refreshing it, for
// whole-store walks (GC) that must not disturb the working set.
func (c *cache) peek(k objKey) ([]byte, bool) {
	if c == nil {
		return nil, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Peek(k)
}

// contains reports whether k is cached, without counting or refreshing it.
func (c *cache) contains(k objKey) bool {
	if c == nil {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Contains(k)
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
	cost := int64(len(v)) + entryOverhead
	if cost > c.budget/4 {
		return // one value must not flush a quarter of the cache
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if ok != nil && !ok() {
		return
	}
	if old, ok := c.lru.Peek(k); ok {
		c.bytes -= int64(len(old)) + entryOverhead
	}
	c.lru.Add(k, v)
	c.bytes += cost
	for c.bytes > c.budget {
		if _, _, ok := c.lru.RemoveOldest(); !ok {
			break
		}
	}
}

// remove drops k, after its value was deleted from the store.
func (c *cache) remove(k objKey) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lru.Remove(k)
}

// purge empties the cache; the counters are kept.
func (c *cache) purge() {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lru.Purge()
}

func (c *cache) stats(s *Stats) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	s.CacheHits = c.hits
	s.CacheMisses = c.misses
	s.CacheEntries = c.lru.Len()
	s.CacheBytes = c.bytes
	s.CacheBudget = c.budget
}
