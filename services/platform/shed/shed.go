// Package shed bounds the requests a part of Buzhou works on at once, per
// class of request, for the gateway (per route class) and the gRPC services
// (per method class) alike. Past a class's limit a request waits in a short
// queue; when the queue is full or the wait ends it is refused at once — a
// quick answer the caller can retry, instead of a timeout, while memory
// stays bounded.
package shed

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"buzhou.dev/platform/metrics"
)

// RetryAfter is how long a refused caller is told to wait: a slot frees as
// soon as a request ends, so longer only idles the server once the burst
// has passed.
const RetryAfter = time.Second

// QueueWaitEnv sets Config.QueueWait in every part of Buzhou: one knob for
// how long a request may wait for a slot anywhere.
const QueueWaitEnv = "BUZHOU_SHED_QUEUE_WAIT"

// DefaultQueueWait is Config.QueueWait when unset.
const DefaultQueueWait = 100 * time.Millisecond

// Limit bounds one class: Concurrent requests are served at once, Queue more
// wait for a slot, each at most Config.QueueWait. Concurrent 0 means no limit.
type Limit struct {
	Concurrent, Queue int
}

// Class is a class of requests with a limit of its own.
type Class struct {
	// Name labels buzhou_shed_total and names the class in refusals: "read".
	Name string
	// Env is the variable that sets Limit, named in refusals so that an
	// operator knows what to raise.
	Env   string
	Limit Limit
}

// Config is the shedding of one part.
type Config struct {
	// Who refuses, for messages: "the gateway", "the search service".
	Who string
	// Classes, indexed by the class numbers given to Acquire.
	Classes []Class
	// QueueWait bounds how long a request waits for a slot before it is
	// refused; 0 means DefaultQueueWait.
	QueueWait time.Duration
}

// Limiter applies a Config. It is safe for concurrent use.
type Limiter struct {
	who     string
	wait    time.Duration
	classes []*class
	metrics *metrics.Part
}

type class struct {
	Class
	// slots holds a token per request being served; queue one per request
	// served or waiting, so that a full queue refuses without waiting.
	slots, queue chan struct{}
}

// New returns the limiter of cfg, counting refusals in m; nil when no class
// has a limit.
func New(cfg Config, m *metrics.Part) *Limiter {
	l := &Limiter{who: cfg.Who, wait: cfg.QueueWait, classes: make([]*class, len(cfg.Classes)), metrics: m}
	if l.wait <= 0 {
		l.wait = DefaultQueueWait
	}
	limited := false
	for i, c := range cfg.Classes {
		if c.Limit.Concurrent <= 0 {
			continue
		}
		limited = true
		l.classes[i] = &class{Class: c, slots: make(chan struct{}, c.Limit.Concurrent), queue: make(chan struct{}, c.Limit.Concurrent+max(c.Limit.Queue, 0))}
	}
	if !limited {
		return nil
	}
	return l
}

func noop() {}

// Acquire takes a slot of class c for one request, waiting in the class's
// queue when every slot is taken, and returns the function that gives it
// back. Past the limit it returns a *Refused at once; when ctx ends while
// waiting, ctx's error. A class without a limit (or a nil Limiter) always
// admits.
func (l *Limiter) Acquire(ctx context.Context, c int) (release func(), err error) {
	if l == nil || l.classes[c] == nil {
		return noop, nil
	}
	cl := l.classes[c]
	select {
	case cl.queue <- struct{}{}:
	default:
		return nil, l.refuse(cl, "its queue is full")
	}
	select {
	case cl.slots <- struct{}{}:
	default:
		t := time.NewTimer(l.wait)
		defer t.Stop()
		select {
		case cl.slots <- struct{}{}:
		case <-t.C:
			<-cl.queue
			return nil, l.refuse(cl, fmt.Sprintf("no slot came free within %v", l.wait))
		case <-ctx.Done():
			<-cl.queue
			return nil, ctx.Err()
		}
	}
	return func() { <-cl.slots; <-cl.queue }, nil
}

// Queued reports the requests of class c being served or waiting, for tests.
func (l *Limiter) Queued(c int) int { return len(l.classes[c].queue) }

func (l *Limiter) refuse(c *class, why string) *Refused {
	l.metrics.Shed(c.Name)
	return &Refused{who: l.who, class: c.Class, why: why}
}

// Refused is a request refused by its class's limit.
type Refused struct {
	who   string
	class Class
	why   string
}

func (r *Refused) Error() string {
	return fmt.Sprintf("%s is serving as many %s requests as it can (%d at once, %d waiting; %s) and %s; retry after %d s",
		r.who, r.class.Name, r.class.Limit.Concurrent, r.class.Limit.Queue, r.class.Env, r.why, int(RetryAfter/time.Second))
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

// CheckQueueWait refuses a negative QueueWaitEnv.
func CheckQueueWait(d time.Duration) error {
	if d < 0 {
		return fmt.Errorf("%s is %v; give a duration of 0 or more, e.g. 100ms", QueueWaitEnv, d)
	}
	return nil
}
