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
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/timestamppb"

	articlev1 "buzhou.dev/proto/gen/buzhou/article/v1"
	identityv1 "buzhou.dev/proto/gen/buzhou/identity/v1"
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
		{name: "help for keys", args: []string{"help", "keys"}, wantStdout: []string{"buzhou keys <subcommand>", "create ", "list ", "revoke ", "keys:admin", "BUZHOU_ADMIN_KEY"}},
		{name: "keys -h", args: []string{"keys", "-h"}, wantStdout: []string{"buzhou keys <subcommand>", "Subcommands:"}},
		{name: "keys help create", args: []string{"keys", "help", "create"}, wantStdout: []string{"buzhou keys create --name NAME"}},
		{name: "help for keys create", args: []string{"help", "keys", "create"}, wantStdout: []string{"buzhou keys create --name NAME", "-scope", "-scopes", "-expires", "-rate-per-minute", "-daily-quota", "-monthly-quota", "-principal", "-json", "00:00 UTC", "articles:write, verifications:write, inspections:run, keys:admin"}},
		{name: "-h after keys list", args: []string{"keys", "list", "-h"}, wantStdout: []string{"buzhou keys list [--json]", "-json", "-server"}},
		{name: "help for keys revoke", args: []string{"help", "keys", "revoke"}, wantStdout: []string{"buzhou keys revoke <id>"}},
		{name: "keys without a subcommand", args: []string{"keys"}, wantErr: "keys: no subcommand given; want one of create, list, revoke", wantStderr: []string{"Subcommands:"}},
		{name: "keys with an unknown subcommand", args: []string{"keys", "delete", "k1"}, wantErr: `keys: unknown subcommand "delete"`, wantStderr: []string{"Subcommands:"}},
		{name: "help for an unknown keys subcommand", args: []string{"help", "keys", "nope"}, wantErr: `help: keys has no subcommand "nope"`},
		{name: "unknown keys flag", args: []string{"keys", "list", "--all"}, wantErr: "keys list: flag provided but not defined: -all", wantStderr: []string{"buzhou keys list"}},
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

// adminHint is what every refused key request must tell the user.
const adminHint = "this needs a key with scope keys:admin; set BUZHOU_API_KEY or --key (the server's BUZHOU_ADMIN_KEY works)"

func TestKeysCreate(t *testing.T) {
	f := newFakeServer(t)
	before := time.Now()

	r := run(t, envFor(f, true), "", "keys", "create", "--name", "ci bot",
		"--scope", "articles:write", "--scopes", "keys:admin, articles:write", "--scope=inspections:run",
		"--expires", "30d", "--rate-per-minute", "60", "--daily-quota", "1000", "--monthly-quota", "20000",
		"--principal", "prn_ci")

	if r.err != nil {
		t.Fatalf("keys create: %v\nstderr: %s", r.err, r.stderr)
	}
	stored := f.storedKeys()
	if len(stored) != 1 {
		t.Fatalf("server stored %d keys, want 1", len(stored))
	}
	f.mu.Lock()
	req, sent := f.keyCreates[0], string(f.keyBodies[0])
	secret := f.keys[0].secret
	f.mu.Unlock()

	// The request follows the proto's JSON names, int64 as strings.
	wantContains(t, "request body", sent, `"name":`, `"scopes":`, `"expiresAt":`, `"principalId":`, `"rateLimitPerMinute":60`, `"dailyQuota":"1000"`, `"monthlyQuota":"20000"`)
	if want := []string{"articles:write", "keys:admin", "inspections:run"}; !slices.Equal(req.GetScopes(), want) {
		t.Errorf("scopes sent = %v, want %v (in order, without repeats)", req.GetScopes(), want)
	}
	if req.GetName() != "ci bot" || req.GetPrincipalId() != "prn_ci" || req.GetRateLimitPerMinute() != 60 ||
		req.GetDailyQuota() != 1000 || req.GetMonthlyQuota() != 20000 {
		t.Errorf("request = %v", req)
	}
	exp := req.GetExpiresAt().AsTime()
	if lo, hi := before.AddDate(0, 0, 30).Add(-time.Second), time.Now().AddDate(0, 0, 30); exp.Before(lo) || exp.After(hi) {
		t.Errorf("expiresAt = %s, want 30 days from now (%s to %s)", exp, lo, hi)
	}

	// The secret is shown exactly once, with the warning, and never on stderr.
	if n := strings.Count(r.stdout+r.stderr, secret); n != 1 {
		t.Errorf("the secret appears %d times in the output, want once:\n%s", n, r.stdout)
	}
	wantContains(t, "stdout", r.stdout,
		"Created API key key_0001.",
		"it cannot be shown again",
		"\n    "+secret+"\n",
		"id:         key_0001\n",
		"name:       ci bot\n",
		"prefix:     "+secret[:12]+"\n",
		"scopes:     articles:write, keys:admin, inspections:run\n",
		"expires:    "+exp.UTC().Format(time.RFC3339)+"\n",
		"principal:  prn_ci\n",
		"export BUZHOU_API_KEY=",
	)
	if r.stderr != "" {
		t.Errorf("stderr = %q, want nothing", r.stderr)
	}
}

