package agents

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"buzhou.dev/platform/metrics"
	"buzhou.dev/platform/metrics/metricstest"
)

// recorder is a flush function that records batches and fails while fail is
// set.
type recorder struct {
	mu      sync.Mutex
	fail    error
	batches [][]Usage
	ctxErrs []error
	got     chan struct{} // receives after each successful flush
}

func newRecorder() *recorder { return &recorder{got: make(chan struct{}, 100)} }

func (r *recorder) flush(ctx context.Context, usage []Usage) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail != nil {
		return r.fail
	}
	r.batches = append(r.batches, usage)
	r.ctxErrs = append(r.ctxErrs, ctx.Err())
	r.got <- struct{}{}
	return nil
}

func (r *recorder) setFail(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.fail = err
}

func (r *recorder) recorded() [][]Usage {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.batches)
}

func TestTrackerAggregates(t *testing.T) {
	t.Parallel()
	type obs struct {
		id      string
		status  int
		latency time.Duration
	}
	tests := []struct {
		name string
		obs  []obs
		want []Usage
	}{
		{
			name: "calls, errors and latency per agent, most calls first",
			obs: []obs{
				{"claude", 200, 10 * time.Millisecond},
				{"chatgpt", 404, 5 * time.Millisecond},
				{"claude", 500, 20 * time.Millisecond},
				{"claude", 399, 30 * time.Millisecond},
				{"chatgpt", 429, 5 * time.Millisecond},
				{"chatgpt", 201, 5 * time.Millisecond},
			},
			want: []Usage{
				{AgentID: "chatgpt", Calls: 3, Errors: 2, TotalLatencyMs: 15},
				{AgentID: "claude", Calls: 3, Errors: 1, TotalLatencyMs: 60},
			},
		},
		{
			name: "sub-millisecond latencies add up",
			obs:  []obs{{"a", 200, 400 * time.Microsecond}, {"a", 200, 400 * time.Microsecond}, {"a", 200, 400 * time.Microsecond}},
			want: []Usage{{AgentID: "a", Calls: 3, TotalLatencyMs: 1}},
		},
		{
			name: "negative latency counts as zero",
			obs:  []obs{{"a", 200, -time.Second}},
			want: []Usage{{AgentID: "a", Calls: 1}},
		},
		{
			name: "invalid ids are ignored",
			obs:  []obs{{"", 200, time.Millisecond}, {"no spaces", 200, time.Millisecond}},
			want: []Usage{},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tr := NewTracker(nil, 0, nil)
			for _, o := range tc.obs {
				tr.Observe(o.id, o.status, o.latency)
			}
			if diff := cmp.Diff(tc.want, tr.Snapshot()); diff != "" {
				t.Errorf("Snapshot (-want +got):\n%s", diff)
			}
		})
	}
}

func TestTrackerFlush(t *testing.T) {
	t.Parallel()
	rec := newRecorder()
	tr := NewTracker(rec.flush, time.Hour, nil)
	ctx := context.Background()
	if err := tr.Flush(ctx); err != nil || len(rec.recorded()) != 0 {
		t.Fatalf("flush with nothing observed: err %v, batches %v; want nothing sent", err, rec.recorded())
	}
	tr.Observe("zeta", 200, time.Millisecond)
	tr.Observe("alpha", 500, 2*time.Millisecond)
	if err := tr.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	want := [][]Usage{{
		{AgentID: "alpha", Calls: 1, Errors: 1, TotalLatencyMs: 2},
		{AgentID: "zeta", Calls: 1, TotalLatencyMs: 1},
	}}
	if diff := cmp.Diff(want, rec.recorded()); diff != "" {
		t.Errorf("batches (-want +got):\n%s", diff)
	}
	if s := tr.Snapshot(); len(s) != 0 {
		t.Errorf("after a flush Snapshot = %v, want empty", s)
	}
}

