package triggers_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	articlev1 "buzhou.dev/proto/gen/buzhou/article/v1"
	verificationv1 "buzhou.dev/proto/gen/buzhou/verification/v1"
	"buzhou.dev/verification/internal/articletest"
	"buzhou.dev/verification/internal/store"
	"buzhou.dev/verification/internal/triggers"
)

// inspector records what the follower asks of it.
type inspector struct {
	mu    sync.Mutex
	calls []string // "inspect art_1@3 publish", "rescore art_2"
	done  map[string]int32
	seen  chan struct{}
}

func newInspector() *inspector {
	return &inspector{done: map[string]int32{}, seen: make(chan struct{}, 100)}
}

func (i *inspector) Inspect(_ context.Context, a *articlev1.Article, trigger string, _ bool) (*verificationv1.InspectionRun, error) {
	i.mu.Lock()
	i.calls = append(i.calls, fmt.Sprintf("inspect %s@%d %s", a.GetId(), a.GetRevision(), trigger))
	i.done[a.GetId()] = max(i.done[a.GetId()], a.GetRevision())
	i.mu.Unlock()
	i.seen <- struct{}{}
	return &verificationv1.InspectionRun{}, nil
}

func (i *inspector) Rescore(_ context.Context, id string) (bool, error) {
	i.mu.Lock()
	i.calls = append(i.calls, "rescore "+id)
	i.mu.Unlock()
	i.seen <- struct{}{}
	return true, nil
}

func (i *inspector) LastInspectedRevision(_ context.Context, id string) (int32, error) {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.done[id], nil
}

// waitCalls waits until n calls have been made and returns them.
func (i *inspector) waitCalls(t *testing.T, n int) []string {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		i.mu.Lock()
		got := slices.Clone(i.calls)
		i.mu.Unlock()
		if len(got) >= n {
			return got
		}
		select {
		case <-i.seen:
		case <-deadline:
			t.Fatalf("calls %q; want %d", got, n)
		}
	}
}

func openStore(t *testing.T) (store.Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "verification.db")
	st, err := store.OpenSQLite(t.Context(), path, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st, path
}

// start runs a follower until the test ends (or stop is called).
func start(t *testing.T, feed *articletest.Server, st store.Store, insp triggers.Inspector) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- triggers.NewFollower(feed.Client, st, insp, nil).Run(ctx) }()
	stop = func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("follower: %v", err)
		}
	}
	t.Cleanup(func() {
		if ctx.Err() == nil {
			stop()
		}
	})
	return stop
}

func TestFollowerInspectsPublishedAndEdited(t *testing.T) {
	t.Parallel()
	feed := articletest.Start(t)
	st, _ := openStore(t)
	insp := newInspector()
	start(t, feed, st, insp)

	title := &articlev1.LocalizedText{En: "x"}
	a := feed.Put(&articlev1.Article{Title: title, Status: "published"}, articlev1.ChangeCause_CHANGE_CAUSE_CREATE)
	insp.waitCalls(t, 1)
	b := feed.Put(&articlev1.Article{Title: title, Status: "draft"}, articlev1.ChangeCause_CHANGE_CAUSE_CREATE)
	// A draft is inspected as a draft, then again once published.
	insp.waitCalls(t, 2)
	b.Status = "published"
	feed.Put(b, articlev1.ChangeCause_CHANGE_CAUSE_STATUS_CHANGE)
	insp.waitCalls(t, 3)
	// Its own writes are not followed, nor the search service's related ids.
	feed.Put(a, articlev1.ChangeCause_CHANGE_CAUSE_TRUST_WRITEBACK)
	feed.Put(a, articlev1.ChangeCause_CHANGE_CAUSE_INSPECTION_REPAIR)
	a.RelatedIds = []string{b.GetId()}
	feed.Put(a, articlev1.ChangeCause_CHANGE_CAUSE_RELATED_UPDATE)
	// A later article's inspection comes third: none of them was acted on.
	feed.Put(&articlev1.Article{Title: title, Status: "published"}, articlev1.ChangeCause_CHANGE_CAUSE_CREATE)
	insp.waitCalls(t, 4)
	a.Summary = &articlev1.LocalizedText{En: "edited"}
	feed.Put(a, articlev1.ChangeCause_CHANGE_CAUSE_AUTHOR_EDIT)
	insp.waitCalls(t, 5)
	a.Status = "deprecated"
	feed.Put(a, articlev1.ChangeCause_CHANGE_CAUSE_STATUS_CHANGE)
	got := insp.waitCalls(t, 6)
	want := []string{"inspect art_1@1 publish", "inspect art_2@1 draft", "inspect art_2@2 publish", "inspect art_3@1 publish", "inspect art_1@5 edit", "rescore art_1"}
	if !slices.Equal(got, want) {
		t.Errorf("calls %q; want %q", got, want)
	}
}

