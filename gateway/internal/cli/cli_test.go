package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/testing/protocmp"

	articlev1 "buzhou.dev/proto/gen/buzhou/article/v1"
)

// result is what one Run call produced.
type result struct {
	stdout, stderr string
	err            error
}

// run calls Run with the given environment and stdin.
func run(t *testing.T, env map[string]string, stdin string, args ...string) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	err := Run(context.Background(), args, func(k string) string { return env[k] }, strings.NewReader(stdin), &stdout, &stderr)
	return result{stdout: stdout.String(), stderr: stderr.String(), err: err}
}

// envFor points the client at f, with the test key unless key is false.
func envFor(f *fakeServer, key bool) map[string]string {
	env := map[string]string{"BUZHOU_URL": f.URL}
	if key {
		env["BUZHOU_API_KEY"] = testKey
	}
	return env
}

// writeFile writes lines to a temporary JSONL file and returns its path.
func writeFile(t *testing.T, lines ...string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "in.jsonl")
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// simpleLines makes n valid article lines with distinct titles.
func simpleLines(n int) []string {
	lines := make([]string, n)
	for i := range lines {
		lines[i] = fmt.Sprintf(`{"title":{"en":"Article %d"},"domain":"mcp","content":{"en":"body %d"}}`, i, i)
	}
	return lines
}

// closedAddr returns a host:port where nothing listens.
func closedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func wantContains(t *testing.T, what, got string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(got, w) {
			t.Errorf("%s = %q, want it to contain %q", what, got, w)
		}
	}
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func TestImportReportsFailedLinesAndKeepsGoing(t *testing.T) {
	f := newFakeServer(t)
	path := writeFile(t,
		`{"title":{"en":"Alpha"},"domain":"mcp"}`, // 1 ok
		``,                          // 2 blank, skipped
		`{"title": {"en": "Broken"`, // 3 not JSON
		`{"title":{"zh":"贝塔"},"domain":"skill"}`,       // 4 ok
		`{"domain":"mcp","content":{"en":"no title"}}`, // 5 server: title required
		`{"titel":{"en":"Typo"},"domain":"mcp"}`,       // 6 unknown field
		`{"title":{"en":"Alpha"},"domain":"agent"}`,    // 7 server: duplicate slug
		`   `, // 8 blank
		`{"title":{"en":"Gamma"},"domain":"transport"}`, // 9 ok
	)

	r := run(t, envFor(f, true), "", "import", path)

	if r.err == nil {
		t.Fatal("import with failed lines returned nil, want an error so scripts notice")
	}
	wantContains(t, "error", r.err.Error(), "4 of 7 articles failed")
	lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	wantPrefixes := []string{
		"imported 3, failed 4",
		"line 3: INVALID_JSON ",
		"line 5: INVALID_ARGUMENT title required",
		"line 6: INVALID_JSON ",
		"line 7: ALREADY_EXISTS an article with slug \"alpha\" exists",
	}
	if len(lines) != len(wantPrefixes) {
		t.Fatalf("stdout has %d lines, want %d:\n%s", len(lines), len(wantPrefixes), r.stdout)
	}
	for i, want := range wantPrefixes {
		if !strings.HasPrefix(lines[i], want) {
			t.Errorf("stdout line %d = %q, want prefix %q", i+1, lines[i], want)
		}
	}
	wantContains(t, "line 6", lines[3], `(column 2): unknown field "titel"`)
	if got := len(f.stored()); got != 3 {
		t.Errorf("server stored %d articles, want 3", got)
	}
	if !slices.Equal(f.batchSizes, []int{5}) {
		t.Errorf("batch sizes = %v, want one request with the 5 parsed lines", f.batchSizes)
	}
}

