package seed

import (
	"context"
	"errors"
	"net/url"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode"

	"buzhou.dev/article/internal/render"
	"buzhou.dev/article/internal/render/rendertest"
	articlev1 "buzhou.dev/proto/gen/buzhou/article/v1"
)

// knownDomains are the domains of API.md.
func knownDomains() []string {
	return []string{"agent", "mcp", "skill", "foundation", "transport", "tools_filesystem",
		"tools_postgres", "tools_github", "error_codes", "scenarios"}
}

func mustArticles(t *testing.T) []*articlev1.Article {
	t.Helper()
	articles, err := Articles()
	if err != nil {
		t.Fatalf("Articles() error: %v", err)
	}
	return articles
}

func TestArticles(t *testing.T) {
	t.Parallel()
	articles := mustArticles(t)
	if len(articles) != 6 {
		t.Fatalf("Articles() returned %d articles, want 6", len(articles))
	}
	// File-name order: the files are numbered in the order of the brief.
	wantDomains := []string{"error_codes", "mcp", "tools_postgres", "transport", "tools_github", "agent"}
	var domains []string
	titles := map[string]bool{}
	for _, a := range articles {
		domains = append(domains, a.GetDomain())
		en := strings.ToLower(a.GetTitle().GetEn())
		if titles[en] {
			t.Errorf("English title %q appears twice", a.GetTitle().GetEn())
		}
		titles[en] = true
	}
	if !slices.Equal(domains, wantDomains) {
		t.Errorf("domains in file order = %v, want %v", domains, wantDomains)
	}

	// Each call parses afresh, so callers may modify what they get.
	articles[0].Title.En = "changed"
	if again := mustArticles(t); again[0].GetTitle().GetEn() == "changed" {
		t.Errorf("Articles() returned shared messages")
	}
}

// headingLine finds the "## " section headings of a content body.
var headingLine = regexp.MustCompile(`(?m)^## \S`)

func TestArticleContent(t *testing.T) {
	t.Parallel()
	for _, a := range mustArticles(t) {
		t.Run(a.GetTitle().GetEn(), func(t *testing.T) {
			t.Parallel()
			for field, lt := range map[string]*articlev1.LocalizedText{
				"title": a.GetTitle(), "summary": a.GetSummary(), "content": a.GetContent(),
			} {
				if strings.TrimSpace(lt.GetEn()) == "" || strings.TrimSpace(lt.GetZh()) == "" {
					t.Errorf("%s lacks a language: en=%t zh=%t", field, lt.GetEn() != "", lt.GetZh() != "")
				}
			}
			if words := len(strings.Fields(a.GetContent().GetEn())); words < 300 || words > 900 {
				t.Errorf("English content has %d words, want 300-900", words)
			}
			if han := countHan(a.GetContent().GetZh()); han < 450 || han > 1800 {
				t.Errorf("Chinese content has %d Han characters, want 450-1800", han)
			}
			for lang, body := range map[string]string{"en": a.GetContent().GetEn(), "zh": a.GetContent().GetZh()} {
				if n := len(headingLine.FindAllString(body, -1)); n < 4 {
					t.Errorf("%s content has %d ## sections, want at least 4 (symptoms, cause, fix, verification)", lang, n)
				}
				if han := countHan(body); lang == "en" && han > 0 {
					t.Errorf("English content contains %d Han characters", han)
				}
			}

			if !slices.Contains(knownDomains(), a.GetDomain()) {
				t.Errorf("domain %q is not one of %v", a.GetDomain(), knownDomains())
			}
			if a.GetStatus() != "published" {
				t.Errorf("status = %q, want published", a.GetStatus())
			}
			if len(a.GetTags()) == 0 || len(a.GetTags()) > 30 {
				t.Errorf("%d tags, want 1-30", len(a.GetTags()))
			}
			for _, tag := range a.GetTags() {
				if tag != strings.ToLower(tag) || strings.ContainsFunc(tag, unicode.IsSpace) {
					t.Errorf("tag %q is not a lower-case word", tag)
				}
			}
			if len(a.GetKeywords()) == 0 || len(a.GetApplicableVersions()) == 0 || len(a.GetRuntimeEnv()) == 0 {
				t.Errorf("keywords, applicable versions and runtime env must all be set")
			}

			if n := len(a.GetCodeBlocks()); n < 1 || n > 3 {
				t.Errorf("%d code blocks, want 1-3", n)
			}
			runnable := 0
			for i, cb := range a.GetCodeBlocks() {
				if cb.GetLanguage() == "" || strings.TrimSpace(cb.GetCode()) == "" || cb.GetDescription() == "" {
					t.Errorf("code block %d needs a language, code and a description", i)
				}
				if cb.GetRunnable() {
					runnable++
				}
			}
			if runnable == 0 {
				t.Errorf("no runnable code block")
			}

			if n := len(a.GetQaPairs()); n < 3 {
				t.Errorf("%d QA pairs, want at least 3", n)
			}
			for i, qa := range a.GetQaPairs() {
				for _, s := range []string{qa.GetQuestion().GetEn(), qa.GetQuestion().GetZh(), qa.GetAnswer().GetEn(), qa.GetAnswer().GetZh()} {
					if strings.TrimSpace(s) == "" {
						t.Errorf("QA pair %d lacks a question or answer in one language", i)
					}
				}
			}

			if n := len(a.GetReferences()); n < 1 || n > 3 {
				t.Errorf("%d references, want 1-3", n)
			}
			for _, ref := range a.GetReferences() {
				u, err := url.Parse(ref.GetUrl())
				if err != nil || u.Scheme != "https" || u.Host == "" || ref.GetTitle() == "" {
					t.Errorf("reference %q %q: want a title and an absolute https URL", ref.GetTitle(), ref.GetUrl())
				}
			}

			// Server-made fields stay empty: the article service fills them.
			if a.GetId() != "" || a.GetSlug() != "" || a.GetRevision() != 0 || a.GetVerificationStatus() != "" ||
				a.GetConfidenceScore() != 0 || a.GetRiskLevel() != "" || a.GetCreatedAt() != nil ||
				len(a.GetRecentVerifications()) != 0 || len(a.GetRelatedIds()) != 0 {
				t.Errorf("a server-made field is set")
			}
		})
	}
}