func TestKeysCreateWithoutExpiry(t *testing.T) {
	f := newFakeServer(t)
	r := run(t, envFor(f, true), "", "keys", "create", "--name=reader", "--scope", "verifications:write")
	if r.err != nil {
		t.Fatalf("keys create: %v", r.err)
	}
	f.mu.Lock()
	req, sent := f.keyCreates[0], string(f.keyBodies[0])
	f.mu.Unlock()
	if req.GetExpiresAt() != nil {
		t.Errorf("expiresAt = %v, want none", req.GetExpiresAt())
	}
	// Unset limits are left out, so the server applies its defaults.
	for _, field := range []string{"expiresAt", "rateLimitPerMinute", "dailyQuota", "monthlyQuota", "principalId"} {
		if strings.Contains(sent, field) {
			t.Errorf("request body %s sends %s", sent, field)
		}
	}
	wantContains(t, "stdout", r.stdout, "expires:    never\n", "principal:  prn_0001\n")
}

func TestKeysCreateJSON(t *testing.T) {
	f := newFakeServer(t)
	r := run(t, envFor(f, true), "", "keys", "create", "--name", "bot", "--scopes", "articles:write", "--expires", "2099-01-01", "--json")
	if r.err != nil {
		t.Fatalf("keys create --json: %v", r.err)
	}
	f.mu.Lock()
	want := string(f.lastKeyReply)
	secret := f.keys[0].secret
	f.mu.Unlock()
	if r.stdout != strings.TrimSuffix(want, "\n")+"\n" {
		t.Errorf("stdout = %q, want the server's answer as is: %q", r.stdout, want)
	}
	var got identityv1.CreateApiKeyResponse
	if err := protojson.Unmarshal([]byte(r.stdout), &got); err != nil {
		t.Fatalf("stdout is not a CreateApiKeyResponse: %v", err)
	}
	if got.GetKey() != secret || got.GetExpiresAt().AsTime() != time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC) {
		t.Errorf("answer = %v", &got)
	}
}

