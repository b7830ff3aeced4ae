// Package server implements the ArticleService gRPC API on top of the store.
package server

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"google.golang.org/genproto/googleapis/api/httpbody"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"buzhou.dev/article/internal/domain"
	"buzhou.dev/article/internal/render"
	"buzhou.dev/article/internal/store"
	"buzhou.dev/platform/auth"
	"buzhou.dev/platform/errs"
	"buzhou.dev/platform/grpcx"
	"buzhou.dev/platform/vocab"
	articlev1 "buzhou.dev/proto/gen/buzhou/article/v1"
)

var _ articlev1.ArticleServiceServer = (*Server)(nil)

// feedBatch is how many changes WatchArticles reads per query.
const feedBatch = 500

// feedPoll bounds how long a follower waits before looking for changes written
// by another process sharing the database.
const feedPoll = time.Second

// Server is the article service.
type Server struct {
	articlev1.UnimplementedArticleServiceServer
	store store.Store
	now   func() time.Time
	stop  <-chan struct{}
	log   *slog.Logger
	// maxAnswer bounds the size of one answer (a batch's results).
	maxAnswer int
}

// Options tune a Server; the zero value is ready for production.
type Options struct {
	// Now replaces time.Now.
	Now func() time.Time
	// Stop, when closed, ends every WatchArticles stream, so a graceful
	// shutdown does not wait for followers that never hang up.
	Stop <-chan struct{}
	// MaxAnswerBytes bounds one answer; 0 means what gRPC carries
	// (grpcx.MaxMessageBytes) less room for the envelope.
	MaxAnswerBytes int
}

// New returns a server over st.
func New(st store.Store, log *slog.Logger, o Options) *Server {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.MaxAnswerBytes <= 0 {
		o.MaxAnswerBytes = grpcx.MaxMessageBytes - 64<<10
	}
	return &Server{store: st, now: o.Now, stop: o.Stop, log: log, maxAnswer: o.MaxAnswerBytes}
}

// Initial trust of a new article: pending, with the pending prior as confidence.
const (
	initialConfidence = 72
	maxRecentRecords  = 10
)

// prepare turns client input into a new article ready to store.
func (s *Server) prepare(ctx context.Context, in *articlev1.Article) (*articlev1.Article, error) {
	if in == nil {
		return nil, fmt.Errorf("%w: article: send the article as the request body", errs.ErrInvalid)
	}
	a := proto.Clone(in).(*articlev1.Article)
	clearServerFields(a)
	domain.Normalize(a)
	if err := domain.Validate(a); err != nil {
		return nil, err
	}
	if err := domain.ValidateStatusForCreate(a.GetStatus()); err != nil {
		return nil, err
	}
	now := timestamppb.New(s.now())
	a.Id = domain.NewID()
	a.Slug = domain.Slugify(a.GetTitle().GetEn())
	if a.Slug == "" {
		a.Slug = a.Id
	}
	if a.Status == "" {
		a.Status = vocab.StatusDraft
	}
	if a.Status == vocab.StatusPublished {
		a.PublishedAt = now
	}
	if p := auth.FromContext(ctx); p != nil {
		a.AuthorId = p.ID
		if a.Author == "" {
			a.Author = p.Name
		}
	}
	a.VerificationStatus = vocab.VerificationPending
	a.ConfidenceScore = initialConfidence
	a.RiskLevel = vocab.RiskLow
	a.CreatedAt, a.UpdatedAt = now, now
	a.Revision = 1
	return a, nil
}

// clearServerFields drops what only the server may set.
func clearServerFields(a *articlev1.Article) {
	a.Id, a.Slug, a.Revision = "", "", 0
	a.RiskLevel, a.ConfidenceScore, a.VerificationStatus = "", 0, ""
	a.RelatedIds, a.RecentVerifications, a.VerificationCount = nil, nil, 0
	a.CreatedAt, a.UpdatedAt, a.PublishedAt, a.LastInspectedAt = nil, nil, nil, nil
	a.DeprecationReason, a.AuthorId = "", ""
}

func (s *Server) create(ctx context.Context, in *articlev1.Article) (*articlev1.Article, error) {
	a, err := s.prepare(ctx, in)
	if err != nil {
		return nil, err
	}
	return s.store.Create(ctx, a)
}

