package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t
}

// use calls q.Use and fails the test on an error.
func use(t *testing.T, q Quota, key string, daily, monthly int64) QuotaDecision {
	t.Helper()
	d, err := q.Use(context.Background(), key, daily, monthly)
	if err != nil {
		t.Fatalf("Use(%q, %d, %d): %v", key, daily, monthly, err)
	}
	return d
}

func wantQuota(t *testing.T, step string, got, want QuotaDecision) {
	t.Helper()
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("%s: decision (-want +got):\n%s", step, diff)
	}
}

// quotaContract is what every Quota must do.
var quotaContract = []struct {
	name  string
	start time.Time
	run   func(t *testing.T, q Quota, clock *fakeClock)
}{
	{"daily quota resets at UTC midnight", utc("2026-03-14T23:58:00Z"), func(t *testing.T, q Quota, clock *fakeClock) {
		for i := int64(1); i <= 3; i++ {
			wantQuota(t, fmt.Sprintf("call %d", i), use(t, q, "k", 3, 0), QuotaDecision{
				Allowed: true, Limit: 3, Used: i, ResetAt: utc("2026-03-15T00:00:00Z"),
			})
		}
		refused := QuotaDecision{Exceeded: Daily, Limit: 3, Used: 3, ResetAt: utc("2026-03-15T00:00:00Z")}
		wantQuota(t, "call 4", use(t, q, "k", 3, 0), refused)
		clock.Set(utc("2026-03-14T23:59:59.999Z"))
		wantQuota(t, "a moment before midnight", use(t, q, "k", 3, 0), refused)
		clock.Advance(time.Millisecond)
		wantQuota(t, "at midnight", use(t, q, "k", 3, 0), QuotaDecision{
			Allowed: true, Limit: 3, Used: 1, ResetAt: utc("2026-03-16T00:00:00Z"),
		})
	}},
	{"days are UTC days whatever the clock's zone", time.Date(2026, 3, 15, 7, 30, 0, 0, time.FixedZone("CST", 8*3600)), func(t *testing.T, q Quota, _ *fakeClock) {
		// 07:30 on the 15th in Shanghai is 23:30 on the 14th UTC.
		wantQuota(t, "call", use(t, q, "k", 3, 0), QuotaDecision{
			Allowed: true, Limit: 3, Used: 1, ResetAt: utc("2026-03-15T00:00:00Z"),
		})
	}},
	{"monthly quota resets on the first, across a year", utc("2026-12-31T12:00:00Z"), func(t *testing.T, q Quota, clock *fakeClock) {
		for i := int64(1); i <= 2; i++ {
			wantQuota(t, fmt.Sprintf("call %d", i), use(t, q, "k", 0, 2), QuotaDecision{
				Allowed: true, Limit: 2, Used: i, ResetAt: utc("2027-01-01T00:00:00Z"),
			})
		}
		wantQuota(t, "call 3", use(t, q, "k", 0, 2), QuotaDecision{
			Exceeded: Monthly, Limit: 2, Used: 2, ResetAt: utc("2027-01-01T00:00:00Z"),
		})
		clock.Set(utc("2027-01-01T00:00:00Z"))
		wantQuota(t, "new year", use(t, q, "k", 0, 2), QuotaDecision{
			Allowed: true, Limit: 2, Used: 1, ResetAt: utc("2027-02-01T00:00:00Z"),
		})
	}},
	{"calls refused by the daily quota do not count monthly", utc("2026-02-10T10:00:00Z"), func(t *testing.T, q Quota, clock *fakeClock) {
		// One call a day is allowed, two retries a day are refused: the
		// monthly quota of 3 lasts three days, not one and a half.
		for day := range 3 {
			if d := use(t, q, "k", 1, 3); !d.Allowed {
				t.Fatalf("day %d, first call: refused: %+v", day+1, d)
			}
			if day == 2 {
				break
			}
			for range 2 {
				if d := use(t, q, "k", 1, 3); d.Exceeded != Daily {
					t.Fatalf("day %d, retry: got %+v, want refused by the daily quota", day+1, d)
				}
			}
			clock.Advance(24 * time.Hour)
		}
		clock.Advance(24 * time.Hour)
		wantQuota(t, "day 4", use(t, q, "k", 1, 3), QuotaDecision{
			Exceeded: Monthly, Limit: 3, Used: 3, ResetAt: utc("2026-03-01T00:00:00Z"),
		})
	}},
	{"both used up names the monthly quota", utc("2026-02-10T10:00:00Z"), func(t *testing.T, q Quota, _ *fakeClock) {
		use(t, q, "k", 1, 1)
		wantQuota(t, "call 2", use(t, q, "k", 1, 1), QuotaDecision{
			Exceeded: Monthly, Limit: 1, Used: 1, ResetAt: utc("2026-03-01T00:00:00Z"),
		})
	}},
	{"an allowed call describes the quota with fewer calls left", utc("2026-02-10T10:00:00Z"), func(t *testing.T, q Quota, _ *fakeClock) {
		wantQuota(t, "daily tighter", use(t, q, "a", 2, 100), QuotaDecision{
			Allowed: true, Limit: 2, Used: 1, ResetAt: utc("2026-02-11T00:00:00Z"),
		})
		wantQuota(t, "monthly tighter", use(t, q, "b", 100, 2), QuotaDecision{
			Allowed: true, Limit: 2, Used: 1, ResetAt: utc("2026-03-01T00:00:00Z"),
		})
	}},
	{"no quota allows everything", utc("2026-02-10T10:00:00Z"), func(t *testing.T, q Quota, _ *fakeClock) {
		for i := range 50 {
			wantQuota(t, fmt.Sprintf("call %d", i+1), use(t, q, "k", 0, 0), QuotaDecision{Allowed: true})
		}
	}},
	{"keys are independent", utc("2026-02-10T10:00:00Z"), func(t *testing.T, q Quota, _ *fakeClock) {
		use(t, q, "a", 1, 0)
		if d := use(t, q, "a", 1, 0); d.Allowed {
			t.Fatalf("a: second call allowed: %+v", d)
		}
		if d := use(t, q, "b", 1, 0); !d.Allowed {
			t.Fatalf("b: refused: %+v", d)
		}
	}},
	{"negative quotas are errors", utc("2026-02-10T10:00:00Z"), func(t *testing.T, q Quota, _ *fakeClock) {
		for _, c := range [][2]int64{{-1, 0}, {0, -1}} {
			if _, err := q.Use(context.Background(), "k", c[0], c[1]); !errors.Is(err, ErrBadQuota) {
				t.Errorf("quotas %v: got %v, want ErrBadQuota", c, err)
			}
		}
	}},
	{"concurrent callers never exceed the quota", utc("2026-02-10T10:00:00Z"), func(t *testing.T, q Quota, _ *fakeClock) {
		const quota, workers, calls = 50, 20, 5
		var allowed atomic.Int64
		var wg sync.WaitGroup
		errs := make(chan error, workers)
		for range workers {
			wg.Go(func() {
				for range calls {
					d, err := q.Use(context.Background(), "k", quota, 1000)
					if err != nil {
						errs <- err
						return
					}
					if d.Allowed {
						allowed.Add(1)
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		if got := allowed.Load(); got != quota {
			t.Fatalf("%d of %d calls allowed, want exactly %d", got, workers*calls, quota)
		}
	}},
}

func TestQuotaContract(t *testing.T) {
	t.Parallel()
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			b.available(t)
			for _, tc := range quotaContract {
				t.Run(tc.name, func(t *testing.T) {
					t.Parallel()
					clock := newClock(tc.start)
					tc.run(t, b.quota(t, clock.Now), clock)
				})
			}
		})
	}
}

func TestMemoryQuotaForgetsOldCounts(t *testing.T) {
	t.Parallel()
	clock := newClock(utc("2026-02-10T10:00:00Z"))
	q := NewMemoryQuota(clock.Now)
	use(t, q, "daily-only", 5, 0)
	use(t, q, "monthly", 0, 5)
	clock.Advance(24 * time.Hour)
	use(t, q, "other", 5, 0) // sweeps: yesterday's daily count is irrelevant now
	q.mu.Lock()
	_, daily := q.counts["daily-only"]
	_, monthly := q.counts["monthly"]
	q.mu.Unlock()
	if daily || !monthly {
		t.Fatalf("after a day: daily-only kept = %v (want false), monthly kept = %v (want true)", daily, monthly)
	}
}

func TestRedisQuotaCountersExpire(t *testing.T) {
	t.Parallel()
	c := testRedis(t)
	prefix := testPrefix(t, c)
	q := NewRedisQuota(c, prefix, newClock(utc("2026-02-10T23:00:00Z")).Now)
	use(t, q, "k", 5, 5)
	for key, most := range map[string]time.Duration{
		prefix + "{k}:d:2026-02-10": time.Hour + quotaGrace,
		prefix + "{k}:m:2026-02":    18*24*time.Hour + time.Hour + quotaGrace,
	} {
		ttl, err := c.PTTL(context.Background(), key).Result()
		if err != nil {
			t.Fatal(err)
		}
		if ttl <= 0 || ttl > most {
			t.Errorf("PTTL %s = %v, want in (0, %v]", key, ttl, most)
		}
	}
}

func TestQuotaMessageAndHeaders(t *testing.T) {
	t.Parallel()
	now := utc("2026-03-14T23:00:00.5Z")
	tests := []struct {
		name           string
		d              QuotaDecision
		wantMessage    string
		wantRetryAfter string
	}{
		{
			name:           "daily used up",
			d:              QuotaDecision{Exceeded: Daily, Limit: 1000, Used: 1000, ResetAt: utc("2026-03-15T00:00:00Z")},
			wantMessage:    "the daily quota of 1000 calls for this key is used up; it resets at 2026-03-15T00:00:00Z",
			wantRetryAfter: "3600",
		},
		{
			name:           "monthly used up",
			d:              QuotaDecision{Exceeded: Monthly, Limit: 5, Used: 5, ResetAt: utc("2026-04-01T00:00:00Z")},
			wantMessage:    "the monthly quota of 5 calls for this key is used up; it resets at 2026-04-01T00:00:00Z",
			wantRetryAfter: "1472400",
		},
		{
			name:           "reset already passed still says retry in a second",
			d:              QuotaDecision{Exceeded: Daily, Limit: 1, Used: 1, ResetAt: utc("2026-03-14T00:00:00Z")},
			wantMessage:    "the daily quota of 1 calls for this key is used up; it resets at 2026-03-14T00:00:00Z",
			wantRetryAfter: "1",
		},
		{
			name: "allowed",
			d:    QuotaDecision{Allowed: true, Limit: 5, Used: 1, ResetAt: utc("2026-03-15T00:00:00Z")},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := tc.d.Message(); got != tc.wantMessage {
				t.Errorf("Message() = %q, want %q", got, tc.wantMessage)
			}
			h := http.Header{}
			WriteQuotaHeaders(h, tc.d, now)
			if got := h.Get("Retry-After"); got != tc.wantRetryAfter {
				t.Errorf("Retry-After = %q, want %q", got, tc.wantRetryAfter)
			}
		})
	}
}
