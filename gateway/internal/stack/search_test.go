package stack

import (
	"context"
	"encoding/json"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"buzhou.dev/platform/auth"
	articlev1 "buzhou.dev/proto/gen/buzhou/article/v1"
	searchapp "buzhou.dev/search/app"
	"buzhou.dev/search/qdrantfake"
)

// searchCorpus is a small fixed corpus: error codes, a misspelled query's
// target, Chinese and English content, versions, one draft.
func searchCorpus() []map[string]any {
	return []map[string]any{
		{
			"title":   map[string]any{"en": "Fixing ECONNREFUSED when connecting to PostgreSQL", "zh": "连接 PostgreSQL 时报 ECONNREFUSED"},
			"summary": map[string]any{"en": "The server is not listening on the port you dial.", "zh": "数据库没有在你连接的端口上监听。"},
			"content": map[string]any{
				"en": "## Symptoms\n\n`connect ECONNREFUSED 127.0.0.1:5432` from the driver.\n\n## Fix\n\nStart the database service and check `listen_addresses` in postgresql.conf.\n\n## Background\n\nA refused connection means nothing accepted the TCP handshake.",
				"zh": "## 现象\n\n驱动报连接被拒绝。\n\n## 解决\n\n启动数据库服务，检查 postgresql.conf 里的 listen_addresses。",
			},
			"domain": "tools_postgres", "tags": []string{"postgres", "network"}, "applicableVersions": []string{"postgres>=14 <17"},
			"codeBlocks": []map[string]any{{"language": "bash", "code": "pg_isready -h 127.0.0.1 -p 5432", "description": "Check the server answers", "runnable": true}},
			"qaPairs": []map[string]any{
				{"question": map[string]any{"en": "Why is the connection refused on localhost?"}, "answer": map[string]any{"en": "Nothing listens on that port: the server is down or bound elsewhere."}},
			},
			"status": "published",
		},
		{
			"title":   map[string]any{"en": "MCP error -32602: invalid params for a tool call"},
			"summary": map[string]any{"en": "The arguments do not match the tool's input schema."},
			"content": map[string]any{"en": "## Symptoms\n\n`McpError: MCP error -32602: Invalid arguments for tool`.\n\n## Fix\n\nValidate the arguments against inputSchema before calling."},
			"domain":  "mcp", "tags": []string{"mcp", "json-rpc"}, "applicableVersions": []string{">=1.2 <2"},
			"status": "published",
		},
		{
			"title":   map[string]any{"en": "Port already in use: EADDRINUSE on listen"},
			"summary": map[string]any{"en": "Another process holds the port."},
			"content": map[string]any{"en": "## Symptoms\n\n`Error: listen EADDRINUSE: address already in use :::3000`.\n\n## Fix\n\nFind the process with `lsof -i :3000` and stop it, or pick another port."},
			"domain":  "error_codes", "tags": []string{"node", "ports"}, "applicableVersions": []string{"node>=18"},
			"status": "published",
		},
		{
			"title":   map[string]any{"en": "API key authentication failures: 401 versus 403", "zh": "API Key 认证失败：401 与 403"},
			"summary": map[string]any{"en": "401 means the server cannot tell who you are; 403 means the key lacks permission.", "zh": "401 表示无法识别身份，403 表示密钥缺少权限。"},
			"content": map[string]any{"en": "## Fix\n\nSend `Authorization: Bearer <key>` and check the key's scopes.", "zh": "## 解决\n\n发送 Authorization 请求头并检查密钥的权限范围。"},
			"domain":  "error_codes", "tags": []string{"api-key", "authentication"},
			"status": "published",
		},
		{
			"title":   map[string]any{"zh": "Docker 容器内无法访问宿主机上的服务"},
			"summary": map[string]any{"zh": "容器里的 localhost 指向容器自己，要用 host.docker.internal。"},
			"content": map[string]any{"zh": "## 解决\n\n在容器里用 host.docker.internal 访问宿主机，Linux 上加 --add-host。"},
			"domain":  "scenarios", "tags": []string{"docker"},
			"status": "published",
		},
		{
			"title":   map[string]any{"en": "Draft about zanzibarite crystals"},
			"summary": map[string]any{"en": "Never published."},
			"content": map[string]any{"en": "zanzibarite"},
			"domain":  "foundation",
		},
	}
}