func TestKeysCreateUsageErrors(t *testing.T) {
	valid := "valid scopes: articles:write, verifications:write, inspections:run, keys:admin"
	tests := []struct {
		name    string
		args    []string
		wantErr []string
	}{
		{name: "no name", args: []string{"--scope", "keys:admin"}, wantErr: []string{"--name is required"}},
		{name: "blank name", args: []string{"--name", "  ", "--scope", "keys:admin"}, wantErr: []string{"--name is required"}},
		{name: "no scope", args: []string{"--name", "x"}, wantErr: []string{"give at least one --scope", valid}},
		{name: "empty scopes list", args: []string{"--name", "x", "--scopes", " , "}, wantErr: []string{"give at least one --scope"}},
		{name: "unknown scope", args: []string{"--name", "x", "--scope", "articles:read"}, wantErr: []string{`unknown scope "articles:read"`, valid}},
		{name: "unknown scope in a list", args: []string{"--name", "x", "--scopes", "keys:admin,Keys:Admin"}, wantErr: []string{`unknown scope "Keys:Admin"`, valid}},
		{name: "internal scope", args: []string{"--name", "x", "--scope", "internal:feed"}, wantErr: []string{`scope "internal:feed" is internal to Buzhou's own services`, valid}},
		{name: "bad expiry", args: []string{"--name", "x", "--scope", "keys:admin", "--expires", "next week"}, wantErr: []string{`--expires: "next week" is not a duration (30d, 12h, 1h30m), a date (2026-12-31) or an RFC 3339 time`}},
		{name: "past expiry", args: []string{"--name", "x", "--scope", "keys:admin", "--expires", "2020-01-01"}, wantErr: []string{`--expires: "2020-01-01" is not in the future (it means 2020-01-01T00:00:00Z)`}},
		{name: "negative rate", args: []string{"--name", "x", "--scope", "keys:admin", "--rate-per-minute", "-1"}, wantErr: []string{"--rate-per-minute must be between 0 and 2147483647, not -1"}},
		{name: "rate too large", args: []string{"--name", "x", "--scope", "keys:admin", "--rate-per-minute", "3000000000"}, wantErr: []string{"--rate-per-minute must be between 0 and 2147483647"}},
		{name: "negative daily quota", args: []string{"--name", "x", "--scope", "keys:admin", "--daily-quota", "-5"}, wantErr: []string{"--daily-quota must not be negative"}},
		{name: "negative monthly quota", args: []string{"--name", "x", "--scope", "keys:admin", "--monthly-quota=-5"}, wantErr: []string{"--monthly-quota must not be negative"}},
		{name: "quota not a number", args: []string{"--name", "x", "--scope", "keys:admin", "--daily-quota", "lots"}, wantErr: []string{`invalid value "lots" for flag -daily-quota`}},
		{name: "positional argument", args: []string{"mykey", "--scope", "keys:admin"}, wantErr: []string{`takes no arguments, got ["mykey"]; name the key with --name`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeServer(t)
			r := run(t, envFor(f, true), "", append([]string{"keys", "create"}, tt.args...)...)
			var ue *UsageError
			if !errors.As(r.err, &ue) {
				t.Fatalf("err = %v (%T), want a *UsageError", r.err, r.err)
			}
			wantContains(t, "error", r.err.Error(), append([]string{"keys create: "}, tt.wantErr...)...)
			wantContains(t, "stderr", r.stderr, "Usage:", "buzhou keys create")
			if r.stdout != "" {
				t.Errorf("stdout = %q, want nothing", r.stdout)
			}
			if len(f.auths) != 0 {
				t.Errorf("the server got %d requests, want none for a bad command line", len(f.auths))
			}
		})
	}
}

func TestParseExpiry(t *testing.T) {
	now := time.Date(2026, 6, 15, 12, 30, 45, 500_000_000, time.UTC)
	tests := []struct {
		in      string
		want    string // RFC 3339
		wantErr string
	}{
		{in: "30d", want: "2026-07-15T12:30:45Z"},
		{in: "1d", want: "2026-06-16T12:30:45Z"},
		{in: "365d", want: "2027-06-15T12:30:45Z"},
		{in: "12h", want: "2026-06-16T00:30:45Z"},
		{in: "90m", want: "2026-06-15T14:00:45Z"},
		{in: "1h30m", want: "2026-06-15T14:00:45Z"},
		{in: "2026-12-31", want: "2026-12-31T00:00:00Z"}, // start of the day, UTC
		{in: "2026-12-31T23:59:59Z", want: "2026-12-31T23:59:59Z"},
		{in: "2027-01-01T08:00:00+08:00", want: "2027-01-01T00:00:00Z"},
		{in: "2026-12-31T23:59:59.75Z", want: "2026-12-31T23:59:59Z"},
		{in: "2026-06-16", want: "2026-06-16T00:00:00Z"},
		{in: "2026-06-15", wantErr: "not in the future"}, // today began before now
		{in: "2020-01-01T00:00:00Z", wantErr: "not in the future"},
		{in: "0d", wantErr: "not in the future"},
		{in: "0s", wantErr: "not in the future"},
		{in: "-1h", wantErr: "not in the future"},
		{in: "99999999999999999999d", wantErr: "too many days"},
		{in: "1d12h", wantErr: "is not a duration"},
		{in: "30 d", wantErr: "is not a duration"},
		{in: "2026-13-01", wantErr: "is not a duration"},
		{in: "31/12/2026", wantErr: "is not a duration"},
		{in: "tomorrow", wantErr: "is not a duration"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parseExpiry(tt.in, now)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("parseExpiry(%q) = %s, %v; want an error containing %q", tt.in, got, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseExpiry(%q): %v", tt.in, err)
			}
			if s := got.Format(time.RFC3339Nano); s != tt.want {
				t.Errorf("parseExpiry(%q) = %s, want %s", tt.in, s, tt.want)
			}
		})
	}
}

// ts is a timestamp for seeding.
func ts(s string) *timestamppb.Timestamp {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return timestamppb.New(t)
}

