package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"buzhou.dev/platform/errs"
	"buzhou.dev/verification/internal/store"
)

// trustTests are the contract of the trust side: records, verifiers,
// findings, runs and cursors.
func trustTests() []namedTest {
	return []namedTest{
		{"RecordAddList", testRecordAddList},
		{"RecordRefused", testRecordRefused},
		{"RecordsByArticle", testRecordsByArticle},
		{"Verifiers", testVerifiers},
		{"Verdicts", testVerdicts},
		{"FindingsUpdate", testFindingsUpdate},
		{"FindingsConcurrent", testFindingsConcurrent},
		{"Runs", testRuns},
		{"SandboxRuns", testSandboxRuns},
		{"PendingRepairs", testPendingRepairs},
		{"Cursor", testCursor},
	}
}

type namedTest struct {
	name string
	fn   func(t *testing.T, open Opener)
}

func newRecord(id, article, verifier, result string) store.Record {
	return store.Record{ID: id, ArticleID: article, VerifierID: verifier, Result: result, OS: "Linux", Runtime: "Python",
		RuntimeVersion: "3.12", Extras: map[string]string{"arch": "arm64"}, Notes: "notes of " + id, Evidence: "log of " + id}
}

func mustRecord(t *testing.T, s store.Store, r store.Record) store.Record {
	t.Helper()
	got, err := s.AddRecord(t.Context(), r)
	if err != nil {
		t.Fatalf("AddRecord(%s): %v", r.ID, err)
	}
	return got
}

func testRecordAddList(t *testing.T, open Opener) {
	clock := NewClock(baseTime())
	s, _ := open(t, clock.Now)
	mustPrincipal(t, s, "prn_a")
	mustPrincipal(t, s, "prn_b")
	in := newRecord("rec_1", "art_1", "prn_a", "failed")
	got := mustRecord(t, s, in)
	want := in
	want.VerifierName, want.VerifierType, want.CreatedAt = "name of prn_a", "third_party_agent", micro(baseTime())
	if d := diff(want, got); d != "" {
		t.Fatalf("AddRecord (-want +got):\n%s", d)
	}
	clock.Advance(time.Second)
	mustRecord(t, s, newRecord("rec_2", "art_1", "prn_b", "passed"))
	mustRecord(t, s, newRecord("rec_3", "art_2", "prn_a", "passed")) // another article: no bearing on art_1
	clock.Advance(time.Second)
	mustRecord(t, s, newRecord("rec_4", "art_1", "prn_a", "passed"))

	all := collect(t, 1, func(p store.Page) ([]store.Record, string, error) { return s.ListRecords(t.Context(), "art_1", p) })
	var ids []string
	superseded := map[string]bool{}
	for _, r := range all {
		ids = append(ids, r.ID)
		superseded[r.ID] = r.Superseded
	}
	if d := diff([]string{"rec_4", "rec_2", "rec_1"}, ids); d != "" {
		t.Fatalf("ListRecords newest first (-want +got):\n%s", d)
	}
	if d := diff(map[string]bool{"rec_4": false, "rec_2": false, "rec_1": true}, superseded); d != "" {
		t.Errorf("superseded: only prn_a's older record (-want +got):\n%s", d)
	}
	// A token binds its article.
	_, tok, err := s.ListRecords(t.Context(), "art_1", store.Page{Size: 1})
	if err != nil || tok == "" {
		t.Fatalf("first page: %q %v", tok, err)
	}
	_, _, err = s.ListRecords(t.Context(), "art_2", store.Page{Token: tok})
	wantErr(t, "ListRecords of another article with art_1's token", err, errs.ErrInvalid)
}

func testRecordRefused(t *testing.T, open Opener) {
	s, _ := open(t, nil)
	mustPrincipal(t, s, "prn_a")
	mustRecord(t, s, newRecord("rec_1", "art_1", "prn_a", "passed"))
	cases := []struct {
		name string
		r    store.Record
		want error
	}{
		{"unknown verifier", newRecord("rec_2", "art_1", "prn_nobody", "passed"), errs.ErrNotFound},
		{"taken id", newRecord("rec_1", "art_1", "prn_a", "passed"), errs.ErrAlreadyExists},
		{"no id", newRecord("", "art_1", "prn_a", "passed"), errs.ErrInvalid},
		{"no article", newRecord("rec_3", "", "prn_a", "passed"), errs.ErrInvalid},
		{"no result", newRecord("rec_3", "art_1", "prn_a", ""), errs.ErrInvalid},
	}
	for _, tc := range cases { // not parallel: the counts are checked after them
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.AddRecord(t.Context(), tc.r)
			wantErr(t, "AddRecord", err, tc.want)
		})
	}
	// Refused records were not counted.
	vs, _, err := s.ListVerifiers(t.Context(), store.Page{})
	if err != nil || len(vs) != 1 || vs[0].Passed != 1 {
		t.Fatalf("verifiers after refusals: %+v, %v", vs, err)
	}
}