// searchStack starts a stack holding searchCorpus, indexed; it returns the
// created articles by slug. With qdrant the index is on the in-process
// Qdrant fake instead of the embedded index.
func searchStack(t *testing.T, qdrant ...bool) (*Stack, *client, map[string]map[string]any) {
	t.Helper()
	o := options{}
	if len(qdrant) > 0 && qdrant[0] {
		_, addr := qdrantfake.Start(t)
		o.qdrantURL = "http://" + addr
	}
	s := startStack(t, o)
	admin := newClient(t, s, testAdminKey)
	byKey := map[string]map[string]any{}
	for _, a := range searchCorpus() {
		created := must(t, admin.do("POST", "/api/v1/articles", a), 201).json(t)
		byKey[created["slug"].(string)] = created
	}
	waitIndexed(t, newClient(t, s, ""), len(byKey))
	return s, newClient(t, s, ""), byKey
}

// waitIndexed waits until the index has applied every change so far (a
// fresh stack writes one feed revision per write).
func waitIndexed(t *testing.T, c *client, revision int) {
	t.Helper()
	eventually(t, "the index to apply revision "+jsonInt(revision), func() bool {
		st := must(t, c.do("GET", "/api/v1/search/status", nil), 200).json(t)
		return st["appliedRevision"] == jsonInt(revision) && st["lag"] == "0"
	})
}

func jsonInt(n int) string { b, _ := json.Marshal(n); return string(b) }

// eventually polls cond with a generous deadline: it waits for an outcome,
// it does not time anything.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func slugs(t *testing.T, r response) []string {
	t.Helper()
	var body struct {
		Items []struct {
			Slug string `json:"slug"`
		} `json:"items"`
	}
	if err := json.Unmarshal(r.body, &body); err != nil {
		t.Fatalf("%v: %s", err, r.body)
	}
	var out []string
	for _, it := range body.Items {
		out = append(out, it.Slug)
	}
	return out
}

func search(t *testing.T, c *client, params string) response {
	t.Helper()
	return c.do("GET", "/api/v1/search?"+params, nil)
}

const (
	slugPG    = "fixing-econnrefused-when-connecting-to-postgresql"
	slugMCP   = "mcp-error-32602-invalid-params-for-a-tool-call"
	slugPort  = "port-already-in-use-eaddrinuse-on-listen"
	slugAuth  = "api-key-authentication-failures-401-versus-403"
	slugDraft = "draft-about-zanzibarite-crystals"
)

func TestSearchRanksAndFilters(t *testing.T) {
	t.Parallel()
	t.Run("embedded", func(t *testing.T) { t.Parallel(); testSearchRanksAndFilters(t, false) })
	t.Run("qdrant", func(t *testing.T) { t.Parallel(); testSearchRanksAndFilters(t, true) })
}

