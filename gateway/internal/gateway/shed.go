package gateway

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc/codes"

	"buzhou.dev/platform/metrics"
	"buzhou.dev/platform/shed"
)

// RouteClass groups API routes that cost the services alike, each with a
// concurrency limit of its own: a flood of searches cannot take the slots
// of article reads, nor reads those of writes.
type RouteClass int

// The classes.
const (
	// ClassRead: GET requests that are not searches (article reads that
	// missed the read cache, lists, records, stats).
	ClassRead RouteClass = iota
	// ClassSearch: search, resolve and related articles, the costliest reads.
	ClassSearch
	// ClassWrite: every other method.
	ClassWrite
	routeClasses
)

var classNames = [routeClasses]string{"read", "search", "write"}

func (c RouteClass) String() string { return classNames[c] }

// classOf returns the class of an API request.
func classOf(r *http.Request) RouteClass {
	if isWrite(r.Method) {
		return ClassWrite
	}
	p := r.URL.Path
	if strings.HasPrefix(p, "/api/v1/search") || strings.HasPrefix(p, "/api/v1/resolve") ||
		(strings.HasPrefix(p, "/api/v1/articles/") && strings.HasSuffix(p, "/related")) {
		return ClassSearch
	}
	return ClassRead
}

// Env is the variable that sets the class's limit.
func (c RouteClass) Env() string { return classEnvs[c] }

var classEnvs = [routeClasses]string{"BUZHOU_SHED_READ", "BUZHOU_SHED_SEARCH", "BUZHOU_SHED_WRITE"}

// ShedConfig is the load shedding of the API.
type ShedConfig struct {
	// Limits by class.
	Limits [routeClasses]shed.Limit
	// QueueWait bounds how long a request waits for a slot before it is
	// refused; 0 means shed.DefaultQueueWait.
	QueueWait time.Duration
}

// Shedder bounds the API's requests in flight per route class (see package
// shed): past the limit and a short queue, 503 with Retry-After at once.
type Shedder struct {
	limiter *shed.Limiter
}

// NewShedder returns the shedder of cfg; nil when no class has a limit.
func NewShedder(cfg ShedConfig, m *metrics.Part) *Shedder {
	sc := shed.Config{Who: "the gateway", QueueWait: cfg.QueueWait}
	for c, l := range cfg.Limits {
		sc.Classes = append(sc.Classes, shed.Class{Name: RouteClass(c).String(), Env: RouteClass(c).Env(), Limit: l})
	}
	l := shed.New(sc, m)
	if l == nil {
		return nil
	}
	return &Shedder{limiter: l}
}

// Middleware applies the limits to next; a nil Shedder limits nothing.
func (s *Shedder) Middleware(next http.Handler) http.Handler {
	if s == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		release, err := s.limiter.Acquire(r.Context(), int(classOf(r)))
		if refused := (*shed.Refused)(nil); errors.As(err, &refused) {
			s.refuse(w, r, refused)
			return
		}
		if err != nil {
			// The caller left; nobody reads an answer.
			return
		}
		defer release()
		next.ServeHTTP(w, r)
	})
}

// queued reports the requests of class being served or waiting, for tests.
func (s *Shedder) queued(class RouteClass) int { return s.limiter.Queued(int(class)) }

// unseen is told that the answer about to be written refuses the request
// before any service acted on it — the gateway's shedding, or a service's
// refusal with a RetryInfo (see errs.RetryAfter) — so that the read cache's
// writeWatcher keeps its entries: a refused write changed nothing.
type unseen interface{ refusedUnseen() }

// refusedUnseen tells the unseen writer in w's chain of wrappers, if any.
func refusedUnseen(w http.ResponseWriter) {
	for {
		if u, ok := w.(unseen); ok {
			u.refusedUnseen()
			return
		}
		uw, ok := w.(interface{ Unwrap() http.ResponseWriter })
		if !ok {
			return
		}
		w = uw.Unwrap()
	}
}

func (s *Shedder) refuse(w http.ResponseWriter, r *http.Request, refused *shed.Refused) {
	refusedUnseen(w)
	w.Header().Set("Retry-After", strconv.FormatInt(ceilSeconds(shed.RetryAfter), 10))
	writeError(w, r, http.StatusServiceUnavailable, codes.Unavailable, refused.Error())
}
