package ledger_test

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	articlev1 "buzhou.dev/proto/gen/buzhou/article/v1"
	searchv1 "buzhou.dev/proto/gen/buzhou/search/v1"
	verificationv1 "buzhou.dev/proto/gen/buzhou/verification/v1"
	"buzhou.dev/verification/internal/ledger"
	"buzhou.dev/verification/internal/linkcheck"
)

func keys(fs []*verificationv1.Finding) []string {
	out := []string{}
	for _, f := range fs {
		out = append(out, f.GetRuleKey()+"@"+f.GetFieldPath()+"="+f.GetStatus())
	}
	slices.Sort(out)
	return out
}

func TestInspectionFindingsRiskAndWriteBack(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{})
	a := article("Half translated")
	a.Content.Zh = ""
	a.QaPairs = a.QaPairs[:1]
	a = e.publish(a)
	run := e.inspect(e.verifier("prn_i", "inspector", "official_bot"), a.GetId(), false)
	want := []string{"bilingual.missing_locale@content.zh=open", "qa.too_few@qaPairs=open", "verification.missing_record@verifications=open"}
	if d := strings.Join(keys(run.GetFindings()), " "); d != strings.Join(want, " ") {
		t.Errorf("findings %s; want %s", d, want)
	}
	if run.GetRiskLevel() != "high" || run.GetStatus() != "completed" || run.GetTrigger() != "manual" || run.GetArticleRevision() != a.GetRevision() {
		t.Errorf("run %v", run)
	}
	if !slices.ContainsFunc(run.GetNotes(), func(n string) bool { return strings.Contains(n, "links not checked") }) ||
		!slices.ContainsFunc(run.GetNotes(), func(n string) bool { return strings.Contains(n, "near duplicates not checked") }) {
		t.Errorf("notes %q should say links and duplicates were not checked", run.GetNotes())
	}
	got := e.articles.Get(a.GetId())
	if got.GetRiskLevel() != "high" || got.GetLastInspectedAt() == nil || !got.GetLastInspectedAt().AsTime().Equal(e.clock.Now()) {
		t.Errorf("article after the inspection: risk %s, inspected %v", got.GetRiskLevel(), got.GetLastInspectedAt())
	}
	if c := causes(e.articles.Changes(a.GetId())); !slices.Equal(c, []articlev1.ChangeCause{articlev1.ChangeCause_CHANGE_CAUSE_CREATE, articlev1.ChangeCause_CHANGE_CAUSE_TRUST_WRITEBACK}) {
		t.Errorf("causes %v", c)
	}

	// A record closes verification.missing_record at once.
	e.record(e.verifier("prn_v", "v", "third_party_agent"), a.GetId(), "passed")
	open := e.openFindings(a.GetId())
	if _, ok := open["verification.missing_record@verifications"]; ok {
		t.Errorf("missing_record still open after a record: %v", open)
	}
	if got := e.articles.Get(a.GetId()); got.GetRiskLevel() != "high" { // the missing locale is high too
		t.Errorf("risk %s", got.GetRiskLevel())
	}

	// The author adds the translation: the next inspection fixes the finding.
	a = e.articles.Get(a.GetId())
	a.Content.Zh = "## 解决\n\n重启。"
	a = e.articles.Put(a, articlev1.ChangeCause_CHANGE_CAUSE_AUTHOR_EDIT)
	e.clock.Advance(time.Minute)
	run = e.inspect(t.Context(), a.GetId(), false)
	if len(run.GetFindings()) != 1 || run.GetRiskLevel() != "low" {
		t.Errorf("after the fix: findings %v, risk %s; want only qa.too_few, low", keys(run.GetFindings()), run.GetRiskLevel())
	}
	resp, err := e.svc.ListInspectionRuns(t.Context(), &verificationv1.ListInspectionRunsRequest{IdOrSlug: a.GetSlug()})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.GetRuns()) != 2 || resp.GetRuns()[0].GetId() != run.GetId() || len(resp.GetOpenFindings()) != 1 {
		t.Errorf("runs %d (newest %s), open findings %v", len(resp.GetRuns()), resp.GetRuns()[0].GetId(), keys(resp.GetOpenFindings()))
	}
}

