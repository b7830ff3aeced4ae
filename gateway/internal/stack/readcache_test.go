package stack

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"buzhou.dev/platform/metrics/metricstest"
	articlev1 "buzhou.dev/proto/gen/buzhou/article/v1"
)

// cacheCount is the gateway's read cache counter for outcome.
func cacheCount(t *testing.T, s *Stack, outcome string) float64 {
	t.Helper()
	v, _ := metricstest.Get(t, "http://"+s.HTTPAddr+"/metrics").Value("buzhou_read_cache_total", "service", "gateway", "outcome", outcome)
	return v
}

// publishedArticle creates a published article and returns its id and slug.
func publishedArticle(t *testing.T, admin *client, title string) (string, string) {
	t.Helper()
	a := article(title)
	a["status"] = "published"
	got := must(t, admin.do("POST", "/api/v1/articles", a), http.StatusCreated).json(t)
	return got["id"].(string), got["slug"].(string)
}

// waitCacheOpen waits until public reads of slug are answered from the
// cache: the gateway has opened the change feed.
func waitCacheOpen(t *testing.T, s *Stack, anon *client, slug string) {
	t.Helper()
	eventually(t, "the read cache to open", func() bool {
		before := cacheCount(t, s, "hit")
		anon.do("GET", "/api/v1/articles/"+slug, nil)
		anon.do("GET", "/api/v1/articles/"+slug, nil)
		return cacheCount(t, s, "hit") > before
	})
}

// TestReadCacheAnswers: public reads are served from the cache with the
// service's own answer (same bytes, same headers), revalidate to 304 with a
// strong revision ETag per representation, and every variant is kept apart.
func TestReadCacheAnswers(t *testing.T) {
	t.Parallel()
	s := startStack(t, options{})
	admin, anon := newClient(t, s, testAdminKey), newClient(t, s, "")
	id, slug := publishedArticle(t, admin, "Cached answers")
	waitCacheOpen(t, s, anon, slug)

	fromService := must(t, admin.do("GET", "/api/v1/articles/"+slug, nil), http.StatusOK)
	for _, p := range []string{slug, id} {
		hit := must(t, anon.do("GET", "/api/v1/articles/"+p, nil), http.StatusOK)
		if string(hit.body) != string(fromService.body) {
			t.Errorf("GET %s from the cache differs from the service's answer:\n%s\n%s", p, hit.body, fromService.body)
		}
		for _, h := range []string{"Content-Type", "X-Article-Id", "X-Article-Slug", "ETag"} {
			if hit.header.Get(h) != fromService.header.Get(h) || hit.header.Get(h) == "" {
				t.Errorf("GET %s: %s %q, the service says %q", p, h, hit.header.Get(h), fromService.header.Get(h))
			}
		}
		if hit.header.Get("X-Request-Id") == "" || hit.header.Get("Cache-Control") != "no-cache" || hit.header.Get("RateLimit-Limit") == "" {
			t.Errorf("a cached answer lacks the per-request headers: %v", hit.header)
		}
	}
	etag := fromService.header.Get("ETag")
	if etag != `"1"` {
		t.Errorf("ETag %q, want the revision \"1\"", etag)
	}

	md := must(t, anon.do("GET", "/api/v1/articles/"+slug+"?format=markdown", nil), http.StatusOK)
	mdZH := must(t, anon.do("GET", "/api/v1/articles/"+slug+"?lang=zh&format=markdown", nil), http.StatusOK)
	if !strings.HasPrefix(md.header.Get("Content-Type"), "text/markdown") || md.header.Get("ETag") != `"1-markdown-en"` || mdZH.header.Get("ETag") != `"1-markdown-zh"` {
		t.Errorf("markdown: %q %q %q", md.header.Get("Content-Type"), md.header.Get("ETag"), mdZH.header.Get("ETag"))
	}
	if string(md.body) == string(mdZH.body) || !strings.Contains(string(mdZH.body), "中文标题") {
		t.Error("the zh markdown is the en one")
	}
	// The same variant asked in another order is the same answer.
	if again := must(t, anon.do("GET", "/api/v1/articles/"+slug+"?format=markdown&lang=zh", nil), http.StatusOK); string(again.body) != string(mdZH.body) {
		t.Error("format=markdown&lang=zh differs from lang=zh&format=markdown")
	}

	cases := []struct {
		name, path, ifNoneMatch string
		want                    int
	}{
		{"same revision", slug, etag, http.StatusNotModified},
		{"weak form", slug, "W/" + etag, http.StatusNotModified},
		{"in a list", id, `"7", ` + etag, http.StatusNotModified},
		{"any", slug, "*", http.StatusNotModified},
		{"another revision", slug, `"2"`, http.StatusOK},
		{"the JSON tag for markdown", slug + "?format=markdown", etag, http.StatusOK},
		{"markdown", slug + "?format=markdown", `"1-markdown-en"`, http.StatusNotModified},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, c := range []*client{anon, admin} { // keyed reads revalidate too
				r := c.do("GET", "/api/v1/articles/"+tc.path, nil, "If-None-Match", tc.ifNoneMatch)
				if r.status != tc.want {
					t.Errorf("key %t: status %d, want %d", c.key != "", r.status, tc.want)
				}
				if r.status == http.StatusNotModified && (len(r.body) != 0 || r.header.Get("ETag") == "") {
					t.Errorf("304 with body %q, ETag %q", r.body, r.header.Get("ETag"))
				}
			}
		})
	}

	// Errors are not kept, and bad variants are refused as before.
	if r := anon.do("GET", "/api/v1/articles/"+slug+"?format=yaml", nil); r.status != http.StatusBadRequest {
		t.Errorf("format=yaml: %d", r.status)
	}
	if r := anon.do("GET", "/api/v1/articles/no-such-article", nil); r.status != http.StatusNotFound {
		t.Errorf("missing article: %d", r.status)
	}
}

