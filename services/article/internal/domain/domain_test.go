package domain

import (
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"

	"buzhou.dev/platform/errs"
	"buzhou.dev/platform/vocab"
	articlev1 "buzhou.dev/proto/gen/buzhou/article/v1"
)

// validArticle returns an article that uses every client-supplied field and
// passes Validate, already in normal form.
func validArticle() *articlev1.Article {
	return &articlev1.Article{
		Title: &articlev1.LocalizedText{
			Zh: "API 密钥认证失败：Bearer Token 与 x-api-key 头的区别",
			En: "API Key Authentication Failure: Bearer Token vs x-api-key Header Differences",
		},
		Summary: &articlev1.LocalizedText{
			Zh: "为什么同一个密钥在一个客户端可用，在另一个客户端返回 401。",
			En: "Why the same key works in one client and answers 401 in another.",
		},
		Content: &articlev1.LocalizedText{
			Zh: "## 问题\n\n服务器只接受 `Authorization: Bearer`。",
			En: "## Problem\n\nThe server accepts only `Authorization: Bearer`.\n\n    indented code",
		},
		Domain:             "error_codes",
		Tags:               []string{"auth", "http", "python3.11", "c++", "x-api-key", "snake_case"},
		Keywords:           []string{"401", "Unauthorized", "API key"},
		ApplicableVersions: []string{"openai>=1.0", "anthropic>=0.30"},
		CodeBlocks: []*articlev1.CodeBlock{
			{Id: "cb1", Language: "bash", Code: "curl -H 'Authorization: Bearer $KEY' https://api.example.com", Description: "Send the key as a bearer token.", Runnable: true},
			{Id: "cb2", Language: "python", Code: "import os\n\nprint(os.environ['KEY'])"},
		},
		QaPairs: []*articlev1.QaPair{
			{Question: &articlev1.LocalizedText{En: "Is the scheme case-sensitive?"}, Answer: &articlev1.LocalizedText{En: "No."}},
			{Question: &articlev1.LocalizedText{Zh: "区分大小写吗？"}, Answer: &articlev1.LocalizedText{Zh: "不区分。"}},
		},
		References: []*articlev1.Reference{
			{Title: "RFC 6750", Url: "https://www.rfc-editor.org/rfc/rfc6750"},
			{Url: "http://localhost:8080/docs"},
			{Title: "The printed manual, page 12"},
		},
		RuntimeEnv: []*articlev1.RuntimeEnv{{Name: "python", Version: "3.11"}, {Name: "node"}},
		Status:     vocab.StatusPublished,
		Author:     "Buzhou team",
	}
}

// problemsOf splits a Validate error into its problems.
func problemsOf(t *testing.T, err error) []string {
	t.Helper()
	if err == nil {
		t.Fatal("Validate() = nil, want an error")
	}
	if !errors.Is(err, errs.ErrInvalid) {
		t.Fatalf("Validate() = %v, want it to wrap errs.ErrInvalid", err)
	}
	return strings.Split(errs.Message(err), "; ")
}

func TestValidateAccepts(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		mutate func(a *articlev1.Article)
	}{
		{"full article", func(*articlev1.Article) {}},
		{"english only", func(a *articlev1.Article) { a.Title.Zh, a.Summary.Zh, a.Content.Zh = "", "", "" }},
		{"chinese only", func(a *articlev1.Article) { a.Title.En, a.Summary.En, a.Content.En = "", "", "" }},
		{"languages need not match across fields", func(a *articlev1.Article) { a.Title.Zh, a.Content.En = "", "" }},
		{"minimal", func(a *articlev1.Article) {
			*a = articlev1.Article{
				Title:   &articlev1.LocalizedText{En: "T"},
				Summary: &articlev1.LocalizedText{En: "S"},
				Content: &articlev1.LocalizedText{En: "C"},
				Domain:  "mcp",
			}
		}},
		{"status empty", func(a *articlev1.Article) { a.Status = "" }},
		{"status archived (an existing article)", func(a *articlev1.Article) { a.Status = vocab.StatusArchived }},
		{"status deprecated (an existing article)", func(a *articlev1.Article) { a.Status = vocab.StatusDeprecated }},
		{"title at the rune limit with multi-byte runes", func(a *articlev1.Article) { a.Title.Zh = strings.Repeat("界", MaxTitleRunes) }},
		{"summary at the rune limit", func(a *articlev1.Article) { a.Summary.En = strings.Repeat("é", MaxSummaryRunes) }},
		{"content at the byte limit", func(a *articlev1.Article) { a.Content.En = strings.Repeat("x", MaxContentBytes) }},
		{"code at the byte limit", func(a *articlev1.Article) { a.CodeBlocks[0].Code = strings.Repeat("x", MaxCodeBytes) }},
		{"tags at the count limit", func(a *articlev1.Article) { a.Tags = nTags(MaxTags) }},
		{"tag at the rune limit", func(a *articlev1.Article) { a.Tags = []string{strings.Repeat("a", MaxTagRunes)} }},
		{"tags people use", func(a *articlev1.Article) {
			a.Tags = []string{"-32602", "c++", "c#", "node.js", ".net", "认证", "inputschema", "401", "_private", "e2e-tests"}
		}},
		{"keywords at the count limit", func(a *articlev1.Article) { a.Keywords = nTags(MaxKeywords) }},
		{"code blocks at the count limit", func(a *articlev1.Article) { a.CodeBlocks = nBlocks(MaxCodeBlocks) }},
		{"qa pairs at the count limit", func(a *articlev1.Article) { a.QaPairs = nPairs(MaxQAPairs) }},
		{"references at the count limit", func(a *articlev1.Article) { a.References = nRefs(MaxReferences) }},
		{"code blocks without ids", func(a *articlev1.Article) { a.CodeBlocks[0].Id, a.CodeBlocks[1].Id = "", "" }},
		{"reference with title only", func(a *articlev1.Article) { a.References = []*articlev1.Reference{{Title: "A book"}} }},
		{"reference url with upper-case scheme", func(a *articlev1.Article) { a.References[0].Url = "HTTPS://Example.com/x?y=1#z" }},
		{"runtime without version", func(a *articlev1.Article) { a.RuntimeEnv = []*articlev1.RuntimeEnv{{Name: "go"}} }},
		{"no optional lists", func(a *articlev1.Article) {
			a.Tags, a.Keywords, a.CodeBlocks, a.QaPairs, a.References, a.ApplicableVersions, a.RuntimeEnv = nil, nil, nil, nil, nil, nil, nil
		}},
		{"server-made fields are not checked", func(a *articlev1.Article) {
			a.Id, a.Slug, a.RiskLevel, a.VerificationStatus, a.RelatedIds = "x\x00", "\xff", "nonsense", "nonsense", []string{"\x00"}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a := validArticle()
			tt.mutate(a)
			if err := Validate(a); err != nil {
				t.Errorf("Validate() = %v, want nil", err)
			}
		})
	}
}

