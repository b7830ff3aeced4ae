package ratelimit

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"
)

// benchKeys is how many callers the benchmarks spread calls over.
const benchKeys = 1024

func benchmarkAllow(b *testing.B, l Limiter) {
	keys := make([]string, benchKeys)
	for i := range keys {
		keys[i] = "ip:198.51." + strconv.Itoa(i/256) + "." + strconv.Itoa(i%256)
	}
	var next atomic.Uint64
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			k := keys[next.Add(1)%benchKeys]
			if _, err := l.Allow(ctx, k, Limit{PerMinute: 1000}); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func BenchmarkMemoryAllow(b *testing.B) {
	benchmarkAllow(b, NewMemory(nil))
}

func BenchmarkRedisAllow(b *testing.B) {
	c := testRedis(b)
	benchmarkAllow(b, NewRedis(c, testPrefix(b, c), nil))
}
