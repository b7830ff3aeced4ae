package ledger

import (
	"context"
	"fmt"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"buzhou.dev/platform/vocab"
	articlev1 "buzhou.dev/proto/gen/buzhou/article/v1"
	"buzhou.dev/verification/internal/identity"
	"buzhou.dev/verification/internal/reputation"
	"buzhou.dev/verification/internal/rules"
	"buzhou.dev/verification/internal/store"
	"buzhou.dev/verification/internal/trust"
)

// maxRecent is how many records an article shows with itself.
const maxRecent = 10

// shown is what an article shows of its trust.
type shown struct {
	summary trust.Summary
	risk    string
	recent  []*articlev1.VerificationRecordSummary
	count   int32
}

// shownOf computes what article a should show, from all its records (newest
// first) and findings, at time now.
func shownOf(a *articlev1.Article, records []store.Record, findings []store.Finding, now time.Time) shown {
	counted := trust.Counted(trustRecords(records))
	sh := shown{
		summary: trust.Score(trust.InputOf(counted, a.GetStatus() == vocab.StatusDeprecated), now),
		risk:    riskOf(findings),
		count:   int32(min(len(records), 1<<31-1)),
	}
	for _, r := range records[:min(len(records), maxRecent)] {
		sh.recent = append(sh.recent, summaryProto(r))
	}
	return sh
}

func trustRecords(records []store.Record) []trust.Record {
	out := make([]trust.Record, len(records))
	for i, r := range records {
		out[i] = trust.Record{ID: r.ID, VerifierID: r.VerifierID, Result: r.Result, At: r.CreatedAt}
	}
	return out
}

// recordRules evaluates the rules that read the records; the inspection
// bot's records do not count (see rules.RecordRules).
func recordRules(records []store.Record, now time.Time) evaluation {
	var times []time.Time
	for _, r := range records {
		if r.VerifierID != identity.InspectionBotID {
			times = append(times, r.CreatedAt)
		}
	}
	return evaluation{keys: rules.RecordKeys(), found: rules.RecordRules(times, now)}
}

// verdicts are the reputation verdicts the article's records give.
func verdicts(records []store.Record) []store.Verdict {
	var counted []reputation.Record
	for _, r := range trust.Counted(trustRecords(records)) {
		counted = append(counted, reputation.Record{VerifierID: r.VerifierID, Result: r.Result, At: r.At})
	}
	var out []store.Verdict
	for _, v := range reputation.Verdicts(counted, reputation.Judges{Sandbox: identity.SandboxRunnerID, Ignored: []string{identity.InspectionBotID}}) {
		out = append(out, store.Verdict{VerifierID: v.VerifierID, Confirmed: v.Confirmed, Contradicted: v.Contradicted})
	}
	return out
}

// trustWrite is the UpdateArticleTrust request that makes a show sh, with
// only the fields that differ, and inspected set when the article was just
// inspected; nil when nothing differs.
func trustWrite(a *articlev1.Article, sh shown, inspected time.Time, cause articlev1.ChangeCause) *articlev1.UpdateArticleTrustRequest {
	req := &articlev1.UpdateArticleTrustRequest{ArticleId: a.GetId(), Cause: cause}
	changed := false
	if a.GetVerificationStatus() != sh.summary.Status {
		req.VerificationStatus, changed = proto.String(sh.summary.Status), true
	}
	if a.GetConfidenceScore() != sh.summary.Confidence {
		req.ConfidenceScore, changed = proto.Int32(sh.summary.Confidence), true
	}
	if a.GetRiskLevel() != sh.risk {
		req.RiskLevel, changed = proto.String(sh.risk), true
	}
	v := &articlev1.VerificationSummary{Recent: sh.recent, Count: sh.count}
	if !proto.Equal(v, &articlev1.VerificationSummary{Recent: a.GetRecentVerifications(), Count: a.GetVerificationCount()}) {
		req.Verifications, changed = v, true
	}
	if !inspected.IsZero() {
		req.LastInspectedAt, changed = timestamppb.New(inspected), true
	}
	if !changed {
		return nil
	}
	return req
}

// rescore recomputes what article a shows from the records and findings,
// re-evaluating the record rules, and writes it back when it changed, with
// inspected as its lastInspectedAt when set. It reports whether it wrote.
// The caller holds the article's lock, which keeps out this replica's other
// writers; another replica's are kept out by the conditional write: the
// summary is written only onto the revision it was computed from, and
// computed again from a fresh read when another write came first.
func (s *Service) rescore(ctx context.Context, a *articlev1.Article, inspected time.Time) (*articlev1.Article, bool, error) {
	for attempt := 1; ; attempt++ {
		records, err := s.d.Store.ArticleRecords(ctx, a.GetId())
		if err != nil {
			return nil, false, err
		}
		findings, err := s.applyEvaluation(ctx, a.GetId(), recordRules(records, s.d.Now()))
		if err != nil {
			return nil, false, err
		}
		if err := s.d.Store.ReplaceVerdicts(ctx, a.GetId(), verdicts(records)); err != nil {
			return nil, false, err
		}
		req := trustWrite(a, shownOf(a, records, findings, s.d.Now()), inspected, articlev1.ChangeCause_CHANGE_CAUSE_TRUST_WRITEBACK)
		if req == nil {
			return a, false, nil
		}
		req.ExpectedRevision = a.GetRevision()
		out, err := s.d.Articles.UpdateArticleTrust(ctx, req)
		if err == nil {
			return out, true, nil
		}
		if status.Code(err) != codes.FailedPrecondition || attempt == maxTrustAttempts {
			return nil, false, s.upstream(ctx, err, "write trust back to "+a.GetId(), fmt.Sprintf("article %q is gone", a.GetId()))
		}
		if a, err = s.article(ctx, a.GetId()); err != nil {
			return nil, false, err
		}
	}
}

// maxTrustAttempts bounds the recomputations when other writes keep coming
// first; the next record, inspection or daily run retries after that.
const maxTrustAttempts = 5

// Rescore reloads the article and rescores it under its lock (see rescore);
// the feed follower calls it when an article's status changes.
func (s *Service) Rescore(ctx context.Context, articleID string) (bool, error) {
	unlock := s.locks.lock(articleID)
	defer unlock()
	a, err := s.article(ctx, articleID)
	if err != nil {
		return false, err
	}
	_, wrote, err := s.rescore(ctx, a, time.Time{})
	return wrote, err
}
