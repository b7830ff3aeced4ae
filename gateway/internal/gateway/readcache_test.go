package gateway

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"
)

func TestETagRevision(t *testing.T) {
	t.Parallel()
	cases := []struct {
		etag string
		want int32
		ok   bool
	}{
		{`"3"`, 3, true},
		{`"12-markdown-zh"`, 12, true},
		{`3`, 0, false},
		{`W/"3"`, 0, false},
		{`"0"`, 0, false},
		{`"-1"`, 0, false},
		{`"x"`, 0, false},
		{`"99999999999"`, 0, false},
		{`""`, 0, false},
		{``, 0, false},
	}
	for _, tc := range cases {
		if got, ok := etagRevision(tc.etag); got != tc.want || ok != tc.ok {
			t.Errorf("etagRevision(%q) = %d, %t; want %d, %t", tc.etag, got, ok, tc.want, tc.ok)
		}
	}
}

func TestETagMatches(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		values []string
		want   bool
	}{
		{"none", nil, false},
		{"same", []string{`"3"`}, true},
		{"weak", []string{`W/"3"`}, true},
		{"list", []string{`"1", "3"`}, true},
		{"second header", []string{`"1"`, `"3"`}, true},
		{"any", []string{`*`}, true},
		{"other", []string{`"4"`, `"3-markdown-en"`}, false},
		{"unquoted", []string{`3`}, false},
	}
	for _, tc := range cases {
		if got := etagMatches(tc.values, `"3"`); got != tc.want {
			t.Errorf("%s: etagMatches(%q) = %t", tc.name, tc.values, got)
		}
	}
	if etagMatches([]string{"*"}, "") {
		t.Error("an answer without ETag matched *")
	}
}

func entryAt(rev int32) *cachedRead {
	return &cachedRead{articleID: "art_1", revision: rev, etag: strconv.Quote(strconv.Itoa(int(rev))), body: []byte("x")}
}

// TestReadCacheRevisions plays the races between a fill (a read that asks
// the service, then keeps the answer) and the writes and feed events that
// land while it is on its way.
func TestReadCacheRevisions(t *testing.T) {
	t.Parallel()
	c := NewReadCache(1<<20, 0, nil)
	if e, _, open := c.lookup("k"); e != nil || open {
		t.Fatal("the cache is open before the feed")
	}
	c.keep("k", 0, entryAt(1))
	c.setLive(true)
	if e, _, _ := c.lookup("k"); e != nil {
		t.Fatal("kept an answer while closed")
	}

	_, gen, open := c.lookup("k")
	if !open {
		t.Fatal("closed after the feed opened")
	}
	c.changed("art_1", 6) // a write acknowledged while the fill was on its way
	c.keep("k", gen, entryAt(5))
	if e, _, _ := c.lookup("k"); e != nil {
		t.Fatal("kept revision 5 after revision 6 was reported")
	}
	c.keep("k", gen, entryAt(6))
	if e, _, _ := c.lookup("k"); e == nil || e.revision != 6 {
		t.Fatalf("revision 6 not kept: %v", e)
	}
	c.changed("art_1", 5) // a late, older report changes nothing
	if e, _, _ := c.lookup("k"); e == nil {
		t.Fatal("an older report dropped the newest revision")
	}
	c.changed("art_1", 7)
	if e, _, _ := c.lookup("k"); e != nil {
		t.Fatal("served revision 6 after revision 7 was reported")
	}

	_, gen, _ = c.lookup("k")
	c.Reset() // a write whose answer names no article
	c.keep("k", gen, entryAt(8))
	if e, _, _ := c.lookup("k"); e != nil {
		t.Fatal("kept a fill started before a reset")
	}

	_, gen, _ = c.lookup("k")
	c.keep("k", gen, entryAt(8))
	c.changed("art_1", gone)
	if e, _, _ := c.lookup("k"); e != nil {
		t.Fatal("served an archived article")
	}

	_, gen, _ = c.lookup("other")
	c.setLive(false) // the feed broke
	c.keep("other", gen, &cachedRead{articleID: "art_2", revision: 1})
	c.setLive(true)
	if e, _, _ := c.lookup("other"); e != nil {
		t.Fatal("kept a fill started before the feed broke")
	}
}

