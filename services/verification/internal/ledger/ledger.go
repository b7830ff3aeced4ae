// Package ledger is the trust side of the verification service: it records
// verification runs, keeps each article's findings and inspection runs,
// takes agents' problem reports, and writes the summary back to the article
// service (status, confidence, records, risk level, last inspection) as a new
// revision whose cause tells the feed's followers it was a trust write.
//
// Everything an article shows is recomputed from this service's store, never
// patched: a write-back that failed is made good by the next one (the daily
// run rescores every article with records). Work on one article takes turns
// in this process, so two records arriving at once cannot write back a
// summary that misses one of them.
package ledger

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"buzhou.dev/platform/errs"
	articlev1 "buzhou.dev/proto/gen/buzhou/article/v1"
	searchv1 "buzhou.dev/proto/gen/buzhou/search/v1"
	verificationv1 "buzhou.dev/proto/gen/buzhou/verification/v1"
	"buzhou.dev/verification/internal/linkcheck"
	"buzhou.dev/verification/internal/stats"
	"buzhou.dev/verification/internal/store"
)

// Store is what the ledger needs of the verification store.
type Store interface {
	AddRecord(ctx context.Context, r store.Record) (store.Record, error)
	ListRecords(ctx context.Context, articleID string, page store.Page) ([]store.Record, string, error)
	ArticleRecords(ctx context.Context, articleID string) ([]store.Record, error)
	ArticlesWithRecords(ctx context.Context, after string, limit int) ([]string, error)
	ListVerifiers(ctx context.Context, page store.Page) ([]store.Verifier, string, error)
	ReplaceVerdicts(ctx context.Context, articleID string, verdicts []store.Verdict) error
	UpdateFindings(ctx context.Context, articleID string, mutate func([]store.Finding) ([]store.Finding, error)) ([]store.Finding, error)
	ArticleFindings(ctx context.Context, articleID string) ([]store.Finding, error)
	AddRun(ctx context.Context, run store.Run, record *store.Record) (store.Run, error)
	ListRuns(ctx context.Context, articleID string, page store.Page) ([]store.Run, string, error)
	AddSandboxRun(ctx context.Context, run store.SandboxRun, record *store.Record) (store.SandboxRun, error)
	ListSandboxRuns(ctx context.Context, articleID string, page store.Page) ([]store.SandboxRun, string, error)
	SavePendingRepair(ctx context.Context, p store.PendingRepair) error
	PendingRepairs(ctx context.Context) ([]store.PendingRepair, error)
	DropPendingRepair(ctx context.Context, runID string) error
}

var _ Store = store.Store(nil)

// Articles is what the ledger needs of the article service; its generated
// client is one.
type Articles interface {
	GetArticle(ctx context.Context, in *articlev1.GetArticleRequest, opts ...grpc.CallOption) (*articlev1.Article, error)
	ListArticles(ctx context.Context, in *articlev1.ListArticlesRequest, opts ...grpc.CallOption) (*articlev1.ListArticlesResponse, error)
	UpdateArticleTrust(ctx context.Context, in *articlev1.UpdateArticleTrustRequest, opts ...grpc.CallOption) (*articlev1.Article, error)
}

// Related is what content.near_duplicate asks of the search service; its
// generated client is one.
type Related interface {
	ListRelatedArticles(ctx context.Context, in *searchv1.ListRelatedArticlesRequest, opts ...grpc.CallOption) (*searchv1.ListRelatedArticlesResponse, error)
}

// Links checks reference links; *linkcheck.Checker is one.
type Links interface {
	CheckAll(ctx context.Context, urls []string) []linkcheck.Result
}

// Repairer writes an inspection's repairs and the trust that follows from
// them as one article revision; the article service's generated client is
// one. Nil switches repairs off (inspections then report fixable findings
// with their patches).
type Repairer interface {
	RepairArticle(ctx context.Context, in *articlev1.RepairArticleRequest, opts ...grpc.CallOption) (*articlev1.Article, error)
}