func testSearchRanksAndFilters(t *testing.T, qdrant bool) {
	_, anon, created := searchStack(t, qdrant)
	var dockerSlug string
	for slug, a := range created {
		if a["domain"] == "scenarios" {
			dockerSlug = slug
		}
	}
	ranking := []struct {
		name, q, want string
	}{
		{"error code kept whole", "ECONNREFUSED", slugPG},
		{"negative error code", "-32602", slugMCP},
		{"pasted error message", "Error: listen EADDRINUSE: address already in use :::8080", slugPort},
		{"misspelled error code", "ECONNREFUSSED postgress", slugPG},
		{"misspelled words", "authetication failrue 401", slugAuth},
		{"chinese query, chinese content", "连接被拒绝 数据库", slugPG},
		{"chinese query, english content", "端口被占用 EADDRINUSE", slugPort},
		{"chinese only article", "容器 宿主机 服务", dockerSlug},
		{"english query finds a bilingual article", "key lacks permission 403", slugAuth},
	}
	for _, c := range ranking {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			got := slugs(t, must(t, search(t, anon, "q="+url.QueryEscape(c.q)), 200))
			if len(got) == 0 || got[0] != c.want {
				t.Errorf("q=%q ranks %v, want %s first", c.q, got, c.want)
			}
			if slices.Contains(got, slugDraft) {
				t.Errorf("a draft was found")
			}
		})
	}
	filters := []struct {
		name, params string
		want         []string // exactly these, in any order
	}{
		{"domain", "q=fix&domain=mcp", []string{slugMCP}},
		{"tags all of", "q=fix&tags=node,ports", []string{slugPort}},
		{"repeated tags", "q=fix&tags=node&tags=nope", nil},
		{"version in range", "q=fix+invalid+params&version=1.4.2&domain=mcp", []string{slugMCP}},
		{"version out of range", "q=fix+invalid+params&version=2.1.0&domain=mcp", nil},
		{"named version of another subject keeps the article", "q=-32602&version=node@20&domain=mcp", []string{slugMCP}},
		{"named version excludes", "q=EADDRINUSE&version=node@16.4.0&domain=error_codes&tags=ports", nil},
		{"named version admits", "q=EADDRINUSE&version=node@20.1.0&domain=error_codes&tags=ports", []string{slugPort}},
		{"articles without versions are kept", "q=401+403&version=9.9.9&domain=error_codes&tags=api-key", []string{slugAuth}},
		{"language", "q=宿主机&lang=zh&domain=scenarios", []string{dockerSlug}},
		{"language excludes", "q=宿主机&lang=en&domain=scenarios", nil},
		{"verification status", "q=fix&status=verified", nil},
		{"min confidence", "q=fix&minConfidence=90", nil},
	}
	for _, c := range filters {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			got := slugs(t, must(t, search(t, anon, c.params), 200))
			slices.Sort(got)
			want := slices.Clone(c.want)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("%s gives %v, want %v", c.params, got, want)
			}
		})
	}
	t.Run("pages", func(t *testing.T) {
		t.Parallel()
		all := must(t, search(t, anon, "q=fix+error&pageSize=100"), 200).json(t)
		total := int(all["pagination"].(map[string]any)["total"].(float64))
		if total < 3 {
			t.Fatalf("total %d", total)
		}
		var paged []string
		for p := 1; p <= total; p++ {
			r := must(t, search(t, anon, "q=fix+error&pageSize=1&page="+jsonInt(p)), 200)
			paged = append(paged, slugs(t, r)...)
			pg := r.json(t)["pagination"].(map[string]any)
			if int(pg["totalPages"].(float64)) != total || int(pg["page"].(float64)) != p {
				t.Errorf("page %d pagination %v", p, pg)
			}
		}
		if !slices.Equal(paged, slugs(t, response{body: mustJSON(all)})) {
			t.Errorf("pages one by one %v differ from one page %v: the order is not stable", paged, slugs(t, response{body: mustJSON(all)}))
		}
		past := must(t, search(t, anon, "q=fix+error&page=99"), 200)
		if len(slugs(t, past)) != 0 {
			t.Errorf("a page past the end has items")
		}
		item := all["items"].([]any)[0].(map[string]any)
		for _, k := range []string{"id", "slug", "title", "summary", "domain", "tags", "verificationStatus", "confidenceScore", "score", "snippet"} {
			if _, ok := item[k]; !ok {
				t.Errorf("item lacks %s: %v", k, item)
			}
		}
	})
	t.Run("snippet in the requested language", func(t *testing.T) {
		t.Parallel()
		r := must(t, search(t, anon, "q=ECONNREFUSED&lang=zh"), 200).json(t)
		snip := r["items"].([]any)[0].(map[string]any)["snippet"].(string)
		if !strings.ContainsAny(snip, "连接驱动数据库") {
			t.Errorf("zh snippet %q", snip)
		}
		r = must(t, search(t, anon, "q=ECONNREFUSED+5432"), 200).json(t)
		if snip := r["items"].([]any)[0].(map[string]any)["snippet"].(string); !strings.Contains(snip, "ECONNREFUSED") {
			t.Errorf("en snippet %q lacks the matched term", snip)
		}
	})
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