func TestValidateEveryDomain(t *testing.T) {
	t.Parallel()
	for _, d := range vocab.Domains() {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			a := validArticle()
			a.Domain = d
			if err := Validate(a); err != nil {
				t.Errorf("Validate() = %v, want nil", err)
			}
		})
	}
}

// TestValidateRejects has one case per rule: the article is valid but for one
// thing, and the error must name exactly that field and say how to fix it.
func TestValidateRejects(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		mutate func(a *articlev1.Article)
		path   string // the field the (single) problem must start with
		fix    string // a part of the message saying what is wrong / how to fix
	}{
		// Required localized texts.
		{"title nil", func(a *articlev1.Article) { a.Title = nil }, "title", "is empty, give title.en or title.zh"},
		{"title both languages blank", func(a *articlev1.Article) { a.Title = &articlev1.LocalizedText{Zh: " ", En: "\t\n"} }, "title", "give title.en or title.zh"},
		{"summary nil", func(a *articlev1.Article) { a.Summary = nil }, "summary", "give summary.en or summary.zh"},
		{"summary empty", func(a *articlev1.Article) { a.Summary = &articlev1.LocalizedText{} }, "summary", "give summary.en or summary.zh"},
		{"content nil", func(a *articlev1.Article) { a.Content = nil }, "content", "give content.en or content.zh"},
		{"content empty", func(a *articlev1.Article) { a.Content = &articlev1.LocalizedText{} }, "content", "give content.en or content.zh"},

		// Sizes of localized texts.
		{"title.en too long", func(a *articlev1.Article) { a.Title.En = strings.Repeat("a", MaxTitleRunes+1) }, "title.en", "is 201 characters long, over the limit of 200, shorten it"},
		{"title.zh too long in runes", func(a *articlev1.Article) { a.Title.Zh = strings.Repeat("界", MaxTitleRunes+1) }, "title.zh", "is 201 characters long, over the limit of 200"},
		{"summary.zh too long", func(a *articlev1.Article) { a.Summary.Zh = strings.Repeat("界", MaxSummaryRunes+1) }, "summary.zh", "is 2001 characters long, over the limit of 2000, shorten it"},
		{"summary.en too long", func(a *articlev1.Article) { a.Summary.En = strings.Repeat("a", MaxSummaryRunes+1) }, "summary.en", "over the limit of 2000"},
		{"content.en too large", func(a *articlev1.Article) { a.Content.En = strings.Repeat("x", MaxContentBytes+1) }, "content.en", "is 262145 bytes, over the limit of 262144 bytes (256 KiB), shorten it or split it into several articles"},
		{"content.zh too large", func(a *articlev1.Article) { a.Content.Zh = strings.Repeat("界", MaxContentBytes/3+1) }, "content.zh", "is 262146 bytes, over the limit of 262144 bytes (256 KiB)"},

		// Domain and status.
		{"domain missing", func(a *articlev1.Article) { a.Domain = "" }, "domain", "is required, use one of agent, mcp, skill, foundation, transport, tools_filesystem, tools_postgres, tools_github, error_codes, scenarios"},
		{"domain unknown", func(a *articlev1.Article) { a.Domain = "cooking" }, "domain", `"cooking" is not a known domain, use one of agent, mcp,`},
		{"domain not lower-cased", func(a *articlev1.Article) { a.Domain = "MCP" }, "domain", `"MCP" is not a known domain`},
		{"status unknown", func(a *articlev1.Article) { a.Status = "live" }, "status", `"live" is not a known status, use one of draft, published, archived or deprecated`},

		// Code blocks.
		{"too many code blocks", func(a *articlev1.Article) { a.CodeBlocks = nBlocks(MaxCodeBlocks + 1) }, "codeBlocks", "has 51 code blocks, over the limit of 50, merge related blocks or split the article"},
		{"code empty", func(a *articlev1.Article) { a.CodeBlocks[1].Code = "" }, "codeBlocks[1].code", "is empty, put the code in it or remove the block"},
		{"code blank", func(a *articlev1.Article) { a.CodeBlocks[1].Code = " \n\t" }, "codeBlocks[1].code", "is empty"},
		{"code block nil", func(a *articlev1.Article) { a.CodeBlocks[1] = nil }, "codeBlocks[1].code", "is empty, put the code in it or remove the block"},
		{"code too large", func(a *articlev1.Article) { a.CodeBlocks[0].Code = strings.Repeat("x", MaxCodeBytes+1) }, "codeBlocks[0].code", "is 65537 bytes, over the limit of 65536 bytes (64 KiB), shorten it or split it into several blocks"},
		{"expected output too large", func(a *articlev1.Article) { a.CodeBlocks[0].ExpectedOutput = strings.Repeat("x", MaxCodeBytes+1) }, "codeBlocks[0].expectedOutput", "is 65537 bytes, over the limit of 65536 bytes (64 KiB), keep the lines that show the block worked"},
		{"NUL in expected output", func(a *articlev1.Article) { a.CodeBlocks[0].ExpectedOutput = "ok\x00" }, "codeBlocks[0].expectedOutput", "contains a NUL byte"},
		{"code block ids repeat", func(a *articlev1.Article) { a.CodeBlocks[1].Id = "cb1" }, "codeBlocks[1].id", `"cb1" is already used by codeBlocks[0], give each block its own id or leave it empty`},

		// Tags.
		{"too many tags", func(a *articlev1.Article) { a.Tags = nTags(MaxTags + 1) }, "tags", "has 31 tags, over the limit of 30, keep the 30 most telling ones"},
		{"tag too long", func(a *articlev1.Article) { a.Tags[2] = strings.Repeat("a", MaxTagRunes+1) }, "tags[2]", "is 51 characters long, over the limit of 50, use a shorter tag"},
		{"tag with a space", func(a *articlev1.Article) { a.Tags[0] = "foo bar" }, "tags[0]", `"foo bar" contains a space, use one word per tag`},
		{"tag with a no-break space", func(a *articlev1.Article) { a.Tags[0] = "foo\u00a0bar" }, "tags[0]", "contains a space"},
		{"tag with a tab", func(a *articlev1.Article) { a.Tags[0] = "foo\tbar" }, "tags[0]", "contains a space"},
		{"tag with a control character", func(a *articlev1.Article) { a.Tags[0] = "foo\x07" }, "tags[0]", "contains a control or invisible character"},
		{"tag with a zero-width space", func(a *articlev1.Article) { a.Tags[0] = "foo\u200bbar" }, "tags[0]", "contains a control or invisible character"},
		{"tag with a comma", func(a *articlev1.Article) { a.Tags[0] = "a,b" }, "tags[0]", "contains a comma"},
		{"tag empty", func(a *articlev1.Article) { a.Tags[1] = " " }, "tags[1]", "is empty, remove it"},

		// Keywords and other string lists.
		{"too many keywords", func(a *articlev1.Article) { a.Keywords = nTags(MaxKeywords + 1) }, "keywords", "has 51 keywords, over the limit of 50, keep the most useful ones"},
		{"keyword empty", func(a *articlev1.Article) { a.Keywords[0] = "" }, "keywords[0]", "is empty, remove it"},
		{"applicable version empty", func(a *articlev1.Article) { a.ApplicableVersions[1] = "" }, "applicableVersions[1]", "is empty, remove it"},

		// QA pairs.
		{"too many qa pairs", func(a *articlev1.Article) { a.QaPairs = nPairs(MaxQAPairs + 1) }, "qaPairs", "has 51 pairs, over the limit of 50, keep the most asked questions"},
		{"qa question missing", func(a *articlev1.Article) { a.QaPairs[0].Question = nil }, "qaPairs[0].question", "is empty, give qaPairs[0].question.en or qaPairs[0].question.zh"},
		{"qa answer missing", func(a *articlev1.Article) { a.QaPairs[1].Answer = &articlev1.LocalizedText{Zh: "  "} }, "qaPairs[1].answer", "is empty, give qaPairs[1].answer.en or qaPairs[1].answer.zh"},

		// References.
		{"too many references", func(a *articlev1.Article) { a.References = nRefs(MaxReferences + 1) }, "references", "has 51 references, over the limit of 50, keep the most useful ones"},
		{"reference empty", func(a *articlev1.Article) { a.References[0] = &articlev1.Reference{} }, "references[0]", "is empty, give a title and a url (at least one)"},
		{"reference nil", func(a *articlev1.Article) { a.References[2] = nil }, "references[2]", "is empty, give a title and a url"},
		{"reference url relative", func(a *articlev1.Article) { a.References[0].Url = "/docs/auth" }, "references[0].url", `"/docs/auth" is not an absolute http(s) URL, give a full link such as https://example.com/page`},
		{"reference url without scheme", func(a *articlev1.Article) { a.References[0].Url = "example.com/page" }, "references[0].url", "is not an absolute http(s) URL"},
		{"reference url other scheme", func(a *articlev1.Article) { a.References[0].Url = "ftp://example.com/file" }, "references[0].url", "is not an absolute http(s) URL"},
		{"reference url javascript", func(a *articlev1.Article) { a.References[0].Url = "javascript:alert(1)" }, "references[0].url", "is not an absolute http(s) URL"},
		{"reference url without host", func(a *articlev1.Article) { a.References[1].Url = "https:///path" }, "references[1].url", "is not an absolute http(s) URL"},
		{"reference url unparsable", func(a *articlev1.Article) { a.References[0].Url = "https://exa mple.com/" }, "references[0].url", "is not an absolute http(s) URL"},

		// Runtime env.
		{"runtime name empty", func(a *articlev1.Article) { a.RuntimeEnv[1].Name = "" }, "runtimeEnv[1].name", "is empty, name the runtime (e.g. python, node) or remove the entry"},
		{"runtime nil", func(a *articlev1.Article) { a.RuntimeEnv[0] = nil }, "runtimeEnv[0].name", "is empty, name the runtime"},

		// Text hygiene, in a sample of fields of every kind.
		{"NUL in title", func(a *articlev1.Article) { a.Title.En = "a\x00b" }, "title.en", `contains a NUL byte (\u0000), remove it`},
		{"NUL in content", func(a *articlev1.Article) { a.Content.Zh = "\x00" }, "content.zh", "contains a NUL byte"},
		{"NUL in tag", func(a *articlev1.Article) { a.Tags[0] = "go\x00" }, "tags[0]", "contains a NUL byte"},
		{"NUL in keyword", func(a *articlev1.Article) { a.Keywords[2] = "\x00x" }, "keywords[2]", "contains a NUL byte"},
		{"NUL in code", func(a *articlev1.Article) { a.CodeBlocks[0].Code = "ls\x00" }, "codeBlocks[0].code", "contains a NUL byte"},
		{"NUL in code language", func(a *articlev1.Article) { a.CodeBlocks[0].Language = "go\x00" }, "codeBlocks[0].language", "contains a NUL byte"},
		{"NUL in reference url", func(a *articlev1.Article) { a.References[0].Url = "https://x.com/\x00" }, "references[0].url", "contains a NUL byte"},
		{"NUL in qa answer", func(a *articlev1.Article) { a.QaPairs[0].Answer.En = "\x00" }, "qaPairs[0].answer.en", "contains a NUL byte"},
		{"NUL in runtime version", func(a *articlev1.Article) { a.RuntimeEnv[0].Version = "3\x00" }, "runtimeEnv[0].version", "contains a NUL byte"},
		{"NUL in author", func(a *articlev1.Article) { a.Author = "\x00" }, "author", "contains a NUL byte"},
		{"NUL in deprecation reason", func(a *articlev1.Article) { a.DeprecationReason = "old\x00" }, "deprecationReason", "contains a NUL byte"},
		{"invalid UTF-8 in summary", func(a *articlev1.Article) { a.Summary.En = "caf\xe9" }, "summary.en", "is not valid UTF-8, send UTF-8 text"},
		{"invalid UTF-8 in code description", func(a *articlev1.Article) { a.CodeBlocks[1].Description = "\xff" }, "codeBlocks[1].description", "is not valid UTF-8"},
		{"invalid UTF-8 in code block id", func(a *articlev1.Article) { a.CodeBlocks[1].Id = "\xff" }, "codeBlocks[1].id", "is not valid UTF-8"},
		{"invalid UTF-8 in reference title", func(a *articlev1.Article) { a.References[0].Title = "\xc3" }, "references[0].title", "is not valid UTF-8"},
		{"invalid UTF-8 in applicable version", func(a *articlev1.Article) { a.ApplicableVersions[0] = "v\xff" }, "applicableVersions[0]", "is not valid UTF-8"},
		{"invalid UTF-8 in qa question", func(a *articlev1.Article) { a.QaPairs[1].Question.Zh = "\xe4\xb8" }, "qaPairs[1].question.zh", "is not valid UTF-8"},
		{"invalid UTF-8 as the only title counts as given", func(a *articlev1.Article) { a.Title = &articlev1.LocalizedText{En: "\xff"} }, "title.en", "is not valid UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a := validArticle()
			tt.mutate(a)
			got := problemsOf(t, Validate(a))
			if len(got) != 1 {
				t.Fatalf("Validate() found %d problems, want 1:\n%s", len(got), strings.Join(got, "\n"))
			}
			if !strings.HasPrefix(got[0], tt.path+": ") {
				t.Errorf("problem %q does not name the field %q first", got[0], tt.path)
			}
			if !strings.Contains(got[0], tt.fix) {
				t.Errorf("problem %q does not say %q", got[0], tt.fix)
			}
		})
	}
}

