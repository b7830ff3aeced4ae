// Package load drives a running Buzhou over REST the way agents do — a mix
// of article reads, searches, resolves and writes — at fixed arrival rates,
// and measures what it gets back.
//
// The load is an open loop: request i of a step is due at start + i/rate,
// whatever happened to the ones before, and its latency is measured from
// that due time, not from when it could be sent. A server that stalls
// therefore shows the stall in the latency of every request that was due
// during it (no coordinated omission), the way its callers would see it.
// Requests in flight are bounded (MaxInFlight); past that bound the
// generator falls behind and the delay is counted against the server.
package load

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Endpoint is one kind of request of the mix.
type Endpoint int

// The endpoints, in the order reports list them.
const (
	Get     Endpoint = iota // GET /api/v1/articles/{slug}, anonymous
	Search                  // GET /api/v1/search?q=, anonymous
	Resolve                 // GET /api/v1/resolve?q=, anonymous
	Write                   // PATCH /api/v1/articles/{id} with the key
	endpoints
)

var endpointNames = [endpoints]string{"get", "search", "resolve", "write"}

func (e Endpoint) String() string { return endpointNames[e] }

// Mix is the weight of each endpoint in the load.
type Mix [endpoints]int

// ParseMix reads "get=70,search=20,resolve=5,write=5"; endpoints left out
// weigh 0.
func ParseMix(s string) (Mix, error) {
	var m Mix
	total := 0
	for _, part := range strings.Split(s, ",") {
		name, w, ok := strings.Cut(strings.TrimSpace(part), "=")
		n, err := strconv.Atoi(w)
		i := indexOf(name)
		if !ok || err != nil || n < 0 || i < 0 {
			return Mix{}, fmt.Errorf("mix %q: %q is not endpoint=weight with an endpoint among %s and a weight ≥ 0", s, part, strings.Join(endpointNames[:], ", "))
		}
		m[i] = n
		total += n
	}
	if total == 0 {
		return Mix{}, fmt.Errorf("mix %q weighs nothing; give at least one endpoint a weight, e.g. get=1", s)
	}
	return m, nil
}

func indexOf(name string) int {
	for i, n := range endpointNames {
		if n == name {
			return i
		}
	}
	return -1
}

func (m Mix) pick(r *rand.Rand) Endpoint {
	total := 0
	for _, w := range m {
		total += w
	}
	n := r.IntN(total)
	for i, w := range m {
		if n < w {
			return Endpoint(i)
		}
		n -= w
	}
	return Get
}

// Target is what the requests are about: articles that exist and queries
// that find them.
type Target struct {
	Slugs, IDs []string
	Queries    []string
}

// Config of a run.
type Config struct {
	// Server is the gateway's base URL, e.g. http://127.0.0.1:8080.
	Server string
	// Key is sent with writes (articles:write).
	Key string
	// Rates are the steps: requests per second over the whole mix.
	Rates []int
	// Step is how long each rate is held.
	Step time.Duration
	Mix  Mix
	// MaxInFlight bounds concurrent requests; 0 means 2048.
	MaxInFlight int
	// Timeout bounds one request; 0 means 10 s.
	Timeout time.Duration
	// Client sends the requests; nil makes one sized for MaxInFlight.
	Client *http.Client
}

// EndpointResult is what one endpoint got during a step.
type EndpointResult struct {
	// Sent counts requests, OK the expected answers among them.
	Sent, OK int
	// Latency of every request, from its due time to the end of its answer.
	Latency Histogram
	// Errors counts the other outcomes by status code, "timeout" or "conn".
	Errors map[string]int
}

// StepResult is one step of a run.
type StepResult struct {
	Rate    int
	Elapsed time.Duration
	// Behind is how late the last request was sent: the generator could not
	// keep up (MaxInFlight requests were outstanding).
	Behind    time.Duration
	Endpoints [endpoints]EndpointResult
	// RSSBytes and HeapBytes are the server's resident memory and Go heap
	// in use after the step, from its /metrics; 0 when unknown.
	RSSBytes, HeapBytes float64
	// CacheHits and CacheMisses are the gateway's read cache counters
	// (buzhou_read_cache_total) during the step.
	CacheHits, CacheMisses float64
	// Shed is the requests refused by a concurrency limit during the step
	// (buzhou_shed_total) by the part that refused them: "gateway",
	// "search", …; which layer sheds is what tells the limits apart.
	Shed map[string]float64
}

// Total adds up the endpoints.
func (s *StepResult) Total() EndpointResult {
	t := EndpointResult{Errors: map[string]int{}}
	for _, e := range s.Endpoints {
		t.Sent += e.Sent
		t.OK += e.OK
		t.Latency.Merge(&e.Latency)
		for k, v := range e.Errors {
			t.Errors[k] += v
		}
	}
	return t
}

