package render

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"buzhou.dev/article/internal/render/rendertest"
	articlev1 "buzhou.dev/proto/gen/buzhou/article/v1"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/encoding/protojson"
)

// update rewrites the golden files: go test ./internal/render/ -update
var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

// loadArticle reads testdata/<name>.json, an article in the API's JSON shape.
func loadArticle(t *testing.T, name string) *articlev1.Article {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	a := &articlev1.Article{}
	if err := protojson.Unmarshal(raw, a); err != nil {
		t.Fatalf("parse %s.json: %v", name, err)
	}
	return a
}

// goldenCase renders testdata/<fixture>.json in lang and compares the result
// with testdata/<golden>.golden.
type goldenCase struct {
	name    string
	fixture string
	lang    string
	golden  string
}

func goldenCases() []goldenCase {
	return []goldenCase{
		{name: "full article in English", fixture: "full", lang: "en", golden: "full.en"},
		{name: "full article in Chinese", fixture: "full", lang: "zh", golden: "full.zh"},
		{name: "minimal Chinese-only article asked in English", fixture: "minimal", lang: "en", golden: "minimal.en"},
		{name: "fences in code and quotes in title", fixture: "tricky", lang: "en", golden: "tricky.en"},
		{name: "tricky article in Chinese falls back", fixture: "tricky", lang: "zh", golden: "tricky.zh"},
		{name: "deprecated article in English", fixture: "deprecated", lang: "en", golden: "deprecated.en"},
		{name: "deprecated article in Chinese", fixture: "deprecated", lang: "zh", golden: "deprecated.zh"},
	}
}

func TestMarkdownGolden(t *testing.T) {
	t.Parallel()
	for _, tc := range goldenCases() {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := Markdown(loadArticle(t, tc.fixture), tc.lang)
			path := filepath.Join("testdata", tc.golden+".golden")
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if diff := cmp.Diff(string(want), string(got)); diff != "" {
				t.Errorf("Markdown() differs from %s (-want +got):\n%s", path, diff)
			}
		})
	}
}

// TestMarkdownStructure checks every golden case for properties that a diff
// against a golden file would not make obvious.
func TestMarkdownStructure(t *testing.T) {
	t.Parallel()
	for _, tc := range goldenCases() {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a := loadArticle(t, tc.fixture)
			doc := string(Markdown(a, tc.lang))
			fm, body := rendertest.FrontMatter(t, doc)
			if fm["lang"] != tc.lang {
				t.Errorf("front matter lang = %v, want %q", fm["lang"], tc.lang)
			}
			if id := a.GetId(); id != "" && fm["id"] != id {
				t.Errorf("front matter id = %v, want %q", fm["id"], id)
			}
			if !strings.HasPrefix(body, "# ") {
				t.Errorf("body does not start with the title heading: %.40q", body)
			}
			if !strings.HasSuffix(doc, "\n") || strings.HasSuffix(doc, "\n\n") {
				t.Errorf("document must end with exactly one newline")
			}
			if strings.Contains(doc, "\r") {
				t.Errorf("document contains a carriage return")
			}
			if strings.Contains(doc, "\n\n\n") {
				t.Errorf("document contains two blank lines in a row")
			}
			rendertest.CheckSections(t, body)
			if !bytes.Equal(Markdown(a, tc.lang), []byte(doc)) {
				t.Errorf("Markdown() is not deterministic")
			}
		})
	}
}

func TestMarkdownFrontMatterValues(t *testing.T) {
	t.Parallel()
	a := loadArticle(t, "tricky")
	fm, _ := rendertest.FrontMatter(t, string(Markdown(a, "en")))
	want := map[string]any{
		"id":         "art_tricky01",
		"slug":       "yaml-colon-quote",
		"lang":       "en",
		"title":      `Error: "unexpected token" in C# #`,
		"domain":     "scenarios",
		"status":     "draft",
		"author":     `O'Brien: "the tester"`,
		"tags":       []string{"yes", "null", "3.10", "a: b", "#hash"},
		"keywords":   []string{`back\slash`, "tab here", "line separator"},
		"created_at": time.Date(2026, 1, 2, 3, 4, 5, 500_000_000, time.UTC),
	}
	if diff := cmp.Diff(want, fm); diff != "" {
		t.Errorf("front matter (-want +got):\n%s", diff)
	}

	full := loadArticle(t, "full")
	fm, _ = rendertest.FrontMatter(t, string(Markdown(full, "zh")))
	for key, want := range map[string]any{
		"title":               "API Key 认证失败：401 与 403 的区别",
		"confidence_score":    91,
		"revision":            4,
		"verification_count":  12,
		"runtime_env":         []map[string]string{{"name": "python", "version": "3.11"}, {"name": "curl"}},
		"published_at":        time.Date(2026, 3, 22, 6, 39, 0, 0, time.UTC),
		"verification_status": "partial",
	} {
		if diff := cmp.Diff(want, fm[key]); diff != "" {
			t.Errorf("front matter %s (-want +got):\n%s", key, diff)
		}
	}
	if _, ok := fm["deprecation_reason"]; ok {
		t.Errorf("deprecation_reason set for an article that is not deprecated")
	}
}

