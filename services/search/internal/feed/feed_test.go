package feed_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"

	"buzhou.dev/platform/grpcx"
	articlev1 "buzhou.dev/proto/gen/buzhou/article/v1"
	"buzhou.dev/search/internal/feed"
)

// feedServer is an article service that serves only the feed, from a list
// that tests append to; breakAfter ends a stream with UNAVAILABLE after that
// many sends, once. With head it opens each stream with the feed head, as
// the article service does (without, it is one from before the header);
// with stall set, it stops after sending revision stallAt until stall is
// closed.
type feedServer struct {
	articlev1.UnimplementedArticleServiceServer
	mu         sync.Mutex
	changes    []*articlev1.ArticleChange
	wake       chan struct{}
	opens      []int64 // after_revision of every stream opened
	breakAfter int
	head       bool
	stallAt    int64
	stall      chan struct{}
}

func newFeedServer(n int) *feedServer {
	s := &feedServer{wake: make(chan struct{})}
	s.add(n)
	return s
}

func (s *feedServer) add(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		rev := int64(len(s.changes) + 1)
		s.changes = append(s.changes, &articlev1.ArticleChange{Revision: rev, Kind: articlev1.ChangeKind_CHANGE_KIND_UPSERT, ArticleId: fmt.Sprintf("art_%d", rev%7)})
	}
	close(s.wake)
	s.wake = make(chan struct{})
}

func (s *feedServer) GetArticleStats(context.Context, *articlev1.GetArticleStatsRequest) (*articlev1.GetArticleStatsResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return &articlev1.GetArticleStatsResponse{Total: int64(len(s.changes))}, nil
}

func (s *feedServer) WatchArticles(req *articlev1.WatchArticlesRequest, stream grpc.ServerStreamingServer[articlev1.ArticleChange]) error {
	s.mu.Lock()
	s.opens = append(s.opens, req.GetAfterRevision())
	head, sendHead, stallAt, stall := int64(len(s.changes)), s.head, s.stallAt, s.stall
	s.mu.Unlock()
	if sendHead {
		if err := stream.SendHeader(grpcx.FeedHeadMD(head)); err != nil {
			return err
		}
	}
	after, sent := req.GetAfterRevision(), 0
	for {
		s.mu.Lock()
		pending := slices.Clone(s.changes[min(after, int64(len(s.changes))):])
		wake := s.wake
		s.mu.Unlock()
		for _, c := range pending {
			s.mu.Lock()
			brk := s.breakAfter > 0 && sent >= s.breakAfter
			if brk {
				s.breakAfter = 0
			}
			s.mu.Unlock()
			if brk {
				return status.Error(codes.Unavailable, "going away")
			}
			if err := stream.Send(c); err != nil {
				return err
			}
			after, sent = c.GetRevision(), sent+1
			if stall != nil && after == stallAt {
				select {
				case <-stall:
				case <-stream.Context().Done():
					return nil
				}
			}
		}
		select {
		case <-wake:
		case <-stream.Context().Done():
			return nil
		}
	}
}

func dial(t *testing.T, srv articlev1.ArticleServiceServer) articlev1.ArticleServiceClient {
	t.Helper()
	lis := bufconn.Listen(1 << 20)
	g := grpc.NewServer()
	articlev1.RegisterArticleServiceServer(g, srv)
	go g.Serve(lis)
	t.Cleanup(g.Stop)
	conn, err := grpc.NewClient("passthrough:///feed", grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return articlev1.NewArticleServiceClient(conn)
}

// cursors is an in-memory cursor store that can be made to fail.
type cursors struct {
	mu    sync.Mutex
	revs  map[string]int64
	saves []int64
	fail  int
}

func (c *cursors) Cursor(_ context.Context, name string) (int64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.revs[name], nil
}

func (c *cursors) SaveCursor(_ context.Context, name string, rev int64) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fail > 0 {
		c.fail--
		return errors.New("disk full")
	}
	if c.revs == nil {
		c.revs = map[string]int64{}
	}
	c.revs[name] = rev
	c.saves = append(c.saves, rev)
	return nil
}

func (c *cursors) get() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.revs["test"]
}

// sink records applied revisions and can fail a number of times.
type sink struct {
	mu      sync.Mutex
	applied []int64
	fail    int
	calls   int
	cur     *cursors
	// lag checks that the cursor never runs ahead of what was applied.
	ahead bool
}

func (s *sink) apply(_ context.Context, batch []*articlev1.ArticleChange) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	if s.cur != nil && s.cur.get() > int64(len(s.applied)) {
		s.ahead = true
	}
	if s.fail > 0 {
		s.fail--
		return errors.New("backend down")
	}
	for _, c := range batch {
		s.applied = append(s.applied, c.GetRevision())
	}
	return nil
}

