package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protojson"

	searchv1 "buzhou.dev/proto/gen/buzhou/search/v1"
)

func searchFlags(*app) *flagSet {
	fs := newFlagSet("search", `buzhou search "<query>" [--domain D] [--tag T]... [--lang zh|en] [--version V] [--json]`,
		`Searches the published articles: a pasted error message, an error code, keywords
or a question, in English or Chinese. Prints a table, best first; --json prints the
server's answer. A query starting with "-" (an error code such as -32602) goes after
"--".`)
	fs.String("domain", "", "only this `domain`")
	fs.String("tag", "", "only articles with these `tags` (comma-separated; all must match)")
	fs.String("lang", "", "`language` of titles and snippets: zh or en (default: the query's)")
	fs.String("version", "", "only articles applicable to this `version`, e.g. 1.4.2 or openai@1.4.2")
	fs.String("status", "", "only this verification `status` (verified, partial, pending, failed, deprecated)")
	fs.Int("min-confidence", 0, "only articles with at least this `confidence` (0–100)")
	fs.Int("page", 1, "`page` number")
	fs.Int("page-size", 10, "results per `page` (at most 100)")
	fs.Bool("json", false, "print the server's JSON answer")
	return fs
}

// queryText joins the positional words, so quoting is optional.
func queryText(cmd string, fs *flagSet, a *app, args []string) (string, error) {
	q := strings.TrimSpace(strings.Join(args, " "))
	if q == "" {
		fs.writeUsage(a.stderr)
		return "", usagef("%s: give a query, e.g. buzhou %s \"connect ECONNREFUSED 127.0.0.1:5432\"", cmd, cmd)
	}
	return q, nil
}

func searchHint(status int, code string) string {
	if status == http.StatusBadRequest {
		return "fix the flag the message names"
	}
	return readHint("")(status, code)
}

func runSearch(ctx context.Context, a *app, fs *flagSet, args []string) error {
	q, err := queryText("search", fs, a, args)
	if err != nil {
		return err
	}
	c, err := fs.client(a)
	if err != nil {
		return fmt.Errorf("search: %w", err)
	}
	v := url.Values{"q": {q}}
	for _, f := range []struct{ flag, param string }{{"domain", "domain"}, {"tag", "tags"}, {"lang", "lang"}, {"version", "version"}, {"status", "status"}} {
		if s := fs.value(f.flag).(string); s != "" {
			v.Set(f.param, s)
		}
	}
	for _, f := range []struct{ flag, param string }{{"min-confidence", "minConfidence"}, {"page", "page"}, {"page-size", "pageSize"}} {
		if n := fs.value(f.flag).(int); n != 0 {
			v.Set(f.param, strconv.Itoa(n))
		}
	}
	r, err := c.do(ctx, call{method: http.MethodGet, path: "/api/v1/search", query: v, accept: "application/json", hint: searchHint})
	if err != nil {
		return fmt.Errorf("search: %w", err)
	}
	if fs.value("json").(bool) {
		return writeIndented(a.stdout, r.body, "search")
	}
	var ans searchv1.SearchResponse
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(r.body, &ans); err != nil {
		return fmt.Errorf("search: the server's answer is not a search result: %s", protoErrText(err))
	}
	lang := fs.value("lang").(string)
	var b strings.Builder
	if len(ans.GetItems()) == 0 {
		fmt.Fprintf(&b, "nothing found for %q (%d in all); try fewer words or the exact error code\n", q, ans.GetPagination().GetTotal())
	} else {
		tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "#\tSCORE\tSTATUS\tCONF\tSLUG\tTITLE")
		first := int(ans.GetPagination().GetPage()-1)*int(ans.GetPagination().GetPageSize()) + 1
		for i, it := range ans.GetItems() {
			title := it.GetTitle().GetEn()
			if lang == "zh" && it.GetTitle().GetZh() != "" || title == "" {
				title = it.GetTitle().GetZh()
			}
			fmt.Fprintf(tw, "%d\t%.3f\t%s\t%d\t%s\t%s\n", first+i, it.GetScore(), it.GetVerificationStatus(), it.GetConfidenceScore(), it.GetSlug(), clip(title, 70))
		}
		tw.Flush()
		p := ans.GetPagination()
		fmt.Fprintf(&b, "page %d of %d, %d results; read one with `buzhou get <slug>`\n", p.GetPage(), p.GetTotalPages(), p.GetTotal())
	}
	_, err = io.WriteString(a.stdout, b.String())
	return err
}

