package cli_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync"
	"testing"
)

// faults stands in front of a real stack: it passes every request through
// and records it with its answer, except the ones a rule picks, which it
// answers itself. It holds the failures a healthy server will not produce
// on demand (a 5xx or 429 for the n-th request, Retry-After) and the
// recording of what the client sent; everything else is the real server's.
type faults struct {
	// URL is where clients reach the stack through the injector.
	URL string

	mu    sync.Mutex
	seen  []exchange
	rules []*rule
}

// exchange is one request the injector saw and the answer it let through.
type exchange struct {
	method, route string // route is "METHOD /path"
	rawPath       string // the path as sent, escapes kept
	query         url.Values
	auth          string // the Authorization header
	body          []byte
	status        int
	answer        []byte
	injected      bool // answered by a rule, never seen by the server
}

// rule answers the requests of one route whose 1-based ordinals among that
// route's requests are in nth.
type rule struct {
	route   string // "METHOD /path", or "" for every request
	nth     map[int]bool
	answer  http.HandlerFunc
	matched int
}

// newFaults starts an injector in front of the stack at target.
func newFaults(t *testing.T, target string) *faults {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	f := &faults{}
	pass := &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) { r.SetURL(u) }}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, "reading the body: "+err.Error(), http.StatusBadRequest)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		ex := exchange{
			method: r.Method, route: r.Method + " " + r.URL.Path, rawPath: r.URL.EscapedPath(),
			query: r.URL.Query(), auth: r.Header.Get("Authorization"), body: body,
		}
		rec := &recorder{ResponseWriter: w, status: http.StatusOK}
		if h := f.pick(ex.route); h != nil {
			ex.injected = true
			h(rec, r)
		} else {
			pass.ServeHTTP(rec, r)
		}
		ex.status, ex.answer = rec.status, rec.body.Bytes()
		f.mu.Lock()
		f.seen = append(f.seen, ex)
		f.mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	f.URL = srv.URL
	return f
}

// answer makes the injector answer the nth requests (1-based, counted per
// route; "" counts every request) of route with h.
func (f *faults) answer(route string, h http.HandlerFunc, nth ...int) {
	r := &rule{route: route, nth: map[int]bool{}, answer: h}
	for _, n := range nth {
		r.nth[n] = true
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rules = append(f.rules, r)
}

// pick returns the answer of the first rule that takes this request, or nil
// to pass it on.
func (f *faults) pick(route string) http.HandlerFunc {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, r := range f.rules {
		if r.route != "" && r.route != route {
			continue
		}
		r.matched++
		if r.nth[r.matched] {
			return r.answer
		}
	}
	return nil
}

// requests returns what the injector saw of route ("" for every route), in
// order.
func (f *faults) requests(route string) []exchange {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []exchange
	for _, ex := range f.seen {
		if route == "" || ex.route == route {
			out = append(out, ex)
		}
	}
	return out
}

// last returns the last request the injector saw of route.
func (f *faults) last(t *testing.T, route string) exchange {
	t.Helper()
	seen := f.requests(route)
	if len(seen) == 0 {
		t.Fatalf("no %s request went through the injector", route)
	}
	return seen[len(seen)-1]
}

// batchSizes lists the articles per batch create request that reached the
// server.
func (f *faults) batchSizes(t *testing.T) []int {
	t.Helper()
	var sizes []int
	for _, ex := range f.requests(routeBatchCreate) {
		if ex.injected {
			continue
		}
		var req struct {
			Articles []json.RawMessage `json:"articles"`
		}
		if err := json.Unmarshal(ex.body, &req); err != nil {
			t.Fatalf("batch create body is not JSON: %v", err)
		}
		sizes = append(sizes, len(req.Articles))
	}
	return sizes
}

// wantPages checks that the client read the list at route in n requests
// for pageSize items each, the first without a page token and every other
// with the token of the answer before it.
func (f *faults) wantPages(t *testing.T, route string, n int, pageSize string) {
	t.Helper()
	calls := f.requests(route)
	if len(calls) != n {
		t.Fatalf("%s requests = %d, want %d", route, len(calls), n)
	}
	next := ""
	for i, c := range calls {
		if got := c.query.Get("pageSize"); got != pageSize {
			t.Errorf("request %d pageSize = %q, want %s", i+1, got, pageSize)
		}
		if got := c.query.Get("pageToken"); got != next {
			t.Errorf("request %d pageToken = %q, want %q (the answer before it gave that)", i+1, got, next)
		}
		var page struct {
			NextPageToken string `json:"nextPageToken"`
		}
		if err := json.Unmarshal(c.answer, &page); err != nil {
			t.Fatalf("answer %d is not a page: %v", i+1, err)
		}
		next = page.NextPageToken
	}
	if next != "" {
		t.Errorf("the last answer has page token %q; the client stopped early", next)
	}
}

// apiError answers with the API's error envelope and the given headers
// (name, value, …); its request id is faultRequestID.
func apiError(status int, code, message string, header ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		for i := 0; i+1 < len(header); i += 2 {
			w.Header().Set(header[i], header[i+1])
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		fmt.Fprintf(w, `{"error":{"code":%q,"message":%q,"requestId":%q}}`, code, message, faultRequestID)
	}
}

// faultRequestID marks the answers the injector made up.
const faultRequestID = "req_injected"

// recorder keeps a copy of the status and body written through it.
type recorder struct {
	http.ResponseWriter
	status int
	body   bytes.Buffer
}

func (r *recorder) WriteHeader(status int) {
	r.status = status
	r.ResponseWriter.WriteHeader(status)
}

func (r *recorder) Write(b []byte) (int, error) {
	r.body.Write(b)
	return r.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection's flusher.
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