// Deps are the ledger's collaborators; Related, Links, Repairer and Sandbox
// may be nil, which switches their part off (and runs say so).
type Deps struct {
	Store    Store
	Articles Articles
	Related  Related
	Links    Links
	Repairer Repairer
	Sandbox  Sandbox
	Stats    *stats.Server
	Now      func() time.Time
	Log      *slog.Logger
}

// Options tune the ledger.
type Options struct {
	// DueAfter is how long after its last inspection an article is due for
	// the next in RunDueInspections; 0 means a day.
	DueAfter time.Duration
	// LinksOff says why links are not checked when Links is nil.
	LinksOff string
	// Sandbox tunes sandbox runs.
	Sandbox SandboxOptions
}

// Service implements the verification API (GetStats through Stats).
type Service struct {
	verificationv1.UnimplementedVerificationServiceServer
	d     Deps
	o     Options
	locks locks
	// due lets one RunDueInspections run at a time.
	due sync.Mutex
	// sandboxQueue bounds the sandbox runs executing and waiting.
	sandboxQueue *runQueue
	// bg holds the sandbox runs started by changes.
	bg sync.WaitGroup
}

var _ verificationv1.VerificationServiceServer = (*Service)(nil)

// New returns the ledger.
func New(d Deps, o Options) *Service {
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	if o.DueAfter <= 0 {
		o.DueAfter = 24 * time.Hour
	}
	if o.LinksOff == "" {
		o.LinksOff = "link checks are switched off"
	}
	o.Sandbox = o.Sandbox.withDefaults()
	return &Service{d: d, o: o, locks: locks{m: map[string]*lockEntry{}}, sandboxQueue: newRunQueue(o.Sandbox)}
}

// GetStats implements VerificationServiceServer.
func (s *Service) GetStats(ctx context.Context, req *verificationv1.GetStatsRequest) (*verificationv1.GetStatsResponse, error) {
	return s.d.Stats.GetStats(ctx, req)
}

// locks hands out one mutex per article, dropped when nobody holds it.
type locks struct {
	mu sync.Mutex
	m  map[string]*lockEntry
}

type lockEntry struct {
	mu    sync.Mutex
	users int
}

// lock locks the article and returns its unlock.
func (l *locks) lock(id string) func() {
	l.mu.Lock()
	e := l.m[id]
	if e == nil {
		e = &lockEntry{}
		l.m[id] = e
	}
	e.users++
	l.mu.Unlock()
	e.mu.Lock()
	return func() {
		e.mu.Unlock()
		l.mu.Lock()
		if e.users--; e.users == 0 {
			delete(l.m, id)
		}
		l.mu.Unlock()
	}
}

// article reads a public article by id or slug.
func (s *Service) article(ctx context.Context, idOrSlug string) (*articlev1.Article, error) {
	if idOrSlug == "" {
		return nil, fmt.Errorf("%w: give an article id or slug", errs.ErrInvalid)
	}
	a, err := s.d.Articles.GetArticle(ctx, &articlev1.GetArticleRequest{IdOrSlug: idOrSlug})
	if err != nil {
		return nil, s.upstream(ctx, err, "read article "+idOrSlug, fmt.Sprintf("article %q not found among published articles; check the id or slug", idOrSlug))
	}
	return a, nil
}

// upstream turns another service's error into one of ours: NotFound keeps
// its meaning with notFound as message, anything else means that service is
// not answering as it should (logged, never shown).
func (s *Service) upstream(ctx context.Context, err error, what, notFound string) error {
	switch status.Code(err) {
	case codes.NotFound:
		return fmt.Errorf("%w: %s", errs.ErrNotFound, notFound)
	case codes.Canceled, codes.DeadlineExceeded:
		return err
	}
	s.d.Log.WarnContext(ctx, "article service call failed", "what", what, "err", err)
	return fmt.Errorf("%w: the article service did not answer; retry shortly", errs.ErrUnavailable)
}

func cloneArticle(a *articlev1.Article) *articlev1.Article {
	return proto.Clone(a).(*articlev1.Article)
}

// isNotFound reports an error that says the article is not (or no longer) public.
func isNotFound(err error) bool { return errors.Is(err, errs.ErrNotFound) }
