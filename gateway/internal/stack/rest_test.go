package stack

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
)

func TestRESTArticleLifecycle(t *testing.T) {
	t.Parallel()
	s := startStack(t, options{})
	admin := newClient(t, s, testAdminKey)
	anon := newClient(t, s, "")

	created := must(t, admin.do("POST", "/api/v1/articles", article("API Key 401 vs 403: Bearer or x-api-key?")), http.StatusCreated)
	a := created.json(t)
	id, slug := a["id"].(string), a["slug"].(string)
	if !strings.HasPrefix(id, "art_") || slug != "api-key-401-vs-403-bearer-or-x-api-key" {
		t.Fatalf("id %q slug %q", id, slug)
	}
	if a["status"] != "draft" || a["revision"] != float64(1) || a["verificationStatus"] != "pending" {
		t.Errorf("new article: status %v revision %v verificationStatus %v", a["status"], a["revision"], a["verificationStatus"])
	}
	if created.header.Get("X-Article-Id") != id || created.header.Get("X-Article-Slug") != slug {
		t.Errorf("headers %v", created.header)
	}

	// Drafts are hidden from public reads, visible to writers.
	if got := anon.do("GET", path("/api/v1/articles/%s", id), nil); got.status != http.StatusNotFound || got.errorCode(t) != "NOT_FOUND" {
		t.Errorf("anonymous read of a draft: %d %s", got.status, got.body)
	}
	must(t, admin.do("GET", path("/api/v1/articles/%s", slug), nil), http.StatusOK)

	pub := must(t, admin.do("POST", path("/api/v1/articles/%s:publish", id), map[string]any{}), http.StatusOK).json(t)
	if pub["status"] != "published" || pub["publishedAt"] == nil || pub["revision"] != float64(2) {
		t.Errorf("published: %v", pub)
	}
	got := must(t, anon.do("GET", path("/api/v1/articles/%s", slug), nil), http.StatusOK)
	if got.header.Get("X-Article-Id") != id || got.header.Get("X-Article-Slug") != slug {
		t.Errorf("get headers: %v", got.header)
	}

	md := must(t, anon.do("GET", path("/api/v1/articles/%s?format=markdown&lang=zh", slug), nil), http.StatusOK)
	if ct := md.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/markdown") {
		t.Errorf("markdown content type %q", ct)
	}
	if md.header.Get("X-Article-Id") != id || !strings.Contains(string(md.body), "中文标题") || !strings.Contains(string(md.body), "echo ok") {
		t.Errorf("markdown: headers %v body %s", md.header, md.body)
	}
	if r := anon.do("GET", path("/api/v1/articles/%s?format=xml", slug), nil); r.status != http.StatusBadRequest {
		t.Errorf("format=xml: %d", r.status)
	}

	// Partial update with If-Match; the slug stays stable.
	upd := must(t, admin.do("PATCH", path("/api/v1/articles/%s", id), map[string]any{"title": map[string]any{"en": "Renamed"}}, "If-Match", "2"), http.StatusOK).json(t)
	title := upd["title"].(map[string]any)
	if title["en"] != "Renamed" || title["zh"] == "" || upd["slug"] != slug || upd["revision"] != float64(3) {
		t.Errorf("after patch: %v", upd)
	}
	if r := admin.do("PATCH", path("/api/v1/articles/%s", id), map[string]any{"tags": []string{"x"}}, "If-Match", "2"); r.status != http.StatusPreconditionFailed || r.errorCode(t) != "FAILED_PRECONDITION" {
		t.Errorf("stale If-Match: %d %s", r.status, r.body)
	}
	if r := admin.do("PATCH", path("/api/v1/articles/%s", id), map[string]any{"tags": []string{"x"}}, "If-Match", "banana"); r.status != http.StatusBadRequest {
		t.Errorf("bad If-Match: %d %s", r.status, r.body)
	}

	bySlug := must(t, admin.do("PATCH", path("/api/v1/articles/%s", slug), map[string]any{"keywords": []string{"401"}}, "If-Match", "3"), http.StatusOK).json(t)
	if bySlug["id"] != id || bySlug["revision"] != float64(4) {
		t.Errorf("patch by slug: %v", bySlug)
	}

	dep := must(t, admin.do("POST", path("/api/v1/articles/%s:deprecate", id), map[string]any{"reason": "superseded"}), http.StatusOK).json(t)
	if dep["status"] != "deprecated" || dep["deprecationReason"] != "superseded" {
		t.Errorf("deprecated: %v", dep)
	}
	must(t, anon.do("GET", path("/api/v1/articles/%s", id), nil), http.StatusOK)

	arch := must(t, admin.do("DELETE", path("/api/v1/articles/%s", id), nil), http.StatusOK).json(t)
	if arch["status"] != "archived" {
		t.Errorf("archived: %v", arch)
	}
	must(t, anon.do("GET", path("/api/v1/articles/%s", id), nil), http.StatusNotFound)
}