// Run runs every step of cfg against target in turn.
func Run(ctx context.Context, cfg Config, target Target) ([]StepResult, error) {
	if cfg.MaxInFlight <= 0 {
		cfg.MaxInFlight = 2048
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.Client == nil {
		cfg.Client = NewClient(cfg.MaxInFlight, cfg.Timeout)
	}
	if len(target.Slugs) == 0 || len(target.Queries) == 0 {
		return nil, errors.New("load: nothing to ask for; seed some articles first")
	}
	var out []StepResult
	for _, rate := range cfg.Rates {
		if rate <= 0 {
			return out, fmt.Errorf("load: rate %d; give requests per second above 0", rate)
		}
		before := scrape(ctx, cfg.Client, cfg.Server)
		res := step(ctx, cfg, target, rate)
		after := scrape(ctx, cfg.Client, cfg.Server)
		res.RSSBytes, res.HeapBytes = after.rss, after.heap
		res.CacheHits, res.CacheMisses = after.hits-before.hits, after.misses-before.misses
		for part, n := range after.shed {
			if d := n - before.shed[part]; d > 0 {
				if res.Shed == nil {
					res.Shed = map[string]float64{}
				}
				res.Shed[part] = d
			}
		}
		out = append(out, res)
		if ctx.Err() != nil {
			return out, ctx.Err()
		}
	}
	return out, nil
}

// NewClient returns an HTTP client that keeps up to conns connections to
// one server.
func NewClient(conns int, timeout time.Duration) *http.Client {
	return &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
			MaxIdleConns:        conns,
			MaxIdleConnsPerHost: conns,
			IdleConnTimeout:     time.Minute,
			DisableCompression:  true,
		},
	}
}

// step sends rate requests a second for cfg.Step.
func step(ctx context.Context, cfg Config, target Target, rate int) StepResult {
	res := StepResult{Rate: rate}
	for i := range res.Endpoints {
		res.Endpoints[i].Errors = map[string]int{}
	}
	var mu [endpoints]sync.Mutex
	r := rand.New(rand.NewPCG(uint64(rate), 7))
	n := int(float64(rate) * cfg.Step.Seconds())
	interval := float64(time.Second) / float64(rate)
	sem := make(chan struct{}, cfg.MaxInFlight)
	var wg sync.WaitGroup
	start := time.Now()
	for i := 0; i < n && ctx.Err() == nil; i++ {
		due := start.Add(time.Duration(float64(i) * interval))
		if d := time.Until(due); d > 0 {
			time.Sleep(d)
		}
		ep := cfg.Mix.pick(r)
		req := newRequest(ctx, cfg, target, ep, r)
		sem <- struct{}{}
		if i == n-1 {
			res.Behind = max(0, time.Since(due))
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			outcome := send(cfg.Client, req, ep)
			lat := time.Since(due)
			mu[ep].Lock()
			defer mu[ep].Unlock()
			e := &res.Endpoints[ep]
			e.Sent++
			e.Latency.Record(lat)
			if outcome == "" {
				e.OK++
			} else {
				e.Errors[outcome]++
			}
		}()
	}
	wg.Wait()
	res.Elapsed = time.Since(start)
	return res
}

// newRequest makes a request of kind ep.
func newRequest(ctx context.Context, cfg Config, t Target, ep Endpoint, r *rand.Rand) *http.Request {
	var req *http.Request
	switch ep {
	case Search, Resolve:
		q := url.Values{"q": {t.Queries[r.IntN(len(t.Queries))]}}
		req, _ = http.NewRequestWithContext(ctx, http.MethodGet, cfg.Server+"/api/v1/"+ep.String()+"?"+q.Encode(), nil)
	case Write:
		body := fmt.Sprintf(`{"keywords":["load-%d"]}`, r.Uint32())
		req, _ = http.NewRequestWithContext(ctx, http.MethodPatch, cfg.Server+"/api/v1/articles/"+url.PathEscape(t.IDs[r.IntN(len(t.IDs))]), strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+cfg.Key)
	default:
		req, _ = http.NewRequestWithContext(ctx, http.MethodGet, cfg.Server+"/api/v1/articles/"+url.PathEscape(t.Slugs[r.IntN(len(t.Slugs))]), nil)
	}
	return req
}

// send sends req and reads the whole answer; it returns "" for an expected
// answer, else the status code, "timeout" or "conn".
func send(c *http.Client, req *http.Request, ep Endpoint) string {
	resp, err := c.Do(req)
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return "timeout"
		}
		return "conn"
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil {
		return "conn"
	}
	// A resolve that finds nothing good enough answers 404: an answer.
	if resp.StatusCode == http.StatusOK || (ep == Resolve && resp.StatusCode == http.StatusNotFound) {
		return ""
	}
	return strconv.Itoa(resp.StatusCode)
}

// serverStats is what the load reads from the server's /metrics.
type serverStats struct {
	rss, heap, hits, misses float64
	// shed by part (the service label)
	shed map[string]float64
}

