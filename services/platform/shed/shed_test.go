package shed

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"buzhou.dev/platform/metrics"
	"buzhou.dev/platform/metrics/metricstest"
)

// TestMain fails the package's tests when they leave goroutines running.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestParseLimit(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]Limit{"": {}, "0": {}, "32/128": {32, 128}, " 1/0 ": {1, 0}} {
		if got, err := ParseLimit(in); err != nil || got != want {
			t.Errorf("ParseLimit(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"32", "x/1", "0/5", "-1/2", "3/-1", "1/2/3", "99999999/1"} {
		if _, err := ParseLimit(in); err == nil || !strings.Contains(err.Error(), "CONCURRENT/QUEUE") {
			t.Errorf("ParseLimit(%q): %v", in, err)
		}
	}
}

func TestCheckQueueWait(t *testing.T) {
	t.Parallel()
	if err := CheckQueueWait(0); err != nil {
		t.Error(err)
	}
	if err := CheckQueueWait(-time.Second); err == nil || !strings.Contains(err.Error(), QueueWaitEnv) {
		t.Errorf("a negative wait: %v", err)
	}
}

// TestLimiter fills a class's one slot and one queue place, and checks that
// the next request is refused at once, naming the limit and its variable;
// that the waiting one gets the freed slot; that one whose caller leaves
// gives its place back; that other classes are not affected; and the count.
// The queue wait is an hour: nothing depends on timing.
func TestLimiter(t *testing.T) {
	t.Parallel()
	m, err := metrics.NewRegistry().Part("search")
	if err != nil {
		t.Fatal(err)
	}
	l := New(Config{Who: "the search service", QueueWait: time.Hour, Classes: []Class{
		{Name: "read", Env: "BUZHOU_SEARCH_SHED_READ", Limit: Limit{Concurrent: 1, Queue: 1}},
		{Name: "write", Env: "BUZHOU_SEARCH_SHED_WRITE"},
	}}, m)

	release, err := l.Acquire(t.Context(), 0)
	if err != nil {
		t.Fatal(err)
	}
	waited := make(chan error, 1)
	go func() {
		r, err := l.Acquire(t.Context(), 0)
		if err == nil {
			r()
		}
		waited <- err
	}()
	for l.Queued(0) < 2 {
		time.Sleep(time.Millisecond)
	}
	_, err = l.Acquire(t.Context(), 0)
	var refused *Refused
	if !errors.As(err, &refused) {
		t.Fatalf("over the limit: %v", err)
	}
	for _, want := range []string{"the search service", "read requests", "1 at once, 1 waiting", "BUZHOU_SEARCH_SHED_READ", "its queue is full", "retry after 1 s"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("refusal %q does not say %q", err, want)
		}
	}
	if r, err := l.Acquire(t.Context(), 1); err != nil {
		t.Errorf("a class without a limit: %v", err)
	} else {
		r()
	}
	release()
	if err := <-waited; err != nil {
		t.Errorf("the waiting request: %v", err)
	}
	if n := l.Queued(0); n != 0 {
		t.Errorf("%d places still taken", n)
	}

	// A caller that leaves while waiting gives its place back.
	release, _ = l.Acquire(t.Context(), 0)
	ctx, cancel := context.WithCancel(t.Context())
	go func() {
		for l.Queued(0) < 2 {
			time.Sleep(time.Millisecond)
		}
		cancel()
	}()
	if _, err := l.Acquire(ctx, 0); !errors.Is(err, context.Canceled) {
		t.Errorf("a caller that left: %v", err)
	}
	release()
	if n := l.Queued(0); n != 0 {
		t.Errorf("%d places still taken after the caller left", n)
	}

	if v, _ := metricstest.Serve(t, m.Handler(slog.New(slog.DiscardHandler))).Value("buzhou_shed_total", "service", "search", "class", "read"); v != 1 {
		t.Errorf("buzhou_shed_total{service=search,class=read} = %v, want 1", v)
	}
	if New(Config{Classes: []Class{{Name: "read"}}}, nil) != nil {
		t.Error("a limiter without limits")
	}
	var none *Limiter
	if r, err := none.Acquire(t.Context(), 0); err != nil {
		t.Error(err)
	} else {
		r()
	}
}

// What an admitted request pays for its class's limit.
func BenchmarkAcquire(b *testing.B) {
	l := New(Config{Classes: []Class{{Name: "read", Limit: Limit{Concurrent: 64, Queue: 256}}}}, nil)
	ctx := context.Background()
	for b.Loop() {
		release, _ := l.Acquire(ctx, 0)
		release()
	}
}