func TestSearchBadInput(t *testing.T) {
	t.Parallel()
	s := startStack(t, options{})
	anon := newClient(t, s, "")
	cases := []struct {
		name, params, want string
	}{
		{"no query", "", "give a query"},
		{"blank query", "q=+++", "give a query"},
		{"huge query", "q=" + strings.Repeat("a", 5000), "at most 4096"},
		{"huge page size", "q=x&pageSize=500", "1 to 100"},
		{"negative page", "q=x&page=-1", "pages count from 1"},
		{"bad version", "q=x&version=banana", "not a version"},
		{"bad lang", "q=x&lang=fr", "use zh or en"},
		{"bad domain", "q=x&domain=cooking", "not known"},
		{"bad status", "q=x&status=great", "verification status"},
		{"bad confidence", "q=x&minConfidence=101", "0–100"},
		{"bad ranker", "q=x&ranker=magic", "hybrid"},
		{"not a number", "q=x&page=two", "page"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			r := search(t, anon, c.params)
			if r.status != 400 || r.errorCode(t) != "INVALID_ARGUMENT" || !strings.Contains(string(r.body), c.want) {
				t.Errorf("GET /api/v1/search?%s = %d %s; want 400 saying %q", c.params, r.status, r.body, c.want)
			}
		})
	}
	for _, p := range []string{"/api/v1/resolve", "/api/v1/resolve?q=x&maxTokens=-1", "/api/v1/resolve?q=x&version=1..2", "/api/v1/articles/nope/related?limit=500"} {
		if r := anon.do("GET", p, nil); r.status != 400 {
			t.Errorf("GET %s = %d %s, want 400", p, r.status, r.body)
		}
	}
}