func TestRESTValidationAndErrors(t *testing.T) {
	t.Parallel()
	s := startStack(t, options{maxBody: 64 << 10})
	admin := newClient(t, s, testAdminKey)
	anon := newClient(t, s, "")

	must(t, admin.do("POST", "/api/v1/articles", article("Duplicate title")), http.StatusCreated)
	noTitle := article("x")
	delete(noTitle, "title")
	badDomain := article("Bad domain")
	badDomain["domain"] = "cooking"
	unknown := article("Unknown field")
	unknown["colour"] = "red"

	cases := []struct {
		name       string
		c          *client
		method     string
		path       string
		body       any
		wantStatus int
		wantCode   string
		wantInMsg  string
	}{
		{"no key", anon, "POST", "/api/v1/articles", article("x"), 401, "UNAUTHENTICATED", "articles:write"},
		{"wrong scheme", &client{tb: t, base: admin.base}, "POST", "/api/v1/articles", article("x"), 401, "UNAUTHENTICATED", "Bearer <key>"},
		{"unknown key", newClient(t, s, "nope"), "POST", "/api/v1/articles", article("x"), 401, "UNAUTHENTICATED", "unknown API key"},
		{"missing title", admin, "POST", "/api/v1/articles", noTitle, 400, "INVALID_ARGUMENT", "title"},
		{"unknown domain", admin, "POST", "/api/v1/articles", badDomain, 400, "INVALID_ARGUMENT", "domain"},
		{"unknown field", admin, "POST", "/api/v1/articles", unknown, 400, "INVALID_ARGUMENT", "colour"},
		{"malformed json", admin, "POST", "/api/v1/articles", "{not json", 400, "INVALID_ARGUMENT", ""},
		{"duplicate slug", admin, "POST", "/api/v1/articles", article("Duplicate title"), 409, "ALREADY_EXISTS", "duplicate-title"},
		{"missing article", anon, "GET", "/api/v1/articles/nope", nil, 404, "NOT_FOUND", "nope"},
		{"unknown route", anon, "GET", "/api/v1/nothing", nil, 404, "NOT_FOUND", ""},
		{"body too large", admin, "POST", "/api/v1/articles", strings.Repeat("x", 70<<10), 413, "INVALID_ARGUMENT", "larger than"},
		{"bad page token", anon, "GET", "/api/v1/articles?pageToken=zzz", nil, 400, "INVALID_ARGUMENT", "token"},
		{"drafts need key", anon, "GET", "/api/v1/articles?status=draft", nil, 401, "UNAUTHENTICATED", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := *tc.c
			c.tb = t
			var headers []string
			if tc.name == "wrong scheme" {
				headers = []string{"Authorization", "Token " + testAdminKey}
			}
			r := c.do(tc.method, tc.path, tc.body, headers...)
			if r.status != tc.wantStatus {
				t.Fatalf("status %d, want %d: %s", r.status, tc.wantStatus, r.body)
			}
			if code := r.errorCode(t); code != tc.wantCode {
				t.Errorf("code %s, want %s", code, tc.wantCode)
			}
			if !strings.Contains(string(r.body), tc.wantInMsg) {
				t.Errorf("message lacks %q: %s", tc.wantInMsg, r.body)
			}
			if r.status == 401 && !strings.HasPrefix(r.header.Get("WWW-Authenticate"), `Bearer realm="buzhou"`) {
				t.Errorf("401 without WWW-Authenticate: %v", r.header)
			}
			for _, leak := range []string{"sql", "SQL", "/work/", ".go:", "goroutine", "dial tcp"} {
				if strings.Contains(string(r.body), leak) {
					t.Errorf("error body leaks %q: %s", leak, r.body)
				}
			}
		})
	}
}

