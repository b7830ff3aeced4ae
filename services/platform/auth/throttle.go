package auth

import (
	"net"
	"net/netip"
	"sync"
	"time"
)

// DefaultFailedAuthPerMinute is how many failed key checks a client address
// may make per minute (and in a burst) before its keys are no longer checked.
const DefaultFailedAuthPerMinute = 10

// maxThrottled bounds the addresses a Throttle remembers.
const maxThrottled = 10000

// Throttle is a token bucket per client address that failed key checks
// drain: once empty, the address's keyed calls are refused without checking
// the key, until it refills. It lives in memory: each server throttles the
// guesses it sees.
type Throttle struct {
	perSecond float64
	burst     float64
	now       func() time.Time

	mu      sync.Mutex
	buckets map[string]bucket
}

type bucket struct {
	tokens float64
	at     time.Time
}

// NewThrottle allows perMinute failures per minute and as many in a burst;
// perMinute <= 0 means DefaultFailedAuthPerMinute. now may be nil (time.Now).
func NewThrottle(perMinute int, now func() time.Time) *Throttle {
	if perMinute <= 0 {
		perMinute = DefaultFailedAuthPerMinute
	}
	if now == nil {
		now = time.Now
	}
	return &Throttle{perSecond: float64(perMinute) / 60, burst: float64(perMinute), now: now, buckets: map[string]bucket{}}
}

// level is b's tokens at now.
func (t *Throttle) level(b bucket, now time.Time) float64 {
	return min(t.burst, b.tokens+t.perSecond*now.Sub(b.at).Seconds())
}

// Wait returns how long addr must wait before its next key is checked, 0
// when it may go on.
func (t *Throttle) Wait(addr string) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	b, ok := t.buckets[addr]
	if !ok {
		return 0
	}
	lv := t.level(b, t.now())
	if lv >= 1 {
		return 0
	}
	return time.Duration((1 - lv) / t.perSecond * float64(time.Second))
}

// Fail counts a failed key check from addr.
func (t *Throttle) Fail(addr string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	b, ok := t.buckets[addr]
	if !ok {
		b = bucket{tokens: t.burst, at: now}
		if len(t.buckets) >= maxThrottled {
			t.sweep(now)
		}
	}
	t.buckets[addr] = bucket{tokens: max(0, t.level(b, now)-1), at: now}
}

// sweep forgets the addresses whose bucket has refilled, which is the same as
// never having failed; if every one is still draining, it forgets them all
// rather than grow without bound.
func (t *Throttle) sweep(now time.Time) {
	for k, b := range t.buckets {
		if t.level(b, now) >= t.burst {
			delete(t.buckets, k)
		}
	}
	if len(t.buckets) >= maxThrottled {
		clear(t.buckets)
	}
}

// ClientAddr is the throttle's key for a peer address: its IP, or its /64
// network for IPv6, where one client commonly holds the whole network. Other
// addresses (Unix sockets, in-memory pipes) are used as they are.
func ClientAddr(a net.Addr) string {
	if a == nil {
		return ""
	}
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return a.String()
	}
	ip := ap.Addr().Unmap()
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		return p.String()
	}
	return ip.String()
}
