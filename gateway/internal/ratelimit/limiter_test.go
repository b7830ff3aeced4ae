package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

var t0 = time.Date(2026, 3, 14, 12, 0, 0, 0, time.UTC)

// allow calls l.Allow and fails the test on an error.
func allow(t *testing.T, l Limiter, key string, perMinute int) Decision {
	t.Helper()
	d, err := l.Allow(context.Background(), key, Limit{PerMinute: perMinute})
	if err != nil {
		t.Fatalf("Allow(%q, %d): %v", key, perMinute, err)
	}
	return d
}

func wantDecision(t *testing.T, step string, got, want Decision) {
	t.Helper()
	if got != want {
		t.Fatalf("%s: got %+v, want %+v", step, got, want)
	}
}

// exhaust takes every token of key and fails unless exactly n were there.
func exhaust(t *testing.T, l Limiter, key string, perMinute, n int) {
	t.Helper()
	for i := range n {
		if d := allow(t, l, key, perMinute); !d.Allowed {
			t.Fatalf("call %d of %d refused: %+v", i+1, n, d)
		}
	}
	if d := allow(t, l, key, perMinute); d.Allowed {
		t.Fatalf("call %d allowed, want the bucket empty: %+v", n+1, d)
	}
}

// limiterContract is what every Limiter must do.
var limiterContract = []struct {
	name string
	run  func(t *testing.T, l Limiter, clock *fakeClock)
}{
	{"burst up to the limit then refuse", func(t *testing.T, l Limiter, _ *fakeClock) {
		for i := 1; i <= 5; i++ {
			wantDecision(t, fmt.Sprintf("call %d", i), allow(t, l, "k", 5), Decision{
				Allowed: true, Limit: 5, Remaining: 5 - i, ResetAfter: time.Duration(i) * 12 * time.Second,
			})
		}
		wantDecision(t, "call 6", allow(t, l, "k", 5), Decision{
			Allowed: false, Limit: 5, Remaining: 0, ResetAfter: time.Minute, RetryAfter: 12 * time.Second,
		})
	}},
	{"refill over time", func(t *testing.T, l Limiter, clock *fakeClock) {
		exhaust(t, l, "k", 60, 60)
		clock.Advance(500 * time.Millisecond)
		wantDecision(t, "after 0.5s", allow(t, l, "k", 60), Decision{
			Allowed: false, Limit: 60, ResetAfter: 59500 * time.Millisecond, RetryAfter: 500 * time.Millisecond,
		})
		clock.Advance(500 * time.Millisecond)
		wantDecision(t, "after 1s", allow(t, l, "k", 60), Decision{
			Allowed: true, Limit: 60, ResetAfter: time.Minute,
		})
		clock.Advance(10 * time.Second)
		exhaust(t, l, "k", 60, 10)
		clock.Advance(2 * time.Minute) // more than a full refill: capacity, not more
		exhaust(t, l, "k", 60, 60)
	}},
	{"rates that do not divide a minute are exact", func(t *testing.T, l Limiter, clock *fakeClock) {
		exhaust(t, l, "k", 7, 7)
		clock.Advance(8571 * time.Millisecond) // a token takes 60s/7 = 8571.43ms
		wantDecision(t, "after 8571ms", allow(t, l, "k", 7), Decision{
			Allowed: false, Limit: 7, ResetAfter: 51429 * time.Millisecond, RetryAfter: time.Millisecond,
		})
		clock.Advance(time.Millisecond)
		if d := allow(t, l, "k", 7); !d.Allowed {
			t.Fatalf("after 8572ms: refused: %+v", d)
		}
	}},
	{"keys are independent", func(t *testing.T, l Limiter, _ *fakeClock) {
		exhaust(t, l, "a", 2, 2)
		wantDecision(t, "other key", allow(t, l, "b", 2), Decision{
			Allowed: true, Limit: 2, Remaining: 1, ResetAfter: 30 * time.Second,
		})
	}},
	{"a lowered limit caps the tokens", func(t *testing.T, l Limiter, _ *fakeClock) {
		allow(t, l, "k", 10)
		wantDecision(t, "limit 3", allow(t, l, "k", 3), Decision{
			Allowed: true, Limit: 3, Remaining: 2, ResetAfter: 20 * time.Second,
		})
	}},
	{"a clock going back mints no tokens", func(t *testing.T, l Limiter, clock *fakeClock) {
		exhaust(t, l, "k", 2, 2)
		clock.Advance(-30 * time.Second) // another replica, behind this one
		if d := allow(t, l, "k", 2); d.Allowed {
			t.Fatalf("clock behind: allowed: %+v", d)
		}
		clock.Advance(30 * time.Second) // back where it was: still nothing accrued
		if d := allow(t, l, "k", 2); d.Allowed {
			t.Fatalf("clock back at start: allowed: %+v", d)
		}
		clock.Advance(30 * time.Second)
		if d := allow(t, l, "k", 2); !d.Allowed || d.Remaining != 0 {
			t.Fatalf("30s later: got %+v, want one token taken", d)
		}
	}},
	{"the largest limit stays exact", func(t *testing.T, l Limiter, clock *fakeClock) {
		wantDecision(t, "first call", allow(t, l, "k", MaxPerMinute), Decision{
			Allowed: true, Limit: MaxPerMinute, Remaining: MaxPerMinute - 1, ResetAfter: time.Millisecond,
		})
		clock.Advance(time.Hour)
		if d := allow(t, l, "k", MaxPerMinute); d.Remaining != MaxPerMinute-1 {
			t.Fatalf("after an hour: got %+v, want a full bucket less one", d)
		}
	}},
	{"bad limits are errors", func(t *testing.T, l Limiter, _ *fakeClock) {
		for _, n := range []int{0, -1, MaxPerMinute + 1} {
			if _, err := l.Allow(context.Background(), "k", Limit{PerMinute: n}); !errors.Is(err, ErrBadLimit) {
				t.Errorf("limit %d: got %v, want ErrBadLimit", n, err)
			}
		}
	}},
	{"concurrent callers never exceed the limit", func(t *testing.T, l Limiter, _ *fakeClock) {
		const limit, workers, calls = 100, 20, 10
		var allowed atomic.Int64
		var wg sync.WaitGroup
		errs := make(chan error, workers)
		for range workers {
			wg.Go(func() {
				for range calls {
					d, err := l.Allow(context.Background(), "k", Limit{PerMinute: limit})
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
		if got := allowed.Load(); got != limit {
			t.Fatalf("%d of %d calls allowed, want exactly %d", got, workers*calls, limit)
		}
	}},
}

func TestLimiterContract(t *testing.T) {
	t.Parallel()
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			b.available(t)
			for _, tc := range limiterContract {
				t.Run(tc.name, func(t *testing.T) {
					t.Parallel()
					clock := newClock(t0)
					tc.run(t, b.limiter(t, clock.Now), clock)
				})
			}
		})
	}
}

func TestMemoryForgetsFullBuckets(t *testing.T) {
	t.Parallel()
	clock := newClock(t0)
	m := NewMemory(clock.Now)
	for i := range 100 {
		allow(t, m, fmt.Sprintf("idle-%d", i), 10) // full again 6s later
	}
	clock.Advance(sweepEvery) // every shard sweeps on its next Allow
	exhaust(t, m, "busy", 10, 10)
	// Touch every shard so that each one sweeps.
	var fresh []string
	touched := map[uint64]bool{}
	for i := 0; len(touched) < memoryShards; i++ {
		k := fmt.Sprintf("new-%d", i)
		fresh = append(fresh, k)
		touched[maphash.String(m.seed, k)%memoryShards] = true
	}
	for _, k := range fresh {
		allow(t, m, k, 10)
	}
	if got, want := m.size(), 1+len(fresh); got != want {
		t.Fatalf("size = %d after sweeping, want %d (idle buckets forgotten, the empty one kept)", got, want)
	}
	if d := allow(t, m, "busy", 10); d.Allowed {
		t.Fatalf("the empty bucket was forgotten: %+v", d)
	}
}

func TestRedisReplicasShareABucket(t *testing.T) {
	t.Parallel()
	c := testRedis(t)
	prefix := testPrefix(t, c)
	clock := newClock(t0)
	a, b := NewRedis(c, prefix, clock.Now), NewRedis(c, prefix, clock.Now)
	for range 3 {
		allow(t, a, "k", 5)
	}
	wantDecision(t, "second replica", allow(t, b, "k", 5), Decision{
		Allowed: true, Limit: 5, Remaining: 1, ResetAfter: 48 * time.Second,
	})
	allow(t, a, "k", 5)
	if d := allow(t, b, "k", 5); d.Allowed {
		t.Fatalf("sixth call across replicas allowed: %+v", d)
	}
}

func TestRedisBucketsExpire(t *testing.T) {
	t.Parallel()
	c := testRedis(t)
	prefix := testPrefix(t, c)
	l := NewRedis(c, prefix, newClock(t0).Now)
	d := allow(t, l, "k", 60)
	ttl, err := c.PTTL(context.Background(), prefix+"k").Result()
	if err != nil {
		t.Fatal(err)
	}
	// Full again after ResetAfter, plus the minute of grace.
	if most := d.ResetAfter + time.Minute; ttl <= 0 || ttl > most {
		t.Fatalf("PTTL = %v, want in (0, %v]", ttl, most)
	}
}
