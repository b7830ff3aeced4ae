package gateway

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"buzhou.dev/gateway/internal/lru"
	"buzhou.dev/platform/grpcx"
	"buzhou.dev/platform/metrics"
	articlev1 "buzhou.dev/proto/gen/buzhou/article/v1"
)

// ReadCache keeps the answers of anonymous GET /api/v1/articles/{idOrSlug}
// (JSON and markdown, each variant of the query), as the bytes sent, so that
// a public read of an unchanged article costs neither a call to the article
// service nor a marshalling.
//
// What it serves is never staler than what the gateway was told:
//
//   - It only keeps what the article service answered an anonymous caller
//     with 200, so never a draft or an archived article; keyed reads pass by.
//   - Entries are kept under their article id and revision. The change feed
//     (WatchArticles, from its head) reports every later revision and every
//     archive; an entry older than the newest revision reported is not served.
//   - A write through this gateway records the revision it made before its
//     answer leaves (the X-Article-Id and ETag of the answer), or, when the
//     answer names no single article, drops every entry. So its writer never
//     reads an older revision back from this gateway.
//   - Only while the feed is open is anything kept or served: when the stream
//     breaks, everything is dropped and reads go to the service until it is
//     open again.
//
// A write that does not pass through this gateway (a direct gRPC call,
// another gateway replica) is seen when the feed delivers it: a few
// milliseconds after its commit in one process, at most the article
// service's feed poll (1 s) across processes sharing a database.
type ReadCache struct {
	entries *lru.Cache[string, *cachedRead]
	// searches keeps anonymous search and resolve answers for a short ttl
	// (see NewReadCache).
	searches *lru.Cache[string, *cachedRead]
	// pages keeps the web site's rendered article pages for pageTTL, and
	// like the search answers drops them on any change: a page shows other
	// articles (related ones) and records besides its own article.
	pages   *lru.Cache[string, *cachedRead]
	metrics *metrics.Part

	mu   sync.Mutex
	live bool
	// gen changes whenever everything is dropped, searchGen whenever the
	// search answers are; a fill started under an older one is not kept.
	gen, searchGen uint64
	// newest is, by article id, the newest revision reported since the feed
	// opened: by the feed or by a write through this gateway. gone marks an
	// archived article.
	newest map[string]int32
}

// gone is the newest revision of an archived article: no entry is that new.
const gone = math.MaxInt32

// maxCacheKey bounds the path and query a kept answer is named by; longer
// requests are answered without the cache.
const maxCacheKey = 512

// cachedRead is one kept answer.
type cachedRead struct {
	code      int
	articleID string
	revision  int32
	etag      string
	// header holds the answer's own headers (Content-Type, X-Article-*,
	// ETag, Content-Length), each slice clipped so that an Add made by a
	// later handler copies instead of writing into it.
	header http.Header
	body   []byte
}

func (e *cachedRead) size() int { return 512 + len(e.body) }

// NewReadCache returns a cache of at most budget bytes of article answers;
// it keeps nothing until Follow has opened the feed. With searchTTL above 0
// it also keeps anonymous search and resolve answers (within a tenth of the
// budget) for that long, or until any article changes (the feed or a write
// through this gateway): an answer kept is one the index gave since the last
// change the gateway knows of. The search index applies a change on its own
// stream, a few milliseconds after the gateway hears of it, so an answer made
// in between may show the index's previous state for up to searchTTL.
func NewReadCache(budget int, searchTTL time.Duration, m *metrics.Part) *ReadCache {
	c := &ReadCache{entries: lru.New[string](budget, 0, (*cachedRead).size), metrics: m, newest: map[string]int32{},
		pages: lru.New[string](budget/4, pageTTL, (*cachedRead).size)}
	if searchTTL > 0 {
		c.searches = lru.New[string](budget/10, searchTTL, (*cachedRead).size)
	}
	return c
}

// Follow follows the article feed on client (which must carry a key with
// internal:feed) until ctx ends, reopening it with backoff when it breaks.
func (c *ReadCache) Follow(ctx context.Context, client articlev1.ArticleServiceClient, log *slog.Logger) {
	wait := 100 * time.Millisecond
	for ctx.Err() == nil {
		opened, err := c.follow(ctx, client)
		if ctx.Err() != nil {
			return
		}
		if opened {
			wait = 100 * time.Millisecond
		}
		log.WarnContext(ctx, "article feed closed; the read cache is off until it reopens", "err", err, "retry_in", wait)
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		wait = min(2*wait, 5*time.Second)
	}
}