// TestReadCacheNeverShowsHidden: drafts never reach the public, even after
// a keyed read of them, nor does an archived article after its archive.
func TestReadCacheNeverShowsHidden(t *testing.T) {
	t.Parallel()
	s := startStack(t, options{})
	admin, anon := newClient(t, s, testAdminKey), newClient(t, s, "")
	_, open := publishedArticle(t, admin, "Opens the cache")
	waitCacheOpen(t, s, anon, open)

	draft := must(t, admin.do("POST", "/api/v1/articles", article("Still a draft")), http.StatusCreated).json(t)
	for range 3 {
		must(t, admin.do("GET", "/api/v1/articles/"+draft["slug"].(string), nil), http.StatusOK)
		must(t, anon.do("GET", "/api/v1/articles/"+draft["slug"].(string), nil), http.StatusNotFound)
		must(t, anon.do("GET", "/api/v1/articles/"+draft["id"].(string)+"?format=markdown", nil), http.StatusNotFound)
	}

	id, slug := publishedArticle(t, admin, "Soon archived")
	must(t, anon.do("GET", "/api/v1/articles/"+slug, nil), http.StatusOK)
	must(t, anon.do("GET", "/api/v1/articles/"+slug+"?format=markdown", nil), http.StatusOK)
	must(t, admin.do("DELETE", "/api/v1/articles/"+id, nil), http.StatusOK)
	for _, p := range []string{slug, id, slug + "?format=markdown"} {
		if r := anon.do("GET", "/api/v1/articles/"+p, nil); r.status != http.StatusNotFound {
			t.Errorf("GET %s after the archive: %d %s", p, r.status, r.body)
		}
	}
}

// TestReadCacheReadYourWrites: a write acknowledged by the gateway is what
// the next read shows — every time, with no wait — whether its answer names
// the article (PATCH, publish) or not (a verification record, whose trust
// write-back is a new revision).
func TestReadCacheReadYourWrites(t *testing.T) {
	t.Parallel()
	s := startStack(t, options{})
	admin, anon := newClient(t, s, testAdminKey), newClient(t, s, "")
	id, slug := publishedArticle(t, admin, "Read your writes")
	waitCacheOpen(t, s, anon, slug)

	for i := range 20 {
		want := fmt.Sprintf("tag-%d", i)
		upd := must(t, admin.do("PATCH", "/api/v1/articles/"+id, map[string]any{"tags": []string{want}}), http.StatusOK)
		for _, p := range []string{slug, id} {
			got := must(t, anon.do("GET", "/api/v1/articles/"+p, nil), http.StatusOK)
			if got.header.Get("ETag") != upd.header.Get("ETag") || !strings.Contains(string(got.body), want) {
				t.Fatalf("write %d: GET %s shows %s, the write answered %s", i, p, got.header.Get("ETag"), upd.header.Get("ETag"))
			}
		}
		md := must(t, anon.do("GET", "/api/v1/articles/"+slug+"?format=markdown", nil), http.StatusOK)
		if !strings.Contains(string(md.body), want) {
			t.Fatalf("write %d: the markdown lacks %s", i, want)
		}
	}

	verifier := verifierKey(t, s, admin, "cache verifier")
	before := must(t, anon.do("GET", "/api/v1/articles/"+slug, nil), http.StatusOK).json(t)
	must(t, verifier.do("POST", path("/api/v1/articles/%s/verifications", id), record("passed", "Linux")), http.StatusCreated)
	after := must(t, anon.do("GET", "/api/v1/articles/"+slug, nil), http.StatusOK).json(t)
	if after["revision"] == before["revision"] || after["verificationStatus"] != "verified" {
		t.Errorf("after a verification record: revision %v (was %v), status %v", after["revision"], before["revision"], after["verificationStatus"])
	}
}

