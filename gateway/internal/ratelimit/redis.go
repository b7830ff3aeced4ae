package ratelimit

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// bucketScript is take and refill from ratelimit.go in Lua, so that reading,
// refilling, taking and writing a bucket is one atomic step however many
// gateways share it. The state is a hash {t = tokens in units, ts = Unix ms
// up to which refill was added}. The key expires a minute after the bucket
// would be full again: a missing key is a full bucket, and the extra minute
// covers clock differences between the gateways and Redis.
//
// KEYS[1] bucket; ARGV[1] now (Unix ms, the caller's clock); ARGV[2] limit
// per minute. Returns {allowed (0/1), tokens left in units}.
const bucketScript = `
local now = tonumber(ARGV[1])
local per = tonumber(ARGV[2])
local unit = 60000
local full_refill = 60000
local cap = per * unit
local state = redis.call('HMGET', KEYS[1], 't', 'ts')
local tokens = tonumber(state[1])
local last = tonumber(state[2])
if tokens == nil or last == nil then
  tokens = cap
  last = now
end
if tokens > cap then tokens = cap end
local elapsed = now - last
if elapsed > 0 then
  if elapsed > full_refill then elapsed = full_refill end
  tokens = math.min(cap, tokens + elapsed * per)
  last = now
end
local allowed = 0
if tokens >= unit then
  tokens = tokens - unit
  allowed = 1
end
redis.call('HSET', KEYS[1], 't', string.format('%.0f', tokens), 'ts', string.format('%.0f', last))
redis.call('PEXPIRE', KEYS[1], string.format('%.0f', math.ceil((cap - tokens) / per) + 60000))
return {allowed, tokens}
`

// Redis is a Limiter whose buckets live in Redis, so every gateway replica
// pointing at the same Redis shares one bucket per key.
//
// The time comes from the gateway's clock (now), passed to the script as an
// argument, rather than from Redis's TIME: tests can then drive the bucket
// with a fake clock exactly like Memory, the script stays deterministic
// (required for script replication before Redis 5), and Memory and Redis
// share one definition of a bucket. Replicas' clocks only need to agree
// roughly (NTP): a clock behind the last writer's adds no tokens until it
// catches up, so skew can delay refill by the skew but never mint tokens.
type Redis struct {
	client redis.UniversalClient
	prefix string
	now    func() time.Time
	script *redis.Script
}

var _ Limiter = (*Redis)(nil)

// NewRedis returns a Limiter storing the bucket of key at prefix+key in
// client. It does not own client.
func NewRedis(client redis.UniversalClient, prefix string, now func() time.Time) *Redis {
	if now == nil {
		now = time.Now
	}
	// redis.Script runs EVALSHA and falls back to EVAL when Redis does not
	// know the script yet (after a restart or on a new replica).
	return &Redis{client: client, prefix: prefix, now: now, script: redis.NewScript(bucketScript)}
}

// Allow implements Limiter. Errors come from Redis; the gateway decides
// whether to fail open or closed.
func (r *Redis) Allow(ctx context.Context, key string, limit Limit) (Decision, error) {
	if err := checkLimit(limit); err != nil {
		return Decision{}, err
	}
	perMinute := int64(limit.PerMinute)
	res, err := r.script.Run(ctx, r.client, []string{r.prefix + key}, r.now().UnixMilli(), perMinute).Int64Slice()
	if err != nil {
		return Decision{}, fmt.Errorf("ratelimit: Redis bucket: %w", err)
	}
	if len(res) != 2 {
		return Decision{}, fmt.Errorf("ratelimit: Redis bucket script answered %d values, want 2", len(res))
	}
	return decide(perMinute, res[1], res[0] == 1), nil
}

// quotaScript checks and counts one call against the day and month counters
// atomically. It counts only when both quotas have room, so a call refused
// for the daily quota does not use up the monthly one. Expiry is relative and
// computed from the caller's clock (like the bucket's), with an hour's grace
// so a gateway whose clock is slightly behind still finds the counter; the
// counter names carry the date, so a new period starts a new counter.
//
// KEYS[1] day counter, KEYS[2] month counter; ARGV[1] daily quota, ARGV[2]
// monthly quota (0 = none; that counter is left alone), ARGV[3] and ARGV[4]
// their time to live in ms. Returns {allowed (0/1), day calls, month calls}.
const quotaScript = `
local daily = tonumber(ARGV[1])
local monthly = tonumber(ARGV[2])
local d = tonumber(redis.call('GET', KEYS[1]) or '0')
local m = tonumber(redis.call('GET', KEYS[2]) or '0')
if (daily > 0 and d >= daily) or (monthly > 0 and m >= monthly) then
  return {0, d, m}
end
if daily > 0 then
  d = redis.call('INCR', KEYS[1])
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
end
if monthly > 0 then
  m = redis.call('INCR', KEYS[2])
  redis.call('PEXPIRE', KEYS[2], ARGV[4])
end
return {1, d, m}
`

// quotaGrace keeps a counter a while past its period; see quotaScript.
const quotaGrace = time.Hour

// RedisQuota is a Quota whose counters live in Redis, shared by every gateway
// replica.
type RedisQuota struct {
	client redis.UniversalClient
	prefix string
	now    func() time.Time
	script *redis.Script
}

var _ Quota = (*RedisQuota)(nil)

// NewRedisQuota returns a Quota keeping key's counters at
// prefix+"{"+key+"}:d:2006-01-02" and prefix+"{"+key+"}:m:2006-01" in client
// (the braces keep both in one Redis Cluster slot, as one script needs). It
// does not own client. now is the clock, as for NewRedis.
func NewRedisQuota(client redis.UniversalClient, prefix string, now func() time.Time) *RedisQuota {
	if now == nil {
		now = time.Now
	}
	return &RedisQuota{client: client, prefix: prefix, now: now, script: redis.NewScript(quotaScript)}
}

// Use implements Quota.
func (q *RedisQuota) Use(ctx context.Context, key string, daily, monthly int64) (QuotaDecision, error) {
	if err := checkQuota(daily, monthly); err != nil {
		return QuotaDecision{}, err
	}
	if daily == 0 && monthly == 0 {
		return QuotaDecision{Allowed: true}, nil
	}
	now := q.now()
	p := periodsAt(now)
	base := q.prefix + "{" + key + "}"
	keys := []string{base + ":d:" + p.day.Format("2006-01-02"), base + ":m:" + p.month.Format("2006-01")}
	ttl := func(end time.Time) int64 { return max(end.Sub(now)+quotaGrace, time.Second).Milliseconds() }
	res, err := q.script.Run(ctx, q.client, keys, daily, monthly, ttl(p.nextDay), ttl(p.nextMonth)).Int64Slice()
	if err != nil {
		return QuotaDecision{}, fmt.Errorf("ratelimit: Redis quota: %w", err)
	}
	if len(res) != 3 {
		return QuotaDecision{}, fmt.Errorf("ratelimit: Redis quota script answered %d values, want 3", len(res))
	}
	return quotaDecide(p, daily, monthly, res[1], res[2], res[0] == 1), nil
}
