package web

import (
	"bytes"
	"net/http"
	"sync"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"buzhou.dev/gateway/internal/openapi"
)

// mapPages is a PageCache in a map whose generation the test moves.
type mapPages struct {
	mu    sync.Mutex
	gen   uint64
	pages map[string][]byte
	heads map[string]http.Header
}

func (p *mapPages) Page(key string) (http.Header, []byte, uint64, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.heads[key], p.pages[key], p.gen, true
}

func (p *mapPages) KeepPage(key string, gen uint64, header http.Header, body []byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if gen == p.gen {
		p.pages[key], p.heads[key] = body, header
	}
}

// TestKeptPages: an anonymous reader's article page is kept and served
// again without asking the services; a keyed reader's never is, and a page
// made across a change (the generation moved) is not kept.
func TestKeptPages(t *testing.T) {
	t.Parallel()
	a, s, v := fixtures()
	s.err, v.err = nil, nil
	pages := &mapPages{pages: map[string][]byte{}, heads: map[string]http.Header{}}
	site, err := New(Config{Articles: a, Search: s, Verification: v, OpenAPI: openapi.Document(), Pages: pages})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	site.Mount(mux, func(h http.Handler) http.Handler { return h }, http.NotFoundHandler())
	path := "/en/articles/" + fullArticle().GetSlug()

	// A section left out (the verification service down): not kept.
	v.err = status.Error(codes.Unavailable, "down")
	if r := get(t, mux, path); r.Code != http.StatusOK || len(pages.pages) != 0 {
		t.Fatalf("read with a section left out: %d, %d pages kept", r.Code, len(pages.pages))
	}
	v.err = nil

	first := get(t, mux, path)
	if first.Code != http.StatusOK || len(pages.pages) != 1 {
		t.Fatalf("first read: %d, %d pages kept", first.Code, len(pages.pages))
	}
	// The services are down now: only a kept page can answer.
	a.err = status.Error(codes.Unavailable, "down")
	v.err = a.err
	again := get(t, mux, path)
	if again.Code != http.StatusOK || !bytes.Equal(again.Body.Bytes(), first.Body.Bytes()) ||
		again.Header().Get("X-Agent-API-Endpoint") != first.Header().Get("X-Agent-API-Endpoint") || again.Header().Get("ETag") != first.Header().Get("ETag") {
		t.Errorf("second read: %d, same body %v, endpoint %q, etag %q", again.Code, bytes.Equal(again.Body.Bytes(), first.Body.Bytes()),
			again.Header().Get("X-Agent-API-Endpoint"), again.Header().Get("ETag"))
	}
	if keyed := get(t, mux, path, "Authorization", "Bearer bzk_x"); keyed.Code == http.StatusOK {
		t.Errorf("a keyed read was served a kept page")
	}

	// A change while a page is made: the page is not kept.
	a.err, v.err = nil, nil
	pages.mu.Lock()
	clear(pages.pages)
	pages.mu.Unlock()
	a.onGet = func() {
		pages.mu.Lock()
		pages.gen++
		pages.mu.Unlock()
	}
	if r := get(t, mux, path); r.Code != http.StatusOK || len(pages.pages) != 0 {
		t.Errorf("read across a change: %d, %d pages kept", r.Code, len(pages.pages))
	}
}