// TestReadCacheFollowsFeed: a write that does not pass through the gateway
// (a direct gRPC call) reaches public reads through the change feed. The
// window between its acknowledgement and the first fresh read is logged.
func TestReadCacheFollowsFeed(t *testing.T) {
	t.Parallel()
	s := startStack(t, options{})
	admin, anon := newClient(t, s, testAdminKey), newClient(t, s, "")
	id, slug := publishedArticle(t, admin, "Written over gRPC")
	waitCacheOpen(t, s, anon, slug)
	articles := articlev1.NewArticleServiceClient(grpcConn(t, s.ArticleAddr, testAdminKey))

	var worst time.Duration
	for i := range 10 {
		want := fmt.Sprintf("grpc-%d", i)
		a, err := articles.UpdateArticle(context.Background(), &articlev1.UpdateArticleRequest{
			Article: &articlev1.Article{Id: id, Tags: []string{want}}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"tags"}},
		})
		if err != nil {
			t.Fatal(err)
		}
		acked := time.Now()
		wantTag := fmt.Sprintf(`"%d"`, a.GetRevision())
		eventually(t, "the gRPC write to reach public reads", func() bool {
			return anon.do("GET", "/api/v1/articles/"+slug, nil).header.Get("ETag") == wantTag
		})
		worst = max(worst, time.Since(acked))
		// Once fresh, never stale again.
		for range 3 {
			if got := anon.do("GET", "/api/v1/articles/"+slug, nil).header.Get("ETag"); got != wantTag {
				t.Fatalf("write %d: ETag went back to %s after %s", i, got, wantTag)
			}
		}
	}
	t.Logf("a direct gRPC write reached public reads within %v (worst of 10)", worst)

	if _, err := articles.ArchiveArticle(context.Background(), &articlev1.ArchiveArticleRequest{Id: id}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the archive to reach public reads", func() bool {
		return anon.do("GET", "/api/v1/articles/"+slug, nil).status == http.StatusNotFound
	})
}

// TestSearchCache: with BUZHOU_SEARCH_CACHE_TTL, the same anonymous search
// within the ttl is answered from the cache; an archive through the gateway
// drops it.
func TestSearchCache(t *testing.T) {
	t.Parallel()
	s := startStack(t, options{searchCacheTTL: time.Minute})
	admin, anon := newClient(t, s, testAdminKey), newClient(t, s, "")
	id, slug := publishedArticle(t, admin, "Zebra crossing quokka")
	waitCacheOpen(t, s, anon, slug)
	q := "/api/v1/search?q=zebra+quokka"
	eventually(t, "the article to be indexed", func() bool {
		return strings.Contains(string(anon.do("GET", q, nil).body), slug)
	})
	before := cacheCount(t, s, "hit")
	first := must(t, anon.do("GET", q, nil), http.StatusOK)
	again := must(t, anon.do("GET", "/api/v1/search?q=zebra%20quokka", nil), http.StatusOK)
	if string(first.body) != string(again.body) || cacheCount(t, s, "hit") < before+1 {
		t.Errorf("the second search was not answered from the cache (hits %v → %v)", before, cacheCount(t, s, "hit"))
	}
	must(t, admin.do("DELETE", "/api/v1/articles/"+id, nil), http.StatusOK)
	eventually(t, "the archived article to leave search", func() bool {
		return !strings.Contains(string(must(t, anon.do("GET", q, nil), http.StatusOK).body), slug)
	})
}
