package cli_test

// The client commands against a real stack (stacktest), with a fault
// injector in front of it where a test needs what a healthy server will not
// do on demand or needs to see what the client sent.

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/testing/protocmp"

	"buzhou.dev/gateway/internal/cli"
	"buzhou.dev/gateway/internal/stack/stacktest"
	articlev1 "buzhou.dev/proto/gen/buzhou/article/v1"
	identityv1 "buzhou.dev/proto/gen/buzhou/identity/v1"
)

func TestImportReportsFailedLinesAndKeepsGoing(t *testing.T) {
	t.Parallel()
	server := startStack(t, stacktest.Options{})
	f := newFaults(t, server)
	path := writeFile(t,
		articleLine("Alpha", "mcp"), // 1 ok
		``,                          // 2 blank, skipped
		`{"title": {"en": "Broken"`, // 3 not JSON
		`{"title":{"zh":"贝塔"},"summary":{"zh":"摘要"},"content":{"zh":"正文"},"domain":"skill"}`, // 4 ok
		`{"domain":"mcp","summary":{"en":"s"},"content":{"en":"no title"}}`,                  // 5 server: title required
		`{"titel":{"en":"Typo"},"domain":"mcp"}`,                                             // 6 unknown field
		articleLine("Alpha", "agent"),                                                        // 7 server: duplicate slug
		`   `,                                                                                // 8 blank
		articleLine("Gamma", "transport"),                                                    // 9 ok
		"{\"title\":{\"en\":\"Bad \xff byte\"},\"domain\":\"mcp\"}",                          // 10 not UTF-8
	)

	r := stacktest.RunCLI(envFor(f.URL, adminKey), "", "import", path)

	if r.Err == nil {
		t.Fatal("import with failed lines returned nil, want an error so scripts notice")
	}
	wantContains(t, "error", r.Err.Error(), "5 of 8 articles failed")
	lines := strings.Split(strings.TrimSuffix(r.Stdout, "\n"), "\n")
	wantPrefixes := []string{
		"imported 3, failed 5",
		"line 3: INVALID_JSON ",
		"line 5: INVALID_ARGUMENT title: is empty",
		"line 6: INVALID_JSON ",
		`line 7: ALREADY_EXISTS an article with slug "alpha" already exists`,
		"line 10: INVALID_JSON ",
	}
	if len(lines) != len(wantPrefixes) {
		t.Fatalf("stdout has %d lines, want %d:\n%s", len(lines), len(wantPrefixes), r.Stdout)
	}
	for i, want := range wantPrefixes {
		if !strings.HasPrefix(lines[i], want) {
			t.Errorf("stdout line %d = %q, want prefix %q", i+1, lines[i], want)
		}
	}
	wantContains(t, "line 6", lines[3], `(column 2): unknown field "titel"`)
	wantContains(t, "line 10", lines[5], "invalid UTF-8")
	if got := len(stored(t, server)); got != 3 {
		t.Errorf("server stored %d articles, want 3", got)
	}
	if got := f.batchSizes(t); !slices.Equal(got, []int{5}) {
		t.Errorf("batch sizes = %v, want one request with the 5 parsed lines", got)
	}
}

func TestImportBatches(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		lines int
		// untitled lines are refused by the server one by one, so that a
		// large batch costs no writes: what counts is that the server takes
		// the request whole.
		untitled  bool
		flags     []string
		wantSizes []int
	}{
		{name: "7 lines in batches of 3", lines: 7, flags: []string{"--batch", "3"}, wantSizes: []int{3, 3, 1}},
		{name: "default batch is 100", lines: 101, untitled: true, wantSizes: []int{100, 1}},
		{name: "batch of one", lines: 3, flags: []string{"--batch=1"}, wantSizes: []int{1, 1, 1}},
		{name: "maximum batch", lines: 501, untitled: true, flags: []string{"--batch", "500"}, wantSizes: []int{500, 1}},
		{name: "empty file sends nothing", lines: 0, wantSizes: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			server := startStack(t, stacktest.Options{})
			f := newFaults(t, server)
			lines, imported := simpleLines(tt.lines), tt.lines
			if tt.untitled {
				lines, imported = slices.Repeat([]string{`{"summary":{"en":"s"},"content":{"en":"c"},"domain":"mcp"}`}, tt.lines), 0
			}

			r := stacktest.RunCLI(envFor(f.URL, adminKey), "", append([]string{"import", writeFile(t, lines...)}, tt.flags...)...)

			if failed := tt.lines - imported; failed > 0 {
				wantContains(t, "error", errText(r.Err), fmt.Sprintf("%d of %d articles failed", failed, tt.lines))
			} else if r.Err != nil {
				t.Fatalf("import: %v\nstdout: %s", r.Err, r.Stdout)
			}
			if want := fmt.Sprintf("imported %d, failed %d\n", imported, tt.lines-imported); !strings.HasPrefix(r.Stdout, want) {
				t.Errorf("stdout = %q, want it to start %q", r.Stdout, want)
			}
			if got := f.batchSizes(t); !slices.Equal(got, tt.wantSizes) {
				t.Errorf("batch sizes = %v, want %v", got, tt.wantSizes)
			}
			if got := len(stored(t, server)); got != imported {
				t.Errorf("server stored %d articles, want %d", got, imported)
			}
		})
	}
}