// CreateArticle implements ArticleServiceServer. A key with articles:propose
// but not articles:write (its access rule admits both) creates drafts only:
// proposals wait for a reviewer to publish them.
func (s *Server) CreateArticle(ctx context.Context, req *articlev1.CreateArticleRequest) (*articlev1.Article, error) {
	if p := auth.FromContext(ctx); p != nil && !p.Has(auth.ScopeArticlesWrite) && req.GetArticle().GetStatus() == vocab.StatusPublished {
		return nil, fmt.Errorf("%w: publishing at once needs scope %q, which the key lacks (it has: %s); with %q leave status out (or send %q) and the article is stored as a draft for review",
			errs.ErrPermissionDenied, auth.ScopeArticlesWrite, strings.Join(p.Scopes, ", "), auth.ScopeArticlesPropose, vocab.StatusDraft)
	}
	a, err := s.create(ctx, req.GetArticle())
	if err != nil {
		return nil, err
	}
	setHeaders(ctx, a, "")
	return a, nil
}

// BatchCreateArticles implements ArticleServiceServer. Every item is checked
// before any is written: when the answer would not fit in one gRPC message,
// the whole batch is refused and nothing is stored, so a client never has to
// guess which items of a failed call went in.
func (s *Server) BatchCreateArticles(ctx context.Context, req *articlev1.BatchCreateArticlesRequest) (*articlev1.BatchCreateArticlesResponse, error) {
	items := req.GetArticles()
	if err := domain.ValidateBatchSize(len(items)); err != nil {
		return nil, err
	}
	resp := &articlev1.BatchCreateArticlesResponse{Results: make([]*articlev1.BatchCreateResult, len(items))}
	for i, in := range items {
		r := &articlev1.BatchCreateResult{Index: int32(i)}
		if a, err := s.prepare(ctx, in); err != nil {
			r.Error = itemError(ctx, s.log, err)
		} else {
			r.Article = a
		}
		resp.Results[i] = r
	}
	if size := proto.Size(resp); size > s.maxAnswer {
		per := max(1, len(items)*s.maxAnswer/size)
		return nil, fmt.Errorf("%w: the answer to this batch would be %d bytes, over the %d bytes one answer may carry; nothing was written; send about %d articles per batchCreate call",
			errs.ErrInvalid, size, s.maxAnswer, per)
	}
	for _, r := range resp.Results {
		if r.Article == nil {
			continue
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		a, err := s.store.Create(ctx, r.Article)
		if err != nil {
			r.Article, r.Error = nil, itemError(ctx, s.log, err)
			continue
		}
		r.Article = a
	}
	return resp, nil
}

// itemError describes one failed batch item the way the error body would.
func itemError(ctx context.Context, log *slog.Logger, err error) *articlev1.ItemError {
	c := errs.Code(err)
	if c == codes.Unknown {
		log.ErrorContext(ctx, "batch item failed", "err", err)
		return &articlev1.ItemError{Code: errs.CodeName(codes.Internal), Message: "internal error; retry this item"}
	}
	return &articlev1.ItemError{Code: errs.CodeName(c), Message: errs.Message(err)}
}

// canSeeHidden reports whether the caller may read drafts and archived
// articles: writers, and the services following the feed, which carries
// them anyway (the verification service inspects drafts).
func canSeeHidden(ctx context.Context) bool {
	p := auth.FromContext(ctx)
	return p != nil && (p.Has(auth.ScopeArticlesWrite) || p.Has(auth.ScopeInternalFeed))
}

func publicStatus(status string) bool { return vocab.IsPublic(status) }

// load returns a visible article by id or slug.
func (s *Server) load(ctx context.Context, idOrSlug string) (*articlev1.Article, error) {
	if idOrSlug == "" {
		return nil, fmt.Errorf("%w: give an article id or slug", errs.ErrInvalid)
	}
	a, err := s.store.Get(ctx, idOrSlug)
	if err != nil {
		return nil, err
	}
	if !publicStatus(a.GetStatus()) && !canSeeHidden(ctx) {
		return nil, store.NotFound(idOrSlug)
	}
	return a, nil
}

// GetArticle implements ArticleServiceServer.
func (s *Server) GetArticle(ctx context.Context, req *articlev1.GetArticleRequest) (*articlev1.Article, error) {
	if err := checkFormat(req.GetFormat(), req.GetLang()); err != nil {
		return nil, err
	}
	a, err := s.load(ctx, req.GetIdOrSlug())
	if err != nil {
		return nil, err
	}
	setHeaders(ctx, a, "")
	return a, nil
}

func checkFormat(format, lang string) error {
	switch format {
	case "", "json", "markdown":
	default:
		return fmt.Errorf("%w: format %q is not supported; use format=json or format=markdown", errs.ErrInvalid, format)
	}
	return checkLang(lang)
}

func checkLang(lang string) error {
	if lang == "" || vocab.ValidLang(lang) {
		return nil
	}
	return fmt.Errorf("%w: lang %q is not supported; use lang=en or lang=zh", errs.ErrInvalid, lang)
}

// RenderArticle implements ArticleServiceServer.
func (s *Server) RenderArticle(ctx context.Context, req *articlev1.RenderArticleRequest) (*httpbody.HttpBody, error) {
	if err := checkLang(req.GetLang()); err != nil {
		return nil, err
	}
	a, err := s.load(ctx, req.GetIdOrSlug())
	if err != nil {
		return nil, err
	}
	setHeaders(ctx, a, "markdown-"+cmp.Or(req.GetLang(), "en"))
	return &httpbody.HttpBody{ContentType: "text/markdown; charset=utf-8", Data: render.Markdown(a, req.GetLang())}, nil
}

// ListArticles implements ArticleServiceServer.
func (s *Server) ListArticles(ctx context.Context, req *articlev1.ListArticlesRequest) (*articlev1.ListArticlesResponse, error) {
	q := store.ListQuery{Domain: req.GetDomain(), PageSize: int(req.GetPageSize()), PageToken: req.GetPageToken()}
	if q.Domain != "" && !vocab.ValidDomain(q.Domain) {
		return nil, fmt.Errorf("%w: domain %q is not known; use one of %v", errs.ErrInvalid, q.Domain, vocab.Domains())
	}
	if req.GetPageSize() < 0 {
		return nil, fmt.Errorf("%w: pageSize must be between 1 and 100", errs.ErrInvalid)
	}
	switch st := req.GetStatus(); {
	case st == "":
		if !canSeeHidden(ctx) {
			q.Statuses = vocab.PublicStatuses()
		}
	case !vocab.ValidStatus(st):
		return nil, fmt.Errorf("%w: status %q is not known; use draft, published, deprecated or archived", errs.ErrInvalid, st)
	case !publicStatus(st) && !canSeeHidden(ctx):
		return nil, hiddenListError(ctx, st)
	default:
		q.Statuses = []string{st}
	}
	list, next, err := s.store.List(ctx, q)
	if err != nil {
		return nil, err
	}
	return &articlev1.ListArticlesResponse{Articles: list, NextPageToken: next}, nil
}

// hiddenListError says why the caller may not list articles with status st:
// no key at all (401), or a key without the scope (403).
func hiddenListError(ctx context.Context, st string) error {
	p := auth.FromContext(ctx)
	if p == nil {
		return fmt.Errorf("%w: listing %s articles needs an API key with scope %q; send \"Authorization: Bearer <key>\"", errs.ErrUnauthenticated, st, auth.ScopeArticlesWrite)
	}
	return fmt.Errorf("%w: listing %s articles needs scope %q, which the key lacks (it has: %s); use a key with that scope",
		errs.ErrPermissionDenied, st, auth.ScopeArticlesWrite, strings.Join(p.Scopes, ", "))
}

// UpdateArticle implements ArticleServiceServer.
func (s *Server) UpdateArticle(ctx context.Context, req *articlev1.UpdateArticleRequest) (*articlev1.Article, error) {
	patch := req.GetArticle()
	if patch.GetId() == "" {
		return nil, fmt.Errorf("%w: article.id: give the id of the article to update", errs.ErrInvalid)
	}
	if req.GetExpectedRevision() < 0 {
		return nil, fmt.Errorf("%w: expected revision must be a positive article revision", errs.ErrInvalid)
	}
	paths, err := maskPaths(patch, req.GetUpdateMask().GetPaths())
	if err != nil {
		return nil, err
	}
	// The path may name the article by slug, as every other route allows.
	cur, err := s.store.Get(ctx, patch.GetId())
	if err != nil {
		return nil, err
	}
	a, err := s.store.Update(ctx, cur.GetId(), req.GetExpectedRevision(), articlev1.ChangeCause_CHANGE_CAUSE_AUTHOR_EDIT, func(a *articlev1.Article) error {
		if err := applyMask(a, patch, paths); err != nil {
			return err
		}
		domain.Normalize(a)
		return domain.Validate(a)
	})
	if err != nil {
		return nil, err
	}
	setHeaders(ctx, a, "")
	return a, nil
}

// PublishArticle implements ArticleServiceServer.
func (s *Server) PublishArticle(ctx context.Context, req *articlev1.PublishArticleRequest) (*articlev1.Article, error) {
	return s.transition(ctx, req.GetId(), vocab.StatusPublished, func(a *articlev1.Article) {
		a.DeprecationReason = ""
		if a.VerificationStatus == vocab.VerificationDeprecated {
			a.VerificationStatus = vocab.VerificationPending
		}
		if a.PublishedAt == nil {
			a.PublishedAt = timestamppb.New(s.now())
		}
	})
}

// DeprecateArticle implements ArticleServiceServer.
func (s *Server) DeprecateArticle(ctx context.Context, req *articlev1.DeprecateArticleRequest) (*articlev1.Article, error) {
	if len([]rune(req.GetReason())) > 1000 {
		return nil, fmt.Errorf("%w: reason: keep it under 1000 characters", errs.ErrInvalid)
	}
	return s.transition(ctx, req.GetId(), vocab.StatusDeprecated, func(a *articlev1.Article) {
		a.DeprecationReason = req.GetReason()
		a.VerificationStatus = vocab.VerificationDeprecated
	})
}

// ArchiveArticle implements ArticleServiceServer.
func (s *Server) ArchiveArticle(ctx context.Context, req *articlev1.ArchiveArticleRequest) (*articlev1.Article, error) {
	return s.transition(ctx, req.GetId(), vocab.StatusArchived, func(*articlev1.Article) {})
}

// transition moves an article to status to, if domain.Moves allows it, and
// applies change. Publishing a published article and archiving an archived
// one return it unchanged, without a new revision; deprecating again records
// the new reason.
func (s *Server) transition(ctx context.Context, id, to string, change func(*articlev1.Article)) (*articlev1.Article, error) {
	if id == "" {
		return nil, fmt.Errorf("%w: id: give the id of the article", errs.ErrInvalid)
	}
	cur, err := s.store.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	if cur.GetStatus() == to && to != vocab.StatusDeprecated {
		setHeaders(ctx, cur, "")
		return cur, nil
	}
	// Checked inside the write, against the status it replaces.
	a, err := s.store.Update(ctx, cur.GetId(), 0, articlev1.ChangeCause_CHANGE_CAUSE_STATUS_CHANGE, func(a *articlev1.Article) error {
		if err := domain.CheckMove(a.GetId(), a.GetStatus(), to); err != nil {
			return err
		}
		a.Status = to
		change(a)
		return nil
	})
	if err != nil {
		return nil, err
	}
	setHeaders(ctx, a, "")
	return a, nil
}

// WatchArticles implements ArticleServiceServer.
func (s *Server) WatchArticles(req *articlev1.WatchArticlesRequest, stream grpc.ServerStreamingServer[articlev1.ArticleChange]) error {
	ctx := stream.Context()
	after := req.GetAfterRevision()
	if after < 0 {
		return fmt.Errorf("%w: after_revision must be 0 or a feed revision", errs.ErrInvalid)
	}
	// The head is read before the backlog, so this stream sends every
	// change up to it: followers know exactly when they have caught up. A
	// follower from the head (the gateway's read cache) gets no backlog.
	head, err := s.store.HeadRevision(ctx)
	if err != nil {
		return err
	}
	if req.GetFromHead() {
		after = head
	}
	if err := stream.SendHeader(grpcx.FeedHeadMD(head)); err != nil {
		return err
	}
	poll := time.NewTicker(feedPoll)
	defer poll.Stop()
	for {
		// Take the notification channel before reading, so a write landing
		// between the read and the wait still wakes us.
		notify := s.store.Notify()
		changes, err := s.store.Changes(ctx, after, feedBatch)
		if err != nil {
			return err
		}
		for _, c := range changes {
			if err := stream.Send(c); err != nil {
				return err
			}
			after = c.GetRevision()
		}
		if len(changes) == feedBatch {
			continue
		}
		select {
		case <-ctx.Done():
			return nil
		case <-s.stop:
			return fmt.Errorf("%w: the article service is shutting down; resume from revision %d", errs.ErrUnavailable, after)
		case <-notify:
		case <-poll.C:
		}
	}
}

// UpdateArticleTrust implements ArticleServiceServer.
func (s *Server) UpdateArticleTrust(ctx context.Context, req *articlev1.UpdateArticleTrustRequest) (*articlev1.Article, error) {
	if req.GetArticleId() == "" {
		return nil, fmt.Errorf("%w: article_id: give the id of the article", errs.ErrInvalid)
	}
	if err := checkTrust(req); err != nil {
		return nil, err
	}
	cause, err := trustCause(req.GetCause())
	if err != nil {
		return nil, err
	}
	return s.store.Update(ctx, req.GetArticleId(), req.GetExpectedRevision(), cause, func(a *articlev1.Article) error {
		applyTrust(a, req)
		return nil
	})
}

// checkTrust refuses trust values outside the vocabulary and limits; a nil
// req carries none.
func checkTrust(req *articlev1.UpdateArticleTrustRequest) error {
	if req == nil {
		return nil
	}
	if req.VerificationStatus != nil && !vocab.ValidVerificationStatus(req.GetVerificationStatus()) {
		return fmt.Errorf("%w: verification_status %q is not known; use verified, partial, pending, failed or deprecated", errs.ErrInvalid, req.GetVerificationStatus())
	}
	if req.ConfidenceScore != nil && (req.GetConfidenceScore() < 0 || req.GetConfidenceScore() > 100) {
		return fmt.Errorf("%w: confidence_score must be between 0 and 100", errs.ErrInvalid)
	}
	if req.RiskLevel != nil && !vocab.ValidRiskLevel(req.GetRiskLevel()) {
		return fmt.Errorf("%w: risk_level %q is not known; use low, medium, high or critical", errs.ErrInvalid, req.GetRiskLevel())
	}
	if len(req.GetVerifications().GetRecent()) > maxRecentRecords {
		return fmt.Errorf("%w: send at most %d recent verifications", errs.ErrInvalid, maxRecentRecords)
	}
	return nil
}

// applyTrust writes the fields req (possibly nil) carries into a.
func applyTrust(a *articlev1.Article, req *articlev1.UpdateArticleTrustRequest) {
	if req == nil {
		return
	}
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
		a.RecentVerifications = v.GetRecent()
		a.VerificationCount = v.GetCount()
	}
}

