package ledger_test

import (
	"slices"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	articlev1 "buzhou.dev/proto/gen/buzhou/article/v1"
	verificationv1 "buzhou.dev/proto/gen/buzhou/verification/v1"
)

// TestRunDueInspectionsPicksOnlyStale: articles inspected within the day
// are left alone, older and never-inspected ones are inspected, drafts are
// not; articles with records are rescored as their records age.
func TestRunDueInspectionsPicksOnlyStale(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{})
	fresh := e.publish(article("Fresh"))
	e.inspect(t.Context(), fresh.GetId(), false)
	old := article("Old")
	old.LastInspectedAt = timestamppb.New(e.clock.Now().Add(-25 * time.Hour))
	old = e.publish(old)
	never := e.publish(article("Never"))
	e.articles.Put(&articlev1.Article{Title: &articlev1.LocalizedText{En: "Draft"}, Status: "draft"}, articlev1.ChangeCause_CHANGE_CAUSE_CREATE)
	verified := e.publish(article("Verified"))
	e.inspect(t.Context(), verified.GetId(), false)
	e.record(e.verifier("prn_v", "v", "third_party_agent"), verified.GetId(), "passed")

	e.clock.Advance(2 * time.Hour) // fresh and verified were inspected 2 h ago
	resp, err := e.svc.RunDueInspections(t.Context(), &verificationv1.RunDueInspectionsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	got := slices.Sorted(slices.Values(resp.GetInspectedArticleIds()))
	if want := slices.Sorted(slices.Values([]string{old.GetId(), never.GetId()})); !slices.Equal(got, want) {
		t.Errorf("inspected %v; want only the stale ones %v", got, want)
	}
	if resp.GetRescored() != 0 || resp.GetFailed() != 0 {
		t.Errorf("rescored %d, failed %d; nothing had changed", resp.GetRescored(), resp.GetFailed())
	}
	for _, id := range []string{old.GetId(), never.GetId()} {
		if a := e.articles.Get(id); !a.GetLastInspectedAt().AsTime().Equal(e.clock.Now()) {
			t.Errorf("%s last inspected %v", id, a.GetLastInspectedAt().AsTime())
		}
	}

	// Eight days on, the recency bonus of the verified article's record has
	// dropped: the run rescores it (and inspects everything again).
	e.clock.Advance(8 * 24 * time.Hour)
	before := e.articles.Get(verified.GetId()).GetConfidenceScore()
	resp, err = e.svc.RunDueInspections(t.Context(), &verificationv1.RunDueInspectionsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.GetInspectedArticleIds()) != 4 {
		t.Errorf("inspected %v; want all four published articles", resp.GetInspectedArticleIds())
	}
	if after := e.articles.Get(verified.GetId()).GetConfidenceScore(); after != before-2 {
		t.Errorf("confidence %d → %d; want the fresh bonus (+4) to become the recent one (+2)", before, after)
	}
}