func TestImportStatus(t *testing.T) {
	t.Parallel()
	lines := []string{
		articleLine("One", "mcp"),
		articleLine("Two", "mcp", `"status":"published"`),
		articleLine("Three", "mcp", `"status":"draft"`),
	}
	tests := []struct {
		name  string
		flags []string
		want  map[string]string // status by slug
	}{
		{name: "each line's status, draft when absent", want: map[string]string{"one": "draft", "two": "published", "three": "draft"}},
		{name: "--publish publishes all", flags: []string{"--publish"}, want: map[string]string{"one": "published", "two": "published", "three": "published"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			server := startStack(t, stacktest.Options{})
			r := stacktest.RunCLI(envFor(server, adminKey), "", append([]string{"import", writeFile(t, lines...)}, tt.flags...)...)
			if r.Err != nil {
				t.Fatalf("import: %v", r.Err)
			}
			got := map[string]string{}
			for _, a := range stored(t, server) {
				got[a.GetSlug()] = a.GetStatus()
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("statuses (-want +got):\n%s", diff)
			}
		})
	}
}

func TestImportFromStdin(t *testing.T) {
	t.Parallel()
	server := startStack(t, stacktest.Options{})
	stdin := "\uFEFF" + strings.Join(simpleLines(3), "\r\n") // BOM and CRLF, as some editors write
	r := stacktest.RunCLI(envFor(server, adminKey), stdin, "import", "-")
	if r.Err != nil {
		t.Fatalf("import -: %v\nstdout: %s", r.Err, r.Stdout)
	}
	if r.Stdout != "imported 3, failed 0\n" {
		t.Errorf("stdout = %q", r.Stdout)
	}
	if got := len(stored(t, server)); got != 3 {
		t.Errorf("server stored %d articles, want 3", got)
	}
}

func TestImportListsAtMost50Failures(t *testing.T) {
	t.Parallel()
	server := startStack(t, stacktest.Options{})
	lines := make([]string, 60)
	for i := range lines {
		lines[i] = `{"domain":"mcp"}`
	}
	r := stacktest.RunCLI(envFor(server, adminKey), "", "import", writeFile(t, lines...))
	if r.Err == nil {
		t.Fatal("want an error")
	}
	out := strings.Split(strings.TrimSuffix(r.Stdout, "\n"), "\n")
	if len(out) != 1+50+1 {
		t.Fatalf("stdout has %d lines, want summary, 50 failures and a remainder line:\n%s", len(out), r.Stdout)
	}
	if out[0] != "imported 0, failed 60" {
		t.Errorf("summary = %q", out[0])
	}
	if want := "line 50: INVALID_ARGUMENT title: is empty"; !strings.HasPrefix(out[50], want) {
		t.Errorf("last listed = %q, want prefix %q", out[50], want)
	}
	if out[51] != "… and 10 more" {
		t.Errorf("remainder line = %q, want %q", out[51], "… and 10 more")
	}
}