// follow opens the feed once and applies it until it breaks; it reports
// whether the feed was open.
func (c *ReadCache) follow(ctx context.Context, client articlev1.ArticleServiceClient) (bool, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer c.setLive(false)
	stream, err := client.WatchArticles(ctx, &articlev1.WatchArticlesRequest{FromHead: true})
	if err != nil {
		return false, err
	}
	// The header comes once the service has taken its head: every change
	// committed from then on will follow, so the cache may open.
	md, err := stream.Header()
	if err != nil {
		return false, err
	}
	if _, ok := grpcx.FeedHead(md); !ok {
		// Not an article service that starts at the head: it would replay
		// the whole feed, and could not say when it is following.
		return false, errors.New("the article service did not send the feed head (buzhou-feed-head); is it older than the gateway?")
	}
	c.setLive(true)
	for {
		ch, err := stream.Recv()
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = errors.New("the article service ended the feed")
			}
			return true, err
		}
		rev := ch.GetArticle().GetRevision()
		if ch.GetKind() == articlev1.ChangeKind_CHANGE_KIND_TOMBSTONE {
			rev = gone
		}
		c.changed(ch.GetArticleId(), rev)
	}
}

// setLive opens or closes the cache; either way it starts empty.
func (c *ReadCache) setLive(live bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.live = live
	c.dropAll()
}

// dropAll forgets every entry; c.mu is held.
func (c *ReadCache) dropAll() {
	c.gen++
	c.entries.Clear()
	clear(c.newest)
	c.dropSearches()
}

// dropSearches forgets the search answers; c.mu is held. They are not kept
// by article, so any change that must show at once drops them all.
func (c *ReadCache) dropSearches() {
	c.searchGen++
	if c.searches != nil {
		c.searches.Clear()
	}
	c.pages.Clear()
}

// pageTTL bounds how long a page is kept: what it shows that moves no
// article revision (a repeated problem report) shows within it.
const pageTTL = 5 * time.Second

// Page returns the page kept under key with its headers, and the
// generation a fill should be kept under; open is false when nothing may be
// kept (no cache, or the feed is not open).
func (c *ReadCache) Page(key string) (header http.Header, body []byte, gen uint64, open bool) {
	if c == nil {
		return nil, nil, 0, false
	}
	e, gen, open := c.lookupSearchIn(c.pages, key)
	if e == nil {
		return nil, nil, gen, open
	}
	return e.header, e.body, gen, open
}

// KeepPage keeps a page made since gen under key, unless anything changed
// since; header is what the page's answer sets besides the body's own.
func (c *ReadCache) KeepPage(key string, gen uint64, header http.Header, body []byte) {
	if c == nil || len(key) > maxCacheKey {
		return
	}
	c.keepSearchIn(c.pages, key, gen, &cachedRead{code: http.StatusOK, header: header, body: body})
}

// changed records that article id is now at revision rev (gone when archived).
func (c *ReadCache) changed(id string, rev int32) {
	if id == "" {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if rev > c.newest[id] {
		c.newest[id] = rev
	}
	// Any change may move any result list.
	c.dropSearches()
}

// Reset drops every entry, for writes whose answer does not say which
// article they changed.
func (c *ReadCache) Reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.dropAll()
	// newest is cleared with the entries: nothing is left it could refuse.
}

// lookup returns the kept answer under key if it is still the newest
// revision, and the generation a fill should be kept under (ok false when
// the cache is closed).
func (c *ReadCache) lookup(key string) (e *cachedRead, gen uint64, open bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.live {
		return nil, 0, false
	}
	if e, ok := c.entries.Get(key); ok {
		if n, seen := c.newest[e.articleID]; !seen || e.revision >= n {
			return e, c.gen, true
		}
		c.entries.Delete(key)
	}
	return nil, c.gen, true
}

// keep stores e under key unless something newer was reported since the
// fill started (under gen).
func (c *ReadCache) keep(key string, gen uint64, e *cachedRead) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.live || c.gen != gen || e.revision < c.newest[e.articleID] {
		return
	}
	c.entries.Put(key, e)
}

// lookupSearch is lookup for search answers.
func (c *ReadCache) lookupSearch(key string) (e *cachedRead, gen uint64, open bool) {
	return c.lookupSearchIn(c.searches, key)
}

// keepSearch is keep for search answers.
func (c *ReadCache) keepSearch(key string, gen uint64, e *cachedRead) {
	c.keepSearchIn(c.searches, key, gen, e)
}