func (s *sink) revisions() []int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.applied)
}

// eventually waits for cond, failing after a long, generous deadline; it
// asserts an outcome, not a speed.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting: %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func start(t *testing.T, srv *feedServer, cur *cursors, s *sink) *feed.Follower {
	t.Helper()
	return startQuiet(t, srv, cur, s, 20*time.Millisecond)
}

// startQuiet starts a follower whose quiet fallback waits quiet.
func startQuiet(t *testing.T, srv *feedServer, cur *cursors, s *sink, quiet time.Duration) *feed.Follower {
	t.Helper()
	s.cur = cur
	f := feed.New(feed.Config{
		Client: dial(t, srv), Cursors: cur, Name: "test", Apply: s.apply, Batch: 10,
		Quiet: quiet, MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond,
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("Run returned %v, want context.Canceled", err)
		}
	})
	return f
}

func seq(from, to int64) []int64 {
	var out []int64
	for r := from; r <= to; r++ {
		out = append(out, r)
	}
	return out
}

func TestBacklogThenLive(t *testing.T) {
	t.Parallel()
	srv, cur, s := newFeedServer(95), &cursors{}, &sink{}
	f := start(t, srv, cur, s)
	eventually(t, "catch-up", func() bool { return f.Status().CaughtUp })
	if got := s.revisions(); !slices.Equal(got, seq(1, 95)) {
		t.Fatalf("applied %v, want 1…95 in order", got)
	}
	if cur.get() != 95 || f.Status().Applied != 95 {
		t.Fatalf("cursor %d, status %+v; want 95", cur.get(), f.Status())
	}
	srv.add(3)
	eventually(t, "live changes", func() bool { return cur.get() == 98 })
	if got := s.revisions(); !slices.Equal(got, seq(1, 98)) {
		t.Fatalf("applied %v, want 1…98", got)
	}
	if s.ahead {
		t.Fatalf("the cursor was saved before the changes were applied")
	}
}

func TestResumesFromTheCursor(t *testing.T) {
	t.Parallel()
	srv, s := newFeedServer(30), &sink{}
	cur := &cursors{revs: map[string]int64{"test": 20}}
	f := start(t, srv, cur, s)
	eventually(t, "catch-up", func() bool { return f.Status().CaughtUp })
	if got := s.revisions(); !slices.Equal(got, seq(21, 30)) {
		t.Fatalf("applied %v, want 21…30 only", got)
	}
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if srv.opens[0] != 20 {
		t.Fatalf("the feed was opened after revision %d, want 20", srv.opens[0])
	}
}

func TestFailingBackendLosesNothing(t *testing.T) {
	t.Parallel()
	srv, cur, s := newFeedServer(40), &cursors{}, &sink{fail: 5}
	f := start(t, srv, cur, s)
	eventually(t, "catch-up", func() bool { return f.Status().CaughtUp })
	if got := s.revisions(); !slices.Equal(got, seq(1, 40)) {
		t.Fatalf("applied %v, want every revision 1…40 despite failures", got)
	}
	if s.calls < 5+4 {
		t.Fatalf("%d apply calls; the failures were not retried", s.calls)
	}
	if s.ahead {
		t.Fatalf("the cursor ran ahead of the index")
	}
	if st := f.Status(); st.LastErr != "" {
		t.Fatalf("last error still set after recovery: %q", st.LastErr)
	}
}

func TestFailingCursorStoreRetries(t *testing.T) {
	t.Parallel()
	srv, cur, s := newFeedServer(12), &cursors{fail: 3}, &sink{}
	f := start(t, srv, cur, s)
	eventually(t, "catch-up", func() bool { return f.Status().CaughtUp && cur.get() == 12 })
	// A batch whose cursor could not be saved is not applied again within
	// the same stream; the index writes are idempotent anyway.
	if got := s.revisions(); !slices.Equal(got, seq(1, 12)) {
		t.Fatalf("applied %v", got)
	}
}

func TestBrokenStreamResumes(t *testing.T) {
	t.Parallel()
	srv, cur, s := newFeedServer(50), &cursors{}, &sink{}
	srv.breakAfter = 25
	f := start(t, srv, cur, s)
	eventually(t, "catch-up", func() bool { return f.Status().CaughtUp && cur.get() == 50 })
	got := s.revisions()
	slices.Sort(got)
	got = slices.Compact(got)
	if !slices.Equal(got, seq(1, 50)) {
		t.Fatalf("applied %v, want every revision", got)
	}
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if len(srv.opens) < 2 || srv.opens[1] == 0 {
		t.Fatalf("stream opens %v: the second must resume after what was applied", srv.opens)
	}
}