func TestImportWholeRequestFailures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		opts stacktest.Options
		// key is sent as is; verifier means a key with verifications:write only.
		key        string
		verifier   bool
		faults     func(f *faults)
		closed     bool // talk to an address where nothing listens
		flags      []string
		lines      int
		wantStdout string
		wantErr    []string
		wantStored int
	}{
		{
			name:       "no key",
			lines:      3,
			wantStdout: "imported 0, failed 0\n",
			wantErr:    []string{"stopped at line 1", "401 UNAUTHENTICATED", `scope "articles:write"`, "(request id req_", "set BUZHOU_API_KEY or --key to a key with scope articles:write"},
		},
		{
			name:       "wrong key",
			key:        "nope",
			lines:      3,
			wantStdout: "imported 0, failed 0\n",
			wantErr:    []string{"401 UNAUTHENTICATED: unknown API key", "set BUZHOU_API_KEY or --key to a key with scope articles:write"},
		},
		{
			name:       "key without the scope",
			verifier:   true,
			lines:      3,
			wantStdout: "imported 0, failed 0\n",
			wantErr:    []string{"403 PERMISSION_DENIED", `lacks scope "articles:write"`, "the key lacks scope articles:write; set BUZHOU_API_KEY or --key to a key that has it"},
		},
		{
			name:       "body too large",
			opts:       stacktest.Options{MaxBody: 64},
			key:        adminKey,
			lines:      3,
			wantStdout: "imported 0, failed 0\n",
			wantErr:    []string{"server answered 413", "larger than 64 bytes", "the request (3 articles) is larger than the server accepts; lower --batch"},
		},
		{
			name:       "one article too large",
			opts:       stacktest.Options{MaxBody: 64},
			key:        adminKey,
			lines:      1,
			wantStdout: "imported 0, failed 0\n",
			wantErr:    []string{"server answered 413", "this one article is larger than the server accepts; shorten it"},
		},
		{
			name: "server error after the first batch",
			key:  adminKey,
			faults: func(f *faults) {
				f.answer(routeBatchCreate, apiError(http.StatusInternalServerError, "INTERNAL", "something broke inside"), 2)
			},
			flags:      []string{"--batch", "3"},
			lines:      7,
			wantStdout: "imported 3, failed 0\n",
			wantErr:    []string{"stopped at line 4", "500 INTERNAL: something broke inside", "request id " + faultRequestID, "try again later"},
			wantStored: 3,
		},
		{
			name: "not ready",
			key:  adminKey,
			faults: func(f *faults) {
				f.answer(routeBatchCreate, apiError(http.StatusServiceUnavailable, "UNAVAILABLE", "the article service is unreachable"), 1)
			},
			lines:      1,
			wantStdout: "imported 0, failed 0\n",
			wantErr:    []string{"503 UNAVAILABLE", "not ready"},
		},
		{
			name:       "connection refused",
			key:        adminKey,
			closed:     true,
			lines:      1,
			wantStdout: "imported 0, failed 0\n",
			wantErr:    []string{"could not talk to the buzhou server at http://127.0.0.1:", "connection refused", "buzhou serve", "BUZHOU_URL"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			server := startStack(t, tt.opts)
			f := newFaults(t, server)
			if tt.faults != nil {
				tt.faults(f)
			}
			env := envFor(f.URL, tt.key)
			if tt.verifier {
				env["BUZHOU_API_KEY"] = createKey(t, server, &identityv1.CreateApiKeyRequest{Name: "verifier", Scopes: []string{"verifications:write"}}).GetKey()
			}
			if tt.closed {
				env["BUZHOU_URL"] = closedAddr(t)
			}

			r := stacktest.RunCLI(env, "", append([]string{"import", writeFile(t, simpleLines(tt.lines)...)}, tt.flags...)...)

			if r.Err == nil {
				t.Fatal("want an error")
			}
			wantContains(t, "error", r.Err.Error(), tt.wantErr...)
			if r.Stdout != tt.wantStdout {
				t.Errorf("stdout = %q, want %q", r.Stdout, tt.wantStdout)
			}
			if got := len(stored(t, server)); got != tt.wantStored {
				t.Errorf("server stored %d articles, want %d", got, tt.wantStored)
			}
		})
	}
}

func TestExportPagesThroughEverything(t *testing.T) {
	t.Parallel()
	server := startStack(t, stacktest.Options{})
	var arts []*articlev1.Article
	for i := range 201 { // three pages of at most 100
		arts = append(arts, newArticle(fmt.Sprintf("Article %d", i), "mcp", "published"))
	}
	seed(t, server, arts...)
	f := newFaults(t, server)

	r := stacktest.RunCLI(envFor(f.URL, ""), "", "export")

	if r.Err != nil {
		t.Fatalf("export: %v", r.Err)
	}
	got := parseLines(t, r.Stdout)
	if diff := cmp.Diff(stored(t, server), got, protocmp.Transform()); diff != "" {
		t.Errorf("export differs from the server's articles in the server's order (-server +export):\n%s", diff)
	}
	f.wantPages(t, routeList, 3, "100")
	wantContains(t, "stderr", r.Stderr, "exported 201 articles")
}