// lookupSearchIn and keepSearchIn are lookup and keep for the answers
// dropped on any change (searches, pages), kept in in.
func (c *ReadCache) lookupSearchIn(in *lru.Cache[string, *cachedRead], key string) (e *cachedRead, gen uint64, open bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.live {
		return nil, 0, false
	}
	e, _ = in.Get(key)
	return e, c.searchGen, true
}

func (c *ReadCache) keepSearchIn(in *lru.Cache[string, *cachedRead], key string, gen uint64, e *cachedRead) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.live && c.searchGen == gen {
		in.Put(key, e)
	}
}

// Middleware serves article reads (and, with a search ttl, searches and
// resolves) from the cache and tells it of writes. A nil cache only answers
// conditional article reads (If-None-Match).
func (c *ReadCache) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m := articlePath.FindStringSubmatch(r.URL.Path)
		switch {
		case r.Method == http.MethodGet && m != nil:
			c.serveRead(w, r, m[1], next)
		case r.Method == http.MethodGet && c != nil && c.searches != nil && (r.URL.Path == "/api/v1/search" || r.URL.Path == "/api/v1/resolve"):
			c.serveSearch(w, r, next)
		case c != nil && isWrite(r.Method):
			next.ServeHTTP(&writeWatcher{ResponseWriter: w, cache: c}, r)
		default:
			next.ServeHTTP(w, r)
		}
	})
}

func isWrite(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return false
	}
	return true
}

// serveRead answers GET /api/v1/articles/{idOrSlug}.
func (c *ReadCache) serveRead(w http.ResponseWriter, r *http.Request, idOrSlug string, next http.Handler) {
	key := ""
	if c != nil && !hasCredentials(r) && len(r.URL.Path)+len(r.URL.RawQuery) <= maxCacheKey {
		// validURL has checked the query parses; sorted, the same variant
		// asked in another order is the same entry.
		q, _ := url.ParseQuery(r.URL.RawQuery)
		key = idOrSlug + "?" + q.Encode()
	}
	var gen uint64
	if key != "" {
		e, g, open := c.lookup(key)
		switch {
		case e != nil:
			c.metrics.ReadCache(metrics.CacheHit)
			e.serve(w, r)
			return
		case open:
			c.metrics.ReadCache(metrics.CacheMiss)
			gen = g
		default:
			c.metrics.ReadCache(metrics.CacheClosed)
			key = ""
		}
	}
	// The answer is held until it is complete: it may be kept, and a
	// matching If-None-Match turns it into a 304.
	rec := &heldAnswer{header: w.Header(), code: http.StatusOK}
	next.ServeHTTP(rec, r)
	e := rec.entry()
	if e == nil {
		rec.send(w)
		return
	}
	if key != "" {
		c.keep(key, gen, e)
	}
	e.serve(w, r)
}

// serveSearch answers GET /api/v1/search and /api/v1/resolve: from the
// cache for anonymous callers when the same query was answered within the
// ttl, else from the service. Answers kept are 200s, and a resolve's 404
// (nothing good enough: an answer too).
func (c *ReadCache) serveSearch(w http.ResponseWriter, r *http.Request, next http.Handler) {
	if hasCredentials(r) || len(r.URL.Path)+len(r.URL.RawQuery) > maxCacheKey {
		next.ServeHTTP(w, r)
		return
	}
	q, _ := url.ParseQuery(r.URL.RawQuery)
	key := r.URL.Path + "?" + q.Encode()
	e, gen, open := c.lookupSearch(key)
	switch {
	case e != nil:
		c.metrics.ReadCache(metrics.CacheHit)
		e.send(w)
		return
	case !open:
		c.metrics.ReadCache(metrics.CacheClosed)
		next.ServeHTTP(w, r)
		return
	}
	c.metrics.ReadCache(metrics.CacheMiss)
	rec := &heldAnswer{header: w.Header(), code: http.StatusOK}
	next.ServeHTTP(rec, r)
	if rec.code == http.StatusOK || (rec.code == http.StatusNotFound && r.URL.Path == "/api/v1/resolve") {
		c.keepSearch(key, gen, rec.kept())
	}
	rec.send(w)
}

// send writes a kept search answer as it was made.
func (e *cachedRead) send(w http.ResponseWriter) {
	h := w.Header()
	for k, v := range e.header {
		h[k] = v
	}
	w.WriteHeader(e.code)
	_, _ = w.Write(e.body)
}