// TestAutoRepair: safe repairs become exactly one revision, with cause
// INSPECTION_REPAIR, the trust summary and the inspection bot's record,
// and an audit entry per change.
func TestAutoRepair(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{repairer: true})
	a := article("Messy tags")
	a.Tags = []string{"API Key", "401_error"}
	a.Keywords = nil
	a.QaPairs = a.QaPairs[:2] // stays open: no safe repair for it
	a = e.publish(a)
	// The seed page: two passes by two agents before the bot's partial record.
	e.record(e.verifier("prn_claude", "Claude Agent Verifier", "third_party_agent"), a.GetId(), "passed")
	e.record(e.verifier("prn_goumang", "goumang", "official_bot"), a.GetId(), "passed")
	before := len(e.articles.Changes(a.GetId()))
	a = e.articles.Get(a.GetId())

	run := e.inspect(t.Context(), a.GetId(), false)
	changes := e.articles.Changes(a.GetId())
	if len(changes) != before+1 {
		t.Fatalf("the inspection wrote %d revisions (%v); want exactly one", len(changes)-before, causes(changes[before:]))
	}
	repair := changes[len(changes)-1]
	got := repair.GetArticle()
	if repair.GetCause() != articlev1.ChangeCause_CHANGE_CAUSE_INSPECTION_REPAIR || run.GetRepairedRevision() != got.GetRevision() {
		t.Errorf("repair revision %d cause %v; run says %d", got.GetRevision(), repair.GetCause(), run.GetRepairedRevision())
	}
	if !slices.Equal(got.GetTags(), []string{"api-key", "401-error"}) || !slices.Equal(got.GetKeywords(), []string{"api key", "401 error"}) {
		t.Errorf("repaired tags %v keywords %v", got.GetTags(), got.GetKeywords())
	}
	// The bot filed a partial record (qa.too_few stays open), and the page
	// shows the seed page's numbers: passed, passed, partial → 91.
	rec := run.GetRecord()
	if rec.GetVerifier().GetId() != "prn_bot_inspection" || rec.GetResult() != "partial" || rec.GetNotes() != "Auto-repair applied, but unresolved findings remain." ||
		rec.GetEnvironment().GetRuntime() != "inspection-worker" {
		t.Errorf("bot record %v", rec)
	}
	if got.GetVerificationStatus() != "partial" || got.GetConfidenceScore() != 91 || got.GetVerificationCount() != 3 || got.GetRecentVerifications()[0].GetId() != rec.GetId() {
		t.Errorf("repaired article shows %s %d with %d records", got.GetVerificationStatus(), got.GetConfidenceScore(), got.GetVerificationCount())
	}
	if got.GetRiskLevel() != "low" || got.GetLastInspectedAt() == nil {
		t.Errorf("risk %s, inspected %v", got.GetRiskLevel(), got.GetLastInspectedAt())
	}
	// The audit trail: what changed, which finding.
	byRule := map[string]*verificationv1.Repair{}
	for _, r := range run.GetRepairs() {
		byRule[r.GetRuleKey()] = r
	}
	if r := byRule["tags.not_normalized"]; r == nil || r.GetBefore() != `["API Key","401_error"]` || r.GetAfter() != `["api-key","401-error"]` || r.GetFieldPath() != "tags" {
		t.Errorf("tags audit %v", r)
	}
	if r := byRule["keywords.missing"]; r == nil || r.GetFindingId() == "" {
		t.Errorf("keywords audit %v", r)
	}
	fixed := 0
	for _, f := range run.GetFindings() {
		if f.GetStatus() == "fixed" {
			fixed++
		}
	}
	if fixed != 2 {
		t.Errorf("run findings %v; want the two repaired ones fixed", keys(run.GetFindings()))
	}
	// The follower ignores the repair's cause; listing shows the bot's record.
	list, err := e.svc.ListInspectionRuns(t.Context(), &verificationv1.ListInspectionRunsRequest{IdOrSlug: a.GetId()})
	if err != nil || list.GetRuns()[0].GetRecord().GetId() != rec.GetId() {
		t.Fatalf("ListInspectionRuns: %v, %v", list, err)
	}
	// Inspected again, nothing is left to repair: no bot record, no repair.
	again := e.inspect(t.Context(), a.GetId(), false)
	if again.GetRepairedRevision() != 0 || again.GetRecord() != nil {
		t.Errorf("second inspection repaired again: %v", again)
	}
}

