package agents

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"buzhou.dev/platform/metrics"
	"buzhou.dev/platform/vocab"
)

// MaxAgents bounds how many agents a Tracker holds between flushes. Agent
// ids are chosen by callers, so without a bound anyone could grow the table
// without end; calls of agents beyond it are dropped and counted in the
// metric buzhou_agent_usage_dropped_total.
const MaxAgents = 10_000

// finalFlushTimeout bounds the flush Run makes when it stops.
const finalFlushTimeout = 5 * time.Second

// defaultEvery is the flush interval when NewTracker is given none.
const defaultEvery = time.Minute

// Usage is the traffic of one agent since the last successful flush.
type Usage struct {
	AgentID        string
	Calls, Errors  int64
	TotalLatencyMs int64
}

// Tracker counts calls per agent in memory and hands the counts to a flush
// function (the identity API's RecordAgentUsage) now and then, so that a
// request costs a map update rather than a write. It is safe for concurrent
// use.
type Tracker struct {
	flush     func(ctx context.Context, usage []Usage) error
	every     time.Duration
	now       func() time.Time // the clock Middleware times requests with
	maxAgents int
	metrics   *metrics.Part

	flushMu sync.Mutex // one flush at a time, so batches arrive in order

	mu      sync.Mutex
	pending map[string]*counts
}

// counts keeps latency as a Duration so that sub-millisecond calls add up;
// it becomes milliseconds only in a flushed Usage.
type counts struct {
	calls, errors int64
	latency       time.Duration
}

// NewTracker returns a Tracker that hands the counts to flush every every
// (a minute when <= 0) while Run runs. flush should log its own errors: Run
// keeps the counts of a failed flush and retries them with the next one.
// With a nil flush the Tracker only counts, for Snapshot. Dropped calls are
// counted in m (nil counts them nowhere).
func NewTracker(flush func(ctx context.Context, usage []Usage) error, every time.Duration, m *metrics.Part) *Tracker {
	if every <= 0 {
		every = defaultEvery
	}
	return &Tracker{
		flush:     flush,
		every:     every,
		now:       time.Now,
		maxAgents: MaxAgents,
		metrics:   m,
		pending:   make(map[string]*counts),
	}
}

// Observe counts one call of agent id answered with status after latency;
// status 400 and above is an error. Ids that vocab.ValidAgentID rejects are ignored.
func (t *Tracker) Observe(id string, status int, latency time.Duration) {
	if !vocab.ValidAgentID(id) {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	c := t.pending[id]
	if c == nil {
		if len(t.pending) >= t.maxAgents {
			t.metrics.UsageDropped(metrics.DropTooManyAgents, 1)
			return
		}
		c = &counts{}
		t.pending[id] = c
	}
	c.calls++
	if status >= 400 {
		c.errors++
	}
	c.latency += max(latency, 0)
}

// Snapshot returns the counts not flushed yet (with a nil flush function,
// everything since start), most calls first, then by agent id.
func (t *Tracker) Snapshot() []Usage {
	t.mu.Lock()
	usage := toUsage(t.pending)
	t.mu.Unlock()
	slices.SortFunc(usage, func(a, b Usage) int {
		return cmp.Or(cmp.Compare(b.Calls, a.Calls), cmp.Compare(a.AgentID, b.AgentID))
	})
	return usage
}

// Flush hands the pending counts, sorted by agent id, to the flush function.
// When it fails the counts are merged back to go with the next flush (up to
// MaxAgents agents, the busiest first; the calls of the rest are dropped and
// counted).
func (t *Tracker) Flush(ctx context.Context) error {
	if t.flush == nil {
		return nil
	}
	t.flushMu.Lock()
	defer t.flushMu.Unlock()

	t.mu.Lock()
	batch := t.pending
	t.pending = make(map[string]*counts, len(batch))
	t.mu.Unlock()
	if len(batch) == 0 {
		return nil
	}
	usage := toUsage(batch)
	slices.SortFunc(usage, func(a, b Usage) int { return cmp.Compare(a.AgentID, b.AgentID) })
	if err := t.flush(ctx, usage); err != nil {
		t.merge(batch)
		return fmt.Errorf("agents: flush usage of %d agents (kept for the next flush): %w", len(usage), err)
	}
	return nil
}

// merge adds counts that failed to flush to what arrived meanwhile. When
// the table cannot take every agent, the busiest agents are kept.
func (t *Tracker) merge(batch map[string]*counts) {
	ids := make([]string, 0, len(batch))
	for id := range batch {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, func(a, b string) int {
		return cmp.Or(cmp.Compare(batch[b].calls, batch[a].calls), cmp.Compare(a, b))
	})
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, id := range ids {
		b := batch[id]
		c := t.pending[id]
		if c == nil {
			if len(t.pending) >= t.maxAgents {
				t.metrics.UsageDropped(metrics.DropFlushFailed, b.calls)
				continue
			}
			t.pending[id] = b
			continue
		}
		c.calls += b.calls
		c.errors += b.errors
		c.latency += b.latency
	}
}

// Run flushes every interval until ctx ends, then once more with a fresh
// deadline so the last counts are not lost at shutdown; it returns the error
// of that last flush. Errors of the periodic flushes are left to the flush
// function to report; their counts are retried.
func (t *Tracker) Run(ctx context.Context) error {
	tick := time.NewTicker(t.every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), finalFlushTimeout)
			defer cancel()
			return t.Flush(fctx)
		case <-tick.C:
			_ = t.Flush(ctx)
		}
	}
}

func toUsage(m map[string]*counts) []Usage {
	usage := make([]Usage, 0, len(m))
	for id, c := range m {
		usage = append(usage, Usage{AgentID: id, Calls: c.calls, Errors: c.errors, TotalLatencyMs: c.latency.Milliseconds()})
	}
	return usage
}