// serve writes the kept answer, or 304 when the request's If-None-Match
// names it.
func (e *cachedRead) serve(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	for k, v := range e.header {
		h[k] = v
	}
	if etagMatches(r.Header.Values("If-None-Match"), e.etag) {
		h.Del("Content-Type")
		h.Del("Content-Length")
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(e.body)
}

// cachedHeaders are the headers of an article answer that belong to it,
// not to the request.
var cachedHeaders = []string{"Content-Type", "X-Article-Id", "X-Article-Slug", "Etag"}

// heldAnswer holds an answer until it is complete. Headers go to the real
// writer's map at once (they are the same for a 200 and a 304).
type heldAnswer struct {
	header http.Header
	code   int
	wrote  bool
	body   bytes.Buffer
}

func (h *heldAnswer) Header() http.Header { return h.header }

func (h *heldAnswer) WriteHeader(code int) {
	if !h.wrote {
		h.code, h.wrote = code, true
	}
}

func (h *heldAnswer) Write(b []byte) (int, error) {
	h.wrote = true
	return h.body.Write(b)
}

// entry returns the answer as one to keep and serve: a 200 that names its
// article and revision; nil for anything else.
func (h *heldAnswer) entry() *cachedRead {
	if h.code != http.StatusOK {
		return nil
	}
	id, etag := h.header.Get("X-Article-Id"), h.header.Get("Etag")
	rev, ok := etagRevision(etag)
	if id == "" || !ok {
		return nil
	}
	e := h.kept()
	e.articleID, e.revision, e.etag = id, rev, etag
	return e
}

// kept copies the answer's own headers and body.
func (h *heldAnswer) kept() *cachedRead {
	e := &cachedRead{code: h.code, header: http.Header{}, body: bytes.Clone(h.body.Bytes())}
	for _, k := range cachedHeaders {
		if v := h.header.Values(k); len(v) > 0 {
			e.header[k] = v[:len(v):len(v)]
		}
	}
	e.header["Content-Length"] = []string{strconv.Itoa(len(e.body))}
	return e
}

// send writes the held answer as it was made.
func (h *heldAnswer) send(w http.ResponseWriter) {
	w.WriteHeader(h.code)
	_, _ = w.Write(h.body.Bytes())
}

// etagRevision reads the article revision back from an ETag the article
// service made: "3" or "3-markdown-en".
func etagRevision(etag string) (int32, bool) {
	s, ok := strings.CutPrefix(etag, `"`)
	if !ok {
		return 0, false
	}
	end := strings.IndexAny(s, `-"`)
	if end <= 0 {
		return 0, false
	}
	n, err := strconv.ParseInt(s[:end], 10, 32)
	if err != nil || n <= 0 {
		return 0, false
	}
	return int32(n), true
}

// etagMatches reports whether If-None-Match values name etag (the weak
// comparison RFC 9110 prescribes for If-None-Match), or are "*".
func etagMatches(values []string, etag string) bool {
	if etag == "" {
		return false
	}
	want := strings.TrimPrefix(etag, "W/")
	for _, v := range values {
		for _, t := range strings.Split(v, ",") {
			t = strings.TrimSpace(t)
			if t == "*" || strings.TrimPrefix(t, "W/") == want {
				return true
			}
		}
	}
	return false
}

// writeWatcher tells the cache of a successful write when its answer
// starts, before the writer can see it: the revision it made when the
// answer names its article, every entry dropped otherwise. A server error
// may hide a committed write, so it drops everything too.
type writeWatcher struct {
	http.ResponseWriter
	cache  *ReadCache
	header bool
	// unseen: the gateway refused the write before a service saw it.
	unseen bool
}

func (ww *writeWatcher) refusedUnseen() { ww.unseen = true }

func (ww *writeWatcher) WriteHeader(code int) {
	if !ww.header && !ww.unseen {
		ww.header = true
		switch {
		case code >= 200 && code < 300:
			h := ww.Header()
			if rev, ok := etagRevision(h.Get("Etag")); ok && h.Get("X-Article-Id") != "" {
				ww.cache.changed(h.Get("X-Article-Id"), rev)
			} else {
				ww.cache.Reset()
			}
		case code >= 500:
			ww.cache.Reset()
		}
	}
	ww.ResponseWriter.WriteHeader(code)
}

func (ww *writeWatcher) Write(b []byte) (int, error) {
	if !ww.header {
		ww.WriteHeader(http.StatusOK)
	}
	return ww.ResponseWriter.Write(b)
}

func (ww *writeWatcher) Unwrap() http.ResponseWriter { return ww.ResponseWriter }
