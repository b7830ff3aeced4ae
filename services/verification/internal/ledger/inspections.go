package ledger

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"buzhou.dev/platform/auth"
	"buzhou.dev/platform/errs"
	"buzhou.dev/platform/vocab"
	articlev1 "buzhou.dev/proto/gen/buzhou/article/v1"
	searchv1 "buzhou.dev/proto/gen/buzhou/search/v1"
	verificationv1 "buzhou.dev/proto/gen/buzhou/verification/v1"
	"buzhou.dev/verification/internal/identity"
	"buzhou.dev/verification/internal/rules"
	"buzhou.dev/verification/internal/store"
)

// What starts an inspection.
const (
	TriggerPublish = "publish"
	TriggerEdit    = "edit"
	// TriggerDraft: a draft (a proposal, say) was created or edited.
	TriggerDraft  = "draft"
	TriggerDaily  = "daily"
	TriggerManual = "manual"
)

// Run statuses.
const (
	runCompleted = "completed"
	runFailed    = "failed"
)

// The inspection bot's record after an applied repair, as the public site
// files it.
const (
	botPassedNotes  = "Auto-repair applied and deterministic inspection checks passed."
	botPartialNotes = "Auto-repair applied, but unresolved findings remain."
)

// relatedCandidates is how many similar articles search is asked for.
const relatedCandidates = 5

// RunInspection implements VerificationServiceServer.
func (s *Service) RunInspection(ctx context.Context, req *verificationv1.RunInspectionRequest) (*verificationv1.InspectionRun, error) {
	a, err := s.article(ctx, req.GetArticleId())
	if err != nil {
		return nil, err
	}
	return s.Inspect(ctx, a, TriggerManual, req.GetSkipRepairs())
}

// Inspect inspects article a (as given: the feed's copy, or a fresh read),
// stores the run and its findings, applies safe repairs unless told not to
// (see Repairer), and writes the trust summary back.
func (s *Service) Inspect(ctx context.Context, a *articlev1.Article, trigger string, skipRepairs bool) (*verificationv1.InspectionRun, error) {
	unlock := s.locks.lock(a.GetId())
	defer unlock()
	// A repair of this article left pending by a failed call first: its
	// record counts for this inspection.
	if err := s.settleArticle(ctx, a.GetId()); err != nil {
		return nil, err
	}
	started := s.d.Now()
	records, err := s.d.Store.ArticleRecords(ctx, a.GetId())
	if err != nil {
		return nil, err
	}
	run := store.Run{ID: identity.NewID("ins"), ArticleID: a.GetId(), ArticleRevision: a.GetRevision(), Trigger: trigger, Status: runCompleted, StartedAt: started}

	var ev evaluation
	ev.add(rules.ContentKeys(), rules.ContentRules(a))
	byRecords := recordRules(records, started)
	ev.add(byRecords.keys, byRecords.found)
	if found, note := s.checkLinks(ctx, a); note != "" {
		run.Notes = append(run.Notes, note)
	} else {
		ev.add(rules.LinkKeys(), found)
	}
	if found, note := s.checkDuplicates(ctx, a); note != "" {
		run.Notes = append(run.Notes, note)
	} else {
		ev.add(rules.DuplicateKeys(), found)
	}
	findings, err := s.applyEvaluation(ctx, a.GetId(), ev)
	if err != nil {
		return nil, err
	}

	var bot *store.Record
	out := a
	repaired, fixed, repairs, note, err := s.repair(ctx, a, run, findings, ev, records, started, skipRepairs)
	if err != nil {
		return nil, err
	}
	if note != "" {
		run.Notes = append(run.Notes, note)
	}
	if repaired != nil {
		// The repair's revision carried the trust summary and the bot's
		// record; store what it wrote.
		out, run.RepairedRevision, run.Repairs = repaired.article, repaired.article.GetRevision(), repairs
		bot = &repaired.record
		if findings, err = s.markFixed(ctx, a.GetId(), fixed); err != nil {
			return nil, err
		}
	}

	run.Findings = found(findings, ev)
	run.RiskLevel = riskOf(findings)
	if repaired == nil {
		if w, _, err := s.rescore(ctx, a, started); err != nil {
			run.Status = runFailed
			run.Notes = append(run.Notes, "the summary could not be written back to the article; the next inspection retries")
		} else {
			out = w
		}
	}
	// With a repair, this also settles its pending entry (see repair).
	stored, err := s.d.Store.AddRun(ctx, run, bot)
	if err != nil {
		return nil, err
	}
	if bot != nil {
		records = append([]store.Record{*bot}, records...)
	}
	if err := s.d.Store.ReplaceVerdicts(ctx, a.GetId(), verdicts(records)); err != nil {
		return nil, err
	}
	s.d.Log.InfoContext(ctx, "article inspected", "article", a.GetId(), "revision", out.GetRevision(), "trigger", trigger,
		"risk", run.RiskLevel, "findings", len(run.Findings), "repaired", run.RepairedRevision)
	return runProto(stored, bot), nil
}

