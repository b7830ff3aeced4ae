package stack

import (
	"bytes"
	"crypto/rand"
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

			failures := logs.lines("authentication failed")
			if len(failures) != burst {
				t.Errorf("%d failure log lines, want %d:\n%s", len(failures), burst, strings.Join(failures, "\n"))
			}
			for _, l := range failures {
				if !strings.Contains(l, "level=WARN") || !strings.Contains(l, "key_prefix=") {
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
