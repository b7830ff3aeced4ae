package ledger

import (
	"context"
	"errors"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"buzhou.dev/platform/errs"
	articlev1 "buzhou.dev/proto/gen/buzhou/article/v1"
	verificationv1 "buzhou.dev/proto/gen/buzhou/verification/v1"
)

// TestRunQueue: Concurrency runs hold slots, QueueLength more wait, the next
// is refused at once with a retry delay; a freed slot goes to a waiter.
func TestRunQueue(t *testing.T) {
	t.Parallel()
	q := newRunQueue(SandboxOptions{Concurrency: 1, QueueLength: 1, Timeout: 10 * time.Second}.withDefaults())
	release, err := q.acquire(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan error, 1)
	go func() {
		r, err := q.acquire(t.Context())
		if err == nil {
			r()
		}
		got <- err
	}()
	deadline := time.Now().Add(5 * time.Second)
	for {
		q.mu.Lock()
		w := q.waiting
		q.mu.Unlock()
		if w == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the second run is not waiting")
		}
		time.Sleep(time.Millisecond)
	}
	_, err = q.acquire(t.Context())
	if !errors.Is(err, errs.ErrResourceExhausted) {
		t.Fatalf("third acquire: %v; want refused", err)
	}
	st := status.Convert(errs.ToStatus(context.Background(), nil, "/x", err))
	if st.Code() != codes.ResourceExhausted || errs.RetryDelay(st) != 20*time.Second {
		t.Fatalf("refusal %v with delay %v; want RESOURCE_EXHAUSTED retrying in 20s", st, errs.RetryDelay(st))
	}
	release()
	if err := <-got; err != nil {
		t.Fatalf("the waiting run: %v", err)
	}
	// A waiter whose caller gives up leaves the line.
	release, _ = q.acquire(t.Context())
	defer release()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	if _, err := q.acquire(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a waiter whose context ended: %v", err)
	}
	if q.waiting != 0 {
		t.Fatalf("%d still waiting", q.waiting)
	}
}

func TestSandboxResult(t *testing.T) {
	t.Parallel()
	a := &articlev1.Article{Id: "art_1", Revision: 3}
	for _, tc := range []struct {
		name     string
		outcomes []string
		result   string
		record   bool
	}{
		{"all passed", []string{"passed", "passed"}, "passed", true},
		{"one failed", []string{"passed", "failed"}, "failed", true},
		{"one timed out", []string{"timed_out", "skipped"}, "failed", true},
		{"some skipped", []string{"passed", "skipped"}, "partial", true},
		{"all skipped: nothing ran, no record", []string{"skipped"}, "partial", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			resp := &verificationv1.RunBlocksResponse{Environment: &verificationv1.Environment{Os: "Debian", Extras: map[string]string{"kernel": "6.1"}}}
			for i, o := range tc.outcomes {
				b := &verificationv1.SandboxBlock{Index: int32(i), Language: "bash", Outcome: o, Reason: "why", Stderr: "err\x1b[31m"}
				if o != "skipped" {
					b.Runtime, b.RuntimeVersion = "bash", "5.2"
				}
				resp.Blocks = append(resp.Blocks, b)
			}
			run := sandboxRunOf(a, TriggerManual, resp)
			rec := sandboxRecord(run, resp)
			if run.Result != tc.result || (rec != nil) != tc.record {
				t.Fatalf("result %s, record %v; want %s, %v", run.Result, rec, tc.result, tc.record)
			}
			if rec != nil && (rec.Result != run.Result || rec.VerifierID != "prn_bot_sandbox" || rec.Runtime != "bash" || rec.RuntimeVersion != "5.2" ||
				rec.Extras["kernel"] != "6.1" || rec.Extras["sandboxRun"] != run.ID) {
				t.Fatalf("record %+v", rec)
			}
			if rec != nil && tc.result == "failed" && (rec.Evidence == "" || containsControl(rec.Evidence)) {
				t.Fatalf("evidence %q", rec.Evidence)
			}
		})
	}
}

func containsControl(s string) bool {
	for _, r := range s {
		if r < 0x20 && r != '\n' && r != '\t' {
			return true
		}
	}
	return false
}