// canReview reports whether the caller may see the inspections of an article
// that is not public: the scopes that see or inspect drafts.
func canReview(ctx context.Context) bool {
	p := auth.FromContext(ctx)
	return p != nil && (p.Has(auth.ScopeArticlesWrite) || p.Has(auth.ScopeInspectionsRun))
}

// found returns the findings an evaluation found, with their statuses now.
func found(fs []store.Finding, ev evaluation) []store.Finding {
	hit := map[findingKey]bool{}
	for _, f := range ev.found {
		hit[findingKey{f.RuleKey, f.FieldPath}] = true
	}
	var out []store.Finding
	for _, f := range fs {
		if hit[findingKey{f.RuleKey, f.FieldPath}] {
			out = append(out, f)
		}
	}
	return out
}

// checkLinks checks the article's references; a note says why it did not.
func (s *Service) checkLinks(ctx context.Context, a *articlev1.Article) ([]rules.Finding, string) {
	if s.d.Links == nil {
		return nil, "reference links not checked: " + s.o.LinksOff
	}
	urls := make([]string, len(a.GetReferences()))
	for i, r := range a.GetReferences() {
		urls[i] = r.GetUrl()
	}
	if len(urls) == 0 {
		return nil, ""
	}
	return rules.LinkRules(a, s.d.Links.CheckAll(ctx, urls)), ""
}

// checkDuplicates asks search for similar published articles and compares
// their text with a's; a note says why it could not.
func (s *Service) checkDuplicates(ctx context.Context, a *articlev1.Article) ([]rules.Finding, string) {
	if s.d.Related == nil {
		return nil, "near duplicates not checked: no search service is configured"
	}
	resp, err := s.d.Related.ListRelatedArticles(ctx, &searchv1.ListRelatedArticlesRequest{IdOrSlug: a.GetId(), Limit: relatedCandidates})
	switch status.Code(err) {
	case codes.OK:
	case codes.Unimplemented:
		return nil, "near duplicates not checked: the search service does not answer related-article queries yet"
	case codes.NotFound:
		return nil, "near duplicates not checked: the search service has not indexed this revision yet"
	default:
		s.d.Log.WarnContext(ctx, "related articles failed", "article", a.GetId(), "err", err)
		return nil, "near duplicates not checked: the search service did not answer"
	}
	var similar []rules.Duplicate
	for _, item := range resp.GetItems() {
		if item.GetId() == a.GetId() {
			continue
		}
		other, err := s.d.Articles.GetArticle(ctx, &articlev1.GetArticleRequest{IdOrSlug: item.GetId()})
		if err != nil || other.GetStatus() != vocab.StatusPublished {
			continue // gone since search indexed it
		}
		similar = append(similar, rules.Duplicate{ID: other.GetId(), Slug: other.GetSlug(), Similarity: rules.Similarity(a, other)})
	}
	return rules.DuplicateRules(similar), ""
}

// repaired is what an applied repair wrote.
type repaired struct {
	article *articlev1.Article
	record  store.Record
}

// markFixed marks the article's open findings with these ids fixed and
// returns every finding of the article.
func (s *Service) markFixed(ctx context.Context, articleID string, fixed []string) ([]store.Finding, error) {
	return s.d.Store.UpdateFindings(ctx, articleID, func(cur []store.Finding) ([]store.Finding, error) {
		var changed []store.Finding
		for _, f := range cur {
			if slices.Contains(fixed, f.ID) && f.Status == statusOpen {
				f.Status = statusFixed
				changed = append(changed, f)
			}
		}
		return changed, nil
	})
}

