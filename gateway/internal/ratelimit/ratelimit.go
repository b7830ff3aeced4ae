// Package ratelimit limits how fast and how much callers use the REST API: a
// token bucket per caller (anonymous callers by client IP, keys by key id) and
// daily and monthly quotas per key. Both live in memory for a single gateway
// or in Redis so that several gateway replicas share one budget per caller.
//
// The package only decides; the gateway picks the caller's key and limits
// (the bootstrap admin key is never passed here), writes the headers with
// WriteHeaders and WriteQuotaHeaders, and renders the 429.
package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// Limiter is a token bucket per key. Each call of Allow takes one token when
// there is one.
type Limiter interface {
	// Allow takes a token from key's bucket, creating a full bucket for a key
	// it has not seen (or has forgotten because it was full and idle).
	Allow(ctx context.Context, key string, limit Limit) (Decision, error)
}

// Limit is the size of a bucket: it holds PerMinute tokens and refills at
// PerMinute/60 tokens a second, so a caller may burst up to PerMinute
// requests and then sustain PerMinute a minute.
type Limit struct {
	PerMinute int
}

// MaxPerMinute is the largest limit Allow accepts. It keeps the bucket
// arithmetic exact in Redis, whose Lua numbers are doubles.
const MaxPerMinute = 1_000_000_000

// ErrBadLimit is returned by Allow for a limit outside 1..MaxPerMinute.
// Callers that must not be limited (the bootstrap admin key) skip Allow
// instead: a zero limit is more likely a configuration mistake than a wish
// for no limit, and it must neither open nor close the door silently.
var ErrBadLimit = errors.New("ratelimit: limit must be 1 to 1,000,000,000 requests a minute")

// Decision is the outcome of one Allow.
type Decision struct {
	// Allowed is true when a token was taken.
	Allowed bool
	// Limit is the bucket's capacity (Limit.PerMinute).
	Limit int
	// Remaining is the whole tokens left after this call.
	Remaining int
	// ResetAfter is the time until the bucket is full again.
	ResetAfter time.Duration
	// RetryAfter is the time until the next token, 0 when allowed.
	RetryAfter time.Duration
}

// The bucket counts in units of 1/60,000 token: a bucket of PerMinute tokens
// then refills by exactly PerMinute units a millisecond, so all arithmetic is
// in integers and the Memory and Redis buckets agree to the unit.
const (
	unitsPerToken = 60_000
	// fullRefill is how long an empty bucket takes to fill, in milliseconds.
	fullRefill = 60_000
)

// bucket is the state of one key: tokens in units, and the time in Unix
// milliseconds up to which refill has been added.
type bucket struct {
	tokens int64
	last   int64
}

func checkLimit(l Limit) error {
	if l.PerMinute < 1 || l.PerMinute > MaxPerMinute {
		return fmt.Errorf("%w (got %d)", ErrBadLimit, l.PerMinute)
	}
	return nil
}

// refill adds what accrued between b.last and now. A clock that went back
// (another replica's clock behind this one) adds nothing and does not move
// last back, so skewed clocks can never mint tokens.
func refill(b bucket, now, perMinute int64) bucket {
	capacity := perMinute * unitsPerToken
	if b.tokens > capacity {
		b.tokens = capacity // the limit was lowered
	}
	elapsed := now - b.last
	if elapsed <= 0 {
		return b
	}
	if elapsed > fullRefill {
		elapsed = fullRefill // more would only overflow; the bucket is full anyway
	}
	b.tokens = min(capacity, b.tokens+elapsed*perMinute)
	b.last = now
	return b
}

// take refills b at now and takes a token when there is one. A nil b is a key
// without state, that is a full bucket.
func take(b *bucket, now, perMinute int64) (bucket, bool) {
	nb := bucket{tokens: perMinute * unitsPerToken, last: now}
	if b != nil {
		nb = refill(*b, now, perMinute)
	}
	if nb.tokens < unitsPerToken {
		return nb, false
	}
	nb.tokens -= unitsPerToken
	return nb, true
}

// isFull reports whether b has refilled completely by now, that is whether
// forgetting it changes nothing.
func isFull(b bucket, now, perMinute int64) bool {
	return refill(b, now, perMinute).tokens >= perMinute*unitsPerToken
}

// decide describes a bucket holding tokens units after a call.
func decide(perMinute, tokens int64, allowed bool) Decision {
	d := Decision{
		Allowed:    allowed,
		Limit:      int(perMinute),
		Remaining:  int(tokens / unitsPerToken),
		ResetAfter: time.Duration(ceilDiv(perMinute*unitsPerToken-tokens, perMinute)) * time.Millisecond,
	}
	if !allowed {
		d.RetryAfter = time.Duration(ceilDiv(unitsPerToken-tokens, perMinute)) * time.Millisecond
	}
	return d
}

func ceilDiv(a, b int64) int64 {
	if a <= 0 {
		return 0
	}
	return (a + b - 1) / b
}

// WriteHeaders sets the RateLimit-Limit, RateLimit-Remaining and
// RateLimit-Reset headers (IETF draft-ietf-httpapi-ratelimit-headers; Reset
// is whole seconds until the bucket is full, rounded up) on every limited
// response, and Retry-After (whole seconds, at least 1) on a refusal.
// Rounding up keeps clients that obey the headers from coming back a moment
// too early and being refused again.
func WriteHeaders(h http.Header, d Decision) {
	h.Set("RateLimit-Limit", strconv.Itoa(max(d.Limit, 0)))
	h.Set("RateLimit-Remaining", strconv.Itoa(max(d.Remaining, 0)))
	h.Set("RateLimit-Reset", strconv.FormatInt(ceilSeconds(d.ResetAfter), 10))
	if d.Allowed {
		h.Del("Retry-After")
		return
	}
	h.Set("Retry-After", strconv.FormatInt(max(ceilSeconds(d.RetryAfter), 1), 10))
}

// ceilSeconds rounds d up to whole seconds, 0 for d <= 0.
func ceilSeconds(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	return int64((d + time.Second - 1) / time.Second)
}