func TestMarkdownCodeRoundTrips(t *testing.T) {
	t.Parallel()
	for _, fixture := range []string{"full", "tricky"} {
		t.Run(fixture, func(t *testing.T) {
			t.Parallel()
			a := loadArticle(t, fixture)
			var want []string
			for _, cb := range a.GetCodeBlocks() {
				if strings.TrimSpace(cb.GetCode()) != "" {
					want = append(want, strings.TrimRight(cb.GetCode(), "\n"))
				}
				// The expected output follows its block, in a fence of its own.
				if strings.TrimSpace(cb.GetExpectedOutput()) != "" {
					want = append(want, strings.TrimRight(cb.GetExpectedOutput(), "\n"))
				}
			}
			doc := string(Markdown(a, "en"))
			_, code, ok := strings.Cut(doc, "\n## Code\n")
			if !ok {
				t.Fatalf("no Code section in:\n%s", doc)
			}
			if diff := cmp.Diff(want, fencedBlocks(code)); diff != "" {
				t.Errorf("code blocks read back from the document (-want +got):\n%s", diff)
			}
		})
	}
}

func TestMarkdownFallback(t *testing.T) {
	t.Parallel()
	a := &articlev1.Article{
		Title:   &articlev1.LocalizedText{En: "English title"},
		Summary: &articlev1.LocalizedText{Zh: "中文摘要"},
		Content: &articlev1.LocalizedText{En: "English body", Zh: "中文正文"},
		QaPairs: []*articlev1.QaPair{{
			Question: &articlev1.LocalizedText{En: "Question?", Zh: "问题？"},
			Answer:   &articlev1.LocalizedText{En: "Answer."},
		}},
	}
	tests := []struct {
		name     string
		lang     string
		wantLang string
		want     []string
		notWant  []string
	}{
		{
			name: "English", lang: "en", wantLang: "en",
			want:    []string{"# English title", "> 中文摘要", "English body", "### Q1: Question?\n\nAnswer."},
			notWant: []string{"中文正文", "content_lang"},
		},
		{
			name: "Chinese", lang: "zh", wantLang: "zh",
			want:    []string{"# English title", "> 中文摘要", "中文正文", "### Q1：问题？\n\nAnswer."},
			notWant: []string{"English body"},
		},
		{name: "regional Chinese tag", lang: " zh-CN ", wantLang: "zh", want: []string{"中文正文"}},
		{name: "upper case", lang: "ZH", wantLang: "zh", want: []string{"中文正文"}},
		{name: "unknown language", lang: "fr", wantLang: "en", want: []string{"English body"}},
		{name: "empty language", lang: "", wantLang: "en", want: []string{"English body"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			doc := string(Markdown(a, tc.lang))
			fm, _ := rendertest.FrontMatter(t, doc)
			if fm["lang"] != tc.wantLang {
				t.Errorf("lang = %v, want %q", fm["lang"], tc.wantLang)
			}
			for _, w := range tc.want {
				if !strings.Contains(doc, w) {
					t.Errorf("document lacks %q:\n%s", w, doc)
				}
			}
			for _, w := range tc.notWant {
				if strings.Contains(doc, w) {
					t.Errorf("document has %q:\n%s", w, doc)
				}
			}
		})
	}
}

func TestMarkdownVerificationSection(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		a    *articlev1.Article
		lang string
		want string
	}{
		{
			name: "no records",
			a:    &articlev1.Article{Title: &articlev1.LocalizedText{En: "T"}},
			lang: "en",
			want: "## Verification records\n\nThis article is pending verification: no verification record yet.\n",
		},
		{
			name: "no records in Chinese",
			a:    &articlev1.Article{Title: &articlev1.LocalizedText{En: "T"}},
			lang: "zh",
			want: "## 验证记录\n\n本文尚待验证：还没有验证记录。\n",
		},
		{
			name: "count without embedded records",
			a:    &articlev1.Article{Title: &articlev1.LocalizedText{En: "T"}, VerificationCount: 2},
			lang: "en",
			want: "## Verification records\n\n2 verification records in all; none is included here.\n",
		},
		{
			name: "one record without details",
			a: &articlev1.Article{
				Title:               &articlev1.LocalizedText{En: "T"},
				RecentVerifications: []*articlev1.VerificationRecordSummary{{Result: "passed"}},
			},
			lang: "en",
			want: "## Verification records\n\n1 verification record:\n\n### passed\n\n- Result: passed\n",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			doc := string(Markdown(tc.a, tc.lang))
			if !strings.HasSuffix(doc, tc.want) {
				t.Errorf("document does not end with\n%s\ngot:\n%s", tc.want, doc)
			}
		})
	}
}

