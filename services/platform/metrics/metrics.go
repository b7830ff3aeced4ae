// Package metrics holds the Prometheus metrics of every part of Buzhou (the
// gateway and each service) and serves them in the Prometheus text format.
//
// A process has one Registry; each part of it takes its own Part, whose series
// carry the part's name in the service label. So the all-in-one serves every
// part from the gateway's /metrics with no name registered twice, and a
// service running on its own serves just its own. Constructors take a *Part;
// a nil *Part records nothing.
//
// The series, all counters and histograms (seconds), every one with service:
//
//	buzhou_http_requests_total{route, code}                          gateway requests; route is the pattern, never the path
//	buzhou_http_request_duration_seconds{route}                      their latency
//	buzhou_grpc_server_handled_total{grpc_service, grpc_method, grpc_code}   RPCs a service answered
//	buzhou_grpc_server_handling_seconds{grpc_service, grpc_method}   their latency (a stream's whole life)
//	buzhou_store_operation_duration_seconds{operation, outcome}      store calls: outcome ok, refused, canceled or error
//	buzhou_rate_limited_total{kind}                                  429s: kind ip, key, quota or failed_auth
//	buzhou_auth_failures_total{reason}                               refused keys: missing, unknown, malformed, expired, revoked, throttled
//	buzhou_agent_usage_dropped_total{reason}                         agent calls not counted: too_many_agents or flush_failed
//	buzhou_read_cache_total{outcome}                                 public article reads: hit, miss, or closed (the feed is not open)
//	buzhou_shed_total{class}                                         requests refused by their class's concurrency limit: the gateway's route classes (503), a service's method classes (UNAVAILABLE)
//
// plus the Go runtime's and the process's own (go_*, process_*), once per
// process. A series appears with its first event.
package metrics

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"google.golang.org/grpc/codes"

	"buzhou.dev/platform/auth"
	"buzhou.dev/platform/errs"
)

// Scrapes are bounded so that a flood of them cannot take the CPU from the
// API: beyond maxScrapes at once, or after scrapeTimeout, the answer is 503.
const (
	maxScrapes    = 4
	scrapeTimeout = 10 * time.Second
)

// Registry holds the metrics of one process.
type Registry struct {
	reg *prometheus.Registry
}

// NewRegistry returns a registry with the Go runtime and process collectors.
func NewRegistry() *Registry {
	reg := prometheus.NewRegistry()
	// A fresh registry cannot refuse these two, so MustRegister cannot panic.
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return &Registry{reg: reg}
}

// Part records the metrics of one part of the process. Its methods are safe
// for concurrent use; on a nil *Part they do nothing.
type Part struct {
	reg *Registry

	httpRequests  *prometheus.CounterVec
	httpDuration  *prometheus.HistogramVec
	rpcHandled    *prometheus.CounterVec
	rpcDuration   *prometheus.HistogramVec
	storeDuration *prometheus.HistogramVec
	rateLimited   *prometheus.CounterVec
	authFailures  *prometheus.CounterVec
	usageDropped  *prometheus.CounterVec
	readCache     *prometheus.CounterVec
	shed          *prometheus.CounterVec
}