// repairable lists the fields an inspection may repair (proto names).
func repairable() []string { return []string{"tags", "keywords", "references", "code_blocks"} }

// RepairArticle implements ArticleServiceServer.
func (s *Server) RepairArticle(ctx context.Context, req *articlev1.RepairArticleRequest) (*articlev1.Article, error) {
	id := req.GetArticle().GetId()
	switch {
	case id == "":
		return nil, fmt.Errorf("%w: article.id: give the id of the article to repair", errs.ErrInvalid)
	case req.GetExpectedRevision() <= 0:
		return nil, fmt.Errorf("%w: expected_revision: give the revision that was inspected", errs.ErrInvalid)
	case len(req.GetUpdateMask().GetPaths()) == 0:
		return nil, fmt.Errorf("%w: update_mask: name the repaired fields, of %s", errs.ErrInvalid, strings.Join(repairable(), ", "))
	case req.GetTrust() != nil && req.GetTrust().GetArticleId() != id:
		return nil, fmt.Errorf("%w: trust.article_id %q is not the repaired article %q", errs.ErrInvalid, req.GetTrust().GetArticleId(), id)
	}
	for _, p := range req.GetUpdateMask().GetPaths() {
		if !slices.Contains(repairable(), p) {
			return nil, fmt.Errorf("%w: update_mask: %q cannot be repaired; an inspection repairs only %s", errs.ErrInvalid, p, strings.Join(repairable(), ", "))
		}
	}
	if c := req.GetTrust().GetCause(); c != articlev1.ChangeCause_CHANGE_CAUSE_UNSPECIFIED && c != articlev1.ChangeCause_CHANGE_CAUSE_INSPECTION_REPAIR {
		return nil, fmt.Errorf("%w: trust.cause %v: a repair is always CHANGE_CAUSE_INSPECTION_REPAIR", errs.ErrInvalid, c)
	}
	if err := checkTrust(req.GetTrust()); err != nil {
		return nil, err
	}
	a, err := s.store.Update(ctx, id, req.GetExpectedRevision(), articlev1.ChangeCause_CHANGE_CAUSE_INSPECTION_REPAIR, func(a *articlev1.Article) error {
		if err := applyMask(a, req.GetArticle(), req.GetUpdateMask().GetPaths()); err != nil {
			return err
		}
		domain.Normalize(a)
		if err := domain.Validate(a); err != nil {
			return err
		}
		applyTrust(a, req.GetTrust())
		return nil
	})
	if err != nil {
		return nil, err
	}
	setHeaders(ctx, a, "")
	return a, nil
}

