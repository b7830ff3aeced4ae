// Package server is the search service's gRPC API: Search, Resolve,
// ListRelatedArticles, the unanswered queries, the index status and reindex.
// It checks its input and shapes answers; ranking lives in package ranking,
// indexing in packages feed and indexer.
package server

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"time"
	"unicode/utf8"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"buzhou.dev/platform/errs"
	"buzhou.dev/platform/vocab"
	articlev1 "buzhou.dev/proto/gen/buzhou/article/v1"
	searchv1 "buzhou.dev/proto/gen/buzhou/search/v1"
	"buzhou.dev/search/internal/feed"
	"buzhou.dev/search/internal/index"
	"buzhou.dev/search/internal/ranking"
)

var _ searchv1.SearchServiceServer = (*Server)(nil)

// Limits of the API.
const (
	// MaxQueryBytes bounds q: a pasted error message's first lines fit; a
	// whole log does not need to.
	MaxQueryBytes = 4096
	// MaxResults bounds what a search ranks; pages reach that far.
	MaxResults      = 1000
	defaultPageSize = 20
	maxPageSize     = 100
	maxTags         = 10
	defaultRelated  = 5
	maxRelated      = 20
	maxMaxTokens    = 1_000_000
)

// Deps are what the server works with.
type Deps struct {
	Engine *ranking.Engine
	Index  index.Index
	// Articles is the article service, for resolve's whole article and
	// related's id-or-slug lookup.
	Articles articlev1.ArticleServiceClient
	Follower *feed.Follower
	// Unanswered counts queries that found nothing good enough.
	Unanswered *Unanswered
	// Model returns the embedding model and dimension, e.g. "hash-v1/384"
	// (a learned model changes on reindex).
	Model func() string
	// Reset empties the index (and relearns what is learned) for a reindex.
	Reset func(context.Context) error
	// RelatedPending counts the related lists waiting to be written back;
	// nil when they are not kept.
	RelatedPending func() int
	Log            *slog.Logger
}

// Server implements the search API.
type Server struct {
	searchv1.UnimplementedSearchServiceServer
	d Deps
}

// New returns a server.
func New(d Deps) *Server {
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	return &Server{d: d}
}

// query checks and trims a query text.
func query(q, field string) (string, error) {
	q = strings.TrimSpace(q)
	switch {
	case q == "":
		return "", fmt.Errorf("%w: %s: give a query, e.g. %s=ECONNREFUSED or a pasted error message", errs.ErrInvalid, field, field)
	case !utf8.ValidString(q):
		return "", fmt.Errorf("%w: %s is not valid UTF-8; send the query as UTF-8 text", errs.ErrInvalid, field)
	case len(q) > MaxQueryBytes:
		return "", fmt.Errorf("%w: %s is %d bytes; send at most %d (the first lines of an error message are enough)", errs.ErrInvalid, field, len(q), MaxQueryBytes)
	}
	return q, nil
}

func lang(l string) (string, error) {
	switch l {
	case "", vocab.LangZH, vocab.LangEN:
		return l, nil
	}
	return "", fmt.Errorf("%w: lang %q is not served; use zh or en", errs.ErrInvalid, l)
}