func TestImportBatches(t *testing.T) {
	tests := []struct {
		name      string
		lines     int
		flags     []string
		wantSizes []int
	}{
		{name: "250 lines in batches of 100", lines: 250, flags: []string{"--batch", "100"}, wantSizes: []int{100, 100, 50}},
		{name: "default batch is 100", lines: 100, wantSizes: []int{100}},
		{name: "batch of one", lines: 3, flags: []string{"--batch=1"}, wantSizes: []int{1, 1, 1}},
		{name: "maximum batch", lines: 501, flags: []string{"--batch", "500"}, wantSizes: []int{500, 1}},
		{name: "empty file sends nothing", lines: 0, wantSizes: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeServer(t)
			path := writeFile(t, simpleLines(tt.lines)...)

			r := run(t, envFor(f, true), "", append([]string{"import", path}, tt.flags...)...)

			if r.err != nil {
				t.Fatalf("import: %v\nstdout: %s", r.err, r.stdout)
			}
			if want := fmt.Sprintf("imported %d, failed 0\n", tt.lines); r.stdout != want {
				t.Errorf("stdout = %q, want %q", r.stdout, want)
			}
			if !slices.Equal(f.batchSizes, tt.wantSizes) {
				t.Errorf("batch sizes = %v, want %v", f.batchSizes, tt.wantSizes)
			}
			if got := len(f.stored()); got != tt.lines {
				t.Errorf("server stored %d articles, want %d", got, tt.lines)
			}
		})
	}
}