// trustCause is the feed cause of a trust write: TRUST_WRITEBACK unless the
// caller says it is an inspection's repair. Other causes belong to other
// RPCs; followers skip changes by cause, so a wrong one would hide a change.
func trustCause(c articlev1.ChangeCause) (articlev1.ChangeCause, error) {
	switch c {
	case articlev1.ChangeCause_CHANGE_CAUSE_UNSPECIFIED:
		return articlev1.ChangeCause_CHANGE_CAUSE_TRUST_WRITEBACK, nil
	case articlev1.ChangeCause_CHANGE_CAUSE_TRUST_WRITEBACK, articlev1.ChangeCause_CHANGE_CAUSE_INSPECTION_REPAIR:
		return c, nil
	}
	return 0, fmt.Errorf("%w: cause %s is not a cause of a trust write; leave it unset or use CHANGE_CAUSE_TRUST_WRITEBACK, or CHANGE_CAUSE_INSPECTION_REPAIR for an inspection's repair",
		errs.ErrInvalid, c)
}

// GetArticleStats implements ArticleServiceServer.
func (s *Server) GetArticleStats(ctx context.Context, _ *articlev1.GetArticleStatsRequest) (*articlev1.GetArticleStatsResponse, error) {
	return s.store.Stats(ctx)
}

