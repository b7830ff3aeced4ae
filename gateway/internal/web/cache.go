package web

import (
	"container/list"
	"sync"
)

// viewCache keeps the rendered views of recently read articles, most
// recently used first, within a budget of bytes. Highlighting an article's
// code costs milliseconds; the view depends only on the article's revision
// and the language, so a cached one is exactly what rendering would make.
type viewCache struct {
	mu     sync.Mutex
	budget int
	used   int
	order  *list.List // of *cached, most recent at the front
	byKey  map[viewKey]*list.Element
}

// viewKey names a view: every write to an article, trust write-backs
// included, makes a new revision.
type viewKey struct {
	id       string
	revision int32
	lang     string
}

type cached struct {
	key  viewKey
	view articleView
	size int
}

func newViewCache(budget int) *viewCache {
	return &viewCache{budget: budget, order: list.New(), byKey: map[viewKey]*list.Element{}}
}

func (c *viewCache) get(k viewKey) (articleView, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.byKey[k]
	if !ok {
		return articleView{}, false
	}
	c.order.MoveToFront(e)
	return e.Value.(*cached).view, true
}

// put keeps v, dropping the least recently used views to stay within the
// budget; a view larger than the whole budget is not kept.
func (c *viewCache) put(k viewKey, v articleView) {
	size := v.size()
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.byKey[k]; ok || size > c.budget {
		return
	}
	c.byKey[k] = c.order.PushFront(&cached{key: k, view: v, size: size})
	c.used += size
	for c.used > c.budget {
		last := c.order.Back()
		old := last.Value.(*cached)
		c.order.Remove(last)
		delete(c.byKey, old.key)
		c.used -= old.size
	}
}

// size approximates the bytes a cached view holds: its rendered fragments
// and texts.
func (v articleView) size() int {
	return 1024 + len(v.Title.Text) + len(v.Summary.Text) + len(v.Doc) + len(v.Facts) + len(v.KeywordsHTML)
}
