package ledger

import (
	"cmp"
	"context"
	"slices"

	"buzhou.dev/verification/internal/identity"
	"buzhou.dev/verification/internal/rules"
	"buzhou.dev/verification/internal/store"
)

// Finding statuses.
const (
	statusOpen      = "open"
	statusFixed     = "fixed"
	statusDismissed = "dismissed"
)

// evaluation is what one evaluation of some rules found.
type evaluation struct {
	// keys are the rules evaluated; their findings not found again are fixed.
	keys  []string
	found []rules.Finding
}

func (ev *evaluation) add(keys []string, found []rules.Finding) {
	ev.keys = append(ev.keys, keys...)
	ev.found = append(ev.found, found...)
}

// findingKey identifies a finding of an article: one per rule and field.
type findingKey struct{ rule, path string }

// merge works an evaluation into an article's findings and returns the rows
// to write: a finding found again is updated (and reopened if it was fixed;
// a dismissed one stays dismissed), a new one is opened, and an open finding
// of an evaluated rule that was not found again is fixed.
func merge(articleID string, cur []store.Finding, ev evaluation) []store.Finding {
	byKey := make(map[findingKey]store.Finding, len(cur))
	for _, f := range cur {
		byKey[findingKey{f.RuleKey, f.FieldPath}] = f
	}
	var changed []store.Finding
	seen := map[findingKey]bool{}
	for _, f := range ev.found {
		k := findingKey{f.RuleKey, f.FieldPath}
		if seen[k] {
			continue // a rule reports a field once
		}
		seen[k] = true
		next, ok := byKey[k]
		if !ok {
			next = store.Finding{ID: identity.NewID("fnd"), ArticleID: articleID, RuleKey: f.RuleKey, FieldPath: f.FieldPath}
		}
		prev := next
		next.Severity, next.Title, next.Evidence = f.Severity, f.Title, f.Evidence
		next.AutoFixable, next.SuggestedPatch = f.Fix != nil, ""
		if f.Fix != nil {
			next.SuggestedPatch = f.Fix.Patch()
		}
		if next.Status != statusDismissed {
			next.Status = statusOpen
		}
		if !ok || !sameFinding(prev, next) {
			changed = append(changed, next)
		}
	}
	for _, f := range cur {
		if f.Status == statusOpen && slices.Contains(ev.keys, f.RuleKey) && !seen[findingKey{f.RuleKey, f.FieldPath}] {
			f.Status = statusFixed
			changed = append(changed, f)
		}
	}
	return changed
}

func sameFinding(a, b store.Finding) bool {
	return a.Severity == b.Severity && a.Title == b.Title && a.Evidence == b.Evidence && a.AutoFixable == b.AutoFixable &&
		a.SuggestedPatch == b.SuggestedPatch && a.Status == b.Status && a.ReportCount == b.ReportCount
}

// applyEvaluation merges ev into the stored findings and returns all of the
// article's findings afterwards.
func (s *Service) applyEvaluation(ctx context.Context, articleID string, ev evaluation) ([]store.Finding, error) {
	return s.d.Store.UpdateFindings(ctx, articleID, func(cur []store.Finding) ([]store.Finding, error) {
		return merge(articleID, cur, ev), nil
	})
}

// open returns the open findings, most severe first, then by field and rule.
func open(fs []store.Finding) []store.Finding {
	var out []store.Finding
	for _, f := range fs {
		if f.Status == statusOpen {
			out = append(out, f)
		}
	}
	slices.SortFunc(out, func(a, b store.Finding) int {
		return cmp.Or(cmp.Compare(rules.SeverityRank(b.Severity), rules.SeverityRank(a.Severity)),
			cmp.Compare(a.FieldPath, b.FieldPath), cmp.Compare(a.RuleKey, b.RuleKey))
	})
	return out
}

// riskOf is the risk level of the article's findings: the highest open
// severity, low when none is open.
func riskOf(fs []store.Finding) string {
	var sev []string
	for _, f := range open(fs) {
		sev = append(sev, f.Severity)
	}
	return rules.Risk(sev)
}