// Seed creates the given articles when the store is empty, so a fresh data
// directory starts with the demo content. It reports how many it created.
func (s *Server) Seed(ctx context.Context, articles []*articlev1.Article) (int, error) {
	head, err := s.store.HeadRevision(ctx)
	if err != nil || head > 0 {
		return 0, err
	}
	ctx = auth.WithPrincipal(ctx, &auth.Principal{ID: "buzhou", Name: "buzhou", Type: "official_bot"})
	for i, a := range articles {
		if _, err := s.create(ctx, a); err != nil {
			return i, fmt.Errorf("seed article %d: %w", i, err)
		}
	}
	return len(articles), nil
}

// setHeaders sends the article's id, slug and revision as response metadata;
// the gateway turns them into X-Article-Id, X-Article-Slug and ETag. The
// ETag is the revision ("3": what If-Match takes), followed by the variant
// for other representations of it ("3-markdown-en"): a strong validator
// names one body. The gateway's read cache reads the revision back from it.
func setHeaders(ctx context.Context, a *articlev1.Article, variant string) {
	etag := strconv.Itoa(int(a.GetRevision()))
	if variant != "" {
		etag += "-" + variant
	}
	md := metadata.Pairs(
		"x-article-id", a.GetId(),
		"x-article-slug", a.GetSlug(),
		"etag", strconv.Quote(etag),
	)
	// SetHeader fails only outside an RPC (direct calls, seeding); nothing to send then.
	_ = grpc.SetHeader(ctx, md)
}