// Part registers the metrics of the part called service ("gateway",
// "article", …) and returns them. Each name may be taken once per registry.
func (r *Registry) Part(service string) (*Part, error) {
	if service == "" {
		return nil, fmt.Errorf("%w: metrics: a part needs a name, such as \"article\"", errs.ErrInvalid)
	}
	// Store calls take from a tenth of a millisecond to seconds.
	storeBuckets := prometheus.ExponentialBuckets(0.0001, 4, 9)
	p := &Part{
		reg: r,
		httpRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "buzhou_http_requests_total",
			Help: "HTTP requests the gateway answered, by route pattern and status code.",
		}, []string{"route", "code"}),
		httpDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "buzhou_http_request_duration_seconds",
			Help:    "How long the gateway took to answer, by route pattern.",
			Buckets: prometheus.DefBuckets,
		}, []string{"route"}),
		rpcHandled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "buzhou_grpc_server_handled_total",
			Help: "RPCs the service answered, by gRPC service, method and status code.",
		}, []string{"grpc_service", "grpc_method", "grpc_code"}),
		rpcDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "buzhou_grpc_server_handling_seconds",
			Help:    "How long the service took to answer an RPC (for a stream, its whole life), by gRPC service and method.",
			Buckets: prometheus.DefBuckets,
		}, []string{"grpc_service", "grpc_method"}),
		storeDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "buzhou_store_operation_duration_seconds",
			Help:    "How long store operations took, by operation and outcome (ok; refused: not found, conflict, stale or invalid; canceled; error: the database failed).",
			Buckets: storeBuckets,
		}, []string{"operation", "outcome"}),
		rateLimited: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "buzhou_rate_limited_total",
			Help: "Requests refused with 429, by limit: ip, key, quota, failed_auth.",
		}, []string{"kind"}),
		authFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "buzhou_auth_failures_total",
			Help: "Refused API keys, by reason: missing, unknown, malformed, expired, revoked, throttled.",
		}, []string{"reason"}),
		usageDropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "buzhou_agent_usage_dropped_total",
			Help: "Agent calls left out of the usage counts, by reason: too_many_agents (the table was full), flush_failed (kept after a failed flush, then no room).",
		}, []string{"reason"}),
		readCache: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "buzhou_read_cache_total",
			Help: "Anonymous article reads by what the gateway's read cache did: hit, miss (asked the service and kept the answer), closed (the change feed is not open, so nothing is served from or kept in the cache).",
		}, []string{"outcome"}),
		shed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "buzhou_shed_total",
			Help: "Requests refused at once because their class had no free slot or queue place, by class: the gateway's route classes read, search, write (503 with Retry-After); a service's method classes read, write (UNAVAILABLE with RetryInfo).",
		}, []string{"class"}),
	}
	reg := prometheus.WrapRegistererWith(prometheus.Labels{"service": service}, r.reg)
	for _, c := range []prometheus.Collector{p.httpRequests, p.httpDuration, p.rpcHandled, p.rpcDuration, p.storeDuration, p.rateLimited, p.authFailures, p.usageDropped, p.readCache, p.shed} {
		if err := reg.Register(c); err != nil {
			if are := (prometheus.AlreadyRegisteredError{}); errors.As(err, &are) {
				return nil, fmt.Errorf("%w: metrics: the part %q is registered twice; give each part of the process its own name", errs.ErrAlreadyExists, service)
			}
			return nil, fmt.Errorf("metrics: register the metrics of %q: %w", service, err)
		}
	}
	return p, nil
}

// Handler serves every part of the process's registry in the Prometheus text
// format; errors of a collector are logged and the rest is served.
func (p *Part) Handler(log *slog.Logger) http.Handler {
	if p == nil {
		return http.NotFoundHandler()
	}
	return promhttp.HandlerFor(p.reg.reg, promhttp.HandlerOpts{
		ErrorLog:            slog.NewLogLogger(log.Handler(), slog.LevelError),
		ErrorHandling:       promhttp.ContinueOnError,
		MaxRequestsInFlight: maxScrapes,
		Timeout:             scrapeTimeout,
	})
}

// InstrumentHTTP counts and times the requests next answers. route gives
// the route pattern of a request from its context once next has answered; it
// must return one of a bounded set of values, never a raw path.
func (p *Part) InstrumentHTTP(next http.Handler, route func(context.Context) string) http.Handler {
	if p == nil {
		return next
	}
	label := promhttp.WithLabelFromCtx("route", route)
	return promhttp.InstrumentHandlerCounter(p.httpRequests,
		promhttp.InstrumentHandlerDuration(p.httpDuration, next, label), label)
}

// ObserveRPC records one RPC of fullMethod ("/pkg.Service/Method"), answered
// with code after d.
func (p *Part) ObserveRPC(fullMethod string, code codes.Code, d time.Duration) {
	if p == nil {
		return
	}
	svc, method := "unknown", fullMethod
	if s, m, ok := strings.Cut(strings.TrimPrefix(fullMethod, "/"), "/"); ok {
		svc, method = s, m
	}
	p.rpcHandled.WithLabelValues(svc, method, code.String()).Inc()
	p.rpcDuration.WithLabelValues(svc, method).Observe(d.Seconds())
}

