package grpcx

import (
	"context"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"buzhou.dev/platform/auth"
	"buzhou.dev/platform/errs"
	"buzhou.dev/platform/metrics/metricstest"
	articlev1 "buzhou.dev/proto/gen/buzhou/article/v1"
	identityv1 "buzhou.dev/proto/gen/buzhou/identity/v1"
	searchv1 "buzhou.dev/proto/gen/buzhou/search/v1"
)

// blockingSearch is a search service whose Search and Resolve report that
// they started, then wait for release; GetIndexStatus answers at once.
type blockingSearch struct {
	searchv1.UnimplementedSearchServiceServer
	entered chan string
	release chan struct{}
}

func (b blockingSearch) Search(context.Context, *searchv1.SearchRequest) (*searchv1.SearchResponse, error) {
	b.entered <- "Search"
	<-b.release
	return &searchv1.SearchResponse{}, nil
}

func (b blockingSearch) Resolve(context.Context, *searchv1.ResolveRequest) (*searchv1.ResolveResponse, error) {
	b.entered <- "Resolve"
	<-b.release
	return &searchv1.ResolveResponse{}, nil
}

func (blockingSearch) GetIndexStatus(context.Context, *searchv1.GetIndexStatusRequest) (*searchv1.GetIndexStatusResponse, error) {
	return &searchv1.GetIndexStatusResponse{}, nil
}

// TestShedding fills the read class (one slot, one queue place) with
// handlers that block, and checks that the next read is refused at once
// with UNAVAILABLE, a RetryInfo and a message naming the limit and its
// variable; that health checks and unshed methods still pass; that the
// waiting call, not a later one, gets the freed slot; and the counts. The
// queue wait is an hour: nothing depends on timing.
func TestShedding(t *testing.T) {
	t.Parallel()
	p := newPart(t)
	shedding, err := Shedding("search", "1/1", "0", time.Hour, searchv1.SearchService_GetIndexStatus_FullMethodName)
	if err != nil {
		t.Fatal(err)
	}
	s := NewServer(discard, auth.NewGuard(noKeys{}, 0, nil), WithMetrics(p, ""), shedding)
	fake := blockingSearch{entered: make(chan string, 4), release: make(chan struct{})}
	searchv1.RegisterSearchServiceServer(s.GRPC, fake)
	srv := runServer(t, s)
	conn, err := Dial(srv.addr, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	c := searchv1.NewSearchServiceClient(conn)
	call := func(f func() error) <-chan error {
		out := make(chan error, 1)
		go func() { out <- f() }()
		return out
	}
	search := func() error { _, err := c.Search(t.Context(), &searchv1.SearchRequest{}); return err }

	first := call(search)
	<-fake.entered // holds the one slot
	second := call(func() error { _, err := c.Resolve(t.Context(), &searchv1.ResolveRequest{}); return err })
	for s.shed.limiter.Queued(classRead) < 2 { // waits for its slot
		time.Sleep(time.Millisecond)
	}
	err = search()
	st := status.Convert(err)
	if st.Code() != codes.Unavailable || errs.RetryDelay(st) != time.Second {
		t.Fatalf("over the limit: %v, retry delay %v; want UNAVAILABLE with a RetryInfo of 1 s", err, errs.RetryDelay(st))
	}
	for _, want := range []string{"the search service", "1 at once, 1 waiting", "BUZHOU_SEARCH_SHED_READ", "its queue is full"} {
		if !strings.Contains(st.Message(), want) {
			t.Errorf("refusal %q does not say %q", st.Message(), want)
		}
	}
	if _, err := c.GetIndexStatus(t.Context(), &searchv1.GetIndexStatusRequest{}); err != nil {
		t.Errorf("an unshed method while the class is full: %v", err)
	}
	if _, err := healthpb.NewHealthClient(conn).Check(t.Context(), &healthpb.HealthCheckRequest{}); err != nil {
		t.Errorf("a health check while the class is full: %v", err)
	}

	fake.release <- struct{}{} // the first call ends
	if got := <-fake.entered; got != "Resolve" {
		t.Errorf("the freed slot went to %s", got)
	}
	close(fake.release)
	for _, done := range []<-chan error{first, second} {
		if err := <-done; err != nil {
			t.Errorf("a call within the limit: %v", err)
		}
	}
	m := metricstest.Serve(t, p.Handler(discard))
	if v, _ := m.Value("buzhou_shed_total", "service", "article", "class", "read"); v != 1 {
		t.Errorf("buzhou_shed_total{class=read} = %v, want 1", v)
	}
	if v, _ := m.Value("buzhou_grpc_server_handled_total", "grpc_method", "Search", "grpc_code", "Unavailable"); v != 1 {
		t.Errorf("Search answered Unavailable: counted %v, want 1", v)
	}
}

func TestSheddingClasses(t *testing.T) {
	t.Parallel()
	opt, err := Shedding("article", "1/0", "1/0", 0, articlev1.ArticleService_GetArticleStats_FullMethodName)
	if err != nil {
		t.Fatal(err)
	}
	var o options
	opt(&o)
	s := newShedder(o)
	cases := []struct {
		method string
		want   int
	}{
		{articlev1.ArticleService_GetArticle_FullMethodName, classRead},
		{articlev1.ArticleService_ListArticles_FullMethodName, classRead},
		{articlev1.ArticleService_CreateArticle_FullMethodName, classWrite},
		{articlev1.ArticleService_UpdateArticle_FullMethodName, classWrite},
		{identityv1.IdentityService_ListApiKeys_FullMethodName, classRead},
		{articlev1.ArticleService_GetArticleStats_FullMethodName, never},
		{healthpb.Health_Check_FullMethodName, never},
		{"/no.such.Service/Method", classWrite},
	}
	for _, tc := range cases {
		if got := s.classOf(tc.method); got != tc.want {
			t.Errorf("classOf(%s) = %d, want %d", tc.method, got, tc.want)
		}
	}
}

func TestSheddingConfig(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, read, write string
		wait              time.Duration
		wantErr           string
	}{
		{"defaults", "64/256", "16/64", 0, ""},
		{"no limits", "0", "0", 0, ""},
		{"bad read", "64", "16/64", 0, "BUZHOU_VERIFICATION_SHED_READ"},
		{"bad write", "64/256", "x", 0, "BUZHOU_VERIFICATION_SHED_WRITE"},
		{"negative wait", "64/256", "16/64", -time.Second, "BUZHOU_SHED_QUEUE_WAIT"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := Shedding("verification", tc.read, tc.write, tc.wait)
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Errorf("Shedding(%q, %q, %v) = %v, want an error naming %q", tc.read, tc.write, tc.wait, err, tc.wantErr)
			}
		})
	}
}