func TestValidateNil(t *testing.T) {
	t.Parallel()
	got := problemsOf(t, Validate(nil))
	if len(got) != 1 || !strings.HasPrefix(got[0], "article: is missing") {
		t.Errorf("Validate(nil) problems = %q", got)
	}
	// An article with nothing in it: every required field is named, no panic.
	got = problemsOf(t, Validate(&articlev1.Article{}))
	want := []string{
		"title: is empty, give title.en or title.zh (at least one language)",
		"summary: is empty, give summary.en or summary.zh (at least one language)",
		"content: is empty, give content.en or content.zh (at least one language)",
		"domain: is required, use one of agent, mcp, skill, foundation, transport, tools_filesystem, tools_postgres, tools_github, error_codes, scenarios",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Validate(empty) problems (-want +got):\n%s", diff)
	}
}

func TestValidateJoinsAllProblems(t *testing.T) {
	t.Parallel()
	a := validArticle()
	a.Title = nil
	a.Domain = "cooking"
	a.Tags = []string{"ok", "bad tag"}
	a.CodeBlocks[0].Code = ""
	a.QaPairs[0] = nil
	a.References[0].Url = "/relative"
	err := Validate(a)
	want := "title: is empty, give title.en or title.zh (at least one language)" +
		`; domain: "cooking" is not a known domain, use one of agent, mcp, skill, foundation, transport, tools_filesystem, tools_postgres, tools_github, error_codes, scenarios` +
		`; tags[1]: "bad tag" contains a space, use one word per tag (join words with - or _, e.g. "rate-limit") (tags such as "mcp", "-32602", "c++", "node.js" are fine)` +
		"; codeBlocks[0].code: is empty, put the code in it or remove the block" +
		"; qaPairs[0].question: is empty, give qaPairs[0].question.en or qaPairs[0].question.zh (at least one language)" +
		"; qaPairs[0].answer: is empty, give qaPairs[0].answer.en or qaPairs[0].answer.zh (at least one language)" +
		`; references[0].url: "/relative" is not an absolute http(s) URL, give a full link such as https://example.com/page`
	if !errors.Is(err, errs.ErrInvalid) {
		t.Fatalf("Validate() = %v, want errs.ErrInvalid", err)
	}
	if got := errs.Message(err); got != want {
		t.Errorf("Validate() message\n got: %s\nwant: %s", got, want)
	}
	if got := err.Error(); got != "invalid argument: "+want {
		t.Errorf("Validate() error = %q, want the sentinel prefix", got)
	}
}

