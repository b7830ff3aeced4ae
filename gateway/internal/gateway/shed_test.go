package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"buzhou.dev/platform/auth"
	"buzhou.dev/platform/errs"
	"buzhou.dev/platform/grpcx"
	"buzhou.dev/platform/metrics"
	"buzhou.dev/platform/metrics/metricstest"
	"buzhou.dev/platform/shed"
	searchv1 "buzhou.dev/proto/gen/buzhou/search/v1"
)

func TestClassOf(t *testing.T) {
	t.Parallel()
	cases := []struct {
		method, path string
		want         RouteClass
	}{
		{"GET", "/api/v1/articles/a-slug", ClassRead},
		{"GET", "/api/v1/articles", ClassRead},
		{"GET", "/api/v1/articles/a-slug/verifications", ClassRead},
		{"GET", "/api/v1/search", ClassSearch},
		{"GET", "/api/v1/search/status", ClassSearch},
		{"GET", "/api/v1/resolve", ClassSearch},
		{"GET", "/api/v1/articles/a-slug/related", ClassSearch},
		{"POST", "/api/v1/articles", ClassWrite},
		{"PATCH", "/api/v1/articles/art_1", ClassWrite},
		{"DELETE", "/api/v1/keys/k", ClassWrite},
	}
	for _, tc := range cases {
		if got := classOf(httptest.NewRequest(tc.method, tc.path, nil)); got != tc.want {
			t.Errorf("%s %s: %v, want %v", tc.method, tc.path, got, tc.want)
		}
	}
}

// TestShedding fills a class's slots and queue with handlers that block,
// and checks that the next request is refused at once with 503, Retry-After
// and the API's error shape; that a waiting request is served when a slot
// frees; that one whose wait ends is refused; and that other classes are
// not affected. Nothing depends on timing but the one short queue wait.
func TestShedding(t *testing.T) {
	t.Parallel()
	reg := metrics.NewRegistry()
	m, err := reg.Part("gateway")
	if err != nil {
		t.Fatal(err)
	}
	entered, release := make(chan string, 10), make(chan struct{})
	blocking := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		entered <- r.URL.Path
		<-release
		w.WriteHeader(http.StatusOK)
	})
	s := NewShedder(ShedConfig{Limits: [routeClasses]shed.Limit{ClassSearch: {Concurrent: 1, Queue: 1}}, QueueWait: time.Hour}, m)
	h := withRequestID(s.Middleware(blocking))
	do := func(path string) <-chan *httptest.ResponseRecorder {
		out := make(chan *httptest.ResponseRecorder, 1)
		go func() {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, httptest.NewRequest("GET", path, nil))
			out <- w
		}()
		return out
	}

	first := do("/api/v1/search")
	<-entered // holds the one slot
	second := do("/api/v1/resolve")
	for s.queued(ClassSearch) < 2 { // waits for its slot
		time.Sleep(time.Millisecond)
	}
	third := <-do("/api/v1/search")
	if third.Code != http.StatusServiceUnavailable || third.Header().Get("Retry-After") != "1" {
		t.Fatalf("over the limit: %d, Retry-After %q", third.Code, third.Header().Get("Retry-After"))
	}
	var body struct {
		Error struct{ Code, Message, RequestID string }
	}
	if err := json.Unmarshal(third.Body.Bytes(), &body); err != nil || body.Error.Code != "UNAVAILABLE" ||
		!strings.Contains(body.Error.Message, "1 at once, 1 waiting") || body.Error.RequestID == "" {
		t.Errorf("refusal body %s (%v)", third.Body, err)
	}
	// Another class has slots of its own (none here: no limit).
	other := do("/api/v1/articles/a-slug")
	<-entered

	release <- struct{}{} // one of the two running handlers ends
	release <- struct{}{}
	if got := <-entered; got != "/api/v1/resolve" {
		t.Errorf("the freed slot went to %s", got)
	}
	close(release)
	for _, c := range []<-chan *httptest.ResponseRecorder{first, second, other} {
		if w := <-c; w.Code != http.StatusOK {
			t.Errorf("a request within the limit: %d %s", w.Code, w.Body)
		}
	}
	if v, _ := metricstest.Serve(t, m.Handler(slog.New(slog.DiscardHandler))).Value("buzhou_shed_total", "class", "search"); v != 1 {
		t.Errorf("buzhou_shed_total{class=search} = %v, want 1", v)
	}

	// A request whose wait ends is refused too.
	hold := make(chan struct{})
	short := NewShedder(ShedConfig{Limits: [routeClasses]shed.Limit{ClassWrite: {Concurrent: 1, Queue: 4}}, QueueWait: time.Millisecond}, nil)
	hs := short.Middleware(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { <-hold }))
	go hs.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("POST", "/api/v1/articles", nil))
	for short.queued(ClassWrite) < 1 {
		time.Sleep(time.Millisecond)
	}
	w := httptest.NewRecorder()
	hs.ServeHTTP(w, httptest.NewRequest("POST", "/api/v1/articles", nil))
	close(hold)
	if w.Code != http.StatusServiceUnavailable || !strings.Contains(w.Body.String(), "no slot came free within 1ms") {
		t.Errorf("after the queue wait: %d %s", w.Code, w.Body)
	}

	if NewShedder(ShedConfig{}, nil) != nil {
		t.Error("a shedder without limits")
	}
}

