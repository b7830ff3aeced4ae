package web

import (
	"container/list"
	"sync"
	"time"
)

// lru keeps values by key, most recently used first, within a budget of
// bytes (as size measures them); with a ttl, a value older than that is no
// longer returned. It holds what costs the site most to make again: an
// article's rendered view, the related list the search service computes.
type lru[K comparable, V any] struct {
	mu     sync.Mutex
	budget int
	used   int
	ttl    time.Duration
	size   func(V) int
	now    func() time.Time
	order  *list.List // of *entry[K, V], most recent at the front
	byKey  map[K]*list.Element
}

type entry[K comparable, V any] struct {
	key  K
	val  V
	size int
	at   time.Time
}

// newLRU returns an empty cache; ttl 0 keeps values until they are dropped
// for room.
func newLRU[K comparable, V any](budget int, ttl time.Duration, size func(V) int) *lru[K, V] {
	return &lru[K, V]{budget: budget, ttl: ttl, size: size, now: time.Now, order: list.New(), byKey: map[K]*list.Element{}}
}

func (c *lru[K, V]) get(k K) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var zero V
	e, ok := c.byKey[k]
	if !ok {
		return zero, false
	}
	en := e.Value.(*entry[K, V])
	if c.ttl > 0 && c.now().Sub(en.at) >= c.ttl {
		c.remove(e)
		return zero, false
	}
	c.order.MoveToFront(e)
	return en.val, true
}

// put keeps v under k, in place of what k held, dropping the least recently
// used values to stay within the budget; a value larger than the whole
// budget is not kept.
func (c *lru[K, V]) put(k K, v V) {
	size := c.size(v)
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.byKey[k]; ok {
		c.remove(e)
	}
	if size > c.budget {
		return
	}
	c.byKey[k] = c.order.PushFront(&entry[K, V]{key: k, val: v, size: size, at: c.now()})
	c.used += size
	for c.used > c.budget {
		c.remove(c.order.Back())
	}
}

func (c *lru[K, V]) remove(e *list.Element) {
	en := e.Value.(*entry[K, V])
	c.order.Remove(e)
	delete(c.byKey, en.key)
	c.used -= en.size
}

// viewKey names an article's view: every write to an article, trust
// write-backs included, makes a new revision, so a view kept under its
// revision is exactly what rendering would make again.
type viewKey struct {
	id       string
	revision int32
	lang     string
}

// viewSize approximates the bytes a kept view holds: its rendered fragments
// and texts.
func viewSize(v articleView) int {
	return 1024 + len(v.Title.Text) + len(v.Summary.Text) + len(v.Doc) + len(v.Facts) + len(v.KeywordsHTML)
}