func TestRESTxAPIKeyHeader(t *testing.T) {
	t.Parallel()
	s := startStack(t, options{})
	c := newClient(t, s, "")
	must(t, c.do("POST", "/api/v1/articles", article("Via x-api-key"), "x-api-key", testAdminKey), http.StatusCreated)
	must(t, c.do("POST", "/api/v1/articles", article("Lower-case scheme"), "Authorization", "bearer "+testAdminKey), http.StatusCreated)
}

func TestRESTBatchCreate(t *testing.T) {
	t.Parallel()
	s := startStack(t, options{})
	admin := newClient(t, s, testAdminKey)
	bad := article("Bad")
	bad["domain"] = "nowhere"
	published := article("Published at once")
	published["status"] = "published"
	body := map[string]any{"articles": []any{article("First"), bad, article("First"), published}}
	res := must(t, admin.do("POST", "/api/v1/articles:batchCreate", body), http.StatusOK).json(t)["results"].([]any)
	if len(res) != 4 {
		t.Fatalf("results: %v", res)
	}
	wantErr := []string{"", "INVALID_ARGUMENT", "ALREADY_EXISTS", ""}
	for i, r := range res {
		item := r.(map[string]any)
		if item["index"] != float64(i) {
			t.Errorf("item %d has index %v", i, item["index"])
		}
		e, _ := item["error"].(map[string]any)
		switch {
		case wantErr[i] == "" && (e != nil || item["article"] == nil):
			t.Errorf("item %d should succeed: %v", i, item)
		case wantErr[i] != "" && (e == nil || e["code"] != wantErr[i] || e["message"] == ""):
			t.Errorf("item %d: want error %s, got %v", i, wantErr[i], item)
		}
	}
	if res[3].(map[string]any)["article"].(map[string]any)["status"] != "published" {
		t.Errorf("status published in the body should publish at once")
	}
	if r := admin.do("POST", "/api/v1/articles:batchCreate", map[string]any{"articles": []any{}}); r.status != http.StatusBadRequest {
		t.Errorf("empty batch: %d", r.status)
	}
}

func TestRESTListPaging(t *testing.T) {
	t.Parallel()
	s := startStack(t, options{})
	admin := newClient(t, s, testAdminKey)
	anon := newClient(t, s, "")
	for i := range 7 {
		a := article(fmt.Sprintf("Paging article %d", i))
		if i%2 == 0 {
			a["status"] = "published"
		}
		if i == 6 {
			a["domain"] = "mcp"
		}
		must(t, admin.do("POST", "/api/v1/articles", a), http.StatusCreated)
	}
	seen := map[string]bool{}
	token := ""
	for pages := 0; ; pages++ {
		if pages > 10 {
			t.Fatal("paging does not end")
		}
		r := must(t, anon.do("GET", "/api/v1/articles?pageSize=2&pageToken="+token, nil), http.StatusOK).json(t)
		for _, a := range r["articles"].([]any) {
			m := a.(map[string]any)
			if m["status"] != "published" {
				t.Errorf("public list shows %v", m["status"])
			}
			seen[m["id"].(string)] = true
		}
		token, _ = r["nextPageToken"].(string)
		if token == "" {
			break
		}
	}
	if len(seen) != 4 {
		t.Errorf("public pages showed %d articles, want 4", len(seen))
	}
	all := must(t, admin.do("GET", "/api/v1/articles?pageSize=100", nil), http.StatusOK).json(t)["articles"].([]any)
	if len(all) != 7 {
		t.Errorf("writer sees %d, want 7", len(all))
	}
	mcp := must(t, anon.do("GET", "/api/v1/articles?domain=mcp", nil), http.StatusOK).json(t)["articles"].([]any)
	if len(mcp) != 1 {
		t.Errorf("domain filter: %d", len(mcp))
	}
}

