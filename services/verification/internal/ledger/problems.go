package ledger

import (
	"context"
	"fmt"
	"strings"
	"time"

	"buzhou.dev/platform/auth"
	"buzhou.dev/platform/errs"
	"buzhou.dev/platform/vocab"
	verificationv1 "buzhou.dev/proto/gen/buzhou/verification/v1"
	"buzhou.dev/verification/internal/identity"
	"buzhou.dev/verification/internal/rules"
	"buzhou.dev/verification/internal/store"
)

// Kinds of problem report and the severity of their finding.
func problemSeverity(kind string) (string, bool) {
	switch kind {
	case vocab.ProblemOutdated, vocab.ProblemIncorrect, vocab.ProblemUnclear:
		return vocab.RiskMedium, true
	case vocab.ProblemUnsafe:
		return vocab.RiskHigh, true
	}
	return "", false
}

// reportPath is the field path of every report's finding: reports concern
// the article as a whole.
const reportPath = "article"

// ReportProblem implements VerificationServiceServer: the report becomes, or
// is counted on, the open finding reported.<kind> of the article. Nothing
// about the reporter is kept beyond the count.
func (s *Service) ReportProblem(ctx context.Context, req *verificationv1.ReportProblemRequest) (*verificationv1.Finding, error) {
	if auth.FromContext(ctx) == nil {
		return nil, fmt.Errorf("%w: reporting a problem needs an API key with scope %q", errs.ErrUnauthenticated, auth.ScopeVerificationsWrite)
	}
	severity, ok := problemSeverity(req.GetKind())
	if !ok {
		return nil, fmt.Errorf("%w: kind %q is not known; give outdated, incorrect, unclear or unsafe", errs.ErrInvalid, rules.Clip(req.GetKind(), 40))
	}
	if strings.TrimSpace(req.GetDetails()) == "" {
		return nil, fmt.Errorf("%w: details is required; say what did not work, e.g. the command and the error it printed", errs.ErrInvalid)
	}
	if err := checkText("details", req.GetDetails(), maxDetailsRunes, true, true); err != nil {
		return nil, err
	}
	if err := checkEnvironment("environment", req.GetEnvironment()); err != nil {
		return nil, err
	}
	rule := rules.ReportedPrefix + req.GetKind()
	var reported store.Finding
	findings, err := s.changeFindings(ctx, req.GetArticleId(), func(articleID string, cur []store.Finding) ([]store.Finding, error) {
		f := store.Finding{ID: identity.NewID("fnd"), ArticleID: articleID, RuleKey: rule, FieldPath: reportPath}
		for _, c := range cur {
			if c.RuleKey == rule && c.FieldPath == reportPath {
				f = c
			}
		}
		// A report is new input: it reopens a finding closed before.
		f.ReportCount++
		f.Status, f.Severity = statusOpen, severity
		f.Title = fmt.Sprintf("Reported %s by agents", req.GetKind())
		f.Evidence = reportEvidence(f.ReportCount, req)
		reported = f
		return []store.Finding{f}, nil
	})
	if err != nil {
		return nil, err
	}
	reported = stored(findings, reported)
	s.d.Log.InfoContext(ctx, "problem reported", "article", reported.ArticleID, "kind", req.GetKind(), "reports", reported.ReportCount)
	return findingProto(reported), nil
}

func reportEvidence(count int32, req *verificationv1.ReportProblemRequest) string {
	var where []string
	env := req.GetEnvironment()
	for _, v := range []string{env.GetOs(), strings.TrimSpace(env.GetRuntime() + " " + env.GetRuntimeVersion())} {
		if v != "" {
			where = append(where, v)
		}
	}
	e := fmt.Sprintf("%s; latest: %s", reportCount(count), rules.Clip(strings.Join(strings.Fields(req.GetDetails()), " "), 400))
	if len(where) > 0 {
		e += " (on " + strings.Join(where, ", ") + ")"
	}
	return e
}

func reportCount(n int32) string {
	if n == 1 {
		return "1 report"
	}
	return fmt.Sprintf("%d reports", n)
}

// ResolveFinding implements VerificationServiceServer.
func (s *Service) ResolveFinding(ctx context.Context, req *verificationv1.ResolveFindingRequest) (*verificationv1.Finding, error) {
	to := req.GetStatus()
	if to != statusFixed && to != statusDismissed {
		return nil, fmt.Errorf("%w: status %q: give fixed (it was fixed outside an inspection) or dismissed (a false alarm)", errs.ErrInvalid, rules.Clip(to, 40))
	}
	if err := checkText("note", req.GetNote(), maxNoteRunes, true, false); err != nil {
		return nil, err
	}
	var resolved store.Finding
	findings, err := s.changeFindings(ctx, req.GetArticleId(), func(articleID string, cur []store.Finding) ([]store.Finding, error) {
		for _, f := range cur {
			if f.ID != req.GetFindingId() {
				continue
			}
			if f.Status != statusOpen {
				return nil, fmt.Errorf("%w: finding %s is %s already; only open findings are resolved", errs.ErrFailedPrecondition, f.ID, f.Status)
			}
			f.Status = to
			if note := strings.TrimSpace(req.GetNote()); note != "" {
				f.Evidence = rules.Clip(f.Evidence+" — "+to+": "+note, 2000)
			}
			resolved = f
			return []store.Finding{f}, nil
		}
		return nil, fmt.Errorf("%w: article %s has no finding %q; list its inspections to find the id", errs.ErrNotFound, articleID, req.GetFindingId())
	})
	if err != nil {
		return nil, err
	}
	resolved = stored(findings, resolved)
	s.d.Log.InfoContext(ctx, "finding resolved", "article", resolved.ArticleID, "finding", resolved.ID, "status", to, "by", callerID(ctx))
	return findingProto(resolved), nil
}

func callerID(ctx context.Context) string {
	if p := auth.FromContext(ctx); p != nil {
		return p.ID
	}
	return ""
}

// changeFindings changes the findings of the article named by idOrSlug
// with mutate, under the article's lock, and rescores it (a failed
// write-back is logged: the next rescore retries). It returns all of the
// article's findings afterwards.
func (s *Service) changeFindings(ctx context.Context, idOrSlug string, mutate func(articleID string, cur []store.Finding) ([]store.Finding, error)) ([]store.Finding, error) {
	a, err := s.article(ctx, idOrSlug)
	if err != nil {
		return nil, err
	}
	unlock := s.locks.lock(a.GetId())
	defer unlock()
	findings, err := s.d.Store.UpdateFindings(ctx, a.GetId(), func(cur []store.Finding) ([]store.Finding, error) { return mutate(a.GetId(), cur) })
	if err != nil {
		return nil, err
	}
	if _, _, err := s.rescore(ctx, a, time.Time{}); err != nil {
		s.d.Log.WarnContext(ctx, "write-back after a change of findings failed; the next rescore retries", "article", a.GetId(), "err", err)
	}
	return findings, nil
}

// stored is f as the store returned it among findings (with its times).
func stored(findings []store.Finding, f store.Finding) store.Finding {
	for _, s := range findings {
		if s.ID == f.ID {
			return s
		}
	}
	return f
}