func TestResolve(t *testing.T) {
	t.Parallel()
	s, anon, created := searchStack(t)
	r := must(t, anon.do("GET", "/api/v1/resolve?q="+url.QueryEscape("connect ECONNREFUSED 127.0.0.1:5432"), nil), 200).json(t)
	if r["slug"] != slugPG || r["id"] != created[slugPG]["id"] {
		t.Fatalf("resolved %v, want %s with its fields at the top level", r["slug"], slugPG)
	}
	for _, k := range []string{"title", "content", "codeBlocks", "qaPairs", "revision", "confidence", "match", "alternatives", "nextSteps"} {
		if _, ok := r[k]; !ok {
			t.Errorf("resolve answer lacks %s", k)
		}
	}
	if _, nested := r["article"]; nested {
		t.Errorf("the article is nested, not lifted")
	}
	if c := r["confidence"].(float64); c < 0.35 || c > 1 || r["match"] != "strong" {
		t.Errorf("confidence %v, match %v; want a strong match", c, r["match"])
	}
	steps := strings.Join(toStrings(r["nextSteps"]), "\n")
	for _, w := range []string{"pg_isready", "verifications"} {
		if !strings.Contains(steps, w) {
			t.Errorf("nextSteps lack %q:\n%s", w, steps)
		}
	}
	// query= is an alias of q=.
	alias := must(t, anon.do("GET", "/api/v1/resolve?query=EADDRINUSE", nil), 200).json(t)
	if alias["slug"] != slugPort {
		t.Errorf("query= resolved %v", alias["slug"])
	}
	// maxTokens trims whole sections, least matching first, and says so.
	full := must(t, anon.do("GET", "/api/v1/resolve?q=ECONNREFUSED&lang=en", nil), 200).json(t)
	small := must(t, anon.do("GET", "/api/v1/resolve?q=ECONNREFUSED&lang=en&maxTokens=60", nil), 200).json(t)
	trimmed := toStrings(small["trimmed"])
	if len(trimmed) == 0 || small["tokens"].(float64) >= full["tokens"].(float64) {
		t.Fatalf("maxTokens=60 trimmed %v to %v tokens (from %v)", trimmed, small["tokens"], full["tokens"])
	}
	if !slices.Contains(trimmed, "content.zh") || !slices.Contains(trimmed, "content.en: ## Background") {
		t.Errorf("trimmed %v: the other language and the least matching section go first", trimmed)
	}
	en := small["content"].(map[string]any)["en"].(string)
	if !strings.Contains(en, "ECONNREFUSED") || strings.Contains(en, "## Background") {
		t.Errorf("trimmed content %q: the matching section stays whole, the background goes", en)
	}
	// Nothing good enough: 404 with the closest titles and a hint, counted.
	miss := anon.do("GET", "/api/v1/resolve?q="+url.QueryEscape("how do I bake sourdough bread at home"), nil)
	if miss.status != 404 || miss.errorCode(t) != "NOT_FOUND" || !strings.Contains(string(miss.body), "Try fewer words") {
		t.Errorf("off-topic resolve = %d %s", miss.status, miss.body)
	}
	// Versions filter resolve too.
	if r := anon.do("GET", "/api/v1/resolve?q=-32602+invalid+params&version=3.0.0", nil); r.status == 200 && r.json(t)["slug"] == slugMCP {
		t.Errorf("version 3.0.0 resolved the article for >=1.2 <2")
	}

	// Unanswered queries: articles:write only, no caller data.
	if r := anon.do("GET", "/api/v1/search/unanswered", nil); r.status != 401 {
		t.Errorf("anonymous unanswered list = %d", r.status)
	}
	admin := newClient(t, s, testAdminKey)
	anon.do("GET", "/api/v1/resolve?q="+url.QueryEscape("How do I bake sourdough bread at home, token sk-proj-abcdefghijklmnop from 10.1.2.3"), nil)
	var listed map[string]any
	eventually(t, "the unanswered list", func() bool {
		listed = must(t, admin.do("GET", "/api/v1/search/unanswered", nil), 200).json(t)
		return len(listed["queries"].([]any)) >= 2
	})
	raw := string(mustJSON(listed))
	if !strings.Contains(raw, "how do i bake sourdough bread at home") || strings.Contains(raw, "sk-proj") || strings.Contains(raw, "10.1.2.3") || strings.Contains(raw, "127.0.0.1\"") {
		t.Errorf("unanswered list %s: want the normalised query without secrets or addresses", raw)
	}
	q0 := listed["queries"].([]any)[0].(map[string]any)
	if _, ok := q0["count"].(float64); !ok || q0["lastSeenAt"] == "" {
		t.Errorf("unanswered entry %v", q0)
	}
}

func toStrings(v any) []string {
	var out []string
	for _, x := range v.([]any) {
		out = append(out, x.(string))
	}
	return out
}

func TestRelatedNeverItself(t *testing.T) {
	t.Parallel()
	_, anon, created := searchStack(t)
	for slug := range created {
		if slug == slugDraft {
			if r := anon.do("GET", "/api/v1/articles/"+slug+"/related", nil); r.status != 404 {
				t.Errorf("related of a draft = %d", r.status)
			}
			continue
		}
		for _, ref := range []string{slug, created[slug]["id"].(string)} {
			got := slugs(t, must(t, anon.do("GET", "/api/v1/articles/"+ref+"/related?limit=10", nil), 200))
			if slices.Contains(got, slug) || slices.Contains(got, slugDraft) {
				t.Errorf("related of %s: %v holds itself or a draft", ref, got)
			}
			if len(got) == 0 {
				t.Errorf("related of %s is empty", ref)
			}
		}
	}
	if r := anon.do("GET", "/api/v1/articles/no-such-article/related", nil); r.status != 404 {
		t.Errorf("related of a missing article = %d", r.status)
	}
}

