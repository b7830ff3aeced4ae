package stack

import (
	"slices"
	"strings"
	"testing"
	"time"

	searchapp "buzhou.dev/search/app"
	verificationapp "buzhou.dev/verification/app"
)

// The search service writes every published article's related ids back to
// the article (GET and markdown show them) once indexing pauses, and then
// leaves the articles alone: its own writes, and the trust the
// verification service writes after inspecting them, start no loop.
func TestRelatedIdsWrittenBack(t *testing.T) {
	t.Parallel()
	s := startStack(t, options{
		search:       func(c *searchapp.Config) { c.RelatedPerSecond, c.RelatedDebounce = 100, 200*time.Millisecond },
		verification: func(c *verificationapp.Config) { c.InspectOnChange = true },
	})
	admin, anon := newClient(t, s, testAdminKey), newClient(t, s, "")
	ids := map[string]string{} // slug → id
	published := map[string]bool{}
	for _, a := range searchCorpus() {
		created := must(t, admin.do("POST", "/api/v1/articles", a), 201).json(t)
		slug, id := created["slug"].(string), created["id"].(string)
		ids[slug] = id
		published[id] = created["status"] == "published"
	}
	related := func(slug string) []string {
		a := must(t, admin.do("GET", "/api/v1/articles/"+slug, nil), 200).json(t)
		if a["relatedIds"] == nil {
			return nil
		}
		return toStrings(a["relatedIds"])
	}
	for slug, id := range ids {
		if !published[id] {
			continue
		}
		eventually(t, "related ids on "+slug, func() bool { return len(related(slug)) > 0 })
		got := related(slug)
		for _, r := range got {
			if r == id || !published[r] {
				t.Errorf("related ids of %s: %v hold itself or an unpublished article", slug, got)
			}
		}
		if len(got) != len(slices.Compact(slices.Sorted(slices.Values(got)))) {
			t.Errorf("related ids of %s repeat: %v", slug, got)
		}
	}
	md := string(must(t, anon.do("GET", "/api/v1/articles/"+slugPG+"?format=markdown", nil), 200).body)
	if !strings.Contains(md, "related_ids:") || !strings.Contains(md, related(slugPG)[0]) {
		t.Errorf("the markdown does not show the related ids %v:\n%s", related(slugPG), md)
	}
	if got := related(slugDraft); len(got) != 0 {
		t.Errorf("the draft got related ids %v", got)
	}

	// No churn: once everything has settled, the feed stands still.
	head := func() string {
		return must(t, anon.do("GET", "/api/v1/search/status", nil), 200).json(t)["appliedRevision"].(string)
	}
	var last string
	stable := 0
	eventually(t, "the feed to stand still", func() bool {
		time.Sleep(500 * time.Millisecond)
		if h := head(); h == last {
			stable++
		} else {
			last, stable = h, 0
		}
		return stable >= 4 // 2 s, ten debounce periods, without a write
	})
	revisions := map[string]any{}
	for slug := range ids {
		revisions[slug] = must(t, admin.do("GET", "/api/v1/articles/"+slug, nil), 200).json(t)["revision"]
	}
	time.Sleep(2 * time.Second)
	for slug := range ids {
		if r := must(t, admin.do("GET", "/api/v1/articles/"+slug, nil), 200).json(t)["revision"]; r != revisions[slug] {
			t.Errorf("%s moved from revision %v to %v with nothing changed", slug, revisions[slug], r)
		}
	}
	if h := head(); h != last {
		t.Errorf("the feed moved from %s to %s with nothing changed", last, h)
	}

	// An edit that makes an article like another puts it in that one's list.
	like := map[string]any{"content": map[string]any{"en": "## Fix\n\nFind the process with `lsof -i :3000` and stop it: EADDRINUSE, address already in use, port 3000 held by another process."}}
	must(t, admin.do("PATCH", "/api/v1/articles/"+ids[slugMCP], like), 200)
	eventually(t, "the edited article in the port article's related ids", func() bool {
		got := related(slugPort)
		return len(got) > 0 && got[0] == ids[slugMCP]
	})
	// Archiving an article takes it out of every list.
	must(t, admin.do("DELETE", "/api/v1/articles/"+ids[slugMCP], nil), 200)
	eventually(t, "the archived article out of every list", func() bool {
		for slug, id := range ids {
			if published[id] && id != ids[slugMCP] && slices.Contains(related(slug), ids[slugMCP]) {
				return false
			}
		}
		return true
	})
}