// repair applies the safe fixes of the open findings of this evaluation as
// one article revision with the trust summary and the inspection bot's
// record. It returns what it wrote, the ids of the findings it fixed and the
// audit entries, or nil and a note saying why nothing was written.
//
// The article revision and the run that records it live in two services'
// databases. So that a crash between the two leaves no half repair, the
// repair is stored as pending (with run, its audit entries and the bot's
// record) before it is sent; the caller's AddRun settles it, and
// SettleRepairs settles what a crash left at the next start.
func (s *Service) repair(ctx context.Context, a *articlev1.Article, run store.Run, findings []store.Finding, ev evaluation, records []store.Record, now time.Time, skip bool) (*repaired, []string, []store.Repair, string, error) {
	fixes := map[findingKey]*rules.Fix{}
	for _, f := range ev.found {
		if f.Fix != nil {
			fixes[findingKey{f.RuleKey, f.FieldPath}] = f.Fix
		}
	}
	next := cloneArticle(a)
	var (
		fixed   []string
		repairs []store.Repair
		fields  []string
		left    []store.Finding
	)
	for _, f := range open(findings) {
		fix := fixes[findingKey{f.RuleKey, f.FieldPath}]
		if fix == nil || !fix.Apply(next) {
			left = append(left, f)
			continue
		}
		fixed = append(fixed, f.ID)
		repairs = append(repairs, store.Repair{FindingID: f.ID, RuleKey: f.RuleKey, FieldPath: f.FieldPath, Before: fix.Before(a), After: fix.After()})
		if !slices.Contains(fields, fix.Field()) {
			fields = append(fields, fix.Field())
		}
	}
	switch {
	case len(fixed) == 0:
		return nil, nil, nil, "", nil
	case skip:
		return nil, nil, nil, rules.Plural(len(fixed), "safe repair") + " not applied: the run was asked not to", nil
	case s.d.Repairer == nil:
		return nil, nil, nil, rules.Plural(len(fixed), "safe repair") + " found but not applied: repairs are switched off here; see each finding's suggested patch", nil
	}
	bot := store.Record{ID: identity.NewID("rec"), ArticleID: a.GetId(), VerifierID: identity.InspectionBotID,
		VerifierName: "Inspection Bot", VerifierType: vocab.PrincipalOfficialBot, Result: vocab.ResultPassed,
		OS: "server", Runtime: "inspection-worker", RuntimeVersion: "v1", Notes: botPassedNotes, CreatedAt: now}
	if len(left) > 0 {
		bot.Result, bot.Notes = vocab.ResultPartial, botPartialNotes
	}
	withBot := append([]store.Record{bot}, records...)
	sh := shownOf(a, withBot, left, now)
	trust := trustWrite(a, sh, now, articlev1.ChangeCause_CHANGE_CAUSE_INSPECTION_REPAIR)
	next.Id = a.GetId()
	// A repair is one revision on top of the inspected one.
	run.RepairedRevision, run.Repairs = a.GetRevision()+1, repairs
	if err := s.d.Store.SavePendingRepair(ctx, store.PendingRepair{Run: run, Record: bot, Fixed: fixed}); err != nil {
		return nil, nil, nil, "", err
	}
	w, err := s.d.Repairer.RepairArticle(ctx, &articlev1.RepairArticleRequest{
		Article: next, UpdateMask: &fieldmaskpb.FieldMask{Paths: fields}, ExpectedRevision: a.GetRevision(), Trust: trust,
	})
	if err != nil {
		// Refused: nothing was written (a call cut short is settled as
		// after a crash, by what the article shows).
		note := "safe repairs not applied: the article service refused the write"
		switch {
		case status.Code(err) == codes.FailedPrecondition || errors.Is(err, errs.ErrFailedPrecondition):
			note = "safe repairs not applied: the article changed during the inspection; the next inspection repairs it"
		case refused(err):
			s.d.Log.WarnContext(ctx, "repair write failed", "article", a.GetId(), "err", err)
		default:
			s.d.Log.WarnContext(ctx, "repair write failed; settled once the article service answers", "article", a.GetId(), "err", err)
			return nil, nil, nil, "", fmt.Errorf("%w: the repair's write did not complete; it is settled once the article service answers", errs.ErrUnavailable)
		}
		if err := s.d.Store.DropPendingRepair(ctx, run.ID); err != nil {
			return nil, nil, nil, "", err
		}
		return nil, nil, nil, note, nil
	}
	return &repaired{article: w, record: bot}, fixed, repairs, "", nil
}

// refused says whether the article service answered err having written
// nothing for sure (as opposed to a call cut short, which it may have
// completed).
func refused(err error) bool {
	switch status.Code(err) {
	case codes.Unavailable, codes.DeadlineExceeded, codes.Canceled, codes.Unknown, codes.Internal:
		return false
	}
	return true
}

// SettleRepairs settles the repairs a crash left pending (see repair): a
// repair the article shows — its trust summary lists the inspection bot's
// record — gets its run, audit entries and record, as if the inspection had
// finished; one it does not show was not written and is dropped. It runs at
// start-up, before inspections, and returns how many it completed and
// dropped.
func (s *Service) SettleRepairs(ctx context.Context) (completed, dropped int, err error) {
	pending, err := s.d.Store.PendingRepairs(ctx)
	if err != nil {
		return 0, 0, err
	}
	for _, p := range pending {
		unlock := s.locks.lock(p.Run.ArticleID)
		done, err := s.settle(ctx, p)
		unlock()
		if err != nil {
			return completed, dropped, err
		}
		if done {
			completed++
		} else {
			dropped++
		}
	}
	return completed, dropped, nil
}

