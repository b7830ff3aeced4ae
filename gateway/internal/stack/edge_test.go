package stack

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer collects the stack's log lines; the stack writes from many
// goroutines while the test reads.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// lines returns the log lines containing s.
func (b *syncBuffer) lines(s string) []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	for _, l := range strings.Split(b.buf.String(), "\n") {
		if strings.Contains(l, s) {
			out = append(out, l)
		}
	}
	return out
}

func randomKey(t *testing.T) string {
	t.Helper()
	return "bzk_" + rand.Text()[:26] + rand.Text()[:6]
}

// TestFailedAuthenticationsAreThrottled sends a burst of made-up keys from
// one address: after the limit the answer is 429 with Retry-After instead of
// 401, every failure is logged without its secret, and none of them counts
// as agent usage.
func TestFailedAuthenticationsAreThrottled(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name                      string
		anon, failedAuth, allowed int
	}{
		{"the failed-auth bucket", 1000, 5, 5},
		{"the client address's bucket", 4, 1000, 4},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			logs := &syncBuffer{}
			s := startStack(t, options{anonPerMinute: tc.anon, failedAuthPerMinute: tc.failedAuth, log: logs, usageFlushEvery: 50 * time.Millisecond})
			c := newClient(t, s, "")
			const burst = 12
			var secrets []string
			for i := range burst {
				key := randomKey(t)
				secrets = append(secrets, key)
				headers := []string{"Authorization", "Bearer " + key, "X-Agent-Id", "key-guesser"}
				if i == 0 {
					// A malformed header is a failure too.
					headers = []string{"Authorization", "Token " + key, "X-Agent-Id", "key-guesser"}
				}
				r := c.do("GET", "/api/v1/articles", nil, headers...)
				want := http.StatusUnauthorized
				if i >= tc.allowed {
					want = http.StatusTooManyRequests
				}
				if r.status != want {
					t.Fatalf("failure %d: %d, want %d: %s", i+1, r.status, want, r.body)
				}
				if want == http.StatusTooManyRequests && (r.errorCode(t) != "RESOURCE_EXHAUSTED" || r.header.Get("Retry-After") == "") {
					t.Errorf("throttled failure %d: %v %s", i+1, r.header, r.body)
				}
			}
			// A good key from the same address still works.
			admin := newClient(t, s, testAdminKey)
			must(t, admin.do("GET", "/api/v1/articles", nil), http.StatusOK)

			var failures []string
			for _, l := range logs.lines(`msg="API key refused"`) {
				if strings.Contains(l, "service=gateway") {
					failures = append(failures, l)
				}
			}
			if len(failures) != burst {
				t.Errorf("%d failure log lines, want %d:\n%s", len(failures), burst, strings.Join(failures, "\n"))
			}
			for _, l := range failures {
				if !strings.Contains(l, "level=WARN") || !strings.Contains(l, "prefix=") || !strings.Contains(l, "reason=") {
					t.Errorf("failure log line: %s", l)
				}
				for _, secret := range secrets {
					if strings.Contains(l, secret[:9]) {
						t.Errorf("log line shows more than the prefix of %s: %s", secret, l)
					}
				}
			}

			// The agent tracker never saw the failures: an honest call that
			// follows them reaches the stats, the guesser does not.
			must(t, admin.do("GET", "/api/v1/articles", nil, "X-Agent-Id", "honest-agent"), http.StatusOK)
			deadline := time.Now().Add(10 * time.Second)
			for {
				agents := map[string]bool{}
				for _, a := range must(t, admin.do("GET", "/api/v1/stats", nil), http.StatusOK).json(t)["apiCallsByAgent"].([]any) {
					agents[a.(map[string]any)["agentId"].(string)] = true
				}
				if agents["honest-agent"] {
					if agents["key-guesser"] {
						t.Errorf("failed authentications counted as agent usage: %v", agents)
					}
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("agent usage never reached the stats: %v", agents)
				}
				time.Sleep(50 * time.Millisecond)
			}
		})
	}
}