// TestFollowerResumes: a restarted follower resumes at its cursor; one whose
// cursor is lost replays the feed but inspects nothing already inspected;
// a backlog is worked one inspection per article.
func TestFollowerResumes(t *testing.T) {
	t.Parallel()
	feed := articletest.Start(t)
	st, _ := openStore(t)
	title := &articlev1.LocalizedText{En: "x"}
	a := feed.Put(&articlev1.Article{Title: title, Status: "published"}, articlev1.ChangeCause_CHANGE_CAUSE_CREATE)
	for i := range 5 {
		a.Summary = &articlev1.LocalizedText{En: fmt.Sprint("edit ", i)}
		a = feed.Put(a, articlev1.ChangeCause_CHANGE_CAUSE_AUTHOR_EDIT)
	}
	insp := newInspector()
	stop := start(t, feed, st, insp)
	if got := insp.waitCalls(t, 1); got[0] != "inspect art_1@6 edit" {
		t.Errorf("the backlog gave %q; want one inspection at the newest revision", got)
	}
	waitCursor(t, st, 6)
	stop()

	// Restarted with the cursor: only the new change.
	b := feed.Put(&articlev1.Article{Title: title, Status: "published"}, articlev1.ChangeCause_CHANGE_CAUSE_CREATE)
	stop = start(t, feed, st, insp)
	if got := insp.waitCalls(t, 2); got[1] != "inspect "+b.GetId()+"@1 publish" {
		t.Errorf("after the restart %q", got)
	}
	waitCursor(t, st, 7)
	stop()

	// The cursor lost: the replay finds both inspected already.
	if err := st.SaveCursor(t.Context(), triggers.CursorName, 0); err != nil {
		t.Fatal(err)
	}
	start(t, feed, st, insp)
	waitCursor(t, st, 7)
	if got := insp.waitCalls(t, 2); len(got) != 2 {
		t.Errorf("the replay inspected again: %q", got)
	}
}

func waitCursor(t *testing.T, st store.Store, want int64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got, err := st.Cursor(t.Context(), triggers.CursorName)
		if err == nil && got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("cursor %d (%v); want %d", got, err, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestDailyRetries: the first run starts after its delay, a failed one is
// retried after the retry delay rather than the whole interval.
func TestDailyRetries(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(t.Context())
	runs := make(chan struct{}, 10)
	done := make(chan struct{})
	go func() {
		n := 0
		triggers.Daily(ctx, triggers.Schedule{First: time.Millisecond, Every: time.Hour, Retry: 10 * time.Millisecond}, func(context.Context) error {
			runs <- struct{}{}
			if n++; n < 3 {
				return errors.New("a failed run is retried soon")
			}
			return nil
		}, slog.New(slog.DiscardHandler))
		close(done)
	}()
	for range 3 {
		select {
		case <-runs:
		case <-time.After(10 * time.Second):
			t.Fatal("a failed run was not retried")
		}
	}
	select {
	case <-runs:
		t.Error("a good run was followed by another before the interval")
	default:
	}
	cancel()
	<-done
}

// TestFollowerHandsCodeToTheSandbox: a publish and an author's edit of the
// code blocks are handed to the sandbox after their inspection; other edits
// and the service's own writes are not.
func TestFollowerHandsCodeToTheSandbox(t *testing.T) {
	t.Parallel()
	feed := articletest.Start(t)
	st, _ := openStore(t)
	insp := newInspector()
	var (
		mu   sync.Mutex
		runs []string
	)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	f := triggers.NewFollower(feed.Client, st, insp, nil).WithSandbox(func(_ context.Context, a *articlev1.Article, trigger string) {
		mu.Lock()
		runs = append(runs, fmt.Sprintf("%s@%d %s", a.GetId(), a.GetRevision(), trigger))
		mu.Unlock()
	})
	go func() { _ = f.Run(ctx) }()

	title := &articlev1.LocalizedText{En: "x"}
	a := feed.Put(&articlev1.Article{Title: title, Status: "published"}, articlev1.ChangeCause_CHANGE_CAUSE_CREATE)
	insp.waitCalls(t, 1)
	a.Summary = &articlev1.LocalizedText{En: "edited"}
	a = feed.Put(a, articlev1.ChangeCause_CHANGE_CAUSE_AUTHOR_EDIT, "summary")
	insp.waitCalls(t, 2)
	a.CodeBlocks = []*articlev1.CodeBlock{{Language: "bash", Code: "echo hi", Runnable: true}}
	a = feed.Put(a, articlev1.ChangeCause_CHANGE_CAUSE_AUTHOR_EDIT, "code_blocks")
	insp.waitCalls(t, 3)
	feed.Put(a, articlev1.ChangeCause_CHANGE_CAUSE_TRUST_WRITEBACK, "code_blocks")
	waitCursor(t, st, 4)
	mu.Lock()
	defer mu.Unlock()
	if want := []string{"art_1@1 publish", "art_1@3 edit"}; !slices.Equal(runs, want) {
		t.Errorf("sandbox runs %q; want %q", runs, want)
	}
}
