package ratelimit

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// redisEnv names the Redis the tests may use, e.g. redis://127.0.0.1:6379/15.
const redisEnv = "BUZHOU_TEST_REDIS_URL"

// fakeClock is a clock the test moves by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock(t time.Time) *fakeClock { return &fakeClock{t: t} }

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

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// testRedis connects to the test Redis, or skips tb naming the variable that
// enables the Redis tests.
func testRedis(tb testing.TB) *redis.Client {
	tb.Helper()
	u := os.Getenv(redisEnv)
	if u == "" {
		tb.Skip("set " + redisEnv + " (e.g. redis://127.0.0.1:6379/15) to run the Redis rate limit tests")
	}
	opts, err := redis.ParseURL(u)
	if err != nil {
		tb.Fatalf("parse %s: %v", redisEnv, err)
	}
	c := redis.NewClient(opts)
	if err := c.Ping(context.Background()).Err(); err != nil {
		_ = c.Close()
		tb.Fatalf("ping %s: %v", redisEnv, err)
	}
	tb.Cleanup(func() { _ = c.Close() })
	return c
}

// testPrefix returns a key prefix no other test uses and deletes its keys
// when tb ends. It is hex only, so it is safe in a SCAN pattern.
func testPrefix(tb testing.TB, c *redis.Client) string {
	tb.Helper()
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	prefix := "buzhou-test:" + hex.EncodeToString(b) + ":"
	tb.Cleanup(func() {
		ctx := context.Background()
		iter := c.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		var keys []string
		for iter.Next(ctx) {
			keys = append(keys, iter.Val())
		}
		if err := iter.Err(); err != nil {
			tb.Errorf("scan test keys: %v", err)
			return
		}
		if len(keys) > 0 {
			if err := c.Del(ctx, keys...).Err(); err != nil {
				tb.Errorf("delete test keys: %v", err)
			}
		}
	})
	return prefix
}

// backend builds one implementation of the interfaces for a test.
type backend struct {
	name string
	// available skips t when the backend cannot run here.
	available func(t *testing.T)
	limiter   func(t *testing.T, now func() time.Time) Limiter
	quota     func(t *testing.T, now func() time.Time) Quota
}

func backends() []backend {
	return []backend{
		{
			name:      "memory",
			available: func(*testing.T) {},
			limiter:   func(_ *testing.T, now func() time.Time) Limiter { return NewMemory(now) },
			quota:     func(_ *testing.T, now func() time.Time) Quota { return NewMemoryQuota(now) },
		},
		{
			name:      "redis",
			available: func(t *testing.T) { testRedis(t) },
			limiter: func(t *testing.T, now func() time.Time) Limiter {
				c := testRedis(t)
				return NewRedis(c, testPrefix(t, c), now)
			},
			quota: func(t *testing.T, now func() time.Time) Quota {
				c := testRedis(t)
				return NewRedisQuota(c, testPrefix(t, c), now)
			},
		},
	}
}