func TestKeysList(t *testing.T) {
	f := newFakeServer(t)
	f.seedKeys(
		&identityv1.ApiKey{Id: "key_a", Name: "admin", Prefix: "bz_live_aaaa", Scopes: []string{"keys:admin"}, CreatedAt: ts("2026-01-01T10:00:00Z")},
		&identityv1.ApiKey{Id: "key_b", Name: "old ci", Prefix: "bz_live_bbbb", Scopes: []string{"articles:write", "inspections:run"},
			ExpiresAt: ts("2020-02-01T00:00:00Z"), CreatedAt: ts("2020-01-01T00:00:00Z")},
		&identityv1.ApiKey{Id: "key_c", Name: "leaked", Prefix: "bz_live_cccc", Scopes: []string{"verifications:write"},
			ExpiresAt: ts("2020-03-01T00:00:00Z"), RevokedAt: ts("2020-02-15T08:00:00Z"), CreatedAt: ts("2020-01-02T00:00:00Z")},
		&identityv1.ApiKey{Id: "key_d", Name: "bot\tname", Prefix: "bz_live_dddd", Scopes: []string{"articles:write"},
			ExpiresAt: ts("2099-12-31T00:00:00Z"), CreatedAt: ts("2026-01-03T00:00:00Z"), DailyQuota: 5000},
	)

	r := run(t, envFor(f, true), "", "keys", "list")

	if r.err != nil {
		t.Fatalf("keys list: %v", r.err)
	}
	want := strings.Join([]string{
		"ID     NAME      PREFIX        SCOPES                          EXPIRES               STATUS   CREATED",
		"key_a  admin     bz_live_aaaa  keys:admin                      never                 active   2026-01-01T10:00:00Z",
		"key_b  old ci    bz_live_bbbb  articles:write,inspections:run  2020-02-01T00:00:00Z  expired  2020-01-01T00:00:00Z",
		"key_c  leaked    bz_live_cccc  verifications:write             2020-03-01T00:00:00Z  revoked  2020-01-02T00:00:00Z",
		"key_d  bot name  bz_live_dddd  articles:write                  2099-12-31T00:00:00Z  active   2026-01-03T00:00:00Z",
	}, "\n") + "\n"
	if r.stdout != want {
		t.Errorf("stdout:\n%s\nwant:\n%s", r.stdout, want)
	}
	if strings.Contains(r.stdout, "secret_") {
		t.Error("the table shows a secret")
	}
}

func TestKeysListPages(t *testing.T) {
	f := newFakeServer(t)
	for i := range 450 {
		f.seedKeys(&identityv1.ApiKey{Id: fmt.Sprintf("key_%03d", i), Name: "k", Prefix: "p", Scopes: []string{"articles:write"}})
	}

	t.Run("table", func(t *testing.T) {
		f.mu.Lock()
		f.keyListCalls = nil
		f.mu.Unlock()
		r := run(t, envFor(f, true), "", "keys", "list")
		if r.err != nil {
			t.Fatalf("keys list: %v", r.err)
		}
		lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
		if len(lines) != 1+450 {
			t.Fatalf("got %d lines, want a header and 450 keys", len(lines))
		}
		if !strings.HasPrefix(lines[450], "key_449 ") {
			t.Errorf("last line = %q", lines[450])
		}
		f.mu.Lock()
		calls := f.keyListCalls
		f.mu.Unlock()
		if len(calls) != 3 {
			t.Fatalf("list requests = %d, want 3", len(calls))
		}
		for i, q := range calls {
			if q.Get("pageSize") != "200" {
				t.Errorf("request %d pageSize = %q, want 200", i+1, q.Get("pageSize"))
			}
			if (q.Get("pageToken") == "") != (i == 0) {
				t.Errorf("request %d pageToken = %q; only the first request goes without", i+1, q.Get("pageToken"))
			}
		}
	})

	t.Run("json joins the pages", func(t *testing.T) {
		r := run(t, envFor(f, true), "", "keys", "list", "--json")
		if r.err != nil {
			t.Fatalf("keys list --json: %v", r.err)
		}
		var got identityv1.ListApiKeysResponse
		if err := protojson.Unmarshal([]byte(r.stdout), &got); err != nil {
			t.Fatalf("stdout is not a list of keys: %v\n%s", err, r.stdout)
		}
		if len(got.GetKeys()) != 450 || got.GetNextPageToken() != "" {
			t.Errorf("got %d keys and token %q, want 450 and none", len(got.GetKeys()), got.GetNextPageToken())
		}
		if diff := cmp.Diff(f.storedKeys(), got.GetKeys(), protocmp.Transform()); diff != "" {
			t.Errorf("keys differ (-stored +printed):\n%s", diff)
		}
	})
}