func TestValidateCapsMessage(t *testing.T) {
	t.Parallel()
	a := validArticle()
	a.Domain = strings.Repeat("d", 10000) // a client value quoted in the message is cut
	a.Tags = make([]string, 1000)
	for i := range a.Tags {
		a.Tags[i] = "Bad " + strings.Repeat("x", 10000)
	}
	got := problemsOf(t, Validate(a))
	if len(got) != maxListedProblems+1 {
		t.Fatalf("got %d problems, want %d listed and a summary", len(got), maxListedProblems)
	}
	if last := got[len(got)-1]; last != "and 902 more problems not listed, fix these first" {
		t.Errorf("last part = %q", last)
	}
	for _, p := range got {
		if len(p) > 300 {
			t.Fatalf("problem is %d bytes long, want client values cut: %.120s…", len(p), p)
		}
	}
}

func TestValidateStatusForCreate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		status string
		fix    string // "" when valid
	}{
		{"", ""},
		{vocab.StatusDraft, ""},
		{vocab.StatusPublished, ""},
		{vocab.StatusArchived, `status: "archived" cannot be set when creating, use draft or published (or leave it empty for a draft), then archive the article with DELETE`},
		{vocab.StatusDeprecated, `status: "deprecated" cannot be set when creating, use draft or published (or leave it empty for a draft), then deprecate the article with POST`},
		{"live", `status: "live" is not a status a new article can have, use draft or published`},
	}
	for _, tt := range tests {
		t.Run("status="+tt.status, func(t *testing.T) {
			t.Parallel()
			err := ValidateStatusForCreate(tt.status)
			if tt.fix == "" {
				if err != nil {
					t.Errorf("ValidateStatusForCreate(%q) = %v, want nil", tt.status, err)
				}
				return
			}
			if !errors.Is(err, errs.ErrInvalid) || !strings.HasPrefix(errs.Message(err), tt.fix) {
				t.Errorf("ValidateStatusForCreate(%q) = %v, want ErrInvalid starting %q", tt.status, err, tt.fix)
			}
		})
	}
}