func TestAutoRepairPassedWhenNothingStaysOpen(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{repairer: true})
	a := article("Only tags")
	a.Tags = []string{"Only Tags"}
	a = e.publish(a)
	e.record(e.verifier("prn_v", "v", "third_party_agent"), a.GetId(), "passed")
	run := e.inspect(t.Context(), a.GetId(), false)
	if r := run.GetRecord(); r.GetResult() != "passed" || r.GetNotes() != "Auto-repair applied and deterministic inspection checks passed." {
		t.Errorf("bot record %v", r)
	}
}

func TestAutoRepairNotApplied(t *testing.T) {
	t.Parallel()
	messy := func() *articlev1.Article {
		a := article("Messy")
		a.Tags = []string{"Messy Tag"}
		return a
	}
	cases := []struct {
		name     string
		repairer bool
		skip     bool
		before   func(e *env, a *articlev1.Article)
		note     string
	}{
		{"asked not to", true, true, nil, "asked not to"},
		{"repairs switched off", false, false, nil, "repairs are switched off here"},
		{"the article moved on", true, false, func(e *env, a *articlev1.Article) {
			e.articles.RefuseWrites(status.Error(codes.FailedPrecondition, "stale"))
		}, "changed during the inspection"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, options{repairer: tc.repairer})
			a := e.publish(messy())
			if tc.before != nil {
				tc.before(e, a)
			}
			run := e.inspect(t.Context(), a.GetId(), tc.skip)
			if run.GetRepairedRevision() != 0 || run.GetRecord() != nil || len(run.GetRepairs()) != 0 {
				t.Errorf("run repaired: %v", run)
			}
			if !slices.ContainsFunc(run.GetNotes(), func(n string) bool { return strings.Contains(n, tc.note) }) {
				t.Errorf("notes %q; want one saying %q", run.GetNotes(), tc.note)
			}
			f := e.openFindings(a.GetId())["tags.not_normalized@tags"]
			if f == nil || !f.GetAutoFixable() || f.GetSuggestedPatch() != `[{"op":"add","path":"/tags","value":["messy-tag"]}]` {
				t.Errorf("tags finding %v; want it open with its patch", f)
			}
			if slices.Contains(causes(e.articles.Changes(a.GetId())), articlev1.ChangeCause_CHANGE_CAUSE_INSPECTION_REPAIR) {
				t.Error("a repair revision was written")
			}
		})
	}
}

func TestDismissedFindingStaysDismissed(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{})
	a := article("Short QA")
	a.QaPairs = nil
	a = e.publish(a)
	e.record(e.verifier("prn_v", "v", "third_party_agent"), a.GetId(), "passed")
	e.inspect(t.Context(), a.GetId(), false)
	f := e.openFindings(a.GetId())["qa.too_few@qaPairs"]
	if f == nil {
		t.Fatal("qa.too_few not open")
	}
	ctx := e.verifier("prn_editor", "editor", "human_expert")
	if _, err := e.svc.ResolveFinding(ctx, &verificationv1.ResolveFindingRequest{ArticleId: a.GetId(), FindingId: f.GetId(), Status: "dismissed", Note: "a one-line fix needs no FAQ"}); err != nil {
		t.Fatal(err)
	}
	run := e.inspect(t.Context(), a.GetId(), false)
	if d := keys(run.GetFindings()); !slices.Equal(d, []string{"qa.too_few@qaPairs=dismissed"}) {
		t.Errorf("findings after re-inspection %v", d)
	}
	if run.GetRiskLevel() != "low" {
		t.Errorf("risk %s; a dismissed finding does not count", run.GetRiskLevel())
	}
}

func TestInspectionLinks(t *testing.T) {
	t.Parallel()
	a := article("Links")
	a.References = []*articlev1.Reference{{Title: "ok", Url: "https://example.com/ok"}, {Title: "gone", Url: "https://example.com/gone"},
		{Title: "moved", Url: "https://example.com/old"}, {Title: "slow", Url: "https://example.com/slow"}}
	links := fakeLinks{
		"https://example.com/ok":   {Outcome: linkcheck.OK},
		"https://example.com/gone": {Outcome: linkcheck.Unreachable, Reason: "answered 404 Not Found"},
		"https://example.com/old":  {Outcome: linkcheck.Redirected, FinalURL: "https://example.com/new", Reason: "moved permanently"},
		"https://example.com/slow": {Outcome: linkcheck.Failed, Reason: "timed out"},
	}
	e := newEnv(t, options{links: links, repairer: true})
	a = e.publish(a)
	run := e.inspect(t.Context(), a.GetId(), false)
	want := []string{"link.check_failed@references[3].url=open", "link.redirected@references[2].url=fixed", "link.unreachable@references[1].url=open", "verification.missing_record@verifications=open"}
	if d := keys(run.GetFindings()); !slices.Equal(d, want) {
		t.Errorf("findings %v; want %v", d, want)
	}
	if got := e.articles.Get(a.GetId()).GetReferences()[2].GetUrl(); got != "https://example.com/new" {
		t.Errorf("moved reference now %s; want its final URL", got)
	}
}