func TestKeysListJSONKeepsServerFields(t *testing.T) {
	f := newFakeServer(t)
	f.seedKeys(&identityv1.ApiKey{Id: "key_a", Name: "a", Scopes: []string{"keys:admin"}, DailyQuota: 7, CreatedAt: ts("2026-01-01T00:00:00Z")})
	r := run(t, envFor(f, true), "", "keys", "list", "--json")
	if r.err != nil {
		t.Fatalf("keys list --json: %v", r.err)
	}
	// int64 stays a JSON string and times stay RFC 3339, as the server sent them.
	wantContains(t, "stdout", r.stdout, `"dailyQuota": "7"`, `"createdAt": "2026-01-01T00:00:00Z"`, `"id": "key_a"`)
	if !strings.HasPrefix(r.stdout, "{\n  \"keys\": [") {
		t.Errorf("stdout = %q, want an indented {\"keys\": [...]}", r.stdout)
	}
}

func TestKeysListEmpty(t *testing.T) {
	f := newFakeServer(t)
	r := run(t, envFor(f, true), "", "keys", "list")
	if r.err != nil {
		t.Fatalf("keys list: %v", r.err)
	}
	if r.stdout != "" {
		t.Errorf("stdout = %q, want nothing", r.stdout)
	}
	wantContains(t, "stderr", r.stderr, "no API keys; create one with `buzhou keys create`")

	r = run(t, envFor(f, true), "", "keys", "list", "--json")
	if r.err != nil {
		t.Fatalf("keys list --json: %v", r.err)
	}
	if r.stdout != "{\n  \"keys\": []\n}\n" {
		t.Errorf("stdout = %q, want an empty list", r.stdout)
	}
}

func TestKeysRevoke(t *testing.T) {
	f := newFakeServer(t)
	f.seedKeys(
		&identityv1.ApiKey{Id: "key_a", Name: "ci", Prefix: "bz_live_aaaa", Scopes: []string{"articles:write"}},
		&identityv1.ApiKey{Id: "key_b", Name: "other", Scopes: []string{"articles:write"}},
	)

	r := run(t, envFor(f, true), "", "keys", "revoke", "key_a")

	if r.err != nil {
		t.Fatalf("keys revoke: %v", r.err)
	}
	stored := f.storedKeys()
	if stored[0].GetRevokedAt() == nil || stored[1].GetRevokedAt() != nil {
		t.Fatalf("revokedAt = %v, %v; want key_a revoked and key_b not", stored[0].GetRevokedAt(), stored[1].GetRevokedAt())
	}
	want := fmt.Sprintf("Revoked API key key_a (\"ci\", prefix bz_live_aaaa) at %s; the server refuses it from now on.\n",
		stored[0].GetRevokedAt().AsTime().Format(time.RFC3339))
	if r.stdout != want {
		t.Errorf("stdout = %q, want %q", r.stdout, want)
	}

	t.Run("json", func(t *testing.T) {
		r := run(t, envFor(f, true), "", "keys", "revoke", "--json", "key_b")
		if r.err != nil {
			t.Fatalf("keys revoke --json: %v", r.err)
		}
		var got identityv1.ApiKey
		if err := protojson.Unmarshal([]byte(r.stdout), &got); err != nil {
			t.Fatalf("stdout is not a key: %v\n%s", err, r.stdout)
		}
		if got.GetId() != "key_b" || got.GetRevokedAt() == nil {
			t.Errorf("answer = %v, want key_b with revokedAt", &got)
		}
	})

	t.Run("then list shows it revoked", func(t *testing.T) {
		r := run(t, envFor(f, true), "", "keys", "list")
		if r.err != nil {
			t.Fatalf("keys list: %v", r.err)
		}
		if n := strings.Count(r.stdout, " revoked "); n != 2 {
			t.Errorf("table shows %d revoked keys, want 2:\n%s", n, r.stdout)
		}
	})

	t.Run("unknown id", func(t *testing.T) {
		r := run(t, envFor(f, true), "", "keys", "revoke", "key_zzz")
		if r.err == nil {
			t.Fatal("want an error")
		}
		wantContains(t, "error", r.err.Error(), "keys revoke key_zzz: server answered 404 NOT_FOUND", `no API key with id "key_zzz"`,
			"request id req-", "`buzhou keys list` shows every key's id")
		if r.stdout != "" {
			t.Errorf("stdout = %q, want nothing", r.stdout)
		}
	})

	t.Run("ids are escaped in the path", func(t *testing.T) {
		r := run(t, envFor(f, true), "", "keys", "revoke", "key/../a")
		if r.err == nil || !strings.Contains(r.err.Error(), `no API key with id "key/../a"`) {
			t.Errorf("err = %v, want the server to see the id whole", r.err)
		}
	})

	for _, args := range [][]string{{}, {"key_a", "key_b"}, {""}} {
		r := run(t, envFor(f, true), "", append([]string{"keys", "revoke"}, args...)...)
		var ue *UsageError
		if !errors.As(r.err, &ue) || !strings.Contains(r.err.Error(), "keys revoke: want exactly one key id") {
			t.Errorf("keys revoke %q: err = %v, want a usage error", args, r.err)
		}
	}
}