// filter checks the search filters.
func filter(req *searchv1.SearchRequest) (index.Filter, error) {
	f := index.Filter{Domain: req.GetDomain(), VerificationStatus: req.GetStatus(), Lang: req.GetLang(), MinConfidence: req.GetMinConfidence()}
	if f.Domain != "" && !contains(vocab.Domains(), f.Domain) {
		return f, fmt.Errorf("%w: domain %q is not known; use one of %s", errs.ErrInvalid, f.Domain, strings.Join(vocab.Domains(), ", "))
	}
	if f.VerificationStatus != "" && !contains(vocab.VerificationStatuses(), f.VerificationStatus) {
		return f, fmt.Errorf("%w: status %q is not a verification status; use one of %s", errs.ErrInvalid, f.VerificationStatus, strings.Join(vocab.VerificationStatuses(), ", "))
	}
	if f.MinConfidence < 0 || f.MinConfidence > 100 {
		return f, fmt.Errorf("%w: minConfidence %d is outside 0–100", errs.ErrInvalid, f.MinConfidence)
	}
	for _, t := range req.GetTags() {
		for _, part := range strings.Split(t, ",") {
			if part = strings.ToLower(strings.TrimSpace(part)); part != "" && !contains(f.Tags, part) {
				f.Tags = append(f.Tags, part)
			}
		}
	}
	if len(f.Tags) > maxTags {
		return f, fmt.Errorf("%w: %d tags given; filter by at most %d", errs.ErrInvalid, len(f.Tags), maxTags)
	}
	return f, nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// Search implements SearchServiceServer.
func (s *Server) Search(ctx context.Context, req *searchv1.SearchRequest) (*searchv1.SearchResponse, error) {
	q, err := query(req.GetQ(), "q")
	if err != nil {
		return nil, err
	}
	l, err := lang(req.GetLang())
	if err != nil {
		return nil, err
	}
	f, err := filter(req)
	if err != nil {
		return nil, err
	}
	mode, err := ranking.ParseMode(req.GetRanker())
	if err != nil {
		return nil, err
	}
	v, err := ranking.ParseVersion(req.GetVersion())
	if err != nil {
		return nil, err
	}
	page, size := int(req.GetPage()), int(req.GetPageSize())
	switch {
	case page < 0:
		return nil, fmt.Errorf("%w: page %d: pages count from 1", errs.ErrInvalid, page)
	case size < 0 || size > maxPageSize:
		return nil, fmt.Errorf("%w: pageSize %d: ask for 1 to %d items per page (default %d)", errs.ErrInvalid, size, maxPageSize, defaultPageSize)
	}
	page, size = max(page, 1), cmpOr(size, defaultPageSize)
	if l == "" {
		l = ranking.QueryLang(q)
	}
	ans, err := s.d.Engine.Search(ctx, ranking.Request{Text: q, Mode: mode, Filter: f, Version: v, Limit: MaxResults})
	if err != nil {
		return nil, err
	}
	total := len(ans.Results)
	resp := &searchv1.SearchResponse{Pagination: &searchv1.Pagination{
		Page: int32(page), PageSize: int32(size), Total: int32(total), TotalPages: int32((total + size - 1) / size),
	}}
	if from := (page - 1) * size; from < total {
		window := ans.Results[from:min(from+size, total)]
		snippets, err := s.d.Engine.Snippets(ctx, window, ans.Query, l)
		if err != nil {
			return nil, err
		}
		for i, r := range window {
			resp.Items = append(resp.Items, item(r, snippets[i]))
		}
	}
	if page == 1 && mode == ranking.Hybrid {
		s.noteIfUnanswered(ctx, q, ans)
	}
	return resp, nil
}

func cmpOr(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}

// noteIfUnanswered counts a search whose best result is below the relevance
// floor (or that found nothing).
func (s *Server) noteIfUnanswered(ctx context.Context, q string, ans *ranking.Answer) {
	conf, _, err := s.d.Engine.Confidence(ctx, ans)
	if err != nil {
		s.d.Log.WarnContext(ctx, "confidence of a search not computed", "err", err)
		return
	}
	if conf < s.d.Engine.Tuning().Floor {
		s.d.Unanswered.Note(q)
	}
}

func item(r ranking.Result, snippet string) *searchv1.SearchItem {
	p := r.Payload
	return &searchv1.SearchItem{
		Id: p.ArticleID, Slug: p.Slug,
		Title:   &articlev1.LocalizedText{Zh: p.TitleZH, En: p.TitleEN},
		Summary: &articlev1.LocalizedText{Zh: p.SummaryZH, En: p.SummaryEN},
		Domain:  p.Domain, Tags: p.Tags, VerificationStatus: p.VerificationStatus, ConfidenceScore: p.Confidence,
		Score:   round(r.Score),
		Snippet: snippet,
	}
}

// round keeps scores readable in JSON.
func round(f float64) float64 { return math.Round(f*1e6) / 1e6 }

// ListRelatedArticles implements SearchServiceServer.
func (s *Server) ListRelatedArticles(ctx context.Context, req *searchv1.ListRelatedArticlesRequest) (*searchv1.ListRelatedArticlesResponse, error) {
	limit := int(req.GetLimit())
	if limit < 0 || limit > maxRelated {
		return nil, fmt.Errorf("%w: limit %d: ask for 1 to %d related articles (default %d)", errs.ErrInvalid, limit, maxRelated, defaultRelated)
	}
	limit = cmpOr(limit, defaultRelated)
	a, err := s.article(ctx, req.GetIdOrSlug())
	if err != nil {
		return nil, err
	}
	results, err := s.d.Engine.Related(ctx, a.GetId(), limit)
	if err != nil {
		return nil, err
	}
	resp := &searchv1.ListRelatedArticlesResponse{}
	for _, r := range results {
		// Related articles are about the whole article: the summary says it.
		resp.Items = append(resp.Items, item(r, ranking.Pick(vocab.LangEN, r.Payload.SummaryZH, r.Payload.SummaryEN)))
	}
	return resp, nil
}

// article reads a public article from the article service.
func (s *Server) article(ctx context.Context, idOrSlug string) (*articlev1.Article, error) {
	if strings.TrimSpace(idOrSlug) == "" {
		return nil, fmt.Errorf("%w: give the article's id or slug", errs.ErrInvalid)
	}
	a, err := s.d.Articles.GetArticle(ctx, &articlev1.GetArticleRequest{IdOrSlug: idOrSlug})
	if status.Code(err) == codes.NotFound || err == nil && !vocab.IsPublic(a.GetStatus()) {
		return nil, fmt.Errorf("%w: no published article %q", errs.ErrNotFound, idOrSlug)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: read article %q: %s", errs.ErrUnavailable, idOrSlug, status.Convert(err).Message())
	}
	return a, nil
}

// ListUnansweredQueries implements SearchServiceServer.
func (s *Server) ListUnansweredQueries(ctx context.Context, req *searchv1.ListUnansweredQueriesRequest) (*searchv1.ListUnansweredQueriesResponse, error) {
	limit := int(req.GetLimit())
	if limit < 0 || limit > 500 {
		return nil, fmt.Errorf("%w: limit %d: ask for 1 to 500 queries (default 50)", errs.ErrInvalid, limit)
	}
	qs, err := s.d.Unanswered.List(ctx, cmpOr(limit, 50))
	if err != nil {
		return nil, err
	}
	resp := &searchv1.ListUnansweredQueriesResponse{}
	for _, q := range qs {
		resp.Queries = append(resp.Queries, &searchv1.UnansweredQuery{Query: q.Query, Count: int32(min(q.Count, math.MaxInt32)), LastSeenAt: timestamppb.New(q.LastSeenAt)})
	}
	return resp, nil
}

// GetIndexStatus implements SearchServiceServer.
func (s *Server) GetIndexStatus(ctx context.Context, _ *searchv1.GetIndexStatusRequest) (*searchv1.GetIndexStatusResponse, error) {
	st := s.d.Follower.Status()
	articles, chunks, err := s.d.Index.Count(ctx)
	if err != nil {
		return nil, fmt.Errorf("%w: count the index: %w", errs.ErrUnavailable, err)
	}
	resp := &searchv1.GetIndexStatusResponse{
		AppliedRevision: st.Applied, ReceivedRevision: st.Received, HeadRevision: st.Head, Lag: st.Head - st.Applied,
		IndexedArticles: articles, IndexedChunks: chunks, Backend: s.d.Index.Backend(), EmbeddingModel: s.d.Model(),
		CaughtUp: st.CaughtUp, Rebuilding: st.Rebuilding, RebuildTargetRevision: st.Target, LastError: st.LastErr,
	}
	if s.d.RelatedPending != nil {
		resp.RelatedPending = int64(s.d.RelatedPending())
	}
	return resp, nil
}

// ReindexArticles implements SearchServiceServer.
func (s *Server) ReindexArticles(ctx context.Context, _ *searchv1.ReindexArticlesRequest) (*searchv1.ReindexArticlesResponse, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	target, err := s.d.Follower.Rebuild(ctx, s.d.Reset)
	if err != nil {
		return nil, err
	}
	s.d.Log.InfoContext(ctx, "reindex started", "target", target)
	return &searchv1.ReindexArticlesResponse{TargetRevision: target}, nil
}