func TestArticlesRender(t *testing.T) {
	t.Parallel()
	for _, a := range mustArticles(t) {
		for _, lang := range []string{"en", "zh"} {
			t.Run(lang+"/"+a.GetTitle().GetEn(), func(t *testing.T) {
				t.Parallel()
				doc := string(render.Markdown(a, lang))
				fm, body := rendertest.FrontMatter(t, doc)
				if fm["lang"] != lang || fm["domain"] != a.GetDomain() {
					t.Errorf("front matter lang=%v domain=%v, want %s and %s", fm["lang"], fm["domain"], lang, a.GetDomain())
				}
				if _, fellBack := fm["content_lang"]; fellBack {
					t.Errorf("content fell back to another language")
				}
				rendertest.CheckSections(t, body)
				want := []string{"## Code", "## FAQ", "## References", "## Verification records"}
				if lang == "zh" {
					want = []string{"## 代码", "## 常见问题", "## 参考资料", "## 验证记录"}
				}
				for _, h := range want {
					if !strings.Contains(body, "\n"+h+"\n") {
						t.Errorf("rendered article lacks %q", h)
					}
				}
			})
		}
	}
}

// TestRunnableBlocks runs the runnable Python blocks the way the sandbox
// would, minus the isolation: they must finish quickly, offline, exit 0 and
// print something.
func TestRunnableBlocks(t *testing.T) {
	t.Parallel()
	python, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not found on PATH; install it to run the demo articles' runnable blocks")
	}
	for _, a := range mustArticles(t) {
		for i, cb := range a.GetCodeBlocks() {
			if !cb.GetRunnable() {
				continue
			}
			t.Run(a.GetDomain()+"/"+cb.GetLanguage()+"/"+string(rune('1'+i)), func(t *testing.T) {
				t.Parallel()
				if cb.GetLanguage() != "python" {
					t.Skipf("no runner for %s in this test", cb.GetLanguage())
				}
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				defer cancel()
				cmd := exec.CommandContext(ctx, python, "-I", "-c", cb.GetCode())
				cmd.Env = []string{"PATH=/usr/bin:/bin", "LANG=C.UTF-8", "PYTHONIOENCODING=utf-8"}
				out, err := cmd.CombinedOutput()
				var exitErr *exec.ExitError
				switch {
				case errors.As(err, &exitErr):
					t.Fatalf("block exited with %v:\n%s", err, out)
				case err != nil:
					t.Fatalf("run block: %v", err)
				case len(strings.TrimSpace(string(out))) == 0:
					t.Errorf("block printed nothing")
				}
			})
		}
	}
}

func countHan(s string) int {
	n := 0
	for _, r := range s {
		if unicode.Is(unicode.Han, r) {
			n++
		}
	}
	return n
}
