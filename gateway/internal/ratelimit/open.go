package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"time"

	"github.com/redis/go-redis/v9"
)

// DefaultKeyPrefix starts every key the limiter and quota keep in Redis, so
// they share a database with other uses.
const DefaultKeyPrefix = "buzhou:"

// Config says where limits and quotas live.
type Config struct {
	// RedisURL (REDIS_URL) names the Redis; empty keeps limits in memory.
	RedisURL string
	// KeyPrefix starts every Redis key (DefaultKeyPrefix when empty), so that
	// several installations, or test runs, can share one Redis database.
	KeyPrefix string
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// pingTimeout bounds the start-up check of Redis.
const pingTimeout = 5 * time.Second

// Open returns the limiter and quota the gateway uses: in memory when
// cfg.RedisURL is empty, else in the Redis it names, checked with a PING so
// that a wrong URL fails at start rather than on the first request. The
// closer releases the Redis connections (a no-op in memory).
func Open(ctx context.Context, cfg Config) (Limiter, Quota, io.Closer, error) {
	redisURL, now := cfg.RedisURL, cfg.Now
	if redisURL == "" {
		return NewMemory(now), NewMemoryQuota(now), nopCloser{}, nil
	}
	prefix := cfg.KeyPrefix
	if prefix == "" {
		prefix = DefaultKeyPrefix
	}
	// url.Parse errors quote the whole URL, password included, so say what
	// is wrong without repeating it.
	u, err := url.Parse(redisURL)
	if err != nil {
		return nil, nil, nil, errors.New("REDIS_URL is not a URL; write it like redis://[user:password@]host:6379/0 (rediss:// for TLS)")
	}
	opts, err := redis.ParseURL(redisURL)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("REDIS_URL %s: %w; write it like redis://[user:password@]host:6379/0 (rediss:// for TLS)", u.Redacted(), err)
	}
	client := redis.NewClient(opts)
	pctx, cancel := context.WithTimeout(ctx, pingTimeout)
	defer cancel()
	if err := client.Ping(pctx).Err(); err != nil {
		_ = client.Close()
		return nil, nil, nil, fmt.Errorf("REDIS_URL %s: cannot reach Redis: %w; start Redis there, fix REDIS_URL, or unset it to keep rate limits in memory", u.Redacted(), err)
	}
	return NewRedis(client, prefix+"ratelimit:", now), NewRedisQuota(client, prefix+"quota:", now), client, nil
}

type nopCloser struct{}

func (nopCloser) Close() error { return nil }