// scrape reads process_resident_memory_bytes, go_memstats_heap_inuse_bytes
// the read cache's hits and misses and the shed requests by part from the
// server's /metrics; what it cannot read stays 0.
func scrape(ctx context.Context, c *http.Client, server string) serverStats {
	var st serverStats
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, server+"/metrics", nil)
	if err != nil {
		return st
	}
	resp, err := c.Do(req)
	if err != nil {
		return st
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return st
	}
	for _, line := range bytes.Split(body, []byte("\n")) {
		name, value, ok := strings.Cut(string(line), " ")
		if !ok {
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
		if err != nil {
			continue
		}
		switch {
		case name == "process_resident_memory_bytes":
			st.rss = v
		case name == "go_memstats_heap_inuse_bytes":
			st.heap = v
		case strings.HasPrefix(name, "buzhou_read_cache_total{") && strings.Contains(name, `outcome="hit"`):
			st.hits += v
		case strings.HasPrefix(name, "buzhou_read_cache_total{") && strings.Contains(name, `outcome="miss"`):
			st.misses += v
		case strings.HasPrefix(name, "buzhou_shed_total{"):
			if _, rest, ok := strings.Cut(name, `service="`); ok {
				part, _, _ := strings.Cut(rest, `"`)
				if st.shed == nil {
					st.shed = map[string]float64{}
				}
				st.shed[part] += v
			}
		}
	}
	return st
}

// Warm reads every article of t once, from conc clients at a time, the
// way a hub in service has its articles read already: the steps then
// measure the steady state rather than the first read of each.
func Warm(ctx context.Context, c *http.Client, server string, t Target, conc int) error {
	work := make(chan string)
	errc := make(chan error, conc)
	var wg sync.WaitGroup
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for slug := range work {
				req, err := http.NewRequestWithContext(ctx, http.MethodGet, server+"/api/v1/articles/"+url.PathEscape(slug), nil)
				if err != nil {
					errc <- err
					return
				}
				if out := send(c, req, Get); out != "" {
					errc <- fmt.Errorf("warm-up read of %s: %s", slug, out)
					return
				}
			}
		}()
	}
	var err error
feed:
	for _, slug := range t.Slugs {
		select {
		case work <- slug:
		case err = <-errc:
			break feed
		}
	}
	close(work)
	wg.Wait()
	if err == nil && len(errc) > 0 {
		err = <-errc
	}
	return err
}

// Report writes a table of every step and endpoint.
func Report(w io.Writer, results []StepResult) {
	fmt.Fprintf(w, "%8s %-8s %9s %10s %9s %9s %9s %9s %8s  %s\n", "rate/s", "endpoint", "sent/s", "achieved/s", "p50", "p90", "p99", "max", "ok", "errors")
	for _, s := range results {
		secs := s.Elapsed.Seconds()
		row := func(name string, e EndpointResult) {
			if e.Sent == 0 {
				return
			}
			fmt.Fprintf(w, "%8d %-8s %9.0f %10.0f %9s %9s %9s %9s %8d  %s\n", s.Rate, name, float64(e.Sent)/secs, float64(e.OK)/secs,
				ms(e.Latency.Percentile(50)), ms(e.Latency.Percentile(90)), ms(e.Latency.Percentile(99)), ms(e.Latency.Max()), e.OK, errorList(e.Errors))
		}
		for i, e := range s.Endpoints {
			row(Endpoint(i).String(), e)
		}
		row("all", s.Total())
		hitRatio := "-"
		if n := s.CacheHits + s.CacheMisses; n > 0 {
			hitRatio = fmt.Sprintf("%.0f%%", 100*s.CacheHits/n)
		}
		shed := "none"
		if len(s.Shed) > 0 {
			var parts []string
			for _, p := range slices.Sorted(maps.Keys(s.Shed)) {
				parts = append(parts, fmt.Sprintf("%s %.0f", p, s.Shed[p]))
			}
			shed = strings.Join(parts, ", ")
		}
		fmt.Fprintf(w, "%8s server memory after the step: RSS %.0f MiB, Go heap %.0f MiB; read cache hits %s; shed: %s; generator behind by %v\n", "",
			s.RSSBytes/(1<<20), s.HeapBytes/(1<<20), hitRatio, shed, s.Behind.Round(time.Millisecond))
	}
}

// Sustained returns the highest rate of results at which every endpoint's
// p99 stayed within limit and under 1 % of requests failed; 0 when none did.
func Sustained(results []StepResult, limit time.Duration) int {
	best := 0
	for _, s := range results {
		ok := true
		for _, e := range s.Endpoints {
			if e.Sent > 0 && (e.Latency.Percentile(99) > limit || float64(e.Sent-e.OK) > 0.01*float64(e.Sent)) {
				ok = false
			}
		}
		if ok {
			best = max(best, s.Rate)
		}
	}
	return best
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond)) }

func errorList(m map[string]int) string {
	if len(m) == 0 {
		return "-"
	}
	var parts []string
	for _, k := range []string{"429", "503", "timeout", "conn"} {
		if m[k] > 0 {
			parts = append(parts, fmt.Sprintf("%s×%d", k, m[k]))
		}
	}
	for _, k := range slices.Sorted(maps.Keys(m)) {
		switch k {
		case "429", "503", "timeout", "conn":
		default:
			parts = append(parts, fmt.Sprintf("%s×%d", k, m[k]))
		}
	}
	return strings.Join(parts, " ")
}