// TestRevokedKeysAreNoGuesses: a key that was issued and then revoked is
// refused with 401 however often it comes back (it costs only the client
// address's ordinary bucket); guesses still drain the failed-auth bucket.
func TestRevokedKeysAreNoGuesses(t *testing.T) {
	t.Parallel()
	s := startStack(t, options{failedAuthPerMinute: 2})
	admin := newClient(t, s, testAdminKey)
	id, key := createKey(t, admin, map[string]any{"name": "soon revoked", "scopes": []string{"articles:write"}})
	must(t, admin.do("DELETE", "/api/v1/keys/"+id, nil), http.StatusOK)
	revoked := newClient(t, s, key)
	for i := range 5 {
		if r := revoked.do("GET", "/api/v1/articles", nil); r.status != http.StatusUnauthorized || !strings.Contains(string(r.body), "revoked") {
			t.Fatalf("revoked key, call %d: %d %s", i+1, r.status, r.body)
		}
	}
	guesser := newClient(t, s, randomKey(t))
	for i, want := range []int{401, 401, 429} {
		if r := guesser.do("GET", "/api/v1/articles", nil); r.status != want {
			t.Errorf("guess %d: %d, want %d: %s", i+1, r.status, want, r.body)
		}
	}
}

// sendHead writes the head of a request on a fresh loopback connection
// and returns the connection and a reader of what comes back.
func sendHead(t *testing.T, s *Stack, head string) (net.Conn, *bufio.Reader) {
	t.Helper()
	conn, err := net.Dial("tcp", s.HTTPAddr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	// A bound for a broken server, far above any answer's wait: the test
	// never relies on it passing quickly.
	if err := conn.SetDeadline(time.Now().Add(30 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(conn, strings.ReplaceAll(head, "\n", "\r\n")+"\r\n"); err != nil {
		t.Fatal(err)
	}
	return conn, bufio.NewReader(conn)
}

// closedByServer reads what is left on the connection and reports whether
// the server closed it (rather than the test's deadline passing).
func closedByServer(rd *bufio.Reader) error {
	_, err := io.Copy(io.Discard, rd)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return err
	}
	return nil
}

// TestRefusalsDoNotWaitForTheBody: 401 and 429 come before the body, which
// is never sent, and the connection is closed rather than kept waiting for
// the body. The server's read timeout is far beyond the client's patience,
// so an answer that waited for the body never comes.
func TestRefusalsDoNotWaitForTheBody(t *testing.T) {
	t.Parallel()
	s := startStack(t, options{readTimeout: time.Hour, failedAuthPerMinute: 1})
	refusals := []struct {
		name   string
		header string
		want   int
	}{
		{"no key for a write", "", http.StatusUnauthorized},
		{"an unknown key", "Authorization: Bearer " + randomKey(t) + "\n", http.StatusUnauthorized},
		{"throttled after a failure", "Authorization: Bearer " + randomKey(t) + "\n", http.StatusTooManyRequests},
	}
	for _, tc := range refusals {
		// Not parallel: the third case needs the second's failure first.
		t.Run(tc.name, func(t *testing.T) {
			head := "POST /api/v1/articles HTTP/1.1\nHost: buzhou\nContent-Type: application/json\nContent-Length: 100000\n" + tc.header
			_, rd := sendHead(t, s, head)
			resp, err := http.ReadResponse(rd, nil)
			if err != nil {
				t.Fatalf("no answer before the body: %v", err)
			}
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.want || !resp.Close {
				t.Errorf("%d (close %v), want %d and Connection: close: %s", resp.StatusCode, resp.Close, tc.want, body)
			}
			if err := closedByServer(rd); err != nil {
				t.Errorf("the server kept the connection open: %v", err)
			}
		})
	}

}

// TestTrickledBodyLosesItsConnection: a body trickled byte by byte (it would
// take more than an hour) loses its connection at the read timeout.
func TestTrickledBodyLosesItsConnection(t *testing.T) {
	t.Parallel()
	s := startStack(t, options{readTimeout: time.Second})
	head := "POST /api/v1/articles HTTP/1.1\nHost: buzhou\nContent-Type: application/json\nContent-Length: 20000\nAuthorization: Bearer " + testAdminKey + "\n"
	conn, rd := sendHead(t, s, head)
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				if _, err := conn.Write([]byte(" ")); err != nil {
					return
				}
			}
		}
	}()
	if resp, err := http.ReadResponse(rd, nil); err == nil {
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusBadRequest || bytes.Contains(body, []byte("127.0.0.1")) {
			t.Errorf("trickled body: %d %s", resp.StatusCode, body)
		}
	}
	if err := closedByServer(rd); err != nil {
		t.Errorf("a trickled body kept its connection: %v", err)
	}
}

