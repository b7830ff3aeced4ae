package gateway

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"buzhou.dev/gateway/internal/ratelimit"
	"buzhou.dev/platform/auth"
	"buzhou.dev/platform/errs"
)

// fakeAuthn knows a fixed set of secrets.
type fakeAuthn map[string]*auth.Principal

func (f fakeAuthn) Authenticate(_ context.Context, secret string) (*auth.Principal, error) {
	if p, ok := f[secret]; ok {
		return p, nil
	}
	return nil, fmt.Errorf("%w: unknown API key", errs.ErrUnauthenticated)
}

// TestRateLimitBeforeQuota: a call the rate limit refuses must not use up
// the daily quota.
func TestRateLimitBeforeQuota(t *testing.T) {
	t.Parallel()
	// The calls run one after the other on this goroutine: a plain
	// variable is clock enough.
	now := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	clientIP, err := ratelimit.NewClientIP(nil)
	if err != nil {
		t.Fatal(err)
	}
	a := &Access{
		Authn:    fakeAuthn{"secret": {ID: "prn_1", KeyID: "key_1", RatePerMinute: 1, DailyQuota: 2}},
		Limiter:  ratelimit.NewMemory(clock),
		Quota:    ratelimit.NewMemoryQuota(clock),
		ClientIP: clientIP,
		// Far from the test's few calls.
		AnonPerMinute: 1000, KeyPerMinute: 1000, FailedAuthPerMinute: 1000,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	h := a.Middleware(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	call := func() (int, string) {
		req := httptest.NewRequest("GET", "/api/v1/articles", nil)
		req.Header.Set("Authorization", "Bearer secret")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code, rec.Body.String()
	}
	steps := []struct {
		advance time.Duration
		want    int
		inBody  string
	}{
		{0, 200, ""},
		{0, 429, "rate limit"},
		{0, 429, "rate limit"},
		// A minute later the bucket has a token again, and the quota one
		// call left: the refused calls did not count.
		{time.Minute, 200, ""},
		{time.Minute, 429, "daily quota"},
	}
	for i, st := range steps {
		now = now.Add(st.advance)
		code, body := call()
		if code != st.want || !strings.Contains(body, st.inBody) {
			t.Fatalf("call %d: %d %s; want %d with %q", i+1, code, body, st.want, st.inBody)
		}
	}
}
