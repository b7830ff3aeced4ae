package stack

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"buzhou.dev/gateway/internal/load"
)

// engines returns the article stores to benchmark: SQLite always, PostgreSQL
// when BUZHOU_TEST_POSTGRES_URL is set (in a fresh schema).
func engines(b *testing.B) map[string]options {
	out := map[string]options{"sqlite": {}}
	base := os.Getenv("BUZHOU_TEST_POSTGRES_URL")
	if base == "" {
		return out
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		b.Fatalf("connect to BUZHOU_TEST_POSTGRES_URL: %v", err)
	}
	schema := fmt.Sprintf("bench_%d", os.Getpid())
	if _, err := conn.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+schema); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		_, _ = conn.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
		conn.Close(context.Background())
	})
	u, err := url.Parse(base)
	if err != nil {
		b.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	out["postgres"] = options{databaseURL: u.String()}
	return out
}

var benchSeq atomic.Int64

func BenchmarkArticleCreate(b *testing.B) {
	for name, o := range engines(b) {
		b.Run(name, func(b *testing.B) {
			s := startStack(b, o)
			c := newClient(b, s, testAdminKey)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					r := c.do("POST", "/api/v1/articles", article(fmt.Sprintf("Bench create %d", benchSeq.Add(1))))
					if r.status != http.StatusCreated {
						b.Errorf("create: %d %s", r.status, r.body)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "creates/s")
		})
	}
}

func BenchmarkArticleGet(b *testing.B) {
	for name, o := range engines(b) {
		b.Run(name, func(b *testing.B) {
			s := startStack(b, o)
			c := newClient(b, s, testAdminKey)
			a := article(fmt.Sprintf("Bench get %d", benchSeq.Add(1)))
			a["status"] = "published"
			slug := must(b, c.do("POST", "/api/v1/articles", a), http.StatusCreated).json(b)["slug"].(string)
			anon := newClient(b, s, "")
			var mu sync.Mutex
			var all load.Histogram
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				var h load.Histogram
				defer func() { mu.Lock(); all.Merge(&h); mu.Unlock() }()
				for pb.Next() {
					start := time.Now()
					if r := anon.do("GET", "/api/v1/articles/"+slug, nil); r.status != http.StatusOK {
						b.Errorf("get: %d %s", r.status, r.body)
						return
					}
					h.Record(time.Since(start))
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "gets/s")
			b.ReportMetric(ms(all.Percentile(50)), "ms-p50")
			b.ReportMetric(ms(all.Percentile(99)), "ms-p99")
		})
	}
}
