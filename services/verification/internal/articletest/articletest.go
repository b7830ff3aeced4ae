// Package articletest is an in-process fake of the article service for the
// verification service's tests: the reads, the trust write-back and the
// change feed the verification service uses, over real gRPC on loopback, and
// the repair write (RepairArticle). It keeps every write
// as a feed change, so tests can count revisions and check causes.
package articletest

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"buzhou.dev/platform/grpcx"
	articlev1 "buzhou.dev/proto/gen/buzhou/article/v1"
	"buzhou.dev/verification/internal/ledger"
)

// Server is the fake article service.
type Server struct {
	articlev1.UnimplementedArticleServiceServer
	mu       sync.Mutex
	articles map[string]*articlev1.Article
	changes  []*articlev1.ArticleChange
	// changed is closed and replaced at every write, for WatchArticles.
	changed chan struct{}
	// refuse, when set, answers every trust and repair write.
	refuse error
	// Client reaches the server over gRPC.
	Client articlev1.ArticleServiceClient
}

var _ ledger.Repairer = articlev1.ArticleServiceClient(nil)

// Start serves a fake on a loopback listener until t ends.
func Start(t testing.TB) *Server {
	t.Helper()
	s := &Server{articles: map[string]*articlev1.Article{}, changed: make(chan struct{})}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := grpc.NewServer()
	articlev1.RegisterArticleServiceServer(g, s)
	go func() { _ = g.Serve(lis) }()
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		conn.Close()
		g.Stop()
	})
	s.Client = articlev1.NewArticleServiceClient(conn)
	return s
}

// Put stores a (a new article when its id is unknown) as a writer would,
// with cause, and returns the stored copy; its change names paths as the
// fields it changed. New articles get an id, slug and the initial trust
// fields when they lack them.
func (s *Server) Put(a *articlev1.Article, cause articlev1.ChangeCause, paths ...string) *articlev1.Article {
	s.mu.Lock()
	defer s.mu.Unlock()
	a = proto.Clone(a).(*articlev1.Article)
	if a.Id == "" {
		a.Id = fmt.Sprintf("art_%d", len(s.articles)+1)
	}
	if a.Slug == "" {
		a.Slug = a.Id
	}
	if old, ok := s.articles[a.Id]; ok {
		a.Revision = old.Revision
	} else if a.VerificationStatus == "" {
		a.VerificationStatus, a.ConfidenceScore, a.RiskLevel = "pending", 72, "low"
	}
	return s.write(a, cause, paths...)
}

// write stores a with the next revision and appends its change; s.mu is held.
func (s *Server) write(a *articlev1.Article, cause articlev1.ChangeCause, paths ...string) *articlev1.Article {
	a.Revision++
	s.articles[a.Id] = a
	s.changes = append(s.changes, &articlev1.ArticleChange{
		Revision: int64(len(s.changes) + 1), Kind: articlev1.ChangeKind_CHANGE_KIND_UPSERT, ArticleId: a.Id,
		Article: proto.Clone(a).(*articlev1.Article), ChangeTime: timestamppb.Now(), Cause: cause, ChangedPaths: paths,
	})
	close(s.changed)
	s.changed = make(chan struct{})
	return proto.Clone(a).(*articlev1.Article)
}

// RefuseWrites makes every trust and repair write fail with err (nil: succeed
// again), as an article service that is down would.
func (s *Server) RefuseWrites(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refuse = err
}

// Get returns the stored article, whatever its status.
func (s *Server) Get(id string) *articlev1.Article {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a, ok := s.articles[id]; ok {
		return proto.Clone(a).(*articlev1.Article)
	}
	return nil
}

// Changes returns the feed changes of one article ("" for all), oldest first.
func (s *Server) Changes(articleID string) []*articlev1.ArticleChange {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*articlev1.ArticleChange
	for _, c := range s.changes {
		if articleID == "" || c.ArticleId == articleID {
			out = append(out, c)
		}
	}
	return out
}

func public(a *articlev1.Article) bool { return a.Status == "published" || a.Status == "deprecated" }

func (s *Server) find(idOrSlug string) *articlev1.Article {
	if a, ok := s.articles[idOrSlug]; ok {
		return a
	}
	for _, a := range s.articles {
		if a.Slug == idOrSlug {
			return a
		}
	}
	return nil
}

// GetArticle answers public articles only, as the real service does for a
// caller without articles:write.
func (s *Server) GetArticle(_ context.Context, req *articlev1.GetArticleRequest) (*articlev1.Article, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.find(req.GetIdOrSlug())
	if a == nil || !public(a) {
		return nil, status.Errorf(codes.NotFound, "article %q not found", req.GetIdOrSlug())
	}
	return proto.Clone(a).(*articlev1.Article), nil
}

