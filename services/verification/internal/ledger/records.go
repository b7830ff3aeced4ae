package ledger

import (
	"context"
	"fmt"
	"strings"
	"time"

	"buzhou.dev/platform/auth"
	"buzhou.dev/platform/errs"
	"buzhou.dev/platform/vocab"
	articlev1 "buzhou.dev/proto/gen/buzhou/article/v1"
	verificationv1 "buzhou.dev/proto/gen/buzhou/verification/v1"
	"buzhou.dev/verification/internal/identity"
	"buzhou.dev/verification/internal/rules"
	"buzhou.dev/verification/internal/store"
)

// Page sizes of the lists: default and most.
const (
	recordsPage, maxRecordsPage = 50, 200
	runsPage, maxRunsPage       = 20, 100
)

// CreateVerificationRecord implements VerificationServiceServer. The
// verifier is the caller; the request has no field that could name another.
// The record is kept even when the write-back fails (it is append-only, and
// a retry would record the run twice); the next rescore writes it back.
func (s *Service) CreateVerificationRecord(ctx context.Context, req *verificationv1.CreateVerificationRecordRequest) (*verificationv1.VerificationRecord, error) {
	p := auth.FromContext(ctx)
	if p == nil {
		return nil, fmt.Errorf("%w: recording a verification needs an API key with scope %q", errs.ErrUnauthenticated, auth.ScopeVerificationsWrite)
	}
	if err := checkRecordRequest(req); err != nil {
		return nil, err
	}
	a, err := s.article(ctx, req.GetArticleId())
	if err != nil {
		return nil, err
	}
	if authoredBy(a, p) {
		return nil, fmt.Errorf("%w: the caller (principal %s, %q) wrote this article (author %q) and cannot verify it; ask another verifier to run it",
			errs.ErrPermissionDenied, p.ID, p.Name, a.GetAuthor())
	}
	unlock := s.locks.lock(a.GetId())
	defer unlock()
	env := req.GetEnvironment()
	rec, err := s.d.Store.AddRecord(ctx, store.Record{
		ID: identity.NewID("rec"), ArticleID: a.GetId(), VerifierID: p.ID, Result: req.GetResult(),
		OS: env.GetOs(), Runtime: env.GetRuntime(), RuntimeVersion: env.GetRuntimeVersion(), Extras: env.GetExtras(),
		Notes: req.GetNotes(), Evidence: req.GetEvidence(),
	})
	if err != nil {
		return nil, err
	}
	s.d.Log.InfoContext(ctx, "verification recorded", "record", rec.ID, "article", a.GetId(), "verifier", p.ID, "result", rec.Result)
	// Rescored from a fresh read: the article may have changed since the
	// first one, and the write-back compares with what it shows now.
	cur, err := s.article(ctx, a.GetId())
	if err == nil {
		_, _, err = s.rescore(ctx, cur, time.Time{})
	}
	if err != nil {
		s.d.Log.WarnContext(ctx, "write-back after a record failed; the next rescore retries", "article", a.GetId(), "err", err)
	}
	return recordProto(rec), nil
}

// authoredBy reports whether the caller is the article's author: the
// principal that created it (authorId), whatever author name it gave, or a
// principal whose name or id is the author's name (an article imported
// without a principal keeps only the name). Names are not unique: a principal
// sharing the author's name is refused too, which errs on the safe side.
func authoredBy(a *articlev1.Article, p *auth.Principal) bool {
	if a.GetAuthorId() != "" && a.GetAuthorId() == p.ID {
		return true
	}
	author := strings.TrimSpace(a.GetAuthor())
	return author != "" && (strings.EqualFold(author, strings.TrimSpace(p.Name)) || author == p.ID)
}

func checkRecordRequest(req *verificationv1.CreateVerificationRecordRequest) error {
	switch req.GetResult() {
	case vocab.ResultPassed, vocab.ResultPartial, vocab.ResultFailed:
	case "":
		return fmt.Errorf("%w: result is required; give passed, partial or failed", errs.ErrInvalid)
	default:
		return fmt.Errorf("%w: result %q is not known; give passed, partial or failed", errs.ErrInvalid, rules.Clip(req.GetResult(), 40))
	}
	if err := checkEnvironment("environment", req.GetEnvironment()); err != nil {
		return err
	}
	if err := checkText("notes", req.GetNotes(), maxNotesBytes, false, true); err != nil {
		return err
	}
	return checkText("evidence", req.GetEvidence(), maxEvidenceBytes, false, true)
}

// ListVerificationRecords implements VerificationServiceServer.
func (s *Service) ListVerificationRecords(ctx context.Context, req *verificationv1.ListVerificationRecordsRequest) (*verificationv1.ListVerificationRecordsResponse, error) {
	if err := checkPageSize(req.GetPageSize(), maxRecordsPage); err != nil {
		return nil, err
	}
	a, err := s.article(ctx, req.GetIdOrSlug())
	if err != nil {
		return nil, err
	}
	recs, next, err := s.d.Store.ListRecords(ctx, a.GetId(), store.Page{Size: pageSize(req.GetPageSize(), recordsPage, maxRecordsPage), Token: req.GetPageToken()})
	if err != nil {
		return nil, err
	}
	resp := &verificationv1.ListVerificationRecordsResponse{Records: make([]*verificationv1.VerificationRecord, 0, len(recs)), NextPageToken: next}
	for _, r := range recs {
		resp.Records = append(resp.Records, recordProto(r))
	}
	return resp, nil
}

// ListVerifiers implements VerificationServiceServer.
func (s *Service) ListVerifiers(ctx context.Context, req *verificationv1.ListVerifiersRequest) (*verificationv1.ListVerifiersResponse, error) {
	if err := checkPageSize(req.GetPageSize(), maxRecordsPage); err != nil {
		return nil, err
	}
	vs, next, err := s.d.Store.ListVerifiers(ctx, store.Page{Size: pageSize(req.GetPageSize(), recordsPage, maxRecordsPage), Token: req.GetPageToken()})
	if err != nil {
		return nil, err
	}
	resp := &verificationv1.ListVerifiersResponse{Verifiers: make([]*verificationv1.Verifier, 0, len(vs)), NextPageToken: next}
	for _, v := range vs {
		resp.Verifiers = append(resp.Verifiers, verifierProto(v))
	}
	return resp, nil
}
