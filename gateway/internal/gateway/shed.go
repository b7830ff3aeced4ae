package gateway

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc/codes"

	"buzhou.dev/platform/metrics"
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

// Limit bounds one route class: Concurrent requests are served at once,
// Queue more wait for a slot, each at most Config.QueueWait. Concurrent 0
// means no limit.
type Limit struct {
	Concurrent, Queue int
}

// ShedConfig is the load shedding of the API.
type ShedConfig struct {
	// Limits by class.
	Limits [routeClasses]Limit
	// QueueWait bounds how long a request waits for a slot before it is
	// refused; 0 means 100 ms.
	QueueWait time.Duration
}

// Shedder bounds the API's requests in flight per route class. Past the
// limit, a request waits in a short queue; when the queue is full or the
// wait ends it is answered 503 with Retry-After at once — a quick answer
// the caller can act on, instead of a timeout, while memory stays bounded.
type Shedder struct {
	wait    time.Duration
	classes [routeClasses]*classLimit
	metrics *metrics.Part
}

type classLimit struct {
	limit Limit
	// slots holds a token per request being served; queue one per request
	// served or waiting, so that a full queue refuses without waiting.
	slots, queue chan struct{}
}

// NewShedder returns the shedder of cfg; nil when no class has a limit.
func NewShedder(cfg ShedConfig, m *metrics.Part) *Shedder {
	s := &Shedder{wait: cfg.QueueWait, metrics: m}
	if s.wait <= 0 {
		s.wait = 100 * time.Millisecond
	}
	limited := false
	for i, l := range cfg.Limits {
		if l.Concurrent <= 0 {
			continue
		}
		limited = true
		s.classes[i] = &classLimit{limit: l, slots: make(chan struct{}, l.Concurrent), queue: make(chan struct{}, l.Concurrent+max(l.Queue, 0))}
	}
	if !limited {
		return nil
	}
	return s
}

// Middleware applies the limits to next; a nil Shedder limits nothing.
func (s *Shedder) Middleware(next http.Handler) http.Handler {
	if s == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		class := classOf(r)
		c := s.classes[class]
		if c == nil {
			next.ServeHTTP(w, r)
			return
		}
		select {
		case c.queue <- struct{}{}:
		default:
			s.refuse(w, r, class, "its queue is full")
			return
		}
		defer func() { <-c.queue }()
		select {
		case c.slots <- struct{}{}:
		default:
			t := time.NewTimer(s.wait)
			defer t.Stop()
			select {
			case c.slots <- struct{}{}:
			case <-t.C:
				s.refuse(w, r, class, fmt.Sprintf("no slot came free within %v", s.wait))
				return
			case <-r.Context().Done():
				// The caller left; nobody reads an answer.
				return
			}
		}
		defer func() { <-c.slots }()
		next.ServeHTTP(w, r)
	})
}

// queued reports the requests of class being served or waiting, for tests.
func (s *Shedder) queued(class RouteClass) int { return len(s.classes[class].queue) }

// unseen is told that the answer about to be written refuses the request
// before any service saw it (the read cache's writeWatcher: a refused
// write changed nothing).
type unseen interface{ refusedUnseen() }

func (s *Shedder) refuse(w http.ResponseWriter, r *http.Request, class RouteClass, why string) {
	s.metrics.Shed(class.String())
	if u, ok := w.(unseen); ok {
		u.refusedUnseen()
	}
	l := s.classes[class].limit
	w.Header().Set("Retry-After", "1")
	writeError(w, r, http.StatusServiceUnavailable, codes.Unavailable,
		fmt.Sprintf("the gateway is serving as many %s requests as it can (%d at once, %d waiting) and %s; retry after 1 s",
			class, l.Concurrent, l.Queue, why))
}

// ParseLimit reads "32/128": 32 concurrent requests, 128 more waiting; "0"
// (or "") means no limit.
func ParseLimit(s string) (Limit, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "0" {
		return Limit{}, nil
	}
	conc, queue, ok := strings.Cut(s, "/")
	c, err1 := strconv.Atoi(conc)
	q, err2 := strconv.Atoi(queue)
	if !ok || err1 != nil || err2 != nil || c < 1 || q < 0 || c > 1<<16 || q > 1<<20 {
		return Limit{}, fmt.Errorf("%q is not CONCURRENT/QUEUE, e.g. 32/128 (1 to 65536 at once, 0 to 1048576 waiting), or 0 for no limit", s)
	}
	return Limit{Concurrent: c, Queue: q}, nil
}
