// Package stats answers GET /api/v1/stats: articles by status and domain from
// the article service, the verification pass rate, and API calls per agent.
// The verification service's gRPC API (the ledger) serves GetStats with it.
package stats

import (
	"context"
	"fmt"
	"math"

	"buzhou.dev/platform/errs"
	articlev1 "buzhou.dev/proto/gen/buzhou/article/v1"
	verificationv1 "buzhou.dev/proto/gen/buzhou/verification/v1"
)

// Usage lists API calls per agent, without personal data.
type Usage interface {
	AgentCalls(ctx context.Context) ([]*verificationv1.AgentCalls, error)
}

// Records counts verification records by result.
type Records interface {
	CountRecords(ctx context.Context) (total, passed int64, err error)
}

// Server answers VerificationService.GetStats.
type Server struct {
	articles articlev1.ArticleServiceClient
	usage    Usage
	records  Records
}

// New returns the stats server; records may be nil, which reports no records.
func New(articles articlev1.ArticleServiceClient, usage Usage, records Records) *Server {
	return &Server{articles: articles, usage: usage, records: records}
}

// GetStats answers VerificationService.GetStats.
func (s *Server) GetStats(ctx context.Context, _ *verificationv1.GetStatsRequest) (*verificationv1.GetStatsResponse, error) {
	a, err := s.articles.GetArticleStats(ctx, &articlev1.GetArticleStatsRequest{})
	if err != nil {
		return nil, fmt.Errorf("%w: article statistics are not available right now; retry shortly", errs.ErrUnavailable)
	}
	calls, err := s.usage.AgentCalls(ctx)
	if err != nil {
		return nil, err
	}
	resp := &verificationv1.GetStatsResponse{
		TotalArticles:    Clamp(a.GetTotal() - a.GetByStatus()["archived"]),
		ArticlesByStatus: counts(a.GetByStatus()),
		ArticlesByDomain: counts(a.GetByDomain()),
		ApiCallsByAgent:  calls,
	}
	if s.records != nil {
		total, passed, err := s.records.CountRecords(ctx)
		if err != nil {
			return nil, err
		}
		resp.VerificationRecords = Clamp(total)
		if total > 0 {
			resp.VerificationPassRate = float64(passed) / float64(total)
		}
	}
	return resp, nil
}

// Clamp fits a count into the int32 the public JSON uses (numbers, not the
// strings protojson writes for int64).
func Clamp(n int64) int32 {
	return int32(min(max(n, 0), math.MaxInt32))
}

func counts(m map[string]int64) map[string]int32 {
	out := make(map[string]int32, len(m))
	for k, v := range m {
		out[k] = Clamp(v)
	}
	return out
}