// TestInspectionLinksOverLoopback runs the real checker against loopback
// servers: the allow-listed one is checked, the other is never connected to.
func TestInspectionLinksOverLoopback(t *testing.T) {
	t.Parallel()
	gone := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(gone.Close)
	checker := linkcheck.New(linkcheck.Config{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}, Timeout: 5 * time.Second})
	e := newEnv(t, options{links: checker})
	a := article("Loopback links")
	a.References = []*articlev1.Reference{{Title: "gone", Url: gone.URL + "/page"}, {Title: "private", Url: "http://127.0.0.2:9/admin"}}
	a = e.publish(a)
	run := e.inspect(t.Context(), a.GetId(), false)
	want := []string{"link.check_failed@references[1].url=open", "link.unreachable@references[0].url=open", "verification.missing_record@verifications=open"}
	if d := keys(run.GetFindings()); !slices.Equal(d, want) {
		t.Errorf("findings %v; want %v", d, want)
	}
	for _, f := range run.GetFindings() {
		if f.GetFieldPath() == "references[1].url" && !strings.Contains(f.GetEvidence(), "loopback") {
			t.Errorf("evidence %q; want it to say the address is loopback", f.GetEvidence())
		}
	}
}

func TestInspectionNearDuplicate(t *testing.T) {
	t.Parallel()
	body := "When the server refuses to start with EADDRINUSE, another process already listens on the port. " +
		"Find it with lsof -i :8080 or ss -ltnp, and read the PID and the command in the answer. " +
		"If it is an old copy of your own server, stop it with kill and wait until the port is free. " +
		"If it is another program, move your server to a free port through its configuration or an environment variable. " +
		"Containers map ports too: docker ps shows which container publishes the port on the host. " +
		"After the change, start the server again and check that it answers on the port you expect."
	cases := []struct {
		name    string
		related func(twin, other *articlev1.Article) ledger.Related
		want    bool
		note    string
	}{
		{"a published twin", func(twin, _ *articlev1.Article) ledger.Related {
			return fakeRelated{items: []*searchv1.SearchItem{{Id: twin.GetId()}}}
		}, true, ""},
		{"only a different article", func(_, other *articlev1.Article) ledger.Related {
			return fakeRelated{items: []*searchv1.SearchItem{{Id: other.GetId()}}}
		}, false, ""},
		{"search answers Unimplemented", func(*articlev1.Article, *articlev1.Article) ledger.Related {
			return fakeRelated{err: status.Error(codes.Unimplemented, "not yet")}
		}, false, "does not answer related-article queries yet"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rel := &lateRelated{}
			e := newEnv(t, options{related: rel})
			mk := func(title, content string) *articlev1.Article {
				a := article(title)
				a.Content.En = content
				return e.publish(a)
			}
			twin := mk("Port in use", body)
			other := mk("Postgres refuses connections", "Check pg_hba.conf and that the server listens on the address you dial.")
			a := mk("Port in use again", body+"Done.")
			rel.Related = tc.related(twin, other)
			run := e.inspect(t.Context(), a.GetId(), false)
			var dup *verificationv1.Finding
			for _, f := range run.GetFindings() {
				if f.GetRuleKey() == "content.near_duplicate" {
					dup = f
				}
			}
			if (dup != nil) != tc.want {
				t.Fatalf("near duplicate finding %v; want %v", dup, tc.want)
			}
			if dup != nil && (!strings.Contains(dup.GetEvidence(), twin.GetId()) || dup.GetSeverity() != "medium") {
				t.Errorf("finding %v", dup)
			}
			if tc.note != "" && !slices.ContainsFunc(run.GetNotes(), func(n string) bool { return strings.Contains(n, tc.note) }) {
				t.Errorf("notes %q; want %q", run.GetNotes(), tc.note)
			}
		})
	}
}
