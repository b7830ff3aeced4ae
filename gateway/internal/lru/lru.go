// Package lru is the gateway's one in-memory cache: values by key, most
// recently used first, within a budget of bytes, optionally with a ttl. The
// web pages keep rendered views and related lists in it; the API keeps
// rendered article answers (see gateway's read cache).
package lru

import (
	"container/list"
	"sync"
	"time"
)

// Cache keeps values by key within a budget of bytes (as size measures
// them); with a ttl, a value older than that is no longer returned. It is
// safe for concurrent use.
type Cache[K comparable, V any] struct {
	mu     sync.Mutex
	budget int
	used   int
	ttl    time.Duration
	size   func(V) int
	// Now is the clock; tests set it.
	Now   func() time.Time
	order *list.List // of *entry[K, V], most recent at the front
	byKey map[K]*list.Element
}

type entry[K comparable, V any] struct {
	key  K
	val  V
	size int
	at   time.Time
}

// New returns an empty cache; ttl 0 keeps values until they are dropped for
// room.
func New[K comparable, V any](budget int, ttl time.Duration, size func(V) int) *Cache[K, V] {
	return &Cache[K, V]{budget: budget, ttl: ttl, size: size, Now: time.Now, order: list.New(), byKey: map[K]*list.Element{}}
}

// Get returns the value under k and makes it the most recent.
func (c *Cache[K, V]) Get(k K) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var zero V
	e, ok := c.byKey[k]
	if !ok {
		return zero, false
	}
	en := e.Value.(*entry[K, V])
	if c.ttl > 0 && c.Now().Sub(en.at) >= c.ttl {
		c.remove(e)
		return zero, false
	}
	c.order.MoveToFront(e)
	return en.val, true
}

// Put keeps v under k, in place of what k held, dropping the least recently
// used values to stay within the budget; a value larger than the whole
// budget is not kept.
func (c *Cache[K, V]) Put(k K, v V) {
	size := c.size(v)
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.byKey[k]; ok {
		c.remove(e)
	}
	if size > c.budget {
		return
	}
	c.byKey[k] = c.order.PushFront(&entry[K, V]{key: k, val: v, size: size, at: c.Now()})
	c.used += size
	for c.used > c.budget {
		c.remove(c.order.Back())
	}
}

// Delete drops the value under k, if any.
func (c *Cache[K, V]) Delete(k K) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.byKey[k]; ok {
		c.remove(e)
	}
}

// Clear drops every value.
func (c *Cache[K, V]) Clear() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.order.Init()
	clear(c.byKey)
	c.used = 0
}

// Used returns the bytes the kept values take, as size measures them.
func (c *Cache[K, V]) Used() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.used
}

func (c *Cache[K, V]) remove(e *list.Element) {
	en := e.Value.(*entry[K, V])
	c.order.Remove(e)
	delete(c.byKey, en.key)
	c.used -= en.size
}
