package agents

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// fakeClock is a clock the test moves by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func TestMiddleware(t *testing.T) {
	t.Parallel()
	clock := &fakeClock{t: time.Date(2026, 3, 14, 12, 0, 0, 0, time.UTC)}
	tr := NewTracker(nil, 0, nil)
	tr.now = clock.Now

	mux := http.NewServeMux()
	mux.HandleFunc("GET /ok", func(w http.ResponseWriter, _ *http.Request) {
		clock.Advance(250 * time.Millisecond)
		_, _ = io.WriteString(w, "ok")
	})
	mux.HandleFunc("GET /empty", func(http.ResponseWriter, *http.Request) {
		clock.Advance(10 * time.Millisecond)
	})
	mux.HandleFunc("GET /missing", func(w http.ResponseWriter, _ *http.Request) {
		clock.Advance(5 * time.Millisecond)
		http.Error(w, "no such article", http.StatusNotFound)
	})
	mux.HandleFunc("GET /early-hints", func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusEarlyHints)
		w.WriteHeader(http.StatusTooManyRequests)
	})
	mux.HandleFunc("GET /stream", func(w http.ResponseWriter, _ *http.Request) {
		f, ok := w.(http.Flusher)
		if !ok {
			t.Error("the wrapped writer is no http.Flusher")
			return
		}
		_, _ = io.WriteString(w, "first\n")
		f.Flush()
		_, _ = io.WriteString(w, "second\n")
	})
	srv := httptest.NewServer(Middleware(tr, mux))
	defer srv.Close()

	requests := []struct {
		path, agentID, ua string
		wantStatus        int
	}{
		{"/ok", "", "ClaudeBot/1.0", 200},
		{"/ok", "", "Claude-User/1.0", 200},
		{"/missing", "", "ChatGPT-User/1.0", 404},
		{"/empty", "research-bot", "curl/8.5.0", 200},
		{"/early-hints", "research-bot", "", 429},
		{"/stream", "", "PerplexityBot/1.0", 200},
		{"/ok", "", "curl/8.5.0", 200},               // not an agent
		{"/missing", "bad id!", "python-httpx", 404}, // not an agent either
	}
	for _, rq := range requests {
		req, err := http.NewRequest("GET", srv.URL+rq.path, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("User-Agent", rq.ua)
		if rq.agentID != "" {
			req.Header.Set("X-Agent-Id", rq.agentID)
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != rq.wantStatus {
			t.Errorf("%s: status %d, want %d", rq.path, resp.StatusCode, rq.wantStatus)
		}
		if rq.path == "/stream" && string(body) != "first\nsecond\n" {
			t.Errorf("/stream body %q", body)
		}
	}
	want := []Usage{
		{AgentID: "claude", Calls: 2, TotalLatencyMs: 500},
		{AgentID: "research-bot", Calls: 2, Errors: 1, TotalLatencyMs: 10},
		{AgentID: "chatgpt", Calls: 1, Errors: 1, TotalLatencyMs: 5},
		{AgentID: "perplexity", Calls: 1},
	}
	if diff := cmp.Diff(want, tr.Snapshot()); diff != "" {
		t.Errorf("Snapshot (-want +got):\n%s", diff)
	}
}

func TestMiddlewareCountsAPanicAsAnError(t *testing.T) {
	t.Parallel()
	tr := NewTracker(nil, 0, nil)
	h := Middleware(tr, http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("boom") }))
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("X-Agent-Id", "claude")
	func() {
		defer func() {
			if v := recover(); v != "boom" {
				t.Errorf("recovered %v, want the handler's panic to go on", v)
			}
		}()
		h.ServeHTTP(httptest.NewRecorder(), r)
	}()
	s := tr.Snapshot()
	if len(s) != 1 || s[0].AgentID != "claude" || s[0].Calls != 1 || s[0].Errors != 1 {
		t.Errorf("Snapshot = %+v, want one erroneous call of claude", s)
	}
}

func TestStatusWriterReachesTheConnection(t *testing.T) {
	t.Parallel()
	rec := httptest.NewRecorder()
	sw := &statusWriter{ResponseWriter: rec}
	if err := http.NewResponseController(sw).Flush(); err != nil {
		t.Fatalf("ResponseController.Flush: %v", err)
	}
	if !rec.Flushed || sw.status != http.StatusOK {
		t.Errorf("flushed %v, status %d; want flushed with 200", rec.Flushed, sw.status)
	}
}