// TestReadCacheMiddleware: anonymous reads are answered once by next and
// then from the cache; keyed reads always reach next; a write's answer
// updates the cache before it is sent.
func TestReadCacheMiddleware(t *testing.T) {
	t.Parallel()
	rev, calls := 1, 0
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls++
		h := w.Header()
		h.Set("X-Article-Id", "art_1")
		h.Set("ETag", strconv.Quote(strconv.Itoa(rev)))
		if r.Method == http.MethodPatch {
			rev++
			h.Set("ETag", strconv.Quote(strconv.Itoa(rev)))
		}
		h.Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"revision":` + strconv.Itoa(rev) + `}`))
	})
	c := NewReadCache(1<<20, 0, nil)
	c.setLive(true)
	h := c.Middleware(next)
	do := func(method string, header ...string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(method, "/api/v1/articles/a-slug", nil)
		for i := 0; i+1 < len(header); i += 2 {
			r.Header.Set(header[i], header[i+1])
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	for range 3 {
		if w := do("GET"); w.Code != 200 || w.Body.String() != `{"revision":1}` || w.Header().Get("Content-Length") != "14" {
			t.Fatalf("GET: %d %q %v", w.Code, w.Body, w.Header())
		}
	}
	if calls != 1 {
		t.Errorf("%d calls for three anonymous reads, want 1", calls)
	}
	do("GET", "Authorization", "Bearer k")
	do("GET", "X-Api-Key", "k")
	if calls != 3 {
		t.Errorf("keyed reads were answered from the cache (%d calls)", calls)
	}
	if w := do("GET", "If-None-Match", `"1"`); w.Code != http.StatusNotModified || w.Body.Len() != 0 {
		t.Errorf("If-None-Match: %d %q", w.Code, w.Body)
	}
	do("PATCH")
	if w := do("GET"); w.Body.String() != `{"revision":2}` {
		t.Errorf("after the write: %q", w.Body)
	}
}

// TestSearchAnswersDropped: kept search answers go with any change the feed
// or a write reports, and with the feed.
func TestSearchAnswersDropped(t *testing.T) {
	t.Parallel()
	c := NewReadCache(1<<20, time.Hour, nil)
	keep := func() {
		t.Helper()
		_, gen, open := c.lookupSearch("q")
		if !open {
			t.Fatal("closed")
		}
		c.keepSearch("q", gen, &cachedRead{code: 200, body: []byte("x")})
		if e, _, _ := c.lookupSearch("q"); e == nil {
			t.Fatal("not kept")
		}
	}
	c.setLive(true)
	keep()
	c.changed("art_1", 3)
	if e, _, _ := c.lookupSearch("q"); e != nil {
		t.Error("an edit left a search answer")
	}
	keep()
	c.changed("art_1", gone)
	if e, _, _ := c.lookupSearch("q"); e != nil {
		t.Error("an archive left a search answer")
	}
	keep()
	_, gen, _ := c.lookupSearch("r")
	c.Reset()
	c.keepSearch("r", gen, &cachedRead{code: 200})
	if e, _, _ := c.lookupSearch("q"); e != nil {
		t.Error("a reset left a search answer")
	}
	if e, _, _ := c.lookupSearch("r"); e != nil {
		t.Error("kept a search answer started before a reset")
	}
	keep()
	c.setLive(false)
	if e, _, open := c.lookupSearch("q"); e != nil || open {
		t.Error("a search answer outlived the feed")
	}
}

// TestPagesDropped: kept pages go with any change, a reset and the feed, and
// a page made across a change is not kept; a nil cache keeps none.
func TestPagesDropped(t *testing.T) {
	t.Parallel()
	c := NewReadCache(1<<20, 0, nil)
	if _, _, _, open := c.Page("p"); open {
		t.Fatal("open before the feed")
	}
	c.setLive(true)
	keep := func() {
		t.Helper()
		_, _, gen, open := c.Page("p")
		if !open {
			t.Fatal("closed")
		}
		c.KeepPage("p", gen, http.Header{"X-Agent-Api-Endpoint": {"/api/v1/articles/a"}}, []byte("<html>"))
		if h, body, _, _ := c.Page("p"); string(body) != "<html>" || h.Get("X-Agent-API-Endpoint") != "/api/v1/articles/a" {
			t.Fatalf("not kept: %q %v", body, h)
		}
	}
	keep()
	c.changed("art_1", 3)
	if _, body, _, _ := c.Page("p"); body != nil {
		t.Error("an edit left a page")
	}
	_, _, gen, _ := c.Page("q")
	c.changed("art_2", 1)
	c.KeepPage("q", gen, nil, []byte("<old>"))
	if _, body, _, _ := c.Page("q"); body != nil {
		t.Error("kept a page made across a change")
	}
	keep()
	c.Reset()
	if _, body, _, _ := c.Page("p"); body != nil {
		t.Error("a reset left a page")
	}
	keep()
	c.setLive(false)
	if _, body, _, open := c.Page("p"); body != nil || open {
		t.Error("a page outlived the feed")
	}
	var none *ReadCache
	none.KeepPage("p", 0, nil, []byte("x"))
	if _, body, _, open := none.Page("p"); body != nil || open {
		t.Error("a nil cache kept a page")
	}
}