// ListArticles lists public articles of the status asked, by id; the page
// token is an offset (it is a fake).
func (s *Server) ListArticles(_ context.Context, req *articlev1.ListArticlesRequest) (*articlev1.ListArticlesResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var all []*articlev1.Article
	for _, a := range s.articles {
		if public(a) && (req.GetStatus() == "" || a.Status == req.GetStatus()) {
			all = append(all, proto.Clone(a).(*articlev1.Article))
		}
	}
	slices.SortFunc(all, func(x, y *articlev1.Article) int { return strings.Compare(x.Id, y.Id) })
	from, _ := strconv.Atoi(req.GetPageToken())
	size := int(max(req.GetPageSize(), 1))
	to := min(from+size, len(all))
	resp := &articlev1.ListArticlesResponse{Articles: all[min(from, len(all)):to]}
	if to < len(all) {
		resp.NextPageToken = strconv.Itoa(to)
	}
	return resp, nil
}

// UpdateArticleTrust writes the present trust fields as one revision.
func (s *Server) UpdateArticleTrust(_ context.Context, req *articlev1.UpdateArticleTrustRequest) (*articlev1.Article, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.refuse != nil {
		return nil, s.refuse
	}
	cur, ok := s.articles[req.GetArticleId()]
	if !ok {
		return nil, status.Errorf(codes.NotFound, "article %q not found", req.GetArticleId())
	}
	if req.GetExpectedRevision() != 0 && cur.Revision != req.GetExpectedRevision() {
		return nil, status.Errorf(codes.FailedPrecondition, "article %s is at revision %d, not %d", cur.Id, cur.Revision, req.GetExpectedRevision())
	}
	a := proto.Clone(cur).(*articlev1.Article)
	applyTrust(a, req)
	cause := req.GetCause()
	if cause == articlev1.ChangeCause_CHANGE_CAUSE_UNSPECIFIED {
		cause = articlev1.ChangeCause_CHANGE_CAUSE_TRUST_WRITEBACK
	}
	return s.write(a, cause), nil
}

func applyTrust(a *articlev1.Article, req *articlev1.UpdateArticleTrustRequest) {
	if req.VerificationStatus != nil {
		a.VerificationStatus = req.GetVerificationStatus()
	}
	if req.ConfidenceScore != nil {
		a.ConfidenceScore = req.GetConfidenceScore()
	}
	if req.RiskLevel != nil {
		a.RiskLevel = req.GetRiskLevel()
	}
	if req.GetLastInspectedAt() != nil {
		a.LastInspectedAt = req.GetLastInspectedAt()
	}
	if v := req.GetVerifications(); v != nil {
		a.RecentVerifications, a.VerificationCount = v.GetRecent(), v.GetCount()
	}
}

// Repair is the repair write the verification service needs: the repaired
// fields and the trust summary as one revision with cause INSPECTION_REPAIR,
// refused when the article moved past the inspected revision.
func (s *Server) RepairArticle(_ context.Context, r *articlev1.RepairArticleRequest) (*articlev1.Article, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.refuse != nil {
		return nil, s.refuse
	}
	cur, ok := s.articles[r.GetArticle().GetId()]
	if !ok {
		return nil, status.Errorf(codes.NotFound, "article %q not found", r.GetArticle().GetId())
	}
	if cur.Revision != r.GetExpectedRevision() {
		return nil, status.Errorf(codes.FailedPrecondition, "article %s is at revision %d, not %d", cur.Id, cur.Revision, r.GetExpectedRevision())
	}
	a := proto.Clone(cur).(*articlev1.Article)
	for _, f := range r.GetUpdateMask().GetPaths() {
		switch f {
		case "tags":
			a.Tags = r.Article.GetTags()
		case "keywords":
			a.Keywords = r.Article.GetKeywords()
		case "references":
			a.References = r.Article.GetReferences()
		case "code_blocks":
			a.CodeBlocks = r.Article.GetCodeBlocks()
		default:
			return nil, status.Errorf(codes.InvalidArgument, "field %q cannot be repaired", f)
		}
	}
	applyTrust(a, r.GetTrust())
	return s.write(a, articlev1.ChangeCause_CHANGE_CAUSE_INSPECTION_REPAIR), nil
}

// WatchArticles streams the changes after a revision, then live ones.
func (s *Server) WatchArticles(req *articlev1.WatchArticlesRequest, stream grpc.ServerStreamingServer[articlev1.ArticleChange]) error {
	after := req.GetAfterRevision()
	s.mu.Lock()
	head := int64(len(s.changes))
	s.mu.Unlock()
	if err := stream.SendHeader(grpcx.FeedHeadMD(head)); err != nil {
		return err
	}
	for {
		s.mu.Lock()
		pending := slices.Clone(s.changes[min(int(after), len(s.changes)):])
		wait := s.changed
		s.mu.Unlock()
		for _, c := range pending {
			if err := stream.Send(c); err != nil {
				return err
			}
			after = c.Revision
		}
		select {
		case <-stream.Context().Done():
			return nil
		case <-wait:
		}
	}
}