func testRecordsByArticle(t *testing.T, open Opener) {
	clock := NewClock(baseTime())
	s, _ := open(t, clock.Now)
	mustPrincipal(t, s, "prn_a")
	for i, art := range []string{"art_c", "art_a", "art_b", "art_a"} {
		clock.Advance(time.Second)
		result := "passed"
		if i%2 == 1 {
			result = "partial"
		}
		mustRecord(t, s, newRecord(fmt.Sprintf("rec_%d", i), art, "prn_a", result))
	}
	recs, err := s.ArticleRecords(t.Context(), "art_a")
	if err != nil || len(recs) != 2 || recs[0].ID != "rec_3" || recs[1].ID != "rec_1" {
		t.Fatalf("ArticleRecords(art_a) = %+v, %v; want rec_3, rec_1", recs, err)
	}
	if recs, err := s.ArticleRecords(t.Context(), "art_none"); err != nil || len(recs) != 0 {
		t.Fatalf("ArticleRecords of an article without records = %+v, %v", recs, err)
	}
	var got []string
	for after := ""; ; {
		ids, err := s.ArticlesWithRecords(t.Context(), after, 2)
		if err != nil {
			t.Fatal(err)
		}
		if len(ids) == 0 {
			break
		}
		got = append(got, ids...)
		after = ids[len(ids)-1]
	}
	if d := diff([]string{"art_a", "art_b", "art_c"}, got); d != "" {
		t.Errorf("ArticlesWithRecords (-want +got):\n%s", d)
	}
	total, passed, err := s.CountRecords(t.Context())
	if err != nil || total != 4 || passed != 2 {
		t.Errorf("CountRecords = %d, %d, %v; want 4, 2", total, passed, err)
	}
}

func testVerifiers(t *testing.T, open Opener) {
	clock := NewClock(baseTime())
	s, _ := open(t, clock.Now)
	bot := store.Principal{ID: "prn_bot", Name: "Inspection Bot", Type: "official_bot"}
	for range 2 { // idempotent
		if err := s.EnsureVerifier(t.Context(), bot); err != nil {
			t.Fatal(err)
		}
	}
	clock.Advance(time.Second)
	mustPrincipal(t, s, "prn_a")
	mustPrincipal(t, s, "prn_quiet") // a principal without records is no verifier
	mustRecord(t, s, newRecord("rec_1", "art_1", "prn_a", "passed"))
	clock.Advance(time.Second)
	mustRecord(t, s, newRecord("rec_2", "art_2", "prn_a", "partial"))
	mustRecord(t, s, newRecord("rec_3", "art_3", "prn_a", "failed"))
	mustRecord(t, s, newRecord("rec_4", "art_3", "prn_a", "failed"))

	got := collect(t, 1, func(p store.Page) ([]store.Verifier, string, error) { return s.ListVerifiers(t.Context(), p) })
	want := []store.Verifier{
		{Principal: store.Principal{ID: "prn_a", Name: "name of prn_a", Type: "third_party_agent", CreatedAt: micro(baseTime().Add(time.Second))},
			Passed: 1, Partial: 1, Failed: 2, LastVerifiedAt: micro(baseTime().Add(2 * time.Second)), BecameAt: micro(baseTime().Add(time.Second))},
		{Principal: store.Principal{ID: "prn_bot", Name: "Inspection Bot", Type: "official_bot", CreatedAt: micro(baseTime())},
			BecameAt: micro(baseTime())},
	}
	if d := diff(want, got); d != "" {
		t.Fatalf("ListVerifiers (-want +got):\n%s", d)
	}
	_, _, err := s.ListVerifiers(t.Context(), store.Page{Token: "bm90IGEgdG9rZW4"})
	wantErr(t, "ListVerifiers with a bad token", err, errs.ErrInvalid)
}