func TestIndexFollowsChanges(t *testing.T) {
	t.Parallel()
	s, anon, created := searchStack(t)
	admin := newClient(t, s, testAdminKey)
	rev := len(created)
	// Publishing the draft makes it findable; archiving removes it.
	draftID := created[slugDraft]["id"].(string)
	must(t, admin.do("POST", "/api/v1/articles/"+draftID+":publish", map[string]any{}), 200)
	rev++
	waitIndexed(t, anon, rev)
	if got := slugs(t, must(t, search(t, anon, "q=zanzibarite"), 200)); len(got) == 0 || got[0] != slugDraft {
		t.Fatalf("after publishing: %v", got)
	}
	must(t, admin.do("DELETE", "/api/v1/articles/"+draftID, nil), 200)
	rev++
	waitIndexed(t, anon, rev)
	if got := slugs(t, must(t, search(t, anon, "q=zanzibarite"), 200)); slices.Contains(got, slugDraft) {
		t.Fatalf("after archiving: %v", got)
	}
	// A trust change re-ranks near-ties: two twins, the verified one wins.
	twin := func(title string) string {
		a := map[string]any{"title": map[string]any{"en": title}, "summary": map[string]any{"en": "Quasar flux capacitor reset."},
			"content": map[string]any{"en": "## Fix\n\nReset the quasar flux capacitor."}, "domain": "foundation", "status": "published"}
		return must(t, admin.do("POST", "/api/v1/articles", a), 201).json(t)["id"].(string)
	}
	ids := map[string]string{"quasar-flux-capacitor-reset-one": twin("Quasar flux capacitor reset (one)"), "quasar-flux-capacitor-reset-two": twin("Quasar flux capacitor reset (two)")}
	rev += 2
	waitIndexed(t, anon, rev)
	before := slugs(t, must(t, search(t, anon, "q=quasar+flux+capacitor"), 200))
	loser := ids["quasar-flux-capacitor-reset-one"]
	if before[0] == "quasar-flux-capacitor-reset-one" {
		loser = ids["quasar-flux-capacitor-reset-two"]
	}
	conf, vs := int32(97), "verified"
	trust := articlev1.NewArticleServiceClient(grpcConn(t, s.ArticleAddr, s.ServiceKeys[auth.ServiceVerification]))
	if _, err := trust.UpdateArticleTrust(context.Background(), &articlev1.UpdateArticleTrustRequest{ArticleId: loser, VerificationStatus: &vs, ConfidenceScore: &conf}); err != nil {
		t.Fatal(err)
	}
	rev++
	waitIndexed(t, anon, rev)
	after := slugs(t, must(t, search(t, anon, "q=quasar+flux+capacitor"), 200))
	if after[0] == before[0] {
		t.Errorf("verifying the runner-up did not lift it: before %v, after %v", before, after)
	}
}

func TestSearchResumesAndReindexes(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	first := startStack(t, options{dataDir: dir})
	admin := newClient(t, first, testAdminKey)
	for _, a := range searchCorpus()[:3] {
		must(t, admin.do("POST", "/api/v1/articles", a), 201)
	}
	waitIndexed(t, admin, 3)
	if err := first.Stop(); err != nil {
		t.Fatal(err)
	}
	// Restarted on the same data, the index is there as soon as it is ready.
	second := startStack(t, options{dataDir: dir})
	anon := newClient(t, second, "")
	st := must(t, anon.do("GET", "/api/v1/search/status", nil), 200).json(t)
	if st["appliedRevision"] != "3" || st["indexedArticles"] != "3" || st["caughtUp"] != true {
		t.Fatalf("after a restart: %v", st)
	}
	if got := slugs(t, must(t, search(t, anon, "q=ECONNREFUSED"), 200)); len(got) == 0 || got[0] != slugPG {
		t.Fatalf("after a restart: %v", got)
	}
	// Reindex: a key with articles:write, then a rebuild from 0.
	if r := anon.do("POST", "/api/v1/search:reindex", map[string]any{}); r.status != 401 {
		t.Errorf("anonymous reindex = %d", r.status)
	}
	r := must(t, newClient(t, second, testAdminKey).do("POST", "/api/v1/search:reindex", map[string]any{}), 200).json(t)
	if r["targetRevision"] != "3" {
		t.Errorf("reindex target %v", r["targetRevision"])
	}
	eventually(t, "the rebuild", func() bool {
		st := must(t, anon.do("GET", "/api/v1/search/status", nil), 200).json(t)
		return st["caughtUp"] == true && st["rebuilding"] == false && st["appliedRevision"] == "3"
	})
	if got := slugs(t, must(t, search(t, anon, "q=EADDRINUSE"), 200)); len(got) == 0 || got[0] != slugPort {
		t.Fatalf("after the rebuild: %v", got)
	}
}