func TestTrackerFailedFlushIsKeptAndMerged(t *testing.T) {
	t.Parallel()
	rec := newRecorder()
	tr := NewTracker(rec.flush, time.Hour, nil)
	ctx := context.Background()
	tr.Observe("claude", 200, 10*time.Millisecond)
	tr.Observe("chatgpt", 500, 10*time.Millisecond)

	down := errors.New("identity service unavailable")
	rec.setFail(down)
	if err := tr.Flush(ctx); !errors.Is(err, down) {
		t.Fatalf("Flush = %v, want it to wrap %v", err, down)
	}
	tr.Observe("claude", 503, 5*time.Millisecond)
	tr.Observe("cursor", 200, 1*time.Millisecond)

	rec.setFail(nil)
	if err := tr.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	want := [][]Usage{{
		{AgentID: "chatgpt", Calls: 1, Errors: 1, TotalLatencyMs: 10},
		{AgentID: "claude", Calls: 2, Errors: 1, TotalLatencyMs: 15},
		{AgentID: "cursor", Calls: 1, TotalLatencyMs: 1},
	}}
	if diff := cmp.Diff(want, rec.recorded()); diff != "" {
		t.Errorf("batches (-want +got):\n%s", diff)
	}
}

func TestTrackerIsBounded(t *testing.T) {
	t.Parallel()
	rec := newRecorder()
	m, err := metrics.NewRegistry().Part("gateway")
	if err != nil {
		t.Fatal(err)
	}
	dropped := func(reason string) float64 {
		v, _ := metricstest.Serve(t, m.Handler(slog.New(slog.DiscardHandler))).Value("buzhou_agent_usage_dropped_total", "service", "gateway", "reason", reason)
		return v
	}
	tr := NewTracker(rec.flush, time.Hour, m)
	tr.maxAgents = 3
	for i := range 5 {
		tr.Observe(fmt.Sprintf("agent-%d", i), 200, 0)
	}
	tr.Observe("agent-0", 200, 0) // known agents still count
	if got := dropped("too_many_agents"); got != 2 {
		t.Errorf("dropped too_many_agents = %v after 5 agents with room for 3, want 2", got)
	}
	if got := len(tr.Snapshot()); got != 3 {
		t.Errorf("Snapshot holds %d agents, want 3", got)
	}

	// A failed batch merged into a table that filled up meanwhile keeps its
	// busiest agents and drops and counts the calls of the rest.
	rec.setFail(errors.New("down"))
	tr.flush = func(ctx context.Context, usage []Usage) error {
		tr.Observe("new-1", 200, 0)
		tr.Observe("new-2", 200, 0)
		return rec.flush(ctx, usage)
	}
	if err := tr.Flush(context.Background()); err == nil {
		t.Fatal("Flush did not fail")
	}
	want := []Usage{{AgentID: "agent-0", Calls: 2}, {AgentID: "new-1", Calls: 1}, {AgentID: "new-2", Calls: 1}}
	if diff := cmp.Diff(want, tr.Snapshot()); diff != "" {
		t.Errorf("Snapshot after the merge (-want +got):\n%s", diff)
	}
	if got := dropped("flush_failed"); got != 2 {
		t.Errorf("dropped flush_failed = %v, want 2 (agent-1 and agent-2 at the merge)", got)
	}
	if got := dropped("too_many_agents"); got != 2 {
		t.Errorf("dropped too_many_agents = %v after the merge, want still 2", got)
	}
}

func TestTrackerRun(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		every time.Duration
	}{
		// Waits for the flush to happen rather than for time to pass.
		{"flushes periodically", time.Millisecond},
		{"flushes once more at shutdown", time.Hour},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rec := newRecorder()
			tr := NewTracker(rec.flush, tc.every, nil)
			tr.Observe("claude", 200, time.Millisecond)
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- tr.Run(ctx) }()
			if tc.every < time.Hour {
				<-rec.got
			}
			cancel()
			if err := <-done; err != nil {
				t.Fatalf("Run: %v", err)
			}
			want := [][]Usage{{{AgentID: "claude", Calls: 1, TotalLatencyMs: 1}}}
			if diff := cmp.Diff(want, rec.recorded()); diff != "" {
				t.Errorf("batches (-want +got):\n%s", diff)
			}
			rec.mu.Lock()
			defer rec.mu.Unlock()
			for i, err := range rec.ctxErrs {
				if err != nil {
					t.Errorf("flush %d got a finished context: %v", i, err)
				}
			}
		})
	}
}