func TestEdgeHeaders(t *testing.T) {
	t.Parallel()
	s := startStack(t, options{maxBody: 1 << 10})
	admin := newClient(t, s, testAdminKey)
	anon := newClient(t, s, "")
	pub := article("Cached article")
	pub["status"] = "published"
	slug := must(t, admin.do("POST", "/api/v1/articles", pub), http.StatusCreated).json(t)["slug"].(string)

	cases := []struct {
		name         string
		c            *client
		method, path string
		body         any
		status       int
		cache        string
	}{
		{"anonymous read", anon, "GET", "/api/v1/articles/" + slug, nil, 200, "no-cache"},
		{"anonymous markdown", anon, "GET", "/api/v1/articles/" + slug + "?format=markdown", nil, 200, "no-cache"},
		{"anonymous list", anon, "GET", "/api/v1/articles", nil, 200, "no-cache"},
		{"keyed read", admin, "GET", "/api/v1/articles/" + slug, nil, 200, "private, no-store"},
		{"keyed list", admin, "GET", "/api/v1/keys", nil, 200, "private, no-store"},
		{"keyed create", admin, "POST", "/api/v1/articles", article("Header create"), 201, "private, no-store"},
		{"keyed error", admin, "GET", "/api/v1/articles/nope", nil, 404, "private, no-store"},
		{"bad key", newClient(t, s, "nope"), "GET", "/api/v1/articles", nil, 401, "private, no-store"},
		{"anonymous error", anon, "GET", "/api/v1/articles/nope", nil, 404, "no-store"},
		{"anonymous write", anon, "POST", "/api/v1/articles", article("x"), 401, "no-store"},
		{"too large", admin, "POST", "/api/v1/articles", strings.Repeat("x", 2<<10), 413, "private, no-store"},
		{"no route", anon, "GET", "/nothing", nil, 404, "no-store"},
		{"healthz", anon, "GET", "/healthz", nil, 200, "no-cache"},
		{"readyz", anon, "GET", "/readyz", nil, 200, "no-cache"},
		{"openapi", anon, "GET", "/openapi.json", nil, 200, "no-cache"},
		{"metrics", anon, "GET", "/metrics", nil, 200, "no-cache"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := *tc.c
			c.tb = t
			r := c.do(tc.method, tc.path, tc.body)
			if r.status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.body)
			}
			if got := r.header.Get("X-Content-Type-Options"); got != "nosniff" {
				t.Errorf("X-Content-Type-Options %q", got)
			}
			if got := r.header.Get("Cache-Control"); got != tc.cache {
				t.Errorf("Cache-Control %q, want %q", got, tc.cache)
			}
			// API answers depend on the key; /metrics has a Vary of its own.
			if v := strings.Join(r.header.Values("Vary"), ", "); strings.HasPrefix(tc.path, "/api/") && (!strings.Contains(v, "Authorization") || !strings.Contains(v, "X-Api-Key")) {
				t.Errorf("Vary %q", v)
			}
		})
	}

	// The document revalidates for free.
	etag := must(t, anon.do("GET", "/openapi.json", nil), http.StatusOK).header.Get("ETag")
	if r := anon.do("GET", "/openapi.json", nil, "If-None-Match", etag); etag == "" || r.status != http.StatusNotModified {
		t.Errorf("If-None-Match %q: %d", etag, r.status)
	}
}