func TestSearchCLI(t *testing.T) {
	t.Parallel()
	s, _, _ := searchStack(t)
	run := cliFor(s)
	out, _, err := run("search", "connect", "ECONNREFUSED")
	if err != nil || !strings.Contains(out, slugPG) || !strings.HasPrefix(out, "#") {
		t.Errorf("search: %v\n%s", err, out)
	}
	out, _, err = run("search", "--json", "--", "-32602")
	if err != nil || !json.Valid([]byte(out)) || !strings.Contains(out, slugMCP) {
		t.Errorf("search --json: %v\n%s", err, out)
	}
	if _, _, err := run("search"); err == nil {
		t.Errorf("search without a query succeeded")
	}
	if _, _, err := run("search", "x", "--page-size", "500"); err == nil || !strings.Contains(err.Error(), "1 to 100") {
		t.Errorf("search --page-size 500: %v", err)
	}
	out, _, err = run("resolve", "Error: listen EADDRINUSE: address already in use")
	if err != nil || !strings.Contains(out, slugPort) || !strings.Contains(out, "Next steps:") || !strings.Contains(out, "match, confidence") {
		t.Errorf("resolve: %v\n%s", err, out)
	}
	if _, _, err := run("resolve", "how to knead sourdough bread by hand"); err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("resolve off topic: %v", err)
	}
	out, _, err = run("reindex")
	if err != nil || !strings.Contains(out, "reindexed: 5 articles") {
		t.Errorf("reindex: %v\n%s", err, out)
	}
}

// TestSpellingWhateverTheEmbedder: misspellings are corrected against the
// articles' vocabulary with the hashing embedder too, once a reindex has
// learned it (the hub was empty at start-up, so nothing was learned then).
func TestSpellingWhateverTheEmbedder(t *testing.T) {
	t.Parallel()
	s := startStack(t, options{search: func(c *searchapp.Config) { c.Embedder = "hashing" }})
	admin := newClient(t, s, testAdminKey)
	for _, a := range searchCorpus() {
		must(t, admin.do("POST", "/api/v1/articles", a), 201)
	}
	anon := newClient(t, s, "")
	waitIndexed(t, anon, len(searchCorpus()))
	const q = "/api/v1/resolve?q=ECONNREFUSSED+postgress+conection"
	// Without the vocabulary, three misspelled words are too little to go on.
	must(t, anon.do("GET", q, nil), 404)
	must(t, admin.do("POST", "/api/v1/search:reindex", map[string]any{}), 200)
	eventually(t, "the rebuild", func() bool {
		st := must(t, anon.do("GET", "/api/v1/search/status", nil), 200).json(t)
		return st["caughtUp"] == true && st["rebuilding"] == false
	})
	if r := must(t, anon.do("GET", q, nil), 200).json(t); r["slug"] != slugPG {
		t.Errorf("resolved %v, want %s", r["slug"], slugPG)
	}
	if st := must(t, anon.do("GET", "/api/v1/search/status", nil), 200).json(t); !strings.HasPrefix(st["embeddingModel"].(string), "hash") {
		t.Errorf("embedding model %v, want the hashing embedder still", st["embeddingModel"])
	}
}