// settleArticle settles the pending repairs of one article; the caller
// holds its lock.
func (s *Service) settleArticle(ctx context.Context, articleID string) error {
	pending, err := s.d.Store.PendingRepairs(ctx)
	if err != nil {
		return err
	}
	for _, p := range pending {
		if p.Run.ArticleID == articleID {
			if _, err := s.settle(ctx, p); err != nil {
				return err
			}
		}
	}
	return nil
}

// settle completes or drops one pending repair; the caller holds the
// article's lock.
func (s *Service) settle(ctx context.Context, p store.PendingRepair) (bool, error) {
	a, err := s.d.Articles.GetArticle(ctx, &articlev1.GetArticleRequest{IdOrSlug: p.Run.ArticleID})
	switch {
	case status.Code(err) == codes.NotFound:
		return false, s.d.Store.DropPendingRepair(ctx, p.Run.ID)
	case err != nil:
		return false, fmt.Errorf("read article %s to settle a repair: %w", p.Run.ArticleID, err)
	}
	written := false
	for _, r := range a.GetRecentVerifications() {
		written = written || r.GetId() == p.Record.ID
	}
	if !written {
		return false, s.d.Store.DropPendingRepair(ctx, p.Run.ID)
	}
	findings, err := s.markFixed(ctx, a.GetId(), p.Fixed)
	if err != nil {
		return false, err
	}
	run := p.Run
	run.Findings, run.RiskLevel = open(findings), riskOf(findings)
	run.Notes = append(run.Notes, "recorded after a restart: the service stopped between the repair and its record")
	bot := p.Record
	if _, err := s.d.Store.AddRun(ctx, run, &bot); err != nil {
		return false, err
	}
	records, err := s.d.Store.ArticleRecords(ctx, a.GetId())
	if err != nil {
		return false, err
	}
	if err := s.d.Store.ReplaceVerdicts(ctx, a.GetId(), verdicts(records)); err != nil {
		return false, err
	}
	s.d.Log.InfoContext(ctx, "a repair left pending by a crash is recorded", "article", a.GetId(), "run", run.ID, "revision", run.RepairedRevision)
	return true, nil
}

// ListInspectionRuns implements VerificationServiceServer.
func (s *Service) ListInspectionRuns(ctx context.Context, req *verificationv1.ListInspectionRunsRequest) (*verificationv1.ListInspectionRunsResponse, error) {
	if err := checkPageSize(req.GetPageSize(), maxRunsPage); err != nil {
		return nil, err
	}
	a, err := s.article(ctx, req.GetIdOrSlug())
	if err != nil {
		return nil, err
	}
	if !vocab.IsPublic(a.GetStatus()) && !canReview(ctx) {
		// Drafts are inspected too (proposals), and their findings quote
		// them: only those who may see the draft see its inspections.
		return nil, fmt.Errorf("%w: article %q not found among published articles; check the id or slug", errs.ErrNotFound, req.GetIdOrSlug())
	}
	runs, next, err := s.d.Store.ListRuns(ctx, a.GetId(), store.Page{Size: pageSize(req.GetPageSize(), runsPage, maxRunsPage), Token: req.GetPageToken()})
	if err != nil {
		return nil, err
	}
	findings, err := s.d.Store.ArticleFindings(ctx, a.GetId())
	if err != nil {
		return nil, err
	}
	var bots map[string]store.Record
	resp := &verificationv1.ListInspectionRunsResponse{NextPageToken: next, OpenFindings: findingProtos(open(findings))}
	for _, r := range runs {
		var rec *store.Record
		if r.RecordID != "" {
			if bots == nil {
				if bots, err = s.recordsByID(ctx, a.GetId()); err != nil {
					return nil, err
				}
			}
			if b, ok := bots[r.RecordID]; ok {
				rec = &b
			}
		}
		resp.Runs = append(resp.Runs, runProto(r, rec))
	}
	return resp, nil
}

func (s *Service) recordsByID(ctx context.Context, articleID string) (map[string]store.Record, error) {
	recs, err := s.d.Store.ArticleRecords(ctx, articleID)
	if err != nil {
		return nil, err
	}
	out := make(map[string]store.Record, len(recs))
	for _, r := range recs {
		out[r.ID] = r
	}
	return out, nil
}

// LastInspectedRevision is the article revision the newest inspection run
// inspected, 0 when it was never inspected.
func (s *Service) LastInspectedRevision(ctx context.Context, articleID string) (int32, error) {
	runs, _, err := s.d.Store.ListRuns(ctx, articleID, store.Page{Size: 1})
	if err != nil || len(runs) == 0 {
		return 0, err
	}
	return runs[0].ArticleRevision, nil
}