func TestBadInputAtTheEdge(t *testing.T) {
	t.Parallel()
	logs := &syncBuffer{}
	s := startStack(t, options{log: logs})
	admin := newClient(t, s, testAdminKey)
	anon := newClient(t, s, "")
	body, err := json.Marshal(article("Trailing data"))
	if err != nil {
		t.Fatal(err)
	}
	id := must(t, admin.do("POST", "/api/v1/articles", string(body)+" \n\t"), http.StatusCreated).json(t)["id"].(string)

	cases := []struct {
		name         string
		c            *client
		method, path string
		body         any
		wantInMsg    string
	}{
		{"path not UTF-8", anon, "GET", "/api/v1/articles/%ff", nil, "not UTF-8"},
		{"related path not UTF-8", anon, "GET", "/api/v1/articles/a%C3/related", nil, "not UTF-8"},
		{"query not UTF-8", anon, "GET", "/api/v1/articles?pageToken=%ff", nil, "pageToken"},
		{"search query not UTF-8", anon, "GET", "/api/v1/search?q=%ff", nil, "query parameter q is not UTF-8 once percent-decoded; percent-encode the UTF-8 bytes of the text\""},
		{"query name not UTF-8", anon, "GET", "/api/v1/articles?%fe=1", nil, "not UTF-8"},
		{"markdown of a path not UTF-8", anon, "GET", "/api/v1/articles/%ff?format=markdown", nil, "not UTF-8"},
		{"query escape broken", anon, "GET", "/api/v1/articles?pageToken=%zz", nil, "malformed"},
		{"trailing text", admin, "POST", "/api/v1/articles", string(body) + "xyz", "goes on after"},
		{"a second object", admin, "POST", "/api/v1/articles", string(body) + "{}", "goes on after"},
		{"trailing text in a patch", admin, "PATCH", "/api/v1/articles/" + id, `{"tags": ["a"]} ]`, "goes on after"},
		{"trailing text in a batch", admin, "POST", "/api/v1/articles:batchCreate", `{"articles": []}x`, "goes on after"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := *tc.c
			c.tb = t
			r := c.do(tc.method, tc.path, tc.body)
			if r.status != http.StatusBadRequest || r.errorCode(t) != "INVALID_ARGUMENT" || !strings.Contains(string(r.body), tc.wantInMsg) {
				t.Errorf("%d %s; want 400 saying %q", r.status, r.body, tc.wantInMsg)
			}
		})
	}
	t.Run("logged", func(t *testing.T) {
		t.Parallel()
		must(t, newClient(t, s, "").do("GET", "/api/v1/articles/x%ffy", nil), http.StatusBadRequest)
		if l := logs.lines("request URL refused"); len(l) == 0 || !strings.Contains(strings.Join(l, "\n"), `x%ffy`) {
			t.Errorf("no debug line for the refused URL: %v", l)
		}
	})
}

// TestOversizedSmallBodyKeepsItsConnection: a client that sends a whole body
// a little over the limit reads its 413 on a connection that stays, rather
// than losing the answer to a reset while it is still sending; a body too
// large to drain loses its connection after the answer.
func TestOversizedSmallBodyKeepsItsConnection(t *testing.T) {
	t.Parallel()
	s := startStack(t, options{maxBody: 64 << 10})
	for _, tc := range []struct {
		size      int
		wantClose bool
	}{{70 << 10, false}, {300 << 10, true}} {
		conn, rd := sendHead(t, s, fmt.Sprintf("POST /api/v1/articles HTTP/1.1\nHost: buzhou\nContent-Type: application/json\nContent-Length: %d\nAuthorization: Bearer %s\n", tc.size, testAdminKey))
		go func() { _, _ = conn.Write(bytes.Repeat([]byte("x"), tc.size)) }()
		resp, err := http.ReadResponse(rd, nil)
		if err != nil {
			t.Fatalf("%d bytes: no answer: %v", tc.size, err)
		}
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusRequestEntityTooLarge || resp.Close != tc.wantClose {
			t.Errorf("%d bytes: %d (close %v), want 413 (close %v): %s", tc.size, resp.StatusCode, resp.Close, tc.wantClose, body)
		}
	}
}
