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

	"buzhou.dev/platform/vocab"
	articlev1 "buzhou.dev/proto/gen/buzhou/article/v1"
	"buzhou.dev/search/internal/feed"
)

// feedServer is an article service that serves only the feed, from a list
// that tests append to; breakAfter ends a stream with UNAVAILABLE after that
// many sends, once.
type feedServer struct {
	articlev1.UnimplementedArticleServiceServer
	mu         sync.Mutex
	changes    []*articlev1.ArticleChange
	wake       chan struct{}
	opens      []int64 // after_revision of every stream opened
	breakAfter int
	// head: GetArticleStats reports the head revision, as the article
	// service does; without it the follower can only go by silence.
	head bool
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
		id := fmt.Sprintf("art_%d", rev%7)
		s.changes = append(s.changes, &articlev1.ArticleChange{Revision: rev, Kind: articlev1.ChangeKind_CHANGE_KIND_UPSERT, ArticleId: id,
			Article: &articlev1.Article{Id: id, Status: vocab.StatusPublished}})
	}
	close(s.wake)
	s.wake = make(chan struct{})
}

func (s *feedServer) GetArticleStats(context.Context, *articlev1.GetArticleStatsRequest) (*articlev1.GetArticleStatsResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := &articlev1.GetArticleStatsResponse{Total: int64(len(s.changes))}
	if s.head {
		r.HeadRevision = int64(len(s.changes))
	}
	return r, nil
}

func (s *feedServer) WatchArticles(req *articlev1.WatchArticlesRequest, stream grpc.ServerStreamingServer[articlev1.ArticleChange]) error {
	s.mu.Lock()
	s.opens = append(s.opens, req.GetAfterRevision())
	s.mu.Unlock()
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

// start runs a follower with a short quiet time, or quiet when given.
func start(t *testing.T, srv *feedServer, cur *cursors, s *sink, quiet ...time.Duration) *feed.Follower {
	t.Helper()
	s.cur = cur
	f := feed.New(feed.Config{
		Client: dial(t, srv), Cursors: cur, Name: "test", Apply: s.apply, Batch: 10,
		Quiet: append(quiet, 20*time.Millisecond)[0], MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond,
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

// steady adds a change every few milliseconds until the test ends: a feed
// that is never quiet.
func steady(t *testing.T, srv *feedServer) {
	t.Helper()
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			srv.add(1)
			time.Sleep(2 * time.Millisecond)
		}
	}()
	t.Cleanup(func() { stop(); <-done })
}

// A backlog under steady writes: the feed is never silent, so only the head
// the article service reports tells the follower it has caught up (a crash
// test found search never ready again after a restart under writes).
func TestCaughtUpUnderSteadyWrites(t *testing.T) {
	t.Parallel()
	for _, resumed := range []bool{false, true} {
		t.Run(fmt.Sprintf("resumed=%v", resumed), func(t *testing.T) {
			t.Parallel()
			srv, cur, s := newFeedServer(300), &cursors{}, &sink{}
			srv.head = true
			if resumed {
				cur.revs = map[string]int64{"test": 300}
			}
			steady(t, srv)
			f := start(t, srv, cur, s, time.Hour)
			eventually(t, "catch-up under steady writes", func() bool { return f.Status().CaughtUp })
			if st := f.Status(); st.Applied < 300 {
				t.Fatalf("caught up at %+v, before the head 300 it was told", st)
			}
		})
	}
}

func TestSnapshotUnderSteadyWrites(t *testing.T) {
	t.Parallel()
	srv := newFeedServer(200)
	srv.head = true
	steady(t, srv)
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	got, err := feed.Snapshot(ctx, dial(t, srv), time.Hour)
	if err != nil || len(got) != 7 {
		t.Fatalf("Snapshot = %d articles, %v; want the 7 articles", len(got), err)
	}
}
