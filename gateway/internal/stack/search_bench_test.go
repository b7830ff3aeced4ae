package stack

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"

	"buzhou.dev/search/synth"
)

// BenchmarkSearchREST loads n synthetic articles into a stack and measures,
// over REST: indexing throughput (a reindex: relearning the embedder and
// re-embedding everything), resident memory after it, search and resolve
// latency percentiles, and the cold start of a restart on the same data.
func BenchmarkSearchREST(b *testing.B) {
	// make bench sets BUZHOU_BENCH_SEARCH_SIZES=1000,10000,100000.
	for _, n := range synth.Sizes("BUZHOU_BENCH_SEARCH_SIZES", "1000") {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			dir := b.TempDir()
			s := startStack(b, options{dataDir: dir})
			admin := newClient(b, s, testAdminKey)
			g := synth.New(7)
			for i := 0; i < n; i += 500 {
				var batch []json.RawMessage
				for j := i; j < min(i+500, n); j++ {
					raw, err := protojson.Marshal(g.Article(j))
					if err != nil {
						b.Fatal(err)
					}
					batch = append(batch, raw)
				}
				must(b, admin.do("POST", "/api/v1/articles:batchCreate", map[string]any{"articles": batch}), 200)
			}
			waitStatus(b, admin, func(st map[string]any) bool { return st["indexedArticles"] == fmt.Sprint(n) && st["lag"] == "0" })
			start := time.Now()
			must(b, admin.do("POST", "/api/v1/search:reindex", map[string]any{}), 200)
			waitStatus(b, admin, func(st map[string]any) bool {
				return st["caughtUp"] == true && st["rebuilding"] == false && st["indexedArticles"] == fmt.Sprint(n)
			})
			indexed := time.Since(start)
			runtime.GC()
			rss := residentMiB()
			queries := make([]string, 500)
			for i := range queries {
				queries[i] = g.Query()
			}
			anon := newClient(b, s, testAdminKey) // not rate limited
			pooled := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
			for _, route := range []string{"search", "resolve"} {
				b.Run(route, func(b *testing.B) {
					var lat []time.Duration
					i := 0
					for b.Loop() {
						t := time.Now()
						r := anon.do("GET", "/api/v1/"+route+"?q="+url.QueryEscape(queries[i%len(queries)]), nil)
						lat = append(lat, time.Since(t))
						if r.status != http.StatusOK && r.status != http.StatusNotFound {
							b.Fatalf("%s: %d %s", route, r.status, r.body)
						}
						i++
					}
					slices.Sort(lat)
					b.ReportMetric(ms(lat[len(lat)/2]), "ms-p50")
					b.ReportMetric(ms(lat[min(len(lat)-1, len(lat)*99/100)]), "ms-p99")
				})
				// 8 clients at once: the throughput and the CPU a request
				// costs (see runParallel).
				b.Run(route+"-parallel", func(b *testing.B) {
					stop := profileTo(b, os.Getenv("BUZHOU_BENCH_PROFILE"), route)
					defer stop()
					var next atomic.Int64
					runParallel(b, "req/s", "cpu-ms/req", func() (time.Duration, bool) {
						req, _ := http.NewRequest("GET", anon.base+"/api/v1/"+route+"?q="+url.QueryEscape(queries[int(next.Add(1))%len(queries)]), nil)
						req.Header.Set("Authorization", "Bearer "+testAdminKey)
						t := time.Now()
						resp, err := pooled.Do(req)
						if err != nil {
							b.Error(err)
							return 0, false
						}
						_, _ = io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
						if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusNotFound {
							b.Errorf("%s: status %d", route, resp.StatusCode)
							return 0, false
						}
						return time.Since(t), true
					})
				})
			}
			if err := s.Stop(); err != nil {
				b.Fatal(err)
			}
			start = time.Now()
			again := startStack(b, options{dataDir: dir}) // returns once /readyz is 200
			cold := time.Since(start)
			waitStatus(b, newClient(b, again, ""), func(st map[string]any) bool { return st["indexedArticles"] == fmt.Sprint(n) })
			b.Run("index", func(b *testing.B) {
				b.ReportMetric(float64(n)/indexed.Seconds(), "articles/s")
				b.ReportMetric(rss, "MiB-rss")
				b.ReportMetric(cold.Seconds(), "s-coldstart")
			})
		})
	}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func waitStatus(b *testing.B, c *client, cond func(map[string]any) bool) {
	b.Helper()
	deadline := time.Now().Add(30 * time.Minute)
	for {
		if cond(must(b, c.do("GET", "/api/v1/search/status", nil), 200).json(b)) {
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("the index never got there")
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// residentMiB is this process's resident set (the whole stack and the
// benchmark's client), from /proc; 0 where there is none.
func residentMiB() float64 {
	raw, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb / 1024
		}
	}
	return 0
}

// profileTo writes a CPU profile of the caller's phase to prefix-name.prof
// when prefix is set (BUZHOU_BENCH_PROFILE: the set-up, loading and
// indexing, would swamp a whole run's profile); stop ends it.
func profileTo(b *testing.B, prefix, name string) (stop func()) {
	if prefix == "" {
		return func() {}
	}
	f, err := os.Create(prefix + "-" + name + ".prof")
	if err != nil {
		b.Fatal(err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		b.Fatal(err)
	}
	return func() {
		pprof.StopCPUProfile()
		_ = f.Close()
	}
}
