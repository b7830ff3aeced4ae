package stack

import (
	"context"
	"io"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"buzhou.dev/platform/auth"
	"buzhou.dev/platform/grpcx"
	articlev1 "buzhou.dev/proto/gen/buzhou/article/v1"
)

func newArticle(title string) *articlev1.Article {
	return &articlev1.Article{
		Title:   &articlev1.LocalizedText{En: title, Zh: "标题"},
		Summary: &articlev1.LocalizedText{En: "summary"},
		Content: &articlev1.LocalizedText{En: "## Body\n\ntext"},
		Domain:  "mcp",
	}
}

func TestGRPCArticleService(t *testing.T) {
	t.Parallel()
	s := startStack(t, options{})
	ctx := context.Background()
	admin := articlev1.NewArticleServiceClient(grpcConn(t, s.ArticleAddr, testAdminKey))
	anon := articlev1.NewArticleServiceClient(grpcConn(t, s.ArticleAddr, ""))

	if _, err := anon.CreateArticle(ctx, &articlev1.CreateArticleRequest{Article: newArticle("x")}); status.Code(err) != codes.Unauthenticated {
		t.Fatalf("anonymous create: %v", err)
	}
	var hdr metadata.MD
	a, err := admin.CreateArticle(ctx, &articlev1.CreateArticleRequest{Article: newArticle("gRPC first")}, grpc.Header(&hdr))
	if err != nil {
		t.Fatal(err)
	}
	if a.GetSlug() != "grpc-first" || a.GetRevision() != 1 || a.GetStatus() != "draft" {
		t.Errorf("created %v", a)
	}
	if got := hdr.Get("x-article-id"); len(got) != 1 || got[0] != a.GetId() {
		t.Errorf("header x-article-id %v", got)
	}

	batch, err := admin.BatchCreateArticles(ctx, &articlev1.BatchCreateArticlesRequest{Articles: []*articlev1.Article{newArticle("gRPC second"), {Domain: "mcp"}}})
	if err != nil {
		t.Fatal(err)
	}
	if batch.GetResults()[0].GetArticle() == nil || batch.GetResults()[1].GetError().GetCode() != "INVALID_ARGUMENT" {
		t.Errorf("batch results %v", batch.GetResults())
	}

	if _, err := anon.GetArticle(ctx, &articlev1.GetArticleRequest{IdOrSlug: a.GetId()}); status.Code(err) != codes.NotFound {
		t.Errorf("anonymous get of draft: %v", err)
	}
	if _, err := admin.GetArticle(ctx, &articlev1.GetArticleRequest{IdOrSlug: "grpc-first"}); err != nil {
		t.Errorf("get by slug: %v", err)
	}

	upd, err := admin.UpdateArticle(ctx, &articlev1.UpdateArticleRequest{
		Article:          &articlev1.Article{Id: a.GetId(), Tags: []string{"grpc"}, Title: &articlev1.LocalizedText{Zh: "新标题"}},
		UpdateMask:       &fieldmaskpb.FieldMask{Paths: []string{"tags", "title.zh"}},
		ExpectedRevision: 1,
	})
	if err != nil {
		t.Fatal(err)
	}
	if upd.GetTitle().GetEn() != "gRPC first" || upd.GetTitle().GetZh() != "新标题" || len(upd.GetTags()) != 1 || upd.GetRevision() != 2 {
		t.Errorf("updated %v", upd)
	}
	if _, err := admin.UpdateArticle(ctx, &articlev1.UpdateArticleRequest{Article: &articlev1.Article{Id: a.GetId(), Tags: []string{"y"}}, ExpectedRevision: 1}); status.Code(err) != codes.FailedPrecondition {
		t.Errorf("stale update: %v", err)
	}
	if _, err := admin.UpdateArticle(ctx, &articlev1.UpdateArticleRequest{Article: &articlev1.Article{Id: a.GetId(), Slug: "other"}}); status.Code(err) != codes.InvalidArgument {
		t.Errorf("changing the slug: %v", err)
	}

	pub, err := admin.PublishArticle(ctx, &articlev1.PublishArticleRequest{Id: a.GetId()})
	if err != nil || pub.GetStatus() != "published" {
		t.Fatalf("publish: %v %v", pub, err)
	}
	again, err := admin.PublishArticle(ctx, &articlev1.PublishArticleRequest{Id: a.GetId()})
	if err != nil || again.GetRevision() != pub.GetRevision() {
		t.Errorf("publishing twice should change nothing: %v %v", again, err)
	}
	body, err := anon.RenderArticle(ctx, &articlev1.RenderArticleRequest{IdOrSlug: a.GetSlug(), Lang: "en"})
	if err != nil || body.GetContentType() != "text/markdown; charset=utf-8" || len(body.GetData()) == 0 {
		t.Errorf("render: %v", err)
	}
	list, err := anon.ListArticles(ctx, &articlev1.ListArticlesRequest{})
	if err != nil || len(list.GetArticles()) != 1 {
		t.Errorf("public list: %v %v", list, err)
	}

	svc := articlev1.NewArticleServiceClient(grpcConn(t, s.ArticleAddr, s.ServiceKeys[auth.ServiceVerification]))
	trust, err := svc.UpdateArticleTrust(ctx, &articlev1.UpdateArticleTrustRequest{ArticleId: a.GetId(), VerificationStatus: proto.String("verified"), ConfidenceScore: proto.Int32(91), RiskLevel: proto.String("low")})
	if err != nil || trust.GetConfidenceScore() != 91 || trust.GetVerificationStatus() != "verified" {
		t.Errorf("trust: %v %v", trust, err)
	}
	if _, err := svc.UpdateArticleTrust(ctx, &articlev1.UpdateArticleTrustRequest{ArticleId: a.GetId(), ConfidenceScore: proto.Int32(101)}); status.Code(err) != codes.InvalidArgument {
		t.Errorf("confidence 101: %v", err)
	}

	dep, err := admin.DeprecateArticle(ctx, &articlev1.DeprecateArticleRequest{Id: a.GetId(), Reason: "old"})
	if err != nil || dep.GetStatus() != "deprecated" {
		t.Errorf("deprecate: %v %v", dep, err)
	}
	arch, err := admin.ArchiveArticle(ctx, &articlev1.ArchiveArticleRequest{Id: a.GetId()})
	if err != nil || arch.GetStatus() != "archived" {
		t.Errorf("archive: %v %v", arch, err)
	}
	stats, err := anon.GetArticleStats(ctx, &articlev1.GetArticleStatsRequest{})
	if err != nil || stats.GetTotal() != 2 || stats.GetByStatus()["archived"] != 1 {
		t.Errorf("stats: %v %v", stats, err)
	}
}