// blockingSearch is a search service whose Search waits for release.
type blockingSearch struct {
	searchv1.UnimplementedSearchServiceServer
	entered chan struct{}
	release chan struct{}
}

func (b blockingSearch) Search(context.Context, *searchv1.SearchRequest) (*searchv1.SearchResponse, error) {
	b.entered <- struct{}{}
	<-b.release
	return &searchv1.SearchResponse{}, nil
}

// TestServiceShedding: a service that sheds a call (grpcx.Shedding) is
// answered 503 with the Retry-After of its RetryInfo, in the API's error
// shape, with the service's message naming its limit.
func TestServiceShedding(t *testing.T) {
	t.Parallel()
	shedding, err := grpcx.Shedding("search", "1/0", "0", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	srv := grpcx.NewServer(discard, auth.NewGuard(noKeys{}, 0, nil), shedding)
	fake := blockingSearch{entered: make(chan struct{}), release: make(chan struct{})}
	searchv1.RegisterSearchServiceServer(srv.GRPC, fake)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx, lis) }()
	t.Cleanup(func() { cancel(); <-served })
	c := conn(t, lis.Addr().String())
	h, err := New(t.Context(), Config{}, Upstreams{Article: c, Search: c, Verification: c}, discard)
	if err != nil {
		t.Fatal(err)
	}

	first := make(chan int, 1)
	go func() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", "/api/v1/search?q=port", nil))
		first <- w.Code
	}()
	<-fake.entered // holds the service's one read slot
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/api/v1/search?q=port", nil))
	close(fake.release)
	if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") != "1" {
		t.Errorf("a shed call: %d, Retry-After %q; want 503 and 1", w.Code, w.Header().Get("Retry-After"))
	}
	var body struct {
		Error struct{ Code, Message string }
	}
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || body.Error.Code != "UNAVAILABLE" ||
		!strings.Contains(body.Error.Message, "BUZHOU_SEARCH_SHED_READ") || !strings.Contains(body.Error.Message, "1 at once, 0 waiting") {
		t.Errorf("refusal body %s (%v)", w.Body, err)
	}
	if code := <-first; code != http.StatusOK {
		t.Errorf("the call within the limit: %d", code)
	}
}

// TestShedWriteKeepsReadCache: a write a service shed (UNAVAILABLE with a
// RetryInfo) changed nothing, so the read cache keeps its entries; one that
// failed otherwise (a service unreachable mid-call) may hide a committed
// write, so everything is dropped.
func TestShedWriteKeepsReadCache(t *testing.T) {
	t.Parallel()
	shedErr := errs.ToStatus(t.Context(), discard, "", errs.RetryAfter(fmt.Errorf("%w: the article service is serving as many write requests as it can", errs.ErrUnavailable), shed.RetryAfter))
	cases := []struct {
		name string
		err  error
		kept bool
	}{
		{"shed by the service", shedErr, true},
		{"unreachable", status.Error(codes.Unavailable, "connection reset"), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := NewReadCache(1<<20, 0, nil)
			c.setLive(true)
			_, gen, _ := c.lookup("k")
			c.keep("k", gen, entryAt(1))
			eh := errorHandler(discard)
			h := c.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				eh(r.Context(), nil, nil, w, r, tc.err)
			}))
			w := httptest.NewRecorder()
			h.ServeHTTP(w, httptest.NewRequest("PATCH", "/api/v1/articles/a-slug", nil))
			if w.Code != http.StatusServiceUnavailable {
				t.Errorf("status %d, want 503", w.Code)
			}
			if e, _, _ := c.lookup("k"); (e != nil) != tc.kept {
				t.Errorf("entry kept: %v, want %v", e != nil, tc.kept)
			}
		})
	}
}
