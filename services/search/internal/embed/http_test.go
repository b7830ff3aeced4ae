package embed_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"buzhou.dev/platform/errs"
	"buzhou.dev/search/internal/embed"
	"buzhou.dev/search/internal/embed/embedtest"
)

// server speaks the OpenAI embeddings wire format, embedding with the
// hashing embedder; its knobs make it misbehave the ways real ones do.
type server struct {
	mu        sync.Mutex
	dim       int    // dimension answered
	key       string // required bearer key, "" for none
	fail429   int    // answer 429 this many times first
	fail500   int    // then 500 this many times
	requests  int
	maxBatch  int
	lastModel string
}

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests++
	if r.URL.Path != "/v1/embeddings" || r.Method != http.MethodPost {
		http.Error(w, `{"error":{"message":"no such route"}}`, http.StatusNotFound)
		return
	}
	if s.key != "" && r.Header.Get("Authorization") != "Bearer "+s.key {
		w.WriteHeader(http.StatusUnauthorized)
		w.Write([]byte(`{"error":{"message":"Incorrect API key provided"}}`))
		return
	}
	if s.fail429 > 0 {
		s.fail429--
		w.Header().Set("Retry-After", "0")
		w.WriteHeader(http.StatusTooManyRequests)
		w.Write([]byte(`{"error":{"message":"Rate limit reached"}}`))
		return
	}
	if s.fail500 > 0 {
		s.fail500--
		w.WriteHeader(http.StatusBadGateway)
		return
	}
	var req struct {
		Model string   `json:"model"`
		Input []string `json:"input"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		http.Error(w, `{"error":{"message":"bad json"}}`, http.StatusBadRequest)
		return
	}
	s.lastModel = req.Model
	s.maxBatch = max(s.maxBatch, len(req.Input))
	vs, _ := embed.NewHashing(s.dim).Embed(r.Context(), req.Input)
	type item struct {
		Object    string    `json:"object"`
		Embedding []float32 `json:"embedding"`
		Index     int       `json:"index"`
	}
	var data []item
	for i := len(vs) - 1; i >= 0; i-- { // out of order on purpose
		data = append(data, item{"embedding", vs[i], i})
	}
	json.NewEncoder(w).Encode(map[string]any{"object": "list", "data": data, "model": req.Model})
}

func start(t *testing.T, s *server) string {
	t.Helper()
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	return ts.URL
}

func quick(url string) embed.HTTPConfig {
	return embed.HTTPConfig{URL: url, Model: "test-embed", Batch: 32, Backoff: time.Millisecond, Timeout: 5 * time.Second}
}

func TestHTTPContract(t *testing.T) {
	t.Parallel()
	s := &server{dim: 64}
	e, err := embed.NewHTTP(context.Background(), quick(start(t, s)))
	if err != nil {
		t.Fatal(err)
	}
	embedtest.Run(t, e, true)
	if s.maxBatch > 32 {
		t.Errorf("a request carried %d texts, the batch is 32", s.maxBatch)
	}
	if s.lastModel != "test-embed" || e.Model() != "test-embed" || e.Dim() != 64 {
		t.Errorf("model sent %q, Model() %q, Dim() %d", s.lastModel, e.Model(), e.Dim())
	}
}

func TestHTTPRetries(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		s       *server
		retries int
		wantErr bool
		wantReq int
	}{
		{"429 then success", &server{dim: 16, fail429: 3}, 5, false, 4},
		{"502 then success", &server{dim: 16, fail500: 2}, 5, false, 3},
		{"429 more often than retries", &server{dim: 16, fail429: 10}, 2, true, 3},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			cfg := quick(start(t, c.s))
			cfg.Retries = c.retries
			_, err := embed.NewHTTP(context.Background(), cfg)
			if (err != nil) != c.wantErr {
				t.Fatalf("NewHTTP error = %v, want error %v", err, c.wantErr)
			}
			if c.s.requests != c.wantReq {
				t.Errorf("%d requests, want %d", c.s.requests, c.wantReq)
			}
		})
	}
}

func TestHTTPStartupErrors(t *testing.T) {
	t.Parallel()
	dead := httptest.NewServer(http.NotFoundHandler())
	deadURL := dead.URL
	dead.Close()
	cases := []struct {
		name string
		cfg  func() embed.HTTPConfig
		want []string
	}{
		{"unreachable", func() embed.HTTPConfig { c := quick(deadURL); c.Retries = 1; return c }, []string{"does not work", "EMBEDDINGS_URL"}},
		{"dimension mismatch", func() embed.HTTPConfig {
			c := quick(start(t, &server{dim: 16}))
			c.Dim = 384
			return c
		}, []string{"answers 16 dimensions, expected 384", "EMBEDDINGS_DIMENSIONS"}},
		{"wrong key is not retried", func() embed.HTTPConfig {
			c := quick(start(t, &server{dim: 16, key: "right"}))
			c.APIKey = "wrong"
			return c
		}, []string{"HTTP 401", "Incorrect API key", "EMBEDDINGS_API_KEY"}},
		{"not a URL", func() embed.HTTPConfig { return quick("ftp://example") }, []string{"not an http(s) URL"}},
		{"no model", func() embed.HTTPConfig { c := quick("http://127.0.0.1:1"); c.Model = ""; return c }, []string{"EMBEDDINGS_MODEL is not set"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			_, err := embed.NewHTTP(context.Background(), c.cfg())
			if err == nil {
				t.Fatal("NewHTTP succeeded")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestHTTPDimensionChangeLater(t *testing.T) {
	t.Parallel()
	s := &server{dim: 32}
	e, err := embed.NewHTTP(context.Background(), quick(start(t, s)))
	if err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	s.dim = 48 // the operator swapped the model behind the same name
	s.mu.Unlock()
	_, err = e.Embed(context.Background(), []string{"x"})
	if !errors.Is(err, errs.ErrFailedPrecondition) || !strings.Contains(err.Error(), "48 dimensions, expected 32") {
		t.Fatalf("Embed after a dimension change: %v", err)
	}
}

func TestHTTPURLForms(t *testing.T) {
	t.Parallel()
	s := &server{dim: 8}
	base := start(t, s)
	for _, u := range []string{base, base + "/", base + "/v1", base + "/v1/", base + "/v1/embeddings"} {
		t.Run(u, func(t *testing.T) {
			t.Parallel()
			if _, err := embed.NewHTTP(context.Background(), quick(u)); err != nil {
				t.Errorf("NewHTTP(%s): %v", u, err)
			}
		})
	}
}