func testVerdicts(t *testing.T, open Opener) {
	s, _ := open(t, nil)
	for _, id := range []string{"prn_a", "prn_b"} {
		mustPrincipal(t, s, id)
		mustRecord(t, s, newRecord("rec_"+id, "art_1", id, "passed"))
	}
	set := func(article string, v ...store.Verdict) {
		t.Helper()
		if err := s.ReplaceVerdicts(t.Context(), article, v); err != nil {
			t.Fatal(err)
		}
	}
	sums := func() map[string][2]int64 {
		t.Helper()
		vs, _, err := s.ListVerifiers(t.Context(), store.Page{})
		if err != nil {
			t.Fatal(err)
		}
		out := map[string][2]int64{}
		for _, v := range vs {
			out[v.ID] = [2]int64{v.Confirmed, v.Contradicted}
		}
		return out
	}
	set("art_1", store.Verdict{VerifierID: "prn_a", Confirmed: true}, store.Verdict{VerifierID: "prn_b", Contradicted: true})
	set("art_2", store.Verdict{VerifierID: "prn_a", Confirmed: true})
	if d := diff(map[string][2]int64{"prn_a": {2, 0}, "prn_b": {0, 1}}, sums()); d != "" {
		t.Fatalf("sums over two articles (-want +got):\n%s", d)
	}
	// Replacing an article's verdicts drops its old ones.
	set("art_1", store.Verdict{VerifierID: "prn_b", Confirmed: true})
	if d := diff(map[string][2]int64{"prn_a": {1, 0}, "prn_b": {1, 0}}, sums()); d != "" {
		t.Fatalf("sums after a replace (-want +got):\n%s", d)
	}
	set("art_2")
	if d := diff(map[string][2]int64{"prn_a": {0, 0}, "prn_b": {1, 0}}, sums()); d != "" {
		t.Fatalf("sums after emptying art_2 (-want +got):\n%s", d)
	}
}

func newFinding(id, article, rule string) store.Finding {
	return store.Finding{ID: id, ArticleID: article, RuleKey: rule, FieldPath: "content.zh", Severity: "high",
		Title: "title of " + id, Evidence: "seen", Status: "open"}
}

