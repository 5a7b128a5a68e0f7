package serve

import (
	"math"
	"sync"

	"github.com/hashicorp/golang-lru/v2/simplelru"
)

// answerCache keeps recent immutable answers (proofs, leaves, commit
// records) by URL and representation: what a root or hash addresses never
// changes, so a repeated request is answered without the engine. It is
// bounded in bytes. A nil *answerCache caches nothing.
type answerCache struct {
	mu     sync.Mutex
	lru    *simplelru.LRU[string, *answer]
	bytes  int64
	budget int64
}

// answerOverhead approximates what an entry costs beyond its body: the
// key, the answer's fields and the list and map slots.
const answerOverhead = 256

func newAnswerCache(budget int64) *answerCache {
	if budget <= 0 {
		return nil
	}
	c := &answerCache{budget: budget}
	lru, err := simplelru.NewLRU[string, *answer](math.MaxInt32, func(k string, a *answer) {
		c.bytes -= a.cost(k)
	})
	if err != nil {
		return nil // unreachable: the size is positive
	}
	c.lru = lru
	return c
}

func (a *answer) cost(key string) int64 {
	return int64(len(a.body)+len(key)+len(a.etag)) + answerOverhead
}

func (c *answerCache) get(key string) *answer {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	a, _ := c.lru.Get(key)
	return a
}

// add keeps a, which must not change afterwards.
func (c *answerCache) add(key string, a *answer) {
	if c == nil {
		return
	}
	cost := a.cost(key)
	if cost > c.budget/8 {
		return // a 16 MiB range must not flush the cache
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.lru.Peek(key); ok {
		c.bytes -= old.cost(key)
	}
	c.lru.Add(key, a)
	c.bytes += cost
	for c.bytes > c.budget {
		if _, _, ok := c.lru.RemoveOldest(); !ok {
			break
		}
	}
}