func TestValidateBatchSize(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		n    int
		fix  string // "" when valid
	}{
		{"negative", -1, "articles: is empty, send between 1 and 500 articles"},
		{"empty", 0, "articles: is empty, send between 1 and 500 articles"},
		{"one", 1, ""},
		{"at the limit", MaxBatch, ""},
		{"over the limit", MaxBatch + 1, "articles: has 501 articles, over the limit of 500 per batch, split them into several batchCreate calls"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := ValidateBatchSize(tt.n)
			if tt.fix == "" {
				if err != nil {
					t.Errorf("ValidateBatchSize(%d) = %v, want nil", tt.n, err)
				}
				return
			}
			if !errors.Is(err, errs.ErrInvalid) || errs.Message(err) != tt.fix {
				t.Errorf("ValidateBatchSize(%d) = %v, want ErrInvalid %q", tt.n, err, tt.fix)
			}
		})
	}
}

func TestNewID(t *testing.T) {
	t.Parallel()
	format := regexp.MustCompile(`^art_[A-Za-z0-9_-]{12}$`)
	seen := make(map[string]bool, 1000)
	for range 1000 {
		id := NewID()
		if !format.MatchString(id) {
			t.Fatalf("NewID() = %q, want art_ and 12 base64url characters", id)
		}
		if seen[id] {
			t.Fatalf("NewID() repeated %q", id)
		}
		seen[id] = true
	}
}

