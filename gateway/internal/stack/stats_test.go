package stack

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestStatsCountAgents checks GET /api/v1/stats: articles by status and
// domain, and calls per agent recognised from x-agent-id and user agents.
func TestStatsCountAgents(t *testing.T) {
	t.Parallel()
	s := startStack(t, options{usageFlushEvery: 50 * time.Millisecond})
	admin := newClient(t, s, testAdminKey)
	pub := article("Stats article")
	pub["status"] = "published"
	must(t, admin.do("POST", "/api/v1/articles", pub), http.StatusCreated)
	must(t, admin.do("POST", "/api/v1/articles", article("Stats draft")), http.StatusCreated)

	anon := newClient(t, s, "")
	must(t, anon.do("GET", "/api/v1/articles", nil, "x-agent-id", "nightly-bot"), http.StatusOK)
	anon.do("GET", "/api/v1/articles/missing", nil, "x-agent-id", "nightly-bot")
	must(t, anon.do("GET", "/api/v1/articles", nil, "User-Agent", "Mozilla/5.0 (compatible; ClaudeBot/1.0)"), http.StatusOK)
	must(t, anon.do("GET", "/api/v1/articles", nil, "User-Agent", "curl/8.5"), http.StatusOK)

	deadline := time.Now().Add(10 * time.Second)
	for {
		st := must(t, anon.do("GET", "/api/v1/stats", nil), http.StatusOK).json(t)
		calls := map[string][2]float64{}
		for _, a := range st["apiCallsByAgent"].([]any) {
			m := a.(map[string]any)
			calls[m["agentId"].(string)] = [2]float64{toFloat(m["calls"]), toFloat(m["errors"])}
		}
		if calls["nightly-bot"][0] >= 2 && calls["claude"][0] >= 1 {
			if calls["nightly-bot"][1] < 1 {
				t.Errorf("the 404 should count as an error: %v", calls)
			}
			if _, ok := calls["curl"]; ok {
				t.Errorf("curl is not an agent: %v", calls)
			}
			byStatus := st["articlesByStatus"].(map[string]any)
			if toFloat(byStatus["published"]) != 1 || toFloat(byStatus["draft"]) != 1 || toFloat(st["totalArticles"]) != 2 {
				t.Errorf("article counts: %v", st)
			}
			if strings.Contains(string(must(t, anon.do("GET", "/api/v1/stats", nil), 200).body), "127.0.0.1") {
				t.Errorf("stats show a client address")
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("agent calls never showed up in stats: %v", st)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// toFloat reads a JSON number or a protojson int64 string.
func toFloat(v any) float64 {
	switch x := v.(type) {
	case float64:
		return x
	case string:
		var f float64
		for _, c := range x {
			f = f*10 + float64(c-'0')
		}
		return f
	}
	return 0
}

// TestCLIKeysAgainstRealServer creates, lists and revokes a key with the CLI.
func TestCLIKeysAgainstRealServer(t *testing.T) {
	t.Parallel()
	cliRun := cliFor(startStack(t, options{}))
	run := func(args ...string) (string, error) {
		out, errOut, err := cliRun(args...)
		return out + errOut, err
	}
	out, err := run("keys", "create", "--name", "ci bot", "--scope", "articles:write", "--expires", "30d")
	if err != nil || !strings.Contains(out, "bzk_") {
		t.Fatalf("keys create: %v\n%s", err, out)
	}
	var id string
	for _, f := range strings.Fields(out) {
		if strings.HasPrefix(f, "key_") {
			id = strings.TrimRight(f, ".,")
			break
		}
	}
	list, err := run("keys", "list")
	if err != nil || !strings.Contains(list, id) || !strings.Contains(list, "active") {
		t.Fatalf("keys list: %v\n%s", err, list)
	}
	if out, err := run("keys", "revoke", id); err != nil || !strings.Contains(out, "Revoked") {
		t.Fatalf("keys revoke: %v\n%s", err, out)
	}
	if list, _ := run("keys", "list"); !strings.Contains(list, "revoked") {
		t.Errorf("revoked key not shown as revoked:\n%s", list)
	}
}