// ObserveStore records one store operation begun at start that ended with
// *err; it is meant for defer:
//
//	defer m.ObserveStore("Get", time.Now(), &err)
func (p *Part) ObserveStore(op string, start time.Time, err *error) {
	if p == nil {
		return
	}
	p.storeDuration.WithLabelValues(op, outcome(*err)).Observe(time.Since(start).Seconds())
}

// outcome tells answers (even unwelcome ones) from failures, so that an
// alert on "error" means the database, not a missing article.
func outcome(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, context.Canceled):
		return "canceled"
	}
	switch errs.Code(err) {
	case codes.NotFound, codes.AlreadyExists, codes.FailedPrecondition, codes.InvalidArgument:
		return "refused"
	}
	return "error"
}

// LimitKind is the limit a refused request ran into.
type LimitKind uint8

// The limits; other values are not recorded.
const (
	// LimitIP is the client address's bucket, for callers without a key.
	LimitIP LimitKind = iota + 1
	// LimitKey is the key's bucket.
	LimitKey
	// LimitQuota is the key's daily or monthly quota.
	LimitQuota
	// LimitFailedAuth is the client address's bucket of failed authentications.
	LimitFailedAuth
)

func (k LimitKind) String() string { return nth(uint8(k), "ip", "key", "quota", "failed_auth") }

// DropReason is why agent calls were left out of the usage counts.
type DropReason uint8

// The reasons; other values are not recorded.
const (
	// DropTooManyAgents: the table of agents since the last flush was full.
	DropTooManyAgents DropReason = iota + 1
	// DropFlushFailed: a flush failed and its counts found no room when kept.
	DropFlushFailed
)

func (r DropReason) String() string { return nth(uint8(r), "too_many_agents", "flush_failed") }

// CacheOutcome is what the read cache did with a read.
type CacheOutcome uint8

// The outcomes; other values are not recorded.
const (
	// CacheHit: answered from the cache.
	CacheHit CacheOutcome = iota + 1
	// CacheMiss: asked the service (and kept the answer when it may be).
	CacheMiss
	// CacheClosed: the feed is not open, so the cache was not used.
	CacheClosed
)

func (o CacheOutcome) String() string { return nth(uint8(o), "hit", "miss", "closed") }

// nth is the label of the i-th constant (from 1) of a kind, "" out of range.
func nth(i uint8, labels ...string) string {
	if i == 0 || int(i) > len(labels) {
		return ""
	}
	return labels[i-1]
}

// RateLimited counts one request refused with 429 by limit kind.
func (p *Part) RateLimited(kind LimitKind) {
	if p != nil {
		add(p.rateLimited, kind.String(), 1)
	}
}

// AuthFailed counts one refused key by reason, one of auth.Reasons(); other
// values are not recorded, so the label stays bounded.
func (p *Part) AuthFailed(reason string) {
	if p != nil && slices.Contains(auth.Reasons(), reason) {
		add(p.authFailures, reason, 1)
	}
}

// UsageDropped counts agent calls left out of the usage counts.
func (p *Part) UsageDropped(reason DropReason, calls int64) {
	if p != nil {
		add(p.usageDropped, reason.String(), calls)
	}
}

// ReadCache counts one anonymous article read by what the read cache did.
func (p *Part) ReadCache(o CacheOutcome) {
	if p != nil {
		add(p.readCache, o.String(), 1)
	}
}

// Shed counts one request refused by its class's concurrency limit (see
// package shed); class is a fixed name (read, search, write), never from the
// request.
func (p *Part) Shed(class string) {
	if p != nil {
		add(p.shed, class, 1)
	}
}

// add counts n under label, unless the label is out of range.
func add(c *prometheus.CounterVec, label string, n int64) {
	if label != "" && n > 0 {
		c.WithLabelValues(label).Add(float64(n))
	}
}