func TestSlugify(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("word ", 30) // "word-word-…", 149 characters
	tests := []struct {
		name, title, want string
	}{
		{"example", "API Key Authentication Failure: Bearer Token vs x-api-key Header Differences", "api-key-authentication-failure-bearer-token-vs-x-api-key-header-differences"},
		{"punctuation runs collapse", "Hello,   World!!! (again) -- ok?", "hello-world-again-ok"},
		{"trimmed of dashes", "  --Foo--  ", "foo"},
		{"digits kept", "Python 3.11 asyncio", "python-3-11-asyncio"},
		{"underscore becomes dash", "tools_postgres setup", "tools-postgres-setup"},
		{"empty", "", ""},
		{"punctuation only", "?!-- …", ""},
		{"chinese only", "如何配置服务器", ""},
		{"cyrillic only", "Привет мир", ""},
		{"emoji only", "🚀🔥", ""},
		{"mixed scripts keep the latin words", "MCP 服务器 Setup", "mcp-setup"},
		{"accents folded", "Café Déjà Vu à Noël", "cafe-deja-vu-a-noel"},
		{"upper-case accents folded", "ÉCOLE ÜBER", "ecole-uber"},
		{"ligatures and sharp s", "Æsir Œuvre Straße", "aesir-oeuvre-strasse"},
		{"latin extended-a", "Łódź Žižek Dvořák", "lodz-zizek-dvorak"},
		{"invalid UTF-8 is a separator", "a\xffb", "a-b"},
		{"long title cut at a dash", long, strings.TrimSuffix(strings.Repeat("word-", 16), "-")},
		{"long title with a word ending at the limit", strings.Repeat("abcdefghi ", 7) + "abcdefghij more", strings.Repeat("abcdefghi-", 7) + "abcdefghij"},
		{"long title with a dash at the limit", strings.Repeat("abcdefghi ", 8) + "more", strings.TrimSuffix(strings.Repeat("abcdefghi-", 8), "-")},
		{"long word hard cut", strings.Repeat("a", 200), strings.Repeat("a", MaxSlugLen)},
		{"short word then long word hard cut", "ab " + strings.Repeat("x", 100), "ab-" + strings.Repeat("x", MaxSlugLen-3)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := Slugify(tt.title)
			if got != tt.want {
				t.Errorf("Slugify(%q) = %q, want %q", tt.title, got, tt.want)
			}
			checkSlug(t, got)
		})
	}
}

