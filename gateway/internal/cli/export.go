package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"google.golang.org/protobuf/encoding/protojson"

	"buzhou.dev/platform/vocab"
	articlev1 "buzhou.dev/proto/gen/buzhou/article/v1"
)

// exportPageSize is the server's maximum page size: fewest round trips.
const exportPageSize = 100

func exportFlags(*app) *flagSet {
	fs := newFlagSet("export", "buzhou export [--status s] [--domain d] [-o file]",
		`Writes articles as JSONL, one article per line in the API's JSON shape, newest
first; import reads the file back. Without a key only published and deprecated
articles are visible; a key with scope articles:write sees drafts and archived
articles too.`)
	fs.String("status", "", "only articles with this `status`: "+strings.Join(vocab.Statuses(), ", "))
	fs.String("domain", "", "only articles in this `domain`: "+strings.Join(vocab.Domains(), ", "))
	fs.String("o", "", "write to `file` instead of stdout (replaced only when the export succeeds)")
	return fs
}

func runExport(ctx context.Context, a *app, fs *flagSet, args []string) error {
	status := fs.value("status").(string)
	domain := fs.value("domain").(string)
	outPath := fs.value("o").(string)
	if len(args) != 0 {
		fs.writeUsage(a.stderr)
		return usagef("export: takes no arguments, got %q; filter with --status and --domain", args)
	}
	c, err := fs.client(a)
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}

	if outPath == "" || outPath == "-" {
		n, err := exportTo(ctx, c, status, domain, a.stdout)
		if err != nil {
			return fmt.Errorf("export: %w (after %s)", err, articles(n))
		}
		fmt.Fprintf(a.stderr, "exported %s\n", articles(n))
		return nil
	}

	// Write next to the target and rename at the end, so a failed export
	// never leaves a truncated file that a later import would half-load.
	tmp, err := os.CreateTemp(filepath.Dir(outPath), "."+filepath.Base(outPath)+".*.tmp")
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	defer os.Remove(tmp.Name()) // fails harmlessly after the rename
	n, err := exportTo(ctx, c, status, domain, tmp)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("export: %w (after %s; %s left unchanged)", err, articles(n), outPath)
	}
	if err := os.Rename(tmp.Name(), outPath); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	fmt.Fprintf(a.stderr, "exported %s to %s\n", articles(n), outPath)
	return nil
}

// exportTo pages through the articles and writes one JSON line each to w. It
// returns how many it wrote.
func exportTo(ctx context.Context, c *client, status, domain string, w io.Writer) (int, error) {
	bw := bufio.NewWriterSize(w, 256<<10)
	q := url.Values{"pageSize": {strconv.Itoa(exportPageSize)}}
	if status != "" {
		q.Set("status", status)
	}
	if domain != "" {
		q.Set("domain", domain)
	}
	// A server that hands back a token it already gave would make this loop
	// forever; remember them all (they are short and pages are few).
	seen := map[string]bool{}
	n := 0
	for {
		r, err := c.do(ctx, call{
			method: http.MethodGet,
			path:   "/api/v1/articles",
			query:  q,
			accept: "application/json",
			hint:   readHint(""),
		})
		if err != nil {
			return n, err
		}
		var page articlev1.ListArticlesResponse
		// A tolerant reader: fields of a newer server are skipped rather than
		// failing the whole export.
		if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(r.body, &page); err != nil {
			return n, fmt.Errorf("the server's answer is not a page of articles: %s", protoErrText(err))
		}
		for _, art := range page.GetArticles() {
			line, err := articleLine(art)
			if err != nil {
				return n, err
			}
			if _, err := bw.Write(line); err != nil {
				return n, fmt.Errorf("writing output: %w", err)
			}
			n++
		}
		next := page.GetNextPageToken()
		if next == "" {
			break
		}
		if seen[next] {
			return n, fmt.Errorf("the server repeated page token %q; stopping instead of looping", next)
		}
		seen[next] = true
		q.Set("pageToken", next)
	}
	if err := bw.Flush(); err != nil {
		return n, fmt.Errorf("writing output: %w", err)
	}
	return n, nil
}

// articleLine encodes one article as a compact JSON line. protojson adds
// random whitespace on purpose; compacting makes exports byte-stable, so two
// exports of the same data can be diffed.
func articleLine(art *articlev1.Article) ([]byte, error) {
	raw, err := protojson.Marshal(art)
	if err != nil {
		return nil, fmt.Errorf("encoding article %s: %w", art.GetId(), err)
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return nil, fmt.Errorf("encoding article %s: %w", art.GetId(), err)
	}
	buf.WriteByte('\n')
	return buf.Bytes(), nil
}

// articles says "1 article" or "n articles".
func articles(n int) string {
	if n == 1 {
		return "1 article"
	}
	return strconv.Itoa(n) + " articles"
}