func TestRESTConcurrentPatchesLoseNothing(t *testing.T) {
	t.Parallel()
	s := startStack(t, options{})
	admin := newClient(t, s, testAdminKey)
	id := must(t, admin.do("POST", "/api/v1/articles", article("Concurrent")), http.StatusCreated).json(t)["id"].(string)
	const writers, each = 4, 5
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; {
				cur := admin.do("GET", path("/api/v1/articles/%s", id), nil).json(t)
				tags := cur["tags"].([]any)
				tags = append(tags, fmt.Sprintf("w%d-%d", w, i))
				r := admin.do("PATCH", path("/api/v1/articles/%s", id), map[string]any{"tags": tags}, "If-Match", strconv.Itoa(int(cur["revision"].(float64))))
				switch r.status {
				case http.StatusOK:
					i++
				case http.StatusPreconditionFailed:
				default:
					t.Errorf("patch: %d %s", r.status, r.body)
					return
				}
			}
		}()
	}
	wg.Wait()
	final := admin.do("GET", path("/api/v1/articles/%s", id), nil).json(t)
	if n := len(final["tags"].([]any)); n != 2+writers*each {
		t.Errorf("%d tags survive, want %d: an update was lost", n, 2+writers*each)
	}
}

func TestRESTServiceEndpoints(t *testing.T) {
	t.Parallel()
	s := startStack(t, options{})
	anon := newClient(t, s, "")
	must(t, anon.do("GET", "/healthz", nil), http.StatusOK)
	must(t, anon.do("GET", "/readyz", nil), http.StatusOK)
	spec := must(t, anon.do("GET", "/openapi.json", nil), http.StatusOK).json(t)
	if _, ok := spec["paths"].(map[string]any)["/api/v1/articles"]; !ok {
		t.Errorf("openapi lacks /api/v1/articles")
	}
	r := anon.do("GET", "/api/v1/articles", nil, "X-Request-Id", "abc-123")
	if r.header.Get("X-Request-Id") != "abc-123" {
		t.Errorf("request id not echoed: %v", r.header)
	}
	if r.header.Get("X-Agent-API-Endpoint") == "" || r.header.Get("X-Agent-API-Docs") == "" {
		t.Errorf("agent headers missing: %v", r.header)
	}
	r = anon.do("GET", "/api/v1/articles/nope", nil, "X-Request-Id", "bad id with spaces")
	id := r.header.Get("X-Request-Id")
	if id == "" || id == "bad id with spaces" {
		t.Errorf("malformed request id kept: %q", id)
	}
	if e := r.json(t)["error"].(map[string]any); e["requestId"] != id {
		t.Errorf("error requestId %v, header %v", e["requestId"], id)
	}
}

func TestSeededDemoArticles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := startStack(t, options{dataDir: dir, seed: true})
	anon := newClient(t, s, "")
	list := must(t, anon.do("GET", "/api/v1/articles?pageSize=100", nil), http.StatusOK).json(t)["articles"].([]any)
	if len(list) < 5 {
		t.Fatalf("fresh data dir seeded %d articles, want at least 5", len(list))
	}
	found := false
	for _, a := range list {
		m := a.(map[string]any)
		if strings.Contains(m["slug"].(string), "401") {
			found = true
		}
	}
	if !found {
		t.Errorf("no demo article on 401 vs 403")
	}
}
