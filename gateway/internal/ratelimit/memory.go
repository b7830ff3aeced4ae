package ratelimit

import (
	"context"
	"hash/maphash"
	"sync"
	"time"
)

// memoryShards spreads keys over independently locked maps so that parallel
// requests rarely wait for each other and a sweep holds up only one shard.
const memoryShards = 32

// sweepEvery is how often a shard forgets its full buckets. A bucket is full
// at most a minute after its last use, so an idle key is forgotten within
// about two minutes and memory is bounded by the keys seen in that time.
const sweepEvery = time.Minute

// Memory is a Limiter for a single gateway process. It is safe for concurrent
// use, starts no goroutines and needs no Close: forgetting idle buckets
// happens lazily inside Allow.
type Memory struct {
	now    func() time.Time
	seed   maphash.Seed
	shards [memoryShards]memoryShard
}

type memoryShard struct {
	mu        sync.Mutex
	buckets   map[string]memoryBucket
	nextSweep int64 // Unix ms
}

type memoryBucket struct {
	bucket
	perMinute int64
}

var _ Limiter = (*Memory)(nil)

// NewMemory returns an in-process Limiter reading the time from now
// (time.Now when nil).
func NewMemory(now func() time.Time) *Memory {
	if now == nil {
		now = time.Now
	}
	m := &Memory{now: now, seed: maphash.MakeSeed()}
	for i := range m.shards {
		m.shards[i].buckets = make(map[string]memoryBucket)
	}
	return m
}

// Allow implements Limiter. It never fails except for a bad limit.
func (m *Memory) Allow(_ context.Context, key string, limit Limit) (Decision, error) {
	if err := checkLimit(limit); err != nil {
		return Decision{}, err
	}
	perMinute := int64(limit.PerMinute)
	now := m.now().UnixMilli()
	s := &m.shards[maphash.String(m.seed, key)%memoryShards]

	s.mu.Lock()
	defer s.mu.Unlock()
	s.sweep(now)
	var prev *bucket
	if b, ok := s.buckets[key]; ok {
		prev = &b.bucket
	}
	b, allowed := take(prev, now, perMinute)
	s.buckets[key] = memoryBucket{bucket: b, perMinute: perMinute}
	return decide(perMinute, b.tokens, allowed), nil
}

// sweep drops the buckets that have refilled completely: a key without a
// bucket behaves exactly like a full one.
func (s *memoryShard) sweep(now int64) {
	if now < s.nextSweep {
		return
	}
	s.nextSweep = now + sweepEvery.Milliseconds()
	for k, b := range s.buckets {
		if isFull(b.bucket, now, b.perMinute) {
			delete(s.buckets, k)
		}
	}
}

// size is the number of buckets held, for tests.
func (m *Memory) size() int {
	n := 0
	for i := range m.shards {
		s := &m.shards[i]
		s.mu.Lock()
		n += len(s.buckets)
		s.mu.Unlock()
	}
	return n
}

// MemoryQuota is a Quota for a single gateway process, safe for concurrent
// use. Like Memory it needs no Close.
type MemoryQuota struct {
	now func() time.Time

	mu        sync.Mutex
	counts    map[string]quotaCount
	nextSweep time.Time
}

// quotaCount holds one key's calls in the day and month that start at day
// and month (UTC).
type quotaCount struct {
	day, month           time.Time
	dayCalls, monthCalls int64
}

var _ Quota = (*MemoryQuota)(nil)

// NewMemoryQuota returns an in-process Quota reading the time from now
// (time.Now when nil).
func NewMemoryQuota(now func() time.Time) *MemoryQuota {
	if now == nil {
		now = time.Now
	}
	return &MemoryQuota{now: now, counts: make(map[string]quotaCount)}
}

// Use implements Quota.
func (q *MemoryQuota) Use(_ context.Context, key string, daily, monthly int64) (QuotaDecision, error) {
	if err := checkQuota(daily, monthly); err != nil {
		return QuotaDecision{}, err
	}
	p := periodsAt(q.now())
	if daily == 0 && monthly == 0 {
		return QuotaDecision{Allowed: true}, nil
	}

	q.mu.Lock()
	defer q.mu.Unlock()
	q.sweep(p)
	c := q.counts[key]
	if !c.day.Equal(p.day) {
		c.day, c.dayCalls = p.day, 0
	}
	if !c.month.Equal(p.month) {
		c.month, c.monthCalls = p.month, 0
	}
	allowed := admit(daily, monthly, c.dayCalls, c.monthCalls)
	if allowed {
		if daily > 0 {
			c.dayCalls++
		}
		if monthly > 0 {
			c.monthCalls++
		}
		q.counts[key] = c
	}
	return quotaDecide(p, daily, monthly, c.dayCalls, c.monthCalls, allowed), nil
}

// sweep forgets, once a day, the keys with no calls counted in the current
// day or month: their counts would be reset on their next use anyway.
func (q *MemoryQuota) sweep(p periods) {
	if p.day.Before(q.nextSweep) {
		return
	}
	q.nextSweep = p.nextDay
	for k, c := range q.counts {
		dayDone := !c.day.Equal(p.day) || c.dayCalls == 0
		monthDone := !c.month.Equal(p.month) || c.monthCalls == 0
		if dayDone && monthDone {
			delete(q.counts, k)
		}
	}
}
