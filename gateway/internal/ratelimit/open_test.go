package ratelimit

import (
	"context"
	"os"
	"strings"
	"testing"
)

func TestOpen(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		url     string
		wantErr string // "" for success
	}{
		{"empty is memory", "", ""},
		{"not a URL", "redis://:s3cret@host:port:x/\x7f", "REDIS_URL is not a URL"},
		{"wrong scheme", "http://:s3cret@127.0.0.1:6379/0", "invalid URL scheme"},
		{"bad database", "redis://:s3cret@127.0.0.1:6379/x", "invalid database number"},
		{"unreachable", "redis://:s3cret@127.0.0.1:1/0", "cannot reach Redis"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			l, q, c, err := Open(context.Background(), Config{RedisURL: tc.url})
			if tc.wantErr != "" {
				if err == nil {
					_ = c.Close()
					t.Fatalf("Open(%q): no error", tc.url)
				}
				msg := err.Error()
				if !strings.Contains(msg, "REDIS_URL") || !strings.Contains(msg, tc.wantErr) {
					t.Errorf("error %q should name REDIS_URL and say %q", msg, tc.wantErr)
				}
				if strings.Contains(msg, "s3cret") {
					t.Errorf("error %q shows the password", msg)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if _, ok := l.(*Memory); !ok {
				t.Errorf("limiter is %T, want *Memory", l)
			}
			if _, ok := q.(*MemoryQuota); !ok {
				t.Errorf("quota is %T, want *MemoryQuota", q)
			}
		})
	}
}

func TestOpenRedis(t *testing.T) {
	t.Parallel()
	testRedis(t) // skips without BUZHOU_TEST_REDIS_URL
	l, q, c, err := Open(context.Background(), Config{RedisURL: os.Getenv(redisEnv)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, ok := l.(*Redis); !ok {
		t.Errorf("limiter is %T, want *Redis", l)
	}
	if _, ok := q.(*RedisQuota); !ok {
		t.Errorf("quota is %T, want *RedisQuota", q)
	}
}
