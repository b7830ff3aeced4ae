package stack

import (
	"io"
	"net/http"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"
)

// BenchmarkArticlePage reads a demo article's page through the gateway as
// browsers would: each page makes four RPCs (the article, its records, its
// inspections, its related articles) and renders about 45 KB of HTML.
// "serial" is one reader at a time, for the latency of one page; "parallel"
// is 8 readers at once, for pages/s. Each reports the median and 99th
// percentile latency.
func BenchmarkArticlePage(b *testing.B) {
	for name, o := range engines(b) {
		b.Run(name, func(b *testing.B) {
			o.seed = true
			s := startStack(b, o)
			c := newClient(b, s, "")
			slug := must(b, c.do("GET", "/api/v1/articles?pageSize=1", nil), http.StatusOK).json(b)["articles"].([]any)[0].(map[string]any)["slug"].(string)
			url := "http://" + s.HTTPAddr + "/en/articles/" + slug
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
			read := func() (time.Duration, bool) {
				start := time.Now()
				resp, err := client.Get(url)
				if err != nil {
					b.Error(err)
					return 0, false
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					b.Errorf("status %d", resp.StatusCode)
					return 0, false
				}
				return time.Since(start), true
			}
			b.Run("serial", func(b *testing.B) {
				var times []time.Duration
				for b.Loop() {
					d, ok := read()
					if !ok {
						return
					}
					times = append(times, d)
				}
				reportPercentiles(b, times)
			})
			b.Run("parallel", func(b *testing.B) {
				runParallel(b, "pages/s", "cpu-ms/page", read)
			})
		})
	}
}

// runParallel runs one, which reports its latency or false on failure, from
// 8 goroutines on 2 cores, and reports the rate (as the metric rate), the
// CPU one costs the whole process (as cost: clients, gateway and services
// share it, so this holds whatever else the machine runs) and the
// percentiles.
func runParallel(b *testing.B, rate, cost string, one func() (time.Duration, bool)) {
	var (
		mu    sync.Mutex
		times []time.Duration
	)
	b.SetParallelism(4)
	cpu := cpuTime(b)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		var mine []time.Duration
		for pb.Next() {
			d, ok := one()
			if !ok {
				return
			}
			mine = append(mine, d)
		}
		mu.Lock()
		times = append(times, mine...)
		mu.Unlock()
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), rate)
	b.ReportMetric(float64(cpuTime(b)-cpu)/float64(time.Millisecond)/float64(b.N), cost)
	reportPercentiles(b, times)
}

// cpuTime is the CPU time this process has used, user and system.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportPercentiles reports the median and the 99th percentile of times
// in milliseconds.
func reportPercentiles(b *testing.B, times []time.Duration) {
	if len(times) == 0 {
		return
	}
	slices.Sort(times)
	at := func(p float64) float64 {
		return float64(times[int(p*float64(len(times)-1))]) / float64(time.Millisecond)
	}
	b.ReportMetric(at(0.5), "p50-ms")
	b.ReportMetric(at(0.99), "p99-ms")
}