func TestImportStatus(t *testing.T) {
	lines := []string{
		`{"title":{"en":"One"},"domain":"mcp"}`,
		`{"title":{"en":"Two"},"domain":"mcp","status":"published"}`,
		`{"title":{"en":"Three"},"domain":"mcp","status":"draft"}`,
	}
	tests := []struct {
		name  string
		flags []string
		want  []string
	}{
		{name: "each line's status, draft when absent", want: []string{"draft", "published", "draft"}},
		{name: "--publish publishes all", flags: []string{"--publish"}, want: []string{"published", "published", "published"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeServer(t)
			r := run(t, envFor(f, true), "", append([]string{"import", writeFile(t, lines...)}, tt.flags...)...)
			if r.err != nil {
				t.Fatalf("import: %v", r.err)
			}
			var got []string
			for _, a := range f.stored() {
				got = append(got, a.GetStatus())
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("statuses = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestImportFromStdin(t *testing.T) {
	f := newFakeServer(t)
	stdin := "\uFEFF" + strings.Join(simpleLines(3), "\r\n") // BOM and CRLF, as some editors write
	r := run(t, envFor(f, true), stdin, "import", "-")
	if r.err != nil {
		t.Fatalf("import -: %v\nstdout: %s", r.err, r.stdout)
	}
	if r.stdout != "imported 3, failed 0\n" {
		t.Errorf("stdout = %q", r.stdout)
	}
}

func TestImportListsAtMost50Failures(t *testing.T) {
	f := newFakeServer(t)
	lines := make([]string, 60)
	for i := range lines {
		lines[i] = `{"domain":"mcp"}`
	}
	r := run(t, envFor(f, true), "", "import", writeFile(t, lines...))
	if r.err == nil {
		t.Fatal("want an error")
	}
	out := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	if len(out) != 1+50+1 {
		t.Fatalf("stdout has %d lines, want summary, 50 failures and a remainder line:\n%s", len(out), r.stdout)
	}
	if out[0] != "imported 0, failed 60" {
		t.Errorf("summary = %q", out[0])
	}
	if want := "line 50: INVALID_ARGUMENT title required"; !strings.HasPrefix(out[50], want) {
		t.Errorf("last listed = %q, want prefix %q", out[50], want)
	}
	if out[51] != "… and 10 more" {
		t.Errorf("remainder line = %q, want %q", out[51], "… and 10 more")
	}
}

func TestImportWholeRequestFailures(t *testing.T) {
	tests := []struct {
		name       string
		key        string // "" sends none
		setup      func(f *fakeServer)
		server     func(t *testing.T, f *fakeServer) string // overrides the server address
		lines      int
		wantStdout string
		wantErr    []string
		wantStored int
	}{
		{
			name:       "no key",
			lines:      3,
			wantStdout: "imported 0, failed 0\n",
			wantErr:    []string{"stopped at line 1", "401 UNAUTHENTICATED", "request id req-1", "set BUZHOU_API_KEY or --key to a key with scope articles:write"},
		},
		{
			name:       "wrong key",
			key:        "nope",
			lines:      3,
			wantStdout: "imported 0, failed 0\n",
			wantErr:    []string{"401 UNAUTHENTICATED: the API key is not valid", "set BUZHOU_API_KEY or --key to a key with scope articles:write"},
		},
		{
			name:       "body too large",
			key:        testKey,
			setup:      func(f *fakeServer) { f.maxBody = 100 },
			lines:      3,
			wantStdout: "imported 0, failed 0\n",
			wantErr:    []string{"413 RESOURCE_EXHAUSTED", "lower --batch"},
		},
		{
			name:       "server error after the first batch",
			key:        testKey,
			setup:      func(f *fakeServer) { f.failBatch[2] = 500 },
			lines:      250,
			wantStdout: "imported 100, failed 0\n",
			wantErr:    []string{"stopped at line 101", "500 INTERNAL: something broke inside", "request id req-2", "try again later"},
			wantStored: 100,
		},
		{
			name:       "not ready",
			key:        testKey,
			setup:      func(f *fakeServer) { f.failBatch[1] = 503 },
			lines:      1,
			wantStdout: "imported 0, failed 0\n",
			wantErr:    []string{"503 INTERNAL", "not ready"},
		},
		{
			name:       "connection refused",
			key:        testKey,
			server:     func(t *testing.T, _ *fakeServer) string { return closedAddr(t) },
			lines:      1,
			wantStdout: "imported 0, failed 0\n",
			wantErr:    []string{"could not talk to the buzhou server at http://127.0.0.1:", "connection refused", "buzhou serve", "BUZHOU_URL"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeServer(t)
			if tt.setup != nil {
				tt.setup(f)
			}
			env := map[string]string{"BUZHOU_URL": f.URL, "BUZHOU_API_KEY": tt.key}
			if tt.server != nil {
				env["BUZHOU_URL"] = tt.server(t, f)
			}

			r := run(t, env, "", "import", writeFile(t, simpleLines(tt.lines)...))

			if r.err == nil {
				t.Fatal("want an error")
			}
			wantContains(t, "error", r.err.Error(), tt.wantErr...)
			if r.stdout != tt.wantStdout {
				t.Errorf("stdout = %q, want %q", r.stdout, tt.wantStdout)
			}
			if got := len(f.stored()); got != tt.wantStored {
				t.Errorf("server stored %d articles, want %d", got, tt.wantStored)
			}
		})
	}
}

func TestExportPagesThroughEverything(t *testing.T) {
	f := newFakeServer(t)
	for i := range 250 {
		f.seed(t, &articlev1.Article{
			Title:  &articlev1.LocalizedText{En: fmt.Sprintf("Article %d", i)},
			Domain: "mcp", Status: "published",
		})
	}

	r := run(t, envFor(f, false), "", "export")

	if r.err != nil {
		t.Fatalf("export: %v", r.err)
	}
	lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	if len(lines) != 250 {
		t.Fatalf("got %d lines, want 250", len(lines))
	}
	for i, line := range lines {
		var a articlev1.Article
		if err := protojson.Unmarshal([]byte(line), &a); err != nil {
			t.Fatalf("line %d is not an article: %v", i+1, err)
		}
		if want := fmt.Sprintf("Article %d", 249-i); a.GetTitle().GetEn() != want {
			t.Errorf("line %d title = %q, want %q (newest first)", i+1, a.GetTitle().GetEn(), want)
		}
	}
	if len(f.listCalls) != 3 {
		t.Fatalf("list requests = %d, want 3", len(f.listCalls))
	}
	for i, q := range f.listCalls {
		if q.Get("pageSize") != "100" {
			t.Errorf("request %d pageSize = %q, want 100", i+1, q.Get("pageSize"))
		}
		if (q.Get("pageToken") == "") != (i == 0) {
			t.Errorf("request %d pageToken = %q; only the first request goes without", i+1, q.Get("pageToken"))
		}
	}
	wantContains(t, "stderr", r.stderr, "exported 250 articles")
}

func TestExportFilters(t *testing.T) {
	seed := []*articlev1.Article{
		{Title: &articlev1.LocalizedText{En: "Draft MCP"}, Domain: "mcp", Status: "draft"},
		{Title: &articlev1.LocalizedText{En: "Published MCP"}, Domain: "mcp", Status: "published"},
		{Title: &articlev1.LocalizedText{En: "Published skill"}, Domain: "skill", Status: "published"},
	}
	tests := []struct {
		name string
		key  bool
		args []string
		want []string // slugs, newest first
	}{
		{name: "anonymous sees published only", args: nil, want: []string{"published-skill", "published-mcp"}},
		{name: "key sees drafts too", key: true, args: nil, want: []string{"published-skill", "published-mcp", "draft-mcp"}},
		{name: "status filter", key: true, args: []string{"--status", "draft"}, want: []string{"draft-mcp"}},
		{name: "domain filter", args: []string{"--domain=mcp"}, want: []string{"published-mcp"}},
		{name: "both filters", key: true, args: []string{"--domain", "mcp", "--status", "published"}, want: []string{"published-mcp"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeServer(t)
			f.seed(t, seed...)
			r := run(t, envFor(f, tt.key), "", append([]string{"export"}, tt.args...)...)
			if r.err != nil {
				t.Fatalf("export: %v", r.err)
			}
			var got []string
			for _, a := range parseLines(t, r.stdout) {
				got = append(got, a.GetSlug())
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("slugs = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestExportErrors(t *testing.T) {
	tests := []struct {
		name    string
		env     func(t *testing.T, f *fakeServer) map[string]string
		args    []string
		wantErr []string
	}{
		{
			name:    "server rejects a filter",
			env:     func(_ *testing.T, f *fakeServer) map[string]string { return envFor(f, false) },
			args:    []string{"--status", "lost"},
			wantErr: []string{"400 INVALID_ARGUMENT", `status "lost" is unknown`, "request id req-1"},
		},
		{
			name: "bad key",
			env: func(_ *testing.T, f *fakeServer) map[string]string {
				return map[string]string{"BUZHOU_URL": f.URL, "BUZHOU_API_KEY": "stale"}
			},
			wantErr: []string{"401 UNAUTHENTICATED", "unset it to read anonymously"},
		},
		{
			name: "connection refused",
			env: func(t *testing.T, _ *fakeServer) map[string]string {
				return map[string]string{"BUZHOU_URL": closedAddr(t)}
			},
			wantErr: []string{"could not talk to the buzhou server", "connection refused", "buzhou serve"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeServer(t)
			f.seed(t, &articlev1.Article{Title: &articlev1.LocalizedText{En: "A"}, Domain: "mcp", Status: "published"})
			r := run(t, tt.env(t, f), "", append([]string{"export"}, tt.args...)...)
			if r.err == nil {
				t.Fatal("want an error")
			}
			wantContains(t, "error", r.err.Error(), tt.wantErr...)
		})
	}
}

func TestExportToFile(t *testing.T) {
	f := newFakeServer(t)
	f.seed(t, &articlev1.Article{Title: &articlev1.LocalizedText{En: "A"}, Domain: "mcp", Status: "published"})
	path := filepath.Join(t.TempDir(), "out.jsonl")

	t.Run("writes the file", func(t *testing.T) {
		r := run(t, envFor(f, false), "", "export", "-o", path)
		if r.err != nil {
			t.Fatalf("export: %v", r.err)
		}
		if r.stdout != "" {
			t.Errorf("stdout = %q, want nothing", r.stdout)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if got := parseLines(t, string(data)); len(got) != 1 || got[0].GetSlug() != "a" {
			t.Errorf("file holds %v", got)
		}
		wantContains(t, "stderr", r.stderr, "exported 1 article to "+path)
	})

	t.Run("a failed export leaves the file alone", func(t *testing.T) {
		before, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		r := run(t, map[string]string{"BUZHOU_URL": closedAddr(t)}, "", "export", "-o", path)
		if r.err == nil {
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

func TestExportImportRoundTrip(t *testing.T) {
	src := newFakeServer(t)
	src.seed(t,
		&articlev1.Article{
			Title:   &articlev1.LocalizedText{En: "Fix MCP timeouts", Zh: "修复 MCP 超时"},
			Summary: &articlev1.LocalizedText{En: "Raise the timeout.", Zh: "调高超时。"},
			Content: &articlev1.LocalizedText{En: "# Steps\n\n1. \"quote\" \\ and\ttab\n", Zh: "## 步骤\n"},
			Domain:  "mcp", Tags: []string{"mcp", "timeout"}, Keywords: []string{"deadline"},
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
		&articlev1.Article{Title: &articlev1.LocalizedText{Zh: "只有中文"}, Domain: "skill"},
		&articlev1.Article{Title: &articlev1.LocalizedText{En: "Draft </script> & <b>"}, Domain: "tools_github", Status: "draft"},
	)
	for i := range 120 { // more than a page
		src.seed(t, &articlev1.Article{Title: &articlev1.LocalizedText{En: fmt.Sprintf("Bulk %d", i)}, Domain: "agent", Status: "published"})
	}
	file := filepath.Join(t.TempDir(), "export.jsonl")

	if r := run(t, envFor(src, true), "", "export", "-o", file); r.err != nil {
		t.Fatalf("export: %v", r.err)
	}
	dst := newFakeServer(t)
	if r := run(t, envFor(dst, true), "", "import", file); r.err != nil {
		t.Fatalf("import: %v\n%s", r.err, r.stdout)
	}
	r := run(t, envFor(dst, true), "", "export")
	if r.err != nil {
		t.Fatalf("second export: %v", r.err)
	}

	// The authored content must survive; ids, times and the creation order
	// are the new server's own.
	norm := func(arts []*articlev1.Article) []*articlev1.Article {
		slices.SortFunc(arts, func(a, b *articlev1.Article) int {
			return strings.Compare(a.GetTitle().GetEn()+a.GetTitle().GetZh(), b.GetTitle().GetEn()+b.GetTitle().GetZh())
		})
		return arts
	}
	want := norm(src.stored())
	got := norm(parseLines(t, r.stdout))
	if diff := cmp.Diff(want, got, protocmp.Transform(),
		protocmp.IgnoreFields(&articlev1.Article{}, "id", "slug", "created_at", "updated_at", "published_at"),
	); diff != "" {
		t.Errorf("articles after the round trip differ (-source +copy):\n%s", diff)
	}
	if len(got) != 123 {
		t.Errorf("round trip kept %d articles, want 123", len(got))
	}
}

func TestGet(t *testing.T) {
	f := newFakeServer(t)
	f.seed(t,
		&articlev1.Article{
			Title:   &articlev1.LocalizedText{En: "Alpha", Zh: "阿尔法"},
			Summary: &articlev1.LocalizedText{En: "Sum.", Zh: "摘要。"},
			Content: &articlev1.LocalizedText{En: "Body."},
			Domain:  "mcp", Status: "published", Tags: []string{"x"},
		},
		&articlev1.Article{Title: &articlev1.LocalizedText{En: "Secret draft"}, Domain: "mcp"},
	)
	alpha := f.stored()[0]

	tests := []struct {
		name       string
		key        bool
		args       []string
		wantStdout string
		wantQuery  string // encoded query the server saw
	}{
		{name: "markdown by slug", args: []string{"get", "alpha"}, wantStdout: "# Alpha\n\nSum.\n\nBody.\n", wantQuery: "format=markdown&lang=en"},
		{name: "markdown by id", args: []string{"get", alpha.GetId()}, wantStdout: "# Alpha\n\nSum.\n\nBody.\n", wantQuery: "format=markdown&lang=en"},
		{name: "markdown in chinese with fallback", args: []string{"get", "alpha", "--lang", "zh"}, wantStdout: "# 阿尔法\n\n摘要。\n\nBody.\n", wantQuery: "format=markdown&lang=zh"},
		{name: "flags before the slug", args: []string{"get", "--lang=zh", "--format", "markdown", "alpha"}, wantStdout: "# 阿尔法\n\n摘要。\n\nBody.\n", wantQuery: "format=markdown&lang=zh"},
		{name: "draft needs a key", key: true, args: []string{"get", "secret-draft"}, wantStdout: "# Secret draft\n\n\n\n\n", wantQuery: "format=markdown&lang=en"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := run(t, envFor(f, tt.key), "", tt.args...)
			if r.err != nil {
				t.Fatalf("get: %v", r.err)
			}
			if r.stdout != tt.wantStdout {
				t.Errorf("stdout = %q, want %q", r.stdout, tt.wantStdout)
			}
			f.mu.Lock()
			got := f.getQueries[len(f.getQueries)-1].Encode()
			f.mu.Unlock()
			if got != tt.wantQuery {
				t.Errorf("query = %q, want %q", got, tt.wantQuery)
			}
		})
	}

	t.Run("json is pretty-printed", func(t *testing.T) {
		r := run(t, envFor(f, false), "", "get", "alpha", "--format", "json")
		if r.err != nil {
			t.Fatalf("get: %v", r.err)
		}
		if !strings.HasPrefix(r.stdout, "{\n  \"") || !strings.HasSuffix(r.stdout, "}\n") {
			t.Errorf("stdout is not indented JSON:\n%s", r.stdout)
		}
		var got articlev1.Article
		if err := protojson.Unmarshal([]byte(r.stdout), &got); err != nil {
			t.Fatalf("stdout is not an article: %v", err)
		}
		if diff := cmp.Diff(alpha, &got, protocmp.Transform()); diff != "" {
			t.Errorf("article differs (-stored +printed):\n%s", diff)
		}
	})
}

func TestGetErrors(t *testing.T) {
	tests := []struct {
		name    string
		env     func(t *testing.T, f *fakeServer) map[string]string
		args    []string
		wantErr []string
		usage   bool
	}{
		{
			name:    "not found",
			env:     func(_ *testing.T, f *fakeServer) map[string]string { return envFor(f, false) },
			args:    []string{"get", "nope"},
			wantErr: []string{"get nope: server answered 404 NOT_FOUND", `no article with id or slug "nope"`, "(request id req-1)", "check the id or slug"},
		},
		{
			name:    "draft is hidden without a key",
			env:     func(_ *testing.T, f *fakeServer) map[string]string { return envFor(f, false) },
			args:    []string{"get", "hidden"},
			wantErr: []string{"404 NOT_FOUND", "visible only with a key with scope articles:write"},
		},
		{
			name: "bad key",
			env: func(_ *testing.T, f *fakeServer) map[string]string {
				return map[string]string{"BUZHOU_URL": f.URL, "BUZHOU_API_KEY": "expired"}
			},
			args:    []string{"get", "hidden"},
			wantErr: []string{"401 UNAUTHENTICATED", "request id req-1", "the server does not accept the key from --key or BUZHOU_API_KEY"},
		},
		{
			name: "connection refused on a bare host:port",
			env: func(t *testing.T, _ *fakeServer) map[string]string {
				return map[string]string{"BUZHOU_URL": closedAddr(t)}
			},
			args:    []string{"get", "x"},
			wantErr: []string{"could not talk to the buzhou server at http://127.0.0.1:", "connection refused", "`buzhou serve`"},
		},
		{
			name: "not a buzhou server",
			env: func(_ *testing.T, f *fakeServer) map[string]string {
				return map[string]string{"BUZHOU_URL": f.URL + "/elsewhere"}
			},
			args:    []string{"get", "x"},
			wantErr: []string{"404", "does not answer like a buzhou server"},
		},
		{
			name:    "missing id",
			env:     func(_ *testing.T, f *fakeServer) map[string]string { return envFor(f, false) },
			args:    []string{"get"},
			wantErr: []string{"want exactly one id or slug"},
			usage:   true,
		},
		{
			name:    "bad format",
			env:     func(_ *testing.T, f *fakeServer) map[string]string { return envFor(f, false) },
			args:    []string{"get", "x", "--format", "yaml"},
			wantErr: []string{`--format must be markdown or json, not "yaml"`},
			usage:   true,
		},
		{
			name:    "bad lang",
			env:     func(_ *testing.T, f *fakeServer) map[string]string { return envFor(f, false) },
			args:    []string{"get", "x", "--lang", "fr"},
			wantErr: []string{`--lang must be en or zh`},
			usage:   true,
		},
		{
			name:    "bad server address",
			env:     func(_ *testing.T, _ *fakeServer) map[string]string { return map[string]string{"BUZHOU_URL": "ftp://x"} },
			args:    []string{"get", "x"},
			wantErr: []string{`server address "ftp://x" must use http or https`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeServer(t)
			f.seed(t, &articlev1.Article{Title: &articlev1.LocalizedText{En: "Hidden"}, Domain: "mcp"})
			r := run(t, tt.env(t, f), "", tt.args...)
			if r.err == nil {
				t.Fatalf("want an error; stdout %q", r.stdout)
			}
			wantContains(t, "error", r.err.Error(), tt.wantErr...)
			var ue *UsageError
			if got := errors.As(r.err, &ue); got != tt.usage {
				t.Errorf("usage error = %v, want %v", got, tt.usage)
			}
			if tt.usage {
				wantContains(t, "stderr", r.stderr, "Usage:", "buzhou get <id-or-slug>")
			}
			if r.stdout != "" {
				t.Errorf("stdout = %q, want nothing", r.stdout)
			}
		})
	}
}

func TestConnectionSettings(t *testing.T) {
	f := newFakeServer(t)
	f.seed(t, &articlev1.Article{Title: &articlev1.LocalizedText{En: "Hidden"}, Domain: "mcp"})
	host := strings.TrimPrefix(f.URL, "http://")

	tests := []struct {
		name     string
		env      map[string]string
		args     []string
		wantAuth string
	}{
		{name: "env URL and key", env: map[string]string{"BUZHOU_URL": f.URL, "BUZHOU_API_KEY": testKey}, args: []string{"get", "hidden"}, wantAuth: "Bearer " + testKey},
		{name: "bare host:port", env: map[string]string{"BUZHOU_URL": host, "BUZHOU_API_KEY": testKey}, args: []string{"get", "hidden"}, wantAuth: "Bearer " + testKey},
		{name: "trailing slash", env: map[string]string{"BUZHOU_URL": f.URL + "/", "BUZHOU_API_KEY": testKey}, args: []string{"get", "hidden"}, wantAuth: "Bearer " + testKey},
		{
			name:     "flags beat the environment",
			env:      map[string]string{"BUZHOU_URL": "127.0.0.1:1", "BUZHOU_API_KEY": "wrong"},
			args:     []string{"get", "hidden", "--server", f.URL, "--key", testKey},
			wantAuth: "Bearer " + testKey,
		},
		{name: "anonymous", env: map[string]string{"BUZHOU_URL": f.URL}, args: []string{"get", "alpha-missing"}, wantAuth: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := run(t, tt.env, "", tt.args...)
			if tt.wantAuth != "" && r.err != nil {
				t.Fatalf("get: %v", r.err)
			}
			f.mu.Lock()
			got := f.auths[len(f.auths)-1]
			f.mu.Unlock()
			if got != tt.wantAuth {
				t.Errorf("Authorization = %q, want %q", got, tt.wantAuth)
			}
		})
	}
}

func TestParseServerURL(t *testing.T) {
	tests := []struct {
		name, in, want, wantErr string
	}{
		{name: "default form", in: "http://127.0.0.1:8080", want: "http://127.0.0.1:8080"},
		{name: "bare host:port", in: "localhost:9000", want: "http://localhost:9000"},
		{name: "https with a path prefix", in: "https://kb.example.com/buzhou/", want: "https://kb.example.com/buzhou"},
		{name: "spaces around", in: "  http://h:1  ", want: "http://h:1"},
		{name: "other scheme", in: "ftp://h", wantErr: "must use http or https"},
		{name: "no host", in: "http://", wantErr: "names no host"},
		{name: "query", in: "http://h/?x=1", wantErr: "must not carry"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseServerURL(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("parseServerURL(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestRateLimitIsRetried(t *testing.T) {
	f := newFakeServer(t)
	f.seed(t, &articlev1.Article{Title: &articlev1.LocalizedText{En: "Alpha"}, Domain: "mcp", Status: "published"})
	f.rateLimit = 2

	r := run(t, envFor(f, false), "", "get", "alpha")

	if r.err != nil {
		t.Fatalf("get: %v", r.err)
	}
	if r.stdout != "# Alpha\n\n\n\n\n" {
		t.Errorf("stdout = %q", r.stdout)
	}
	if n := strings.Count(r.stderr, "rate limited by the server; retrying"); n != 2 {
		t.Errorf("stderr has %d retry notices, want 2:\n%s", n, r.stderr)
	}
}

func TestHelpAndUsage(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		wantErr    string // "" for success
		wantStdout []string
		wantStderr []string
	}{
		{name: "help", args: []string{"help"}, wantStdout: []string{"get", "import", "export", "help", "buzhou serve", "buzhou keys", "BUZHOU_URL", "BUZHOU_API_KEY"}},
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
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := run(t, nil, "", tt.args...)
			if tt.wantErr == "" {
				if r.err != nil {
					t.Fatalf("err = %v", r.err)
				}
			} else {
				var ue *UsageError
				if !errors.As(r.err, &ue) {
					t.Fatalf("err = %v (%T), want a *UsageError", r.err, r.err)
				}
				wantContains(t, "error", errText(r.err), tt.wantErr)
			}
			wantContains(t, "stdout", r.stdout, tt.wantStdout...)
			wantContains(t, "stderr", r.stderr, tt.wantStderr...)
		})
	}
}

func TestCountRecords(t *testing.T) {
	long := strings.Repeat("x", 200<<10) // longer than the reader's buffer
	tests := []struct {
		name, in string
		want     int
	}{
		{name: "empty", in: "", want: 0},
		{name: "no final newline", in: "a\nb", want: 2},
		{name: "blank lines", in: "a\n\n  \t\nb\n\n", want: 2},
		{name: "long lines", in: long + "\n\n" + long, want: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := countRecords(strings.NewReader(tt.in))
			if err != nil || got != tt.want {
				t.Errorf("countRecords = %d, %v; want %d", got, err, tt.want)
			}
		})
	}
}