func TestRebuild(t *testing.T) {
	t.Parallel()
	srv, cur, s := newFeedServer(20), &cursors{}, &sink{}
	f := start(t, srv, cur, s)
	eventually(t, "catch-up", func() bool { return f.Status().CaughtUp && f.Status().Applied == 20 })
	resets := 0
	target, err := f.Rebuild(context.Background(), func(context.Context) error {
		resets++
		s.mu.Lock()
		s.applied = nil
		s.mu.Unlock()
		return nil
	})
	if err != nil || target != 20 || resets != 1 {
		t.Fatalf("Rebuild = %d, %v (resets %d); want target 20", target, err, resets)
	}
	eventually(t, "rebuild", func() bool { st := f.Status(); return st.CaughtUp && !st.Rebuilding && st.Applied == 20 })
	if got := s.revisions(); !slices.Equal(got, seq(1, 20)) {
		t.Fatalf("after the rebuild applied %v, want 1…20 again", got)
	}
	// A failing reset changes nothing.
	if _, err := f.Rebuild(context.Background(), func(context.Context) error { return errors.New("no") }); err == nil {
		t.Fatalf("a failing reset was not reported")
	}
	if st := f.Status(); st.Applied != 20 || st.Rebuilding {
		t.Fatalf("after a failed reset: %+v", st)
	}
}

// With a feed head the follower is caught up exactly when it has applied
// everything up to it: not during a pause of the backlog, however long
// (the quiet fallback would be fooled by one), and at once on a feed with
// nothing to send. The lag it reports is head − applied.
func TestCaughtUpExactlyAtTheHead(t *testing.T) {
	t.Parallel()
	srv, cur, s := newFeedServer(30), &cursors{}, &sink{}
	srv.head, srv.stallAt, srv.stall = true, 10, make(chan struct{})
	// An hour of quiet: only the head can make it catch up in this test.
	f := startQuiet(t, srv, cur, s, time.Hour)
	eventually(t, "the first ten applied", func() bool { return f.Status().Applied == 10 })
	time.Sleep(100 * time.Millisecond) // many times a quiet period elsewhere
	if st := f.Status(); st.CaughtUp || st.Head != 30 || st.Head-st.Applied != 20 {
		t.Fatalf("during a pause of the backlog: %+v; want not caught up, head 30, lag 20", st)
	}
	close(srv.stall)
	eventually(t, "catch-up at the head", func() bool { return f.Status().CaughtUp })
	if st := f.Status(); st.Applied != 30 || st.Head != 30 {
		t.Fatalf("caught up at %+v, want applied 30 = head", st)
	}
	// Live changes move the head with them.
	srv.add(2)
	eventually(t, "live changes", func() bool { st := f.Status(); return st.Applied == 32 && st.Head == 32 })

	empty := newFeedServer(0)
	empty.head = true
	g := startQuiet(t, empty, &cursors{}, &sink{}, time.Hour)
	eventually(t, "catch-up with an empty feed", func() bool { return g.Status().CaughtUp })

	// Resumed at the head: nothing to apply, caught up at once.
	up := newFeedServer(5)
	up.head = true
	h := startQuiet(t, up, &cursors{revs: map[string]int64{"test": 5}}, &sink{}, time.Hour)
	eventually(t, "catch-up when resumed at the head", func() bool { return h.Status().CaughtUp })
}

// Without a feed head (an article service from before it), the follower
// falls back to the stream's silence.
func TestQuietFallbackWithoutHead(t *testing.T) {
	t.Parallel()
	srv, cur, s := newFeedServer(25), &cursors{}, &sink{}
	f := start(t, srv, cur, s)
	eventually(t, "catch-up by silence", func() bool { return f.Status().CaughtUp })
	if st := f.Status(); st.Applied != 25 || st.Head != 25 {
		t.Fatalf("caught up at %+v, want 25", st)
	}
}

// Snapshot reads up to the head, and stops there without waiting for quiet.
func TestSnapshotStopsAtTheHead(t *testing.T) {
	t.Parallel()
	srv := newFeedServer(0)
	srv.head = true
	srv.mu.Lock()
	for i, st := range []string{"published", "draft", "published", "deprecated"} {
		srv.changes = append(srv.changes, &articlev1.ArticleChange{Revision: int64(i + 1), Kind: articlev1.ChangeKind_CHANGE_KIND_UPSERT,
			ArticleId: fmt.Sprint("art_", i%3), Article: &articlev1.Article{Id: fmt.Sprint("art_", i%3), Status: st}})
	}
	srv.mu.Unlock()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	got, err := feed.Snapshot(ctx, dial(t, srv), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, a := range got {
		ids = append(ids, a.GetId()+" "+a.GetStatus())
	}
	if want := []string{"art_0 deprecated", "art_2 published"}; !slices.Equal(ids, want) {
		t.Fatalf("snapshot %q, want %q", ids, want)
	}
}