func testFindingsUpdate(t *testing.T, open Opener) {
	clock := NewClock(baseTime())
	s, _ := open(t, clock.Now)
	got, err := s.UpdateFindings(t.Context(), "art_1", func(cur []store.Finding) ([]store.Finding, error) {
		if len(cur) != 0 {
			t.Errorf("a new article has findings: %+v", cur)
		}
		b := newFinding("fnd_b", "art_1", "qa.too_few")
		b.FieldPath, b.SuggestedPatch, b.AutoFixable = "qaPairs", `[{"op":"add"}]`, true
		return []store.Finding{b, newFinding("fnd_a", "art_1", "bilingual.missing_locale")}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	at := micro(baseTime())
	wantA := newFinding("fnd_a", "art_1", "bilingual.missing_locale")
	wantA.CreatedAt, wantA.UpdatedAt = at, at
	wantB := newFinding("fnd_b", "art_1", "qa.too_few")
	wantB.FieldPath, wantB.SuggestedPatch, wantB.AutoFixable, wantB.CreatedAt, wantB.UpdatedAt = "qaPairs", `[{"op":"add"}]`, true, at, at
	if d := diff([]store.Finding{wantA, wantB}, got); d != "" {
		t.Fatalf("UpdateFindings, by id (-want +got):\n%s", d)
	}

	clock.Advance(time.Minute)
	got, err = s.UpdateFindings(t.Context(), "art_1", func(cur []store.Finding) ([]store.Finding, error) {
		a := cur[0]
		a.Status, a.ReportCount, a.CreatedAt = "fixed", 3, time.Unix(1, 0) // created_at is the store's
		return []store.Finding{a}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	wantA.Status, wantA.ReportCount, wantA.UpdatedAt = "fixed", 3, micro(baseTime().Add(time.Minute))
	if d := diff([]store.Finding{wantA, wantB}, got); d != "" {
		t.Fatalf("second UpdateFindings (-want +got):\n%s", d)
	}
	if read, err := s.ArticleFindings(t.Context(), "art_1"); err != nil || diff(got, read) != "" {
		t.Fatalf("ArticleFindings = %+v, %v; want what UpdateFindings returned", read, err)
	}

	// A failing mutate writes nothing; so does a refused finding.
	boom := errors.New("boom")
	_, err = s.UpdateFindings(t.Context(), "art_1", func(cur []store.Finding) ([]store.Finding, error) { return nil, boom })
	if !errors.Is(err, boom) {
		t.Fatalf("mutate's error: %v", err)
	}
	refused := []struct {
		name string
		f    store.Finding
		want error
	}{
		{"another article's", newFinding("fnd_c", "art_2", "x"), errs.ErrInvalid},
		{"no id", newFinding("", "art_1", "x"), errs.ErrInvalid},
		{"same rule and field under a new id", newFinding("fnd_c", "art_1", "bilingual.missing_locale"), errs.ErrAlreadyExists},
	}
	for _, tc := range refused { // not parallel: the findings are checked after them
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.UpdateFindings(t.Context(), "art_1", func([]store.Finding) ([]store.Finding, error) {
				return []store.Finding{newFinding("fnd_d", "art_1", "written.first"), tc.f}, nil
			})
			wantErr(t, "UpdateFindings", err, tc.want)
		})
	}
	if read, _ := s.ArticleFindings(t.Context(), "art_1"); len(read) != 2 {
		t.Errorf("refused updates left %d findings, want the 2 from before", len(read))
	}
}

// Concurrent updates of one article's findings take turns: no count is lost.
func testFindingsConcurrent(t *testing.T, open Opener) {
	s, _ := open(t, nil)
	const writers, each = 4, 5
	var wg sync.WaitGroup
	for range writers {
		wg.Go(func() {
			for range each {
				_, err := s.UpdateFindings(t.Context(), "art_1", func(cur []store.Finding) ([]store.Finding, error) {
					if len(cur) == 0 {
						f := newFinding("fnd_r", "art_1", "reported.unclear")
						f.ReportCount = 1
						return []store.Finding{f}, nil
					}
					cur[0].ReportCount++
					return cur, nil
				})
				if err != nil {
					t.Errorf("UpdateFindings: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	got, err := s.ArticleFindings(t.Context(), "art_1")
	if err != nil || len(got) != 1 || got[0].ReportCount != writers*each {
		t.Fatalf("after %d concurrent counts: %+v, %v", writers*each, got, err)
	}
}

func testRuns(t *testing.T, open Opener) {
	clock := NewClock(baseTime())
	s, reopen := open(t, clock.Now)
	bot := store.Principal{ID: "prn_bot", Name: "Inspection Bot", Type: "official_bot"}
	if err := s.EnsureVerifier(t.Context(), bot); err != nil {
		t.Fatal(err)
	}
	f := newFinding("fnd_a", "art_1", "tags.not_normalized")
	f.Status, f.CreatedAt, f.UpdatedAt = "fixed", baseTime(), baseTime()
	in := store.Run{ID: "ins_1", ArticleID: "art_1", ArticleRevision: 3, Trigger: "manual", Status: "completed", RiskLevel: "low",
		RepairedRevision: 4, StartedAt: baseTime().Add(-time.Second), Findings: []store.Finding{f}, Notes: []string{"links not checked"},
		Repairs: []store.Repair{{FindingID: "fnd_a", RuleKey: "tags.not_normalized", FieldPath: "tags", Before: `["A B"]`, After: `["a-b"]`}}}
	rec := newRecord("rec_bot", "art_1", "prn_bot", "passed")
	got, err := s.AddRun(t.Context(), in, &rec)
	if err != nil {
		t.Fatal(err)
	}
	want := in
	want.RecordID, want.FinishedAt, want.StartedAt = "rec_bot", micro(baseTime()), micro(in.StartedAt)
	want.Findings = []store.Finding{f}
	want.Findings[0].CreatedAt, want.Findings[0].UpdatedAt = micro(baseTime()), micro(baseTime())
	if d := diff(want, got); d != "" {
		t.Fatalf("AddRun (-want +got):\n%s", d)
	}
	if rec.VerifierName != "Inspection Bot" || !rec.CreatedAt.Equal(micro(baseTime())) {
		t.Errorf("AddRun's record: %+v", rec)
	}
	clock.Advance(time.Second)
	if _, err := s.AddRun(t.Context(), store.Run{ID: "ins_2", ArticleID: "art_1", Trigger: "daily", Status: "completed", RiskLevel: "high"}, nil); err != nil {
		t.Fatal(err)
	}
	// A refused record keeps its run out too.
	bad := newRecord("rec_x", "art_1", "prn_nobody", "passed")
	_, err = s.AddRun(t.Context(), store.Run{ID: "ins_3", ArticleID: "art_1", Trigger: "daily", Status: "completed", RiskLevel: "low"}, &bad)
	wantErr(t, "AddRun with a record of an unknown verifier", err, errs.ErrNotFound)
	_, err = s.AddRun(t.Context(), store.Run{ID: "ins_1", ArticleID: "art_1", Trigger: "daily", Status: "completed", RiskLevel: "low"}, nil)
	wantErr(t, "AddRun with a taken id", err, errs.ErrAlreadyExists)

	runs := collect(t, 1, func(p store.Page) ([]store.Run, string, error) { return reopen().ListRuns(t.Context(), "art_1", p) })
	if len(runs) != 2 || runs[0].ID != "ins_2" {
		t.Fatalf("ListRuns: %+v", runs)
	}
	if d := diff(want, runs[1]); d != "" {
		t.Fatalf("ListRuns reads the run back (-want +got):\n%s", d)
	}
	recs, err := s.ArticleRecords(t.Context(), "art_1")
	if err != nil || len(recs) != 1 || recs[0].ID != "rec_bot" {
		t.Fatalf("records after AddRun: %+v, %v", recs, err)
	}
}

func testCursor(t *testing.T, open Opener) {
	s, reopen := open(t, nil)
	if rev, err := s.Cursor(t.Context(), "feed"); err != nil || rev != 0 {
		t.Fatalf("Cursor before any save = %d, %v", rev, err)
	}
	for _, rev := range []int64{7, 12} {
		if err := s.SaveCursor(t.Context(), "feed", rev); err != nil {
			t.Fatal(err)
		}
	}
	if rev, err := reopen().Cursor(t.Context(), "feed"); err != nil || rev != 12 {
		t.Fatalf("Cursor after saves = %d, %v; want 12", rev, err)
	}
	wantErr(t, "SaveCursor(-1)", s.SaveCursor(t.Context(), "feed", -1), errs.ErrInvalid)
}

// testPendingRepairs: a pending repair survives a reopen, goes with its
// run's insert, and can be dropped.
func testPendingRepairs(t *testing.T, open Opener) {
	clock := NewClock(baseTime())
	s, reopen := open(t, clock.Now)
	bot := store.Principal{ID: "prn_bot", Name: "Inspection Bot", Type: "official_bot"}
	if err := s.EnsureVerifier(t.Context(), bot); err != nil {
		t.Fatal(err)
	}
	pending := func(id string) store.PendingRepair {
		return store.PendingRepair{
			Run: store.Run{ID: id, ArticleID: "art_1", ArticleRevision: 3, Trigger: "manual", Status: "completed", RepairedRevision: 4,
				StartedAt: baseTime(), Repairs: []store.Repair{{FindingID: "fnd_a", RuleKey: "tags.not_normalized", FieldPath: "tags", Before: `["A"]`, After: `["a"]`}}},
			Record: newRecord("rec_"+id, "art_1", "prn_bot", "passed"), Fixed: []string{"fnd_a"},
		}
	}
	for _, id := range []string{"ins_1", "ins_2"} {
		if err := s.SavePendingRepair(t.Context(), pending(id)); err != nil {
			t.Fatal(err)
		}
	}
	wantErr(t, "the same run twice", s.SavePendingRepair(t.Context(), pending("ins_1")), errs.ErrAlreadyExists)
	bad := pending("ins_3")
	bad.Record.ArticleID = "art_2"
	wantErr(t, "a record of another article", s.SavePendingRepair(t.Context(), bad), errs.ErrInvalid)
	s = reopen()
	got, err := s.PendingRepairs(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if d := diff([]store.PendingRepair{pending("ins_1"), pending("ins_2")}, got); d != "" {
		t.Fatalf("PendingRepairs after a reopen (-want +got):\n%s", d)
	}
	p := pending("ins_1")
	if _, err := s.AddRun(t.Context(), p.Run, &p.Record); err != nil {
		t.Fatal(err)
	}
	if err := s.DropPendingRepair(t.Context(), "ins_2"); err != nil {
		t.Fatal(err)
	}
	if err := s.DropPendingRepair(t.Context(), "ins_9"); err != nil {
		t.Fatalf("dropping a missing pending repair: %v", err)
	}
	if got, err := s.PendingRepairs(t.Context()); err != nil || len(got) != 0 {
		t.Fatalf("after the run and the drop: %v, %v; want none", got, err)
	}
}