func TestMarkdownNil(t *testing.T) {
	t.Parallel()
	if got := Markdown(nil, "en"); len(got) != 0 {
		t.Errorf("Markdown(nil) = %q, want empty", got)
	}
}

func TestYAMLQuote(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want string
	}{
		{name: "plain", in: "hello", want: `"hello"`},
		{name: "colon and quote", in: `a: "b"`, want: `"a: \"b\""`},
		{name: "backslash", in: `C:\dir`, want: `"C:\\dir"`},
		{name: "newline and tab", in: "a\nb\tc", want: `"a\nb\tc"`},
		{name: "control character", in: "a\x00b\x1b", want: `"a\u0000b\u001B"`},
		{name: "line separator", in: "a\u2028b", want: `"a\u2028b"`},
		{name: "chinese", in: "中文：标题", want: `"中文：标题"`},
		{name: "emoji", in: "ok 👍", want: `"ok 👍"`},
		{name: "invalid utf-8", in: "a\xffb", want: "\"a\uFFFDb\""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := yamlQuote(tc.in)
			if got != tc.want {
				t.Errorf("yamlQuote(%q) = %s, want %s", tc.in, got, tc.want)
			}
			// The escapes used are common to YAML and Go, so Go can read
			// the value back.
			back, err := strconv.Unquote(got)
			if err != nil {
				t.Fatalf("strconv.Unquote(%s): %v", got, err)
			}
			if want := strings.ToValidUTF8(tc.in, "\uFFFD"); back != want {
				t.Errorf("round trip = %q, want %q", back, want)
			}
		})
	}
}

func TestHeadingText(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"Title", "Title"},
		{"C#", "C#"},
		{"Issue #", `Issue \#`},
		{"##", `\##`},
		{" spaced\n title ", "spaced title"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			t.Parallel()
			if got := headingText(tc.in); got != tc.want {
				t.Errorf("headingText(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestCloseOpenFence(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, in, want string }{
		{name: "no fence", in: "text", want: "text"},
		{name: "closed", in: "```go\nx\n```", want: "```go\nx\n```"},
		{name: "open", in: "```go\nx", want: "```go\nx\n```"},
		{name: "longer closing closes", in: "```\nx\n`````", want: "```\nx\n`````"},
		{name: "shorter does not close", in: "````\n```\nx", want: "````\n```\nx\n````"},
		{name: "tilde not closed by backticks", in: "~~~\n```", want: "~~~\n```\n~~~"},
		{name: "indented code is no fence", in: "    ```\nx", want: "    ```\nx"},
		{name: "info string does not close", in: "```\n```go", want: "```\n```go\n```"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := closeOpenFence(tc.in); got != tc.want {
				t.Errorf("closeOpenFence(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestEscapeURL(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"https://example.com/a?b=c", "https://example.com/a?b=c"},
		{"https://en.wikipedia.org/wiki/A_(b)", "<https://en.wikipedia.org/wiki/A_(b)>"},
		{"https://example.com/a b<c>", "<https://example.com/a%20b%3Cc%3E>"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			t.Parallel()
			if got := escapeURL(tc.in); got != tc.want {
				t.Errorf("escapeURL(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

// fencedBlocks returns the contents of the top-level backtick fences in s.
func fencedBlocks(s string) []string {
	var blocks []string
	var fence string
	var cur []string
	for line := range strings.SplitSeq(s, "\n") {
		switch {
		case fence == "" && strings.HasPrefix(line, "```"):
			fence = line[:len(line)-len(strings.TrimLeft(line, "`"))]
			cur = nil
		case fence != "" && line == fence:
			blocks = append(blocks, strings.Join(cur, "\n"))
			fence = ""
		case fence != "":
			cur = append(cur, line)
		}
	}
	return blocks
}

func ExampleMarkdown() {
	a := &articlev1.Article{
		Title:   &articlev1.LocalizedText{En: "Hello", Zh: "你好"},
		Content: &articlev1.LocalizedText{En: "Body."},
	}
	fmt.Print(string(Markdown(a, "zh")))
	// Output:
	// ---
	// lang: "zh"
	// title: "你好"
	// content_lang: "en"
	// ---
	//
	// # 你好
	//
	// 验证状态：待验证 · 0 条验证记录
	//
	// Body.
	//
	// ## 验证记录
	//
	// 本文尚待验证：还没有验证记录。
}