func TestKeysAuthHints(t *testing.T) {
	commands := map[string][]string{
		"create": {"keys", "create", "--name", "x", "--scope", "articles:write"},
		"list":   {"keys", "list"},
		"revoke": {"keys", "revoke", "key_a"},
	}
	keys := []struct {
		name    string
		key     string
		wantErr string
	}{
		{name: "no key", key: "", wantErr: "server answered 401 UNAUTHENTICATED: this needs an API key with scope keys:admin"},
		{name: "unknown key", key: "bz_nope", wantErr: "server answered 401 UNAUTHENTICATED: the API key is not valid"},
		{name: "key without keys:admin", key: testWriterKey, wantErr: `server answered 403 PERMISSION_DENIED: the key lacks scope "keys:admin" (it has: articles:write)`},
	}
	for cmdName, args := range commands {
		for _, k := range keys {
			t.Run(cmdName+"/"+k.name, func(t *testing.T) {
				f := newFakeServer(t)
				f.seedKeys(&identityv1.ApiKey{Id: "key_a", Name: "a", Scopes: []string{"articles:write"}})
				r := run(t, map[string]string{"BUZHOU_URL": f.URL, "BUZHOU_API_KEY": k.key}, "", args...)
				if r.err == nil {
					t.Fatalf("want an error; stdout %q", r.stdout)
				}
				var ue *UsageError
				if errors.As(r.err, &ue) {
					t.Errorf("err is a usage error: %v", r.err)
				}
				wantContains(t, "error", r.err.Error(), "keys "+cmdName, k.wantErr, "(request id req-1); "+adminHint)
				if r.stdout != "" {
					t.Errorf("stdout = %q, want nothing", r.stdout)
				}
				if got := f.storedKeys(); len(got) != 1 || got[0].GetRevokedAt() != nil {
					t.Errorf("keys changed: %v", got)
				}
			})
		}
	}
}

func TestKeysLifecycle(t *testing.T) {
	f := newFakeServer(t)

	// The bootstrap-style admin key makes a new admin key ...
	r := run(t, envFor(f, true), "", "keys", "create", "--name", "second admin", "--scope", "keys:admin", "--expires", "1h")
	if r.err != nil {
		t.Fatalf("keys create: %v", r.err)
	}
	f.mu.Lock()
	secret := f.keys[0].secret
	f.mu.Unlock()
	mine := map[string]string{"BUZHOU_URL": f.URL, "BUZHOU_API_KEY": secret}

	// ... which works at once ...
	r = run(t, mine, "", "keys", "list")
	if r.err != nil {
		t.Fatalf("keys list with the new key: %v", r.err)
	}
	wantContains(t, "stdout", r.stdout, "key_0001", "second admin", "keys:admin", " active ")

	// ... until it is revoked.
	if r := run(t, envFor(f, true), "", "keys", "revoke", "key_0001"); r.err != nil {
		t.Fatalf("keys revoke: %v", r.err)
	}
	r = run(t, mine, "", "keys", "list")
	if r.err == nil {
		t.Fatal("the revoked key still lists keys")
	}
	wantContains(t, "error", r.err.Error(), "401 UNAUTHENTICATED", adminHint)
}

func TestKeysFlagsAfterTheID(t *testing.T) {
	f := newFakeServer(t)
	f.seedKeys(&identityv1.ApiKey{Id: "key_a", Name: "a", Scopes: []string{"articles:write"}})
	// --key given on the command line beats the environment.
	r := run(t, map[string]string{"BUZHOU_URL": f.URL, "BUZHOU_API_KEY": testWriterKey}, "", "keys", "revoke", "key_a", "--key", testKey)
	if r.err != nil {
		t.Fatalf("keys revoke: %v", r.err)
	}
	if f.storedKeys()[0].GetRevokedAt() == nil {
		t.Error("key_a is not revoked")
	}
}