func TestExportFilters(t *testing.T) {
	t.Parallel()
	server := startStack(t, stacktest.Options{})
	// One at a time, so that "newest first" has one answer.
	seed(t, server, newArticle("Draft MCP", "mcp", "draft"))
	seed(t, server, newArticle("Published MCP", "mcp", "published"))
	seed(t, server, newArticle("Published skill", "skill", "published"))
	tests := []struct {
		name string
		key  string
		args []string
		want []string // slugs, newest first
	}{
		{name: "anonymous sees published only", want: []string{"published-skill", "published-mcp"}},
		{name: "key sees drafts too", key: adminKey, want: []string{"published-skill", "published-mcp", "draft-mcp"}},
		{name: "status filter", key: adminKey, args: []string{"--status", "draft"}, want: []string{"draft-mcp"}},
		{name: "domain filter", args: []string{"--domain=mcp"}, want: []string{"published-mcp"}},
		{name: "both filters", key: adminKey, args: []string{"--domain", "mcp", "--status", "published"}, want: []string{"published-mcp"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := stacktest.RunCLI(envFor(server, tt.key), "", append([]string{"export"}, tt.args...)...)
			if r.Err != nil {
				t.Fatalf("export: %v", r.Err)
			}
			var got []string
			for _, a := range parseLines(t, r.Stdout) {
				got = append(got, a.GetSlug())
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("slugs = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestExportErrors(t *testing.T) {
	t.Parallel()
	server := startStack(t, stacktest.Options{})
	seed(t, server, newArticle("A", "mcp", "published"))
	tests := []struct {
		name    string
		env     func(t *testing.T) map[string]string
		args    []string
		wantErr []string
	}{
		{
			name:    "server rejects a filter",
			env:     func(*testing.T) map[string]string { return envFor(server, "") },
			args:    []string{"--status", "lost"},
			wantErr: []string{"400 INVALID_ARGUMENT", `status "lost" is not known`, "(request id req_"},
		},
		{
			name:    "bad key",
			env:     func(*testing.T) map[string]string { return envFor(server, "stale") },
			wantErr: []string{"401 UNAUTHENTICATED", "unset it to read anonymously"},
		},
		{
			name:    "connection refused",
			env:     func(t *testing.T) map[string]string { return envFor(closedAddr(t), "") },
			wantErr: []string{"could not talk to the buzhou server", "connection refused", "buzhou serve"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := stacktest.RunCLI(tt.env(t), "", append([]string{"export"}, tt.args...)...)
			if r.Err == nil {
				t.Fatal("want an error")
			}
			wantContains(t, "error", r.Err.Error(), tt.wantErr...)
		})
	}
}

func TestExportToFile(t *testing.T) {
	t.Parallel()
	server := startStack(t, stacktest.Options{})
	seed(t, server, newArticle("A", "mcp", "published"))
	path := filepath.Join(t.TempDir(), "out.jsonl")

	// The subtests run in order: the second one needs the first one's file.
	t.Run("writes the file", func(t *testing.T) {
		r := stacktest.RunCLI(envFor(server, ""), "", "export", "-o", path)
		if r.Err != nil {
			t.Fatalf("export: %v", r.Err)
		}
		if r.Stdout != "" {
			t.Errorf("stdout = %q, want nothing", r.Stdout)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if got := parseLines(t, string(data)); len(got) != 1 || got[0].GetSlug() != "a" {
			t.Errorf("file holds %v", got)
		}
		wantContains(t, "stderr", r.Stderr, "exported 1 article to "+path)
	})

	t.Run("a failed export leaves the file alone", func(t *testing.T) {
		before, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		r := stacktest.RunCLI(envFor(closedAddr(t), ""), "", "export", "-o", path)
		if r.Err == nil {
			t.Fatal("want an error")
		}
		after, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(before, after) {
			t.Error("the file changed")
		}
		entries, _ := os.ReadDir(filepath.Dir(path))
		if len(entries) != 1 {
			t.Errorf("directory holds %d entries, want only the export (no temp files)", len(entries))
		}
	})
}

// parseLines decodes JSONL output into articles.
func parseLines(t *testing.T, s string) []*articlev1.Article {
	t.Helper()
	var out []*articlev1.Article
	for i, line := range strings.Split(strings.TrimSuffix(s, "\n"), "\n") {
		if line == "" {
			continue
		}
		a := &articlev1.Article{}
		if err := protojson.Unmarshal([]byte(line), a); err != nil {
			t.Fatalf("line %d: %v", i+1, err)
		}
		out = append(out, a)
	}
	return out
}

// TestExportImportRoundTrip checks that every authored field survives export
// and import; paging through many articles is TestExportPagesThroughEverything's.
func TestExportImportRoundTrip(t *testing.T) {
	t.Parallel()
	src, dst := startStack(t, stacktest.Options{}), startStack(t, stacktest.Options{})
	seed(t, src,
		&articlev1.Article{
			Title:   &articlev1.LocalizedText{En: "Fix MCP timeouts", Zh: "修复 MCP 超时"},
			Summary: &articlev1.LocalizedText{En: "Raise the timeout.", Zh: "调高超时。"},
			Content: &articlev1.LocalizedText{En: "# Steps\n\n1. \"quote\" \\ and\ttab\n", Zh: "## 步骤\n"},
			Domain:  "mcp", Tags: []string{"mcp", "timeout", "-32602"}, Keywords: []string{"deadline"},
			CodeBlocks: []*articlev1.CodeBlock{
				{Language: "bash", Code: "echo '{\"a\":1}'\n", Description: "print JSON", Runnable: true},
				{Id: "custom", Language: "python", Code: "print(1)"},
			},
			QaPairs: []*articlev1.QaPair{{
				Question: &articlev1.LocalizedText{En: "Why?"}, Answer: &articlev1.LocalizedText{En: "Because.", Zh: "因为。"},
			}},
			References:         []*articlev1.Reference{{Title: "spec", Url: "https://example.com/spec"}},
			ApplicableVersions: []string{"mcp>=1.0"},
			RuntimeEnv:         []*articlev1.RuntimeEnv{{Name: "python", Version: "3.11"}},
			Status:             "published",
			Author:             "ada",
		},
		&articlev1.Article{Title: &articlev1.LocalizedText{Zh: "只有中文"}, Summary: &articlev1.LocalizedText{Zh: "摘要"}, Content: &articlev1.LocalizedText{Zh: "正文"}, Domain: "skill"},
		newArticle("Draft </script> & <b>", "tools_github", "draft"),
	)
	file := filepath.Join(t.TempDir(), "export.jsonl")

	if r := stacktest.RunCLI(envFor(src, adminKey), "", "export", "-o", file); r.Err != nil {
		t.Fatalf("export: %v", r.Err)
	}
	if r := stacktest.RunCLI(envFor(dst, adminKey), "", "import", file); r.Err != nil {
		t.Fatalf("import: %v\n%s", r.Err, r.Stdout)
	}
	r := stacktest.RunCLI(envFor(dst, adminKey), "", "export")
	if r.Err != nil {
		t.Fatalf("second export: %v", r.Err)
	}

	// The authored content must survive; ids, times and the creation order
	// are the new server's own, and so is the slug of an article without an
	// English title (its id).
	norm := func(arts []*articlev1.Article) []*articlev1.Article {
		slices.SortFunc(arts, func(a, b *articlev1.Article) int {
			return strings.Compare(a.GetTitle().GetEn()+a.GetTitle().GetZh(), b.GetTitle().GetEn()+b.GetTitle().GetZh())
		})
		return arts
	}
	want := norm(stored(t, src))
	got := norm(parseLines(t, r.Stdout))
	if diff := cmp.Diff(want, got, protocmp.Transform(),
		protocmp.IgnoreFields(&articlev1.Article{}, "id", "slug", "created_at", "updated_at", "published_at"),
	); diff != "" {
		t.Errorf("articles after the round trip differ (-source +copy):\n%s", diff)
	}
	if len(got) != 3 {
		t.Errorf("round trip kept %d articles, want 3", len(got))
	}
}

// markdown is the server's own markdown of an article, fetched directly.
func markdown(t *testing.T, server, key, idOrSlug, lang string) string {
	t.Helper()
	status, body := rest(t, http.MethodGet, server+"/api/v1/articles/"+url.PathEscape(idOrSlug)+"?format=markdown&lang="+lang, key, nil)
	if status != http.StatusOK {
		t.Fatalf("markdown of %s: %d %s", idOrSlug, status, body)
	}
	return string(body)
}

func TestGet(t *testing.T) {
	t.Parallel()
	server := startStack(t, stacktest.Options{})
	alpha := seed(t, server,
		&articlev1.Article{
			Title:   &articlev1.LocalizedText{En: "Alpha", Zh: "阿尔法"},
			Summary: &articlev1.LocalizedText{En: "Sum.", Zh: "摘要。"},
			Content: &articlev1.LocalizedText{En: "Body."},
			Domain:  "mcp", Status: "published", Tags: []string{"x"},
		},
		newArticle("Secret draft", "mcp", ""),
	)[0]

	tests := []struct {
		name      string
		key       string
		args      []string
		slug      string // whose markdown stdout must be
		lang      string
		wantOut   []string
		wantQuery string // encoded query the server saw
	}{
		{name: "markdown by slug", args: []string{"get", "alpha"}, slug: "alpha", lang: "en", wantOut: []string{"# Alpha", "Sum.", "Body."}, wantQuery: "format=markdown&lang=en"},
		{name: "markdown by id", args: []string{"get", alpha.GetId()}, slug: "alpha", lang: "en", wantOut: []string{"# Alpha"}, wantQuery: "format=markdown&lang=en"},
		{name: "markdown in chinese with fallback", args: []string{"get", "alpha", "--lang", "zh"}, slug: "alpha", lang: "zh", wantOut: []string{"# 阿尔法", "摘要。", "Body."}, wantQuery: "format=markdown&lang=zh"},
		{name: "flags before the slug", args: []string{"get", "--lang=zh", "--format", "markdown", "alpha"}, slug: "alpha", lang: "zh", wantOut: []string{"# 阿尔法"}, wantQuery: "format=markdown&lang=zh"},
		{name: "draft needs a key", key: adminKey, args: []string{"get", "secret-draft"}, slug: "secret-draft", lang: "en", wantOut: []string{"# Secret draft"}, wantQuery: "format=markdown&lang=en"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFaults(t, server)
			r := stacktest.RunCLI(envFor(f.URL, tt.key), "", tt.args...)
			if r.Err != nil {
				t.Fatalf("get: %v", r.Err)
			}
			if want := markdown(t, server, tt.key, tt.slug, tt.lang); r.Stdout != strings.TrimSuffix(want, "\n")+"\n" {
				t.Errorf("stdout = %q, want the server's markdown %q", r.Stdout, want)
			}
			wantContains(t, "stdout", r.Stdout, tt.wantOut...)
			if got := f.requests("")[0].query.Encode(); got != tt.wantQuery {
				t.Errorf("query = %q, want %q", got, tt.wantQuery)
			}
		})
	}

	t.Run("json is pretty-printed", func(t *testing.T) {
		t.Parallel()
		r := stacktest.RunCLI(envFor(server, ""), "", "get", "alpha", "--format", "json")
		if r.Err != nil {
			t.Fatalf("get: %v", r.Err)
		}
		if !strings.HasPrefix(r.Stdout, "{\n  \"") || !strings.HasSuffix(r.Stdout, "}\n") {
			t.Errorf("stdout is not indented JSON:\n%s", r.Stdout)
		}
		var got articlev1.Article
		if err := protojson.Unmarshal([]byte(r.Stdout), &got); err != nil {
			t.Fatalf("stdout is not an article: %v", err)
		}
		var want articlev1.Article
		restProto(t, http.MethodGet, server+"/api/v1/articles/alpha", "", nil, &want)
		if diff := cmp.Diff(&want, &got, protocmp.Transform()); diff != "" {
			t.Errorf("article differs (-server +printed):\n%s", diff)
		}
	})
}

func TestGetErrors(t *testing.T) {
	t.Parallel()
	server := startStack(t, stacktest.Options{})
	seed(t, server, newArticle("Hidden", "mcp", "draft"))
	// A web server that is not Buzhou: plain 404 pages, no error envelope.
	other := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(other.Close)
	tests := []struct {
		name    string
		env     func(t *testing.T) map[string]string
		args    []string
		wantErr []string
		usage   bool
	}{
		{
			name:    "not found",
			env:     func(*testing.T) map[string]string { return envFor(server, "") },
			args:    []string{"get", "nope"},
			wantErr: []string{"get nope: server answered 404 NOT_FOUND", `article "nope" not found`, "(request id req_", `check the id or slug "nope"`},
		},
		{
			name:    "draft is hidden without a key",
			env:     func(*testing.T) map[string]string { return envFor(server, "") },
			args:    []string{"get", "hidden"},
			wantErr: []string{"404 NOT_FOUND", "visible only with a key with scope articles:write"},
		},
		{
			name:    "bad key",
			env:     func(*testing.T) map[string]string { return envFor(server, "expired") },
			args:    []string{"get", "hidden"},
			wantErr: []string{"401 UNAUTHENTICATED", "(request id req_", "the server does not accept the key from --key or BUZHOU_API_KEY"},
		},
		{
			name:    "id that is not UTF-8",
			env:     func(*testing.T) map[string]string { return envFor(server, "") },
			args:    []string{"get", "bad\xff"},
			wantErr: []string{"get bad\xff: server answered 400 INVALID_ARGUMENT", "UTF-8"},
		},
		{
			name:    "connection refused on a bare host:port",
			env:     func(t *testing.T) map[string]string { return envFor(closedAddr(t), "") },
			args:    []string{"get", "x"},
			wantErr: []string{"could not talk to the buzhou server at http://127.0.0.1:", "connection refused", "`buzhou serve`"},
		},
		{
			name:    "not a buzhou server",
			env:     func(*testing.T) map[string]string { return envFor(other.URL, "") },
			args:    []string{"get", "x"},
			wantErr: []string{"404", "does not answer like a buzhou server"},
		},
		{
			name:    "missing id",
			env:     func(*testing.T) map[string]string { return envFor(server, "") },
			args:    []string{"get"},
			wantErr: []string{"want exactly one id or slug"},
			usage:   true,
		},
		{
			name:    "bad format",
			env:     func(*testing.T) map[string]string { return envFor(server, "") },
			args:    []string{"get", "x", "--format", "yaml"},
			wantErr: []string{`--format must be markdown or json, not "yaml"`},
			usage:   true,
		},
		{
			name:    "bad lang",
			env:     func(*testing.T) map[string]string { return envFor(server, "") },
			args:    []string{"get", "x", "--lang", "fr"},
			wantErr: []string{`--lang must be en or zh`},
			usage:   true,
		},
		{
			name:    "bad server address",
			env:     func(*testing.T) map[string]string { return envFor("ftp://x", "") },
			args:    []string{"get", "x"},
			wantErr: []string{`server address "ftp://x" must use http or https`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := stacktest.RunCLI(tt.env(t), "", tt.args...)
			if r.Err == nil {
				t.Fatalf("want an error; stdout %q", r.Stdout)
			}
			wantContains(t, "error", r.Err.Error(), tt.wantErr...)
			var ue *cli.UsageError
			if got := errors.As(r.Err, &ue); got != tt.usage {
				t.Errorf("usage error = %v, want %v", got, tt.usage)
			}
			if tt.usage {
				wantContains(t, "stderr", r.Stderr, "Usage:", "buzhou get <id-or-slug>")
			}
			if r.Stdout != "" {
				t.Errorf("stdout = %q, want nothing", r.Stdout)
			}
		})
	}
}

// A draft refused to an anonymous reader must read like an article that
// does not exist: a refusal worded otherwise tells that the draft is there.
func TestGetHiddenDraftReadsLikeMissing(t *testing.T) {
	t.Parallel()
	server := startStack(t, stacktest.Options{})
	seed(t, server, newArticle("Hidden", "mcp", "draft"))
	requestID := regexp.MustCompile(`req_[A-Za-z0-9_-]+`)
	refusal := func(format, slug string) string {
		r := stacktest.RunCLI(envFor(server, ""), "", "get", slug, "--format", format)
		return requestID.ReplaceAllString(strings.ReplaceAll(errText(r.Err), slug, "SLUG"), "REQ")
	}
	for _, format := range []string{"markdown", "json"} {
		if hidden, missing := refusal(format, "hidden"), refusal(format, "absent"); hidden != missing {
			t.Errorf("%s: the draft's refusal\n%s\nreads unlike an absent article's\n%s", format, hidden, missing)
		}
	}
}

func TestConnectionSettings(t *testing.T) {
	t.Parallel()
	server := startStack(t, stacktest.Options{})
	seed(t, server, newArticle("Hidden", "mcp", "draft"))

	tests := []struct {
		name     string
		env      func(f *faults) map[string]string
		args     func(f *faults) []string
		wantAuth string
		wantErr  string // "" for success
	}{
		{
			name: "env URL and key", env: func(f *faults) map[string]string { return envFor(f.URL, adminKey) },
			args: func(*faults) []string { return []string{"get", "hidden"} }, wantAuth: "Bearer " + adminKey,
		},
		{
			name: "bare host:port", env: func(f *faults) map[string]string { return envFor(strings.TrimPrefix(f.URL, "http://"), adminKey) },
			args: func(*faults) []string { return []string{"get", "hidden"} }, wantAuth: "Bearer " + adminKey,
		},
		{
			name: "trailing slash", env: func(f *faults) map[string]string { return envFor(f.URL+"/", adminKey) },
			args: func(*faults) []string { return []string{"get", "hidden"} }, wantAuth: "Bearer " + adminKey,
		},
		{
			name: "flags beat the environment", env: func(*faults) map[string]string { return envFor("127.0.0.1:1", "wrong") },
			args:     func(f *faults) []string { return []string{"get", "hidden", "--server", f.URL, "--key", adminKey} },
			wantAuth: "Bearer " + adminKey,
		},
		{
			name: "anonymous", env: func(f *faults) map[string]string { return envFor(f.URL, "") },
			args: func(*faults) []string { return []string{"get", "hidden"} }, wantAuth: "", wantErr: "404 NOT_FOUND",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFaults(t, server)
			r := stacktest.RunCLI(tt.env(f), "", tt.args(f)...)
			if tt.wantErr == "" && r.Err != nil {
				t.Fatalf("get: %v", r.Err)
			}
			wantContains(t, "error", errText(r.Err), tt.wantErr)
			seen := f.requests("")
			if len(seen) != 1 {
				t.Fatalf("the server got %d requests, want 1", len(seen))
			}
			if seen[0].auth != tt.wantAuth {
				t.Errorf("Authorization = %q, want %q", seen[0].auth, tt.wantAuth)
			}
		})
	}
}

func TestRateLimitIsRetried(t *testing.T) {
	t.Parallel()
	server := startStack(t, stacktest.Options{})
	seed(t, server, newArticle("Alpha", "mcp", "published"))
	limited := apiError(http.StatusTooManyRequests, "RESOURCE_EXHAUSTED", "rate limit of 100 requests per minute exceeded", "Retry-After", "0")

	t.Run("until the server lets it through", func(t *testing.T) {
		t.Parallel()
		f := newFaults(t, server)
		f.answer("", limited, 1, 2)

		r := stacktest.RunCLI(envFor(f.URL, ""), "", "get", "alpha")

		if r.Err != nil {
			t.Fatalf("get: %v", r.Err)
		}
		if want := markdown(t, server, "", "alpha", "en"); r.Stdout != strings.TrimSuffix(want, "\n")+"\n" {
			t.Errorf("stdout = %q, want the server's markdown", r.Stdout)
		}
		if n := strings.Count(r.Stderr, "rate limited by the server; retrying in 0s"); n != 2 {
			t.Errorf("stderr has %d retry notices, want 2:\n%s", n, r.Stderr)
		}
		if n := len(f.requests("")); n != 3 {
			t.Errorf("requests = %d, want 3", n)
		}
	})

	t.Run("five times at most", func(t *testing.T) {
		t.Parallel()
		f := newFaults(t, server)
		f.answer("", limited, 1, 2, 3, 4, 5, 6)

		r := stacktest.RunCLI(envFor(f.URL, ""), "", "get", "alpha")

		wantContains(t, "error", errText(r.Err), "429 RESOURCE_EXHAUSTED", "rate limited even after retrying")
		if n := len(f.requests("")); n != 5 {
			t.Errorf("requests = %d, want 5", n)
		}
	})
}

func TestHelpAndUsage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		args       []string
		wantErr    string // "" for success
		wantStdout []string
		wantStderr []string
	}{
		{name: "help", args: []string{"help"}, wantStdout: []string{"get", "import", "export", "help", "buzhou serve", "BUZHOU_URL", "BUZHOU_API_KEY",
			"keys     create, list and revoke API keys", "buzhou keys create --name NAME --scope SCOPE", "buzhou keys list", "buzhou keys revoke ID"}},
		{name: "--help", args: []string{"--help"}, wantStdout: []string{"Client commands"}},
		{name: "help for one command", args: []string{"help", "import"}, wantStdout: []string{"buzhou import <file.jsonl|->", "-batch", "-publish", "-server", "-key"}},
		{name: "-h after a command", args: []string{"export", "-h"}, wantStdout: []string{"buzhou export", "-status", "-domain", "-o"}},
		{name: "no command", args: nil, wantErr: "no command given", wantStderr: []string{"Client commands"}},
		{name: "unknown command", args: []string{"serve-me"}, wantErr: `unknown command "serve-me"`, wantStderr: []string{"Client commands"}},
		{name: "help for an unknown command", args: []string{"help", "nope"}, wantErr: `unknown command "nope"`},
		{name: "unknown flag", args: []string{"import", "--bogus", "x"}, wantErr: "flag provided but not defined: -bogus", wantStderr: []string{"buzhou import"}},
		{name: "bad batch", args: []string{"import", "x", "--batch", "0"}, wantErr: "--batch must be between 1 and 500"},
		{name: "import without a file", args: []string{"import"}, wantErr: "want exactly one file"},
		{name: "export with an argument", args: []string{"export", "drafts"}, wantErr: "takes no arguments"},
		{name: "mcp with an argument", args: []string{"mcp", "stdio"}, wantErr: "mcp: takes no arguments"},
		{name: "help for mcp", args: []string{"help", "mcp"}, wantStdout: []string{"buzhou mcp", "stdio", "-url", "-key", "propose_article"}},
		{name: "help for keys", args: []string{"help", "keys"}, wantStdout: []string{"buzhou keys <subcommand>", "create ", "list ", "revoke ", "keys:admin", "BUZHOU_ADMIN_KEY"}},
		{name: "keys -h", args: []string{"keys", "-h"}, wantStdout: []string{"buzhou keys <subcommand>", "Subcommands:"}},
		{name: "keys help create", args: []string{"keys", "help", "create"}, wantStdout: []string{"buzhou keys create --name NAME"}},
		{name: "help for keys create", args: []string{"help", "keys", "create"}, wantStdout: []string{"buzhou keys create --name NAME", "-scope", "-scopes", "-expires", "-rate-per-minute", "-daily-quota", "-monthly-quota", "-principal", "-json", "00:00 UTC", "articles:write, articles:propose, verifications:write, inspections:run, keys:admin"}},
		{name: "-h after keys list", args: []string{"keys", "list", "-h"}, wantStdout: []string{"buzhou keys list [--json]", "-json", "-server"}},
		{name: "help for keys revoke", args: []string{"help", "keys", "revoke"}, wantStdout: []string{"buzhou keys revoke <id>"}},
		{name: "keys without a subcommand", args: []string{"keys"}, wantErr: "keys: no subcommand given; want one of create, list, revoke", wantStderr: []string{"Subcommands:"}},
		{name: "keys with an unknown subcommand", args: []string{"keys", "delete", "k1"}, wantErr: `keys: unknown subcommand "delete"`, wantStderr: []string{"Subcommands:"}},
		{name: "help for an unknown keys subcommand", args: []string{"help", "keys", "nope"}, wantErr: `help: keys has no subcommand "nope"`},
		{name: "unknown keys flag", args: []string{"keys", "list", "--all"}, wantErr: "keys list: flag provided but not defined: -all", wantStderr: []string{"buzhou keys list"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := stacktest.RunCLI(nil, "", tt.args...)
			if tt.wantErr == "" {
				if r.Err != nil {
					t.Fatalf("err = %v", r.Err)
				}
			} else {
				var ue *cli.UsageError
				if !errors.As(r.Err, &ue) {
					t.Fatalf("err = %v (%T), want a *UsageError", r.Err, r.Err)
				}
				wantContains(t, "error", errText(r.Err), tt.wantErr)
			}
			wantContains(t, "stdout", r.Stdout, tt.wantStdout...)
			wantContains(t, "stderr", r.Stderr, tt.wantStderr...)
		})
	}
}
