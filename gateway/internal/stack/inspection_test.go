package stack

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"buzhou.dev/platform/auth"
	verificationapp "buzhou.dev/verification/app"
)

// inspecting is a stack whose verification service follows the feed.
func inspecting(t *testing.T) *Stack {
	return startStack(t, options{verification: func(c *verificationapp.Config) { c.InspectOnChange = true }})
}

// runs waits until the article has at least n inspection runs and returns
// the answer of GET …/inspections.
func runs(t *testing.T, c *client, id string, n int) map[string]any {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		r := must(t, c.do("GET", path("/api/v1/articles/%s/inspections", id), nil), http.StatusOK).json(t)
		if got, _ := r["runs"].([]any); len(got) >= n {
			return r
		}
		if time.Now().After(deadline) {
			t.Fatalf("article %s never had %d inspection runs: %v", id, n, r)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func findingKeys(list any) []string {
	out := []string{}
	fs, _ := list.([]any)
	for _, f := range fs {
		m := f.(map[string]any)
		out = append(out, m["ruleKey"].(string)+"@"+m["fieldPath"].(string))
	}
	slices.Sort(out)
	return out
}

// TestInspectionsFollowTheFeed: publishing inspects, the inspection's own
// write-back does not, an author edit does; the article shows the risk level
// and when it was inspected.
func TestInspectionsFollowTheFeed(t *testing.T) {
	t.Parallel()
	s := inspecting(t)
	admin, anon := newClient(t, s, testAdminKey), newClient(t, s, "")
	a := article("Inspected on publish")
	a["content"] = map[string]any{"en": "## Fix\n\nRestart it."} // no Chinese content
	draft := must(t, admin.do("POST", "/api/v1/articles", a), http.StatusCreated).json(t)
	id := draft["id"].(string)
	// The draft is inspected for its reviewers (findings, no repairs), and
	// its inspections are as hidden as the draft.
	drafted := runs(t, admin, id, 1)["runs"].([]any)[0].(map[string]any)
	if drafted["trigger"] != "draft" || drafted["repairedRevision"] != float64(0) || len(findingKeys(drafted["findings"])) == 0 {
		t.Errorf("the draft's run %v; want findings from a draft trigger and no repairs", drafted)
	}
	if r := anon.do("GET", path("/api/v1/articles/%s/inspections", id), nil); r.status != http.StatusNotFound {
		t.Errorf("a draft's inspections without a key: %d %s", r.status, r.body)
	}
	must(t, admin.do("POST", path("/api/v1/articles/%s:publish", id), map[string]any{}), http.StatusOK)

	first := runs(t, anon, id, 2)
	run := first["runs"].([]any)[0].(map[string]any)
	want := []string{"bilingual.missing_locale@content.zh", "keywords.missing@keywords", "qa.too_few@qaPairs", "verification.missing_record@verifications"}
	if got := findingKeys(run["findings"]); !slices.Equal(got, want) || run["trigger"] != "publish" || run["riskLevel"] != "high" {
		t.Errorf("run %v; want findings %v from a publish, risk high", run, want)
	}
	notes := strings.Join(toStrings(run["notes"]), " ")
	if !strings.Contains(notes, "links not checked") || strings.Contains(notes, "not applied") {
		t.Errorf("notes %q should say what was not checked, and nothing about repairs left undone", notes)
	}
	// The safe repair (keywords from the tags) went in as one revision
	// through the article service, with the trust summary and the bot's record.
	repairs, _ := run["repairs"].([]any)
	// Revisions: 1 create, 2 the draft's trust write-back, 3 publish, 4 the repair.
	if len(repairs) != 1 || repairs[0].(map[string]any)["ruleKey"] != "keywords.missing" || run["repairedRevision"] != float64(4) {
		t.Errorf("repairs %v at revision %v; want the keywords repair as revision 4", run["repairs"], run["repairedRevision"])
	}
	got := must(t, anon.do("GET", path("/api/v1/articles/%s", id), nil), http.StatusOK).json(t)
	if got["riskLevel"] != "high" || got["lastInspectedAt"] == nil || got["revision"] != float64(4) || !slices.Equal(toStrings(got["keywords"]), []string{"api key", "401 error"}) {
		t.Errorf("article shows risk %v, inspected %v, revision %v, keywords %v", got["riskLevel"], got["lastInspectedAt"], got["revision"], got["keywords"])
	}
	recs := must(t, anon.do("GET", path("/api/v1/articles/%s/verifications", id), nil), http.StatusOK).json(t)["records"].([]any)
	if len(recs) != 1 || recs[0].(map[string]any)["result"] != "partial" || recs[0].(map[string]any)["notes"] != "Auto-repair applied, but unresolved findings remain." {
		t.Errorf("records after the repair %v; want the Inspection Bot's partial record", recs)
	}

	// An author edit is inspected; the write-back before it was not (the
	// follower works the feed in order, so a run for it would come first).
	patch := map[string]any{"content": map[string]any{"en": "## Fix\n\nRestart it.", "zh": "## 解决\n\n重启。"}}
	must(t, admin.do("PATCH", path("/api/v1/articles/%s", id), patch), http.StatusOK)
	second := runs(t, anon, id, 3)
	list := second["runs"].([]any)
	if len(list) != 3 || list[0].(map[string]any)["trigger"] != "edit" {
		t.Fatalf("runs after the edit: %v; want exactly draft, publish and edit", list)
	}
	if got := findingKeys(second["openFindings"]); !slices.Equal(got, []string{"qa.too_few@qaPairs", "verification.missing_record@verifications"}) {
		t.Errorf("open findings after the edit (the keywords were repaired): %v", got)
	}
}

// TestInspectionsProblemsAndRecordsOverREST: a manual run, problem reports
// merged on one finding, a record closing verification.missing_record, a
// dismissal, and a due run that leaves freshly inspected articles alone.
func TestInspectionsProblemsAndRecordsOverREST(t *testing.T) {
	t.Parallel()
	s := startStack(t, options{})
	admin, anon := newClient(t, s, testAdminKey), newClient(t, s, "")
	a := article("Inspected by hand")
	a["status"] = "published"
	id := must(t, admin.do("POST", "/api/v1/articles", a), http.StatusCreated).json(t)["id"].(string)
	_, inspector := createKey(t, admin, map[string]any{"name": "inspector", "scopes": []string{auth.ScopeInspectionsRun}})
	_, agentKey := createKey(t, admin, map[string]any{"name": "reporting agent", "scopes": []string{auth.ScopeVerificationsWrite}})
	insp, agent := newClient(t, s, inspector), newClient(t, s, agentKey)

	if r := agent.do("POST", path("/api/v1/articles/%s/inspections", id), map[string]any{}); r.status != http.StatusForbidden || !strings.Contains(string(r.body), "inspections:run") {
		t.Errorf("inspection without the scope: %d %s", r.status, r.body)
	}
	run := must(t, insp.do("POST", path("/api/v1/articles/%s/inspections", id), map[string]any{}), http.StatusCreated).json(t)
	if run["trigger"] != "manual" || run["articleId"] != id || !strings.HasPrefix(run["id"].(string), "ins_") {
		t.Errorf("manual run %v", run)
	}
	if got := findingKeys(run["findings"]); !slices.Equal(got, []string{"keywords.missing@keywords", "qa.too_few@qaPairs", "verification.missing_record@verifications"}) {
		t.Errorf("findings %v", got)
	}

	// Two reports of one kind are counted on one finding.
	report := map[string]any{"kind": "outdated", "details": "the --legacy flag is gone in v3", "environment": map[string]any{"os": "Linux"}}
	first := must(t, agent.do("POST", path("/api/v1/articles/%s/problems", id), report), http.StatusCreated).json(t)
	second := must(t, agent.do("POST", path("/api/v1/articles/%s/problems", id), report), http.StatusCreated).json(t)
	if first["id"] != second["id"] || second["reportCount"] != float64(2) || second["ruleKey"] != "reported.outdated" || second["severity"] != "medium" {
		t.Errorf("reports %v then %v; want one finding counted twice", first, second)
	}
	if r := agent.do("POST", path("/api/v1/articles/%s/problems", id), map[string]any{"kind": "boring", "details": "x"}); r.status != http.StatusBadRequest {
		t.Errorf("unknown kind: %d %s", r.status, r.body)
	}
	if r := anon.do("POST", path("/api/v1/articles/%s/problems", id), report); r.status != http.StatusUnauthorized {
		t.Errorf("anonymous report: %d", r.status)
	}

	// A record closes verification.missing_record at once.
	verifier := verifierKey(t, s, admin, "verifier")
	must(t, verifier.do("POST", path("/api/v1/articles/%s/verifications", id), record("passed", "Linux")), http.StatusCreated)
	list := must(t, anon.do("GET", path("/api/v1/articles/%s/inspections", id), nil), http.StatusOK).json(t)
	if got := findingKeys(list["openFindings"]); !slices.Equal(got, []string{"qa.too_few@qaPairs", "reported.outdated@article"}) {
		t.Errorf("open findings after the record: %v", got)
	}
	if got := must(t, anon.do("GET", path("/api/v1/articles/%s", id), nil), http.StatusOK).json(t); got["riskLevel"] != "medium" {
		t.Errorf("risk %v; the report is medium, the rest low", got["riskLevel"])
	}

	// The report is dismissed; the risk follows.
	resolved := must(t, insp.do("POST", path("/api/v1/articles/%s/findings/%s:resolve", id, first["id"].(string)),
		map[string]any{"status": "dismissed", "note": "v3 keeps --legacy"}), http.StatusOK).json(t)
	if resolved["status"] != "dismissed" {
		t.Errorf("resolved %v", resolved)
	}
	if got := must(t, anon.do("GET", path("/api/v1/articles/%s", id), nil), http.StatusOK).json(t); got["riskLevel"] != "low" {
		t.Errorf("risk after dismissal %v", got["riskLevel"])
	}

	// Everything was inspected just now: the due run inspects nothing.
	due := must(t, insp.do("POST", "/api/v1/inspections:runDue", map[string]any{}), http.StatusOK).json(t)
	if ids, _ := due["inspectedArticleIds"].([]any); len(ids) != 0 {
		t.Errorf("due run inspected %v; everything was fresh", ids)
	}
}