// checkSlug asserts the shape every slug has.
func checkSlug(t *testing.T, s string) {
	t.Helper()
	if len(s) > MaxSlugLen {
		t.Errorf("slug %q is %d characters long, want at most %d", s, len(s), MaxSlugLen)
	}
	if s != "" && !regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`).MatchString(s) {
		t.Errorf("slug %q is not lower-case words joined by single dashes", s)
	}
}

func TestNormalize(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   *articlev1.Article
		want *articlev1.Article
	}{
		{
			name: "trims texts, keeps leading whitespace of content and code",
			in: &articlev1.Article{
				Title:             &articlev1.LocalizedText{Zh: "  标题\u3000", En: "\tTitle \n"},
				Summary:           &articlev1.LocalizedText{En: "  Sum  "},
				Content:           &articlev1.LocalizedText{En: "    indented\n\n  \n", Zh: "\n正文 "},
				Author:            "  me ",
				DeprecationReason: " old ",
				CodeBlocks:        []*articlev1.CodeBlock{{Id: " x ", Language: " Python ", Code: "  x = 1  \n\n", Description: " d "}},
				QaPairs:           []*articlev1.QaPair{{Question: &articlev1.LocalizedText{En: " Q? "}, Answer: &articlev1.LocalizedText{Zh: " 答 "}}},
				References:        []*articlev1.Reference{{Title: " t ", Url: " https://x.com "}},
				RuntimeEnv:        []*articlev1.RuntimeEnv{{Name: " python ", Version: " 3.11 "}},
			},
			want: &articlev1.Article{
				Title:             &articlev1.LocalizedText{Zh: "标题", En: "Title"},
				Summary:           &articlev1.LocalizedText{En: "Sum"},
				Content:           &articlev1.LocalizedText{En: "    indented", Zh: "\n正文"},
				Author:            "me",
				DeprecationReason: "old",
				CodeBlocks:        []*articlev1.CodeBlock{{Id: "x", Language: "python", Code: "  x = 1", Description: "d"}},
				QaPairs:           []*articlev1.QaPair{{Question: &articlev1.LocalizedText{En: "Q?"}, Answer: &articlev1.LocalizedText{Zh: "答"}}},
				References:        []*articlev1.Reference{{Title: "t", Url: "https://x.com"}},
				RuntimeEnv:        []*articlev1.RuntimeEnv{{Name: "python", Version: "3.11"}},
			},
		},
		{
			name: "lower-cases domain, status and tags",
			in:   &articlev1.Article{Domain: " MCP ", Status: "Published", Tags: []string{" Go ", "C++", "HTTP/2"}},
			want: &articlev1.Article{Domain: "mcp", Status: "published", Tags: []string{"go", "c++", "http/2"}},
		},
		{
			name: "drops empty and repeated list items, first first",
			in: &articlev1.Article{
				Tags:               []string{"  MCP ", "mcp", "", "Go", "  ", "go", "auth"},
				Keywords:           []string{"a", " a ", "A", "", "b", "a"},
				ApplicableVersions: []string{" v1 ", "v1", "", "v2"},
			},
			want: &articlev1.Article{
				Tags:               []string{"mcp", "go", "auth"},
				Keywords:           []string{"a", "A", "b"},
				ApplicableVersions: []string{"v1", "v2"},
			},
		},
		{
			name: "lists that end up empty",
			in:   &articlev1.Article{Tags: []string{"", " "}, Keywords: []string{""}},
			want: &articlev1.Article{},
		},
		{
			name: "numbers code blocks without ids around taken ones",
			in: &articlev1.Article{CodeBlocks: []*articlev1.CodeBlock{
				{Code: "a"}, {Id: "cb1", Code: "b"}, {Id: " ", Code: "c"}, {Id: "x", Code: "d"}, {Code: "e"},
			}},
			want: &articlev1.Article{CodeBlocks: []*articlev1.CodeBlock{
				{Id: "cb2", Code: "a"}, {Id: "cb1", Code: "b"}, {Id: "cb3", Code: "c"}, {Id: "x", Code: "d"}, {Id: "cb5", Code: "e"},
			}},
		},
		{
			name: "drops nil entries",
			in: &articlev1.Article{
				CodeBlocks: []*articlev1.CodeBlock{nil, {Code: "a"}, nil},
				QaPairs:    []*articlev1.QaPair{nil},
				References: []*articlev1.Reference{nil, {Url: "https://x.com"}},
				RuntimeEnv: []*articlev1.RuntimeEnv{nil},
			},
			want: &articlev1.Article{
				CodeBlocks: []*articlev1.CodeBlock{{Id: "cb1", Code: "a"}},
				References: []*articlev1.Reference{{Url: "https://x.com"}},
			},
		},
		{
			name: "keeps nil texts and empty entries for Validate to report",
			in:   &articlev1.Article{References: []*articlev1.Reference{{}}, QaPairs: []*articlev1.QaPair{{}}},
			want: &articlev1.Article{References: []*articlev1.Reference{{}}, QaPairs: []*articlev1.QaPair{{}}},
		},
		{
			name: "invalid UTF-8 keeps its bytes so Validate can report it",
			in:   &articlev1.Article{Tags: []string{"\xffABC"}, Domain: "MCP\xff"},
			want: &articlev1.Article{Tags: []string{"\xffabc"}, Domain: "mcp\xff"},
		},
		{
			name: "leaves server-made fields alone",
			in:   &articlev1.Article{Id: " art_x ", Slug: " S ", RiskLevel: " High ", VerificationStatus: "Verified", RelatedIds: []string{"", ""}},
			want: &articlev1.Article{Id: " art_x ", Slug: " S ", RiskLevel: " High ", VerificationStatus: "Verified", RelatedIds: []string{"", ""}},
		},
		{
			name: "valid article is already normal",
			in:   validArticle(),
			want: validArticle(),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			Normalize(tt.in)
			if diff := cmp.Diff(tt.want, tt.in, protocmp.Transform()); diff != "" {
				t.Errorf("Normalize() (-want +got):\n%s", diff)
			}
			again := proto.Clone(tt.in).(*articlev1.Article)
			Normalize(again)
			if diff := cmp.Diff(tt.in, again, protocmp.Transform()); diff != "" {
				t.Errorf("Normalize() is not idempotent (-once +twice):\n%s", diff)
			}
		})
	}
}

func TestNormalizeNil(t *testing.T) {
	t.Parallel()
	Normalize(nil) // must not panic
	a := &articlev1.Article{}
	Normalize(a)
	if a.Title != nil || a.CodeBlocks != nil {
		t.Errorf("Normalize(empty) = %v, want it unchanged", a)
	}
}

// TestNormalizeThenValidate is the path the server takes: sloppy but honest
// input becomes valid.
func TestNormalizeThenValidate(t *testing.T) {
	t.Parallel()
	a := validArticle()
	a.Domain = " Error_Codes "
	a.Status = "PUBLISHED"
	a.Tags = []string{" Auth ", "auth", "", "HTTP"}
	a.CodeBlocks[0].Id, a.CodeBlocks[1].Id = "", ""
	a.CodeBlocks = append(a.CodeBlocks, nil)
	a.References[0].Url = "  https://example.com/x  "
	if err := Validate(a); err == nil {
		t.Fatal("Validate() before Normalize = nil, want problems")
	}
	Normalize(a)
	if err := Validate(a); err != nil {
		t.Fatalf("Validate() after Normalize = %v, want nil", err)
	}
	if err := ValidateStatusForCreate(a.Status); err != nil {
		t.Errorf("ValidateStatusForCreate(%q) = %v", a.Status, err)
	}
}

// FuzzValidate feeds arbitrary text into every kind of field: Validate must
// never panic, Normalize must be idempotent, and slugs keep their shape.
func FuzzValidate(f *testing.F) {
	f.Add("API Key Failure", "## body\n", "mcp", "https://example.com/x")
	f.Add("", "", "", "")
	f.Add("  Ünïcödé Tïtle  ", "\x00", " Go ", "/relative")
	f.Add("标题", "正文\r\n\t", "C++", "http://[::1]:80/")
	f.Add("\xff\xfe", "\xc3", "\xffTAG", "https://exa mple.com")
	f.Add("İıK", "ǅ ǈ", "ẞ", "HTTPS://X")
	f.Fuzz(func(t *testing.T, title, content, tag, link string) {
		a := &articlev1.Article{
			Title:              &articlev1.LocalizedText{En: title, Zh: tag},
			Summary:            &articlev1.LocalizedText{Zh: title},
			Content:            &articlev1.LocalizedText{En: content, Zh: title},
			Domain:             tag,
			Status:             tag,
			Tags:               []string{tag, title, link, tag},
			Keywords:           []string{title, tag, title},
			ApplicableVersions: []string{link, link},
			CodeBlocks: []*articlev1.CodeBlock{
				{Id: tag, Language: title, Code: content, Description: link},
				nil,
				{Id: tag, Code: title},
				{Language: tag},
			},
			QaPairs:    []*articlev1.QaPair{{Question: &articlev1.LocalizedText{En: title}, Answer: &articlev1.LocalizedText{Zh: content}}, {}, nil},
			References: []*articlev1.Reference{{Title: title, Url: link}, {Url: tag}, nil},
			RuntimeEnv: []*articlev1.RuntimeEnv{{Name: tag, Version: link}, nil},
			Author:     title,
		}
		_ = Validate(a)
		_ = Validate(&articlev1.Article{Title: &articlev1.LocalizedText{En: title}, Domain: tag})

		once := proto.Clone(a).(*articlev1.Article)
		Normalize(once)
		twice := proto.Clone(once).(*articlev1.Article)
		Normalize(twice)
		if !proto.Equal(once, twice) {
			t.Fatalf("Normalize is not idempotent (-once +twice):\n%s", cmp.Diff(once, twice, protocmp.Transform()))
		}
		if err := Validate(once); err != nil && !errors.Is(err, errs.ErrInvalid) {
			t.Fatalf("Validate() = %v, want nil or errs.ErrInvalid", err)
		}
		for _, s := range once.GetTags() {
			if s == "" || s != lower(strings.TrimSpace(s)) {
				t.Fatalf("normalised tag %q is empty or not lower-cased", s)
			}
		}

		slug := Slugify(title)
		checkSlug(t, slug)
		if Slugify(slug) != slug {
			t.Fatalf("Slugify(%q) = %q, which is not its own slug", title, slug)
		}
	})
}

func nTags(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = "t" + strings.Repeat("x", i%5) + string(rune('a'+i%26)) + string(rune('a'+i/26))
	}
	return out
}

func nBlocks(n int) []*articlev1.CodeBlock {
	out := make([]*articlev1.CodeBlock, n)
	for i := range out {
		out[i] = &articlev1.CodeBlock{Id: "b" + nTags(n)[i], Language: "bash", Code: "echo hi"}
	}
	return out
}

func nPairs(n int) []*articlev1.QaPair {
	out := make([]*articlev1.QaPair, n)
	for i := range out {
		out[i] = &articlev1.QaPair{Question: &articlev1.LocalizedText{En: "Q?"}, Answer: &articlev1.LocalizedText{En: "A."}}
	}
	return out
}

func nRefs(n int) []*articlev1.Reference {
	out := make([]*articlev1.Reference, n)
	for i := range out {
		out[i] = &articlev1.Reference{Title: "ref", Url: "https://example.com/" + nTags(n)[i]}
	}
	return out
}