func resolveFlags(*app) *flagSet {
	fs := newFlagSet("resolve", `buzhou resolve "<question or error message>" [--lang zh|en] [--version V] [--max-tokens N] [--json]`,
		`Finds the one article that answers a question, with how sure the match is, what to
do next and the runners-up. Exits non-zero with the closest titles when nothing is
good enough.`)
	fs.String("lang", "", "`language` of the answer: zh or en (default: the question's)")
	fs.String("version", "", "only articles applicable to this `version`")
	fs.Int("max-tokens", 0, "trim the article by whole sections to about this many `tokens` (0: whole)")
	fs.Bool("json", false, "print the server's JSON answer")
	return fs
}

func runResolve(ctx context.Context, a *app, fs *flagSet, args []string) error {
	q, err := queryText("resolve", fs, a, args)
	if err != nil {
		return err
	}
	c, err := fs.client(a)
	if err != nil {
		return fmt.Errorf("resolve: %w", err)
	}
	v := url.Values{"q": {q}}
	lang := fs.value("lang").(string)
	if lang != "" {
		v.Set("lang", lang)
	}
	if s := fs.value("version").(string); s != "" {
		v.Set("version", s)
	}
	if n := fs.value("max-tokens").(int); n != 0 {
		v.Set("maxTokens", strconv.Itoa(n))
	}
	r, err := c.do(ctx, call{method: http.MethodGet, path: "/api/v1/resolve", query: v, accept: "application/json", hint: func(status int, code string) string {
		if status == http.StatusNotFound {
			return "the hub has no good answer yet; the question is counted so authors see it"
		}
		return searchHint(status, code)
	}})
	if err != nil {
		return fmt.Errorf("resolve: %w", err)
	}
	if fs.value("json").(bool) {
		return writeIndented(a.stdout, r.body, "resolve")
	}
	// The answer is the article's fields at the top level plus the resolve
	// fields; read the two halves from the same bytes.
	var extra struct {
		Confidence   float64  `json:"confidence"`
		Match        string   `json:"match"`
		NextSteps    []string `json:"nextSteps"`
		Trimmed      []string `json:"trimmed"`
		Alternatives []struct {
			Slug, Title string
			Score       float64
		} `json:"alternatives"`
		Slug     string            `json:"slug"`
		Title    map[string]string `json:"title"`
		Summary  map[string]string `json:"summary"`
		Content  map[string]string `json:"content"`
		Verified string            `json:"verificationStatus"`
		Conf     int               `json:"confidenceScore"`
	}
	if err := json.Unmarshal(r.body, &extra); err != nil {
		return fmt.Errorf("resolve: the server's answer is not a resolved article: %w", err)
	}
	pick := func(m map[string]string) string {
		if lang == "zh" && m["zh"] != "" || m["en"] == "" {
			return m["zh"]
		}
		return m["en"]
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n%s — %s match, confidence %.2f; %s, trust %d\n\n", pick(extra.Title), extra.Slug, extra.Match, extra.Confidence, extra.Verified, extra.Conf)
	if s := pick(extra.Summary); s != "" {
		b.WriteString(s + "\n\n")
	}
	if s := pick(extra.Content); s != "" {
		b.WriteString(strings.TrimSpace(s) + "\n\n")
	}
	if len(extra.Trimmed) > 0 {
		fmt.Fprintf(&b, "(cut to fit: %s; `buzhou get %s` has it all)\n\n", strings.Join(extra.Trimmed, ", "), extra.Slug)
	}
	if len(extra.NextSteps) > 0 {
		b.WriteString("Next steps:\n")
		for i, s := range extra.NextSteps {
			fmt.Fprintf(&b, "  %d. %s\n", i+1, s)
		}
	}
	if len(extra.Alternatives) > 0 {
		b.WriteString("\nAlso close:\n")
		for _, alt := range extra.Alternatives {
			fmt.Fprintf(&b, "  %.3f  %s  %s\n", alt.Score, alt.Slug, clip(alt.Title, 70))
		}
	}
	_, err = io.WriteString(a.stdout, b.String())
	return err
}

func reindexFlags(*app) *flagSet {
	fs := newFlagSet("reindex", "buzhou reindex [--no-wait]",
		`Rebuilds the search index from the first article change: relearns the learned
embedding model and re-embeds every published article. Searches keep answering from
what is indexed meanwhile. Needs a key with scope articles:write. Shows progress
until the rebuild is done.`)
	fs.Bool("no-wait", false, "start the rebuild and return at once")
	return fs
}

// reindexPoll is how often reindex looks at the index status.
const reindexPoll = 300 * time.Millisecond

func runReindex(ctx context.Context, a *app, fs *flagSet, args []string) error {
	if len(args) != 0 {
		fs.writeUsage(a.stderr)
		return usagef("reindex: takes no arguments, got %q", args)
	}
	c, err := fs.client(a)
	if err != nil {
		return fmt.Errorf("reindex: %w", err)
	}
	r, err := c.do(ctx, call{method: http.MethodPost, path: "/api/v1/search:reindex", body: []byte("{}"), accept: "application/json", hint: func(status int, code string) string {
		switch status {
		case http.StatusUnauthorized, http.StatusForbidden:
			return fmt.Sprintf("reindex needs a key with scope articles:write (--key or %s)", envKey)
		}
		return ""
	}})
	if err != nil {
		return fmt.Errorf("reindex: %w", err)
	}
	var started searchv1.ReindexArticlesResponse
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(r.body, &started); err != nil {
		return fmt.Errorf("reindex: the server's answer is not a reindex: %s", protoErrText(err))
	}
	target := started.GetTargetRevision()
	if fs.value("no-wait").(bool) {
		fmt.Fprintf(a.stdout, "reindex started; it is done when the index is back at feed revision %d (buzhou reindex shows progress)\n", target)
		return nil
	}
	bar := newProgressFor(a.stderr, int(target), a.env, "reindexing", "changes")
	applied := 0
	for {
		st, err := indexStatus(ctx, c)
		if err != nil {
			bar.done()
			return fmt.Errorf("reindex: %w", err)
		}
		if now := int(min(st.GetAppliedRevision(), target)); now > applied {
			bar.add(now-applied, 0)
			applied = now
		}
		if st.GetCaughtUp() && !st.GetRebuilding() {
			bar.done()
			fmt.Fprintf(a.stdout, "reindexed: %d articles in %d sections, model %s, at feed revision %d\n",
				st.GetIndexedArticles(), st.GetIndexedChunks(), st.GetEmbeddingModel(), st.GetAppliedRevision())
			return nil
		}
		if e := st.GetLastError(); e != "" {
			fmt.Fprintf(a.stderr, "buzhou: the index is retrying: %s\n", oneLine(e))
		}
		if err := sleep(ctx, reindexPoll); err != nil {
			bar.done()
			return err
		}
	}
}

func indexStatus(ctx context.Context, c *client) (*searchv1.GetIndexStatusResponse, error) {
	r, err := c.do(ctx, call{method: http.MethodGet, path: "/api/v1/search/status", accept: "application/json"})
	if err != nil {
		return nil, err
	}
	var st searchv1.GetIndexStatusResponse
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(r.body, &st); err != nil {
		return nil, fmt.Errorf("the index status is not readable: %s", protoErrText(err))
	}
	return &st, nil
}

// writeIndented prints the server's JSON bytes indented.
func writeIndented(w io.Writer, body []byte, cmd string) error {
	var buf bytes.Buffer
	if err := json.Indent(&buf, body, "", "  "); err != nil {
		return fmt.Errorf("%s: the server sent invalid JSON: %w", cmd, err)
	}
	buf.WriteByte('\n')
	_, err := w.Write(buf.Bytes())
	return err
}

// clip shortens s to n runes for a table cell.
func clip(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n-1]) + "…"
}