// readChanges reads n changes from a feed stream.
func readChanges(t *testing.T, stream grpc.ServerStreamingClient[articlev1.ArticleChange], n int) []*articlev1.ArticleChange {
	t.Helper()
	var out []*articlev1.ArticleChange
	for len(out) < n {
		c, err := stream.Recv()
		if err == io.EOF {
			t.Fatalf("feed ended after %d changes, want %d", len(out), n)
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, c)
	}
	return out
}

func TestChangeFeedResumesAfterRestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	first := startStack(t, options{dataDir: dir})
	admin := articlev1.NewArticleServiceClient(grpcConn(t, first.ArticleAddr, testAdminKey))
	a, err := admin.CreateArticle(ctx, &articlev1.CreateArticleRequest{Article: newArticle("Feed one")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.ArchiveArticle(ctx, &articlev1.ArchiveArticleRequest{Id: a.GetId()}); err != nil {
		t.Fatal(err)
	}
	anon := articlev1.NewArticleServiceClient(grpcConn(t, first.ArticleAddr, ""))
	if s, err := anon.WatchArticles(ctx, &articlev1.WatchArticlesRequest{}); err == nil {
		if _, err := s.Recv(); status.Code(err) != codes.Unauthenticated {
			t.Errorf("anonymous feed (it carries drafts): %v", err)
		}
	}
	feed := articlev1.NewArticleServiceClient(grpcConn(t, first.ArticleAddr, first.ServiceKeys[auth.ServiceSearch]))
	stream, err := feed.WatchArticles(ctx, &articlev1.WatchArticlesRequest{})
	if err != nil {
		t.Fatal(err)
	}
	// The stream opens with the head, so a follower knows when it is done.
	if md, err := stream.Header(); err != nil {
		t.Fatal(err)
	} else if head, ok := grpcx.FeedHead(md); !ok || head != 2 {
		t.Errorf("feed head header %v (%d, %v), want 2", md.Get(grpcx.FeedHeadHeader), head, ok)
	}
	got := readChanges(t, stream, 2)
	if got[0].GetKind() != articlev1.ChangeKind_CHANGE_KIND_UPSERT || got[0].GetArticle().GetId() != a.GetId() {
		t.Errorf("first change %v", got[0])
	}
	if got[1].GetKind() != articlev1.ChangeKind_CHANGE_KIND_TOMBSTONE || got[1].GetArticle() != nil || got[1].GetArticleId() != a.GetId() {
		t.Errorf("archive should be a tombstone: %v", got[1])
	}
	cursor := got[1].GetRevision()
	if err := first.Stop(); err != nil {
		t.Fatal(err)
	}

	second := startStack(t, options{dataDir: dir})
	admin = articlev1.NewArticleServiceClient(grpcConn(t, second.ArticleAddr, testAdminKey))
	feed = articlev1.NewArticleServiceClient(grpcConn(t, second.ArticleAddr, second.ServiceKeys[auth.ServiceSearch]))
	stream, err = feed.WatchArticles(ctx, &articlev1.WatchArticlesRequest{AfterRevision: cursor})
	if err != nil {
		t.Fatal(err)
	}
	// A live change after the follower resumed arrives without polling delay.
	b, err := admin.CreateArticle(ctx, &articlev1.CreateArticleRequest{Article: newArticle("Feed two")})
	if err != nil {
		t.Fatal(err)
	}
	next := readChanges(t, stream, 1)[0]
	if next.GetRevision() != cursor+1 || next.GetArticleId() != b.GetId() {
		t.Errorf("resumed feed gave %v, want revision %d for %s", next, cursor+1, b.GetId())
	}

	// From the head (the gateway's read cache): no backlog, the head in the
	// header first, then what is written next.
	fromHead, err := articlev1.NewArticleServiceClient(grpcConn(t, second.ArticleAddr, second.ServiceKeys[auth.ServiceGateway])).
		WatchArticles(ctx, &articlev1.WatchArticlesRequest{FromHead: true, AfterRevision: 1})
	if err != nil {
		t.Fatal(err)
	}
	md, err := fromHead.Header()
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := grpcx.FeedHead(md); !ok || got != cursor+1 {
		t.Errorf("feed head %v (%v), want %d", got, md, cursor+1)
	}
	c, err := admin.CreateArticle(ctx, &articlev1.CreateArticleRequest{Article: newArticle("Feed three")})
	if err != nil {
		t.Fatal(err)
	}
	if next := readChanges(t, fromHead, 1)[0]; next.GetRevision() != cursor+2 || next.GetArticleId() != c.GetId() {
		t.Errorf("the feed from its head gave %v, want revision %d for %s", next, cursor+2, c.GetId())
	}
}
