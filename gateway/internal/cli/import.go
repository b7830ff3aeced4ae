package cli

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strings"

	"google.golang.org/protobuf/encoding/protojson"

	"buzhou.dev/platform/vocab"
	articlev1 "buzhou.dev/proto/gen/buzhou/article/v1"
)

const (
	defaultBatch = 100
	// maxBatch is the server's limit per BatchCreateArticlesRequest.
	maxBatch = 500
	// maxListedFailures keeps the summary readable; the count says the rest.
	maxListedFailures = 50
	// codeInvalidJSON marks lines rejected here, before reaching the server,
	// so they are told apart from the server's own codes.
	codeInvalidJSON = "INVALID_JSON"
)

func importFlags(*app) *flagSet {
	fs := newFlagSet("import", "buzhou import <file.jsonl|-> [--batch 100] [--publish]",
		`Creates articles from JSONL: one article per line in the API's JSON shape, as
export writes it ("-" reads stdin). Blank lines are skipped. Lines that are
not valid JSON, and articles the server rejects, are listed with their line
numbers without stopping the import; the command then fails so scripts notice.
Server-made fields (id, slug, revision, trust fields) are ignored by the
server. Needs a key with scope articles:write.`)
	fs.Int("batch", defaultBatch, fmt.Sprintf("articles per request, 1 to %d", maxBatch))
	fs.Bool("publish", false, `publish every article ("status": "published"); otherwise each line's status applies, draft when absent`)
	return fs
}

// failure is one input line that did not become an article.
type failure struct {
	line    int
	code    string
	message string
}

// pendingArticle is a parsed line waiting for its batch to be sent.
type pendingArticle struct {
	line    int
	article *articlev1.Article
}

// stopError is a failure of a whole request: nothing after line was imported.
type stopError struct {
	line int
	err  error
}

func (e *stopError) Error() string {
	return fmt.Sprintf("stopped at line %d; it and the lines after it were not imported: %v", e.line, e.err)
}

func (e *stopError) Unwrap() error { return e.err }

// importer reads lines, sends them in batches and keeps the tally.
type importer struct {
	c        *client
	batch    int
	publish  bool
	progress progress
	pending  []pendingArticle
	imported int
	failures []failure
}

func runImport(ctx context.Context, a *app, fs *flagSet, args []string) error {
	batch := fs.value("batch").(int)
	publish := fs.value("publish").(bool)
	if len(args) != 1 || args[0] == "" {
		fs.writeUsage(a.stderr)
		return usagef("import: want exactly one file (or - for stdin), got %d arguments", len(args))
	}
	if batch < 1 || batch > maxBatch {
		fs.writeUsage(a.stderr)
		return usagef("import: --batch must be between 1 and %d, not %d", maxBatch, batch)
	}
	c, err := fs.client(a)
	if err != nil {
		return fmt.Errorf("import: %w", err)
	}
	in, total, closeIn, err := openInput(a, args[0])
	if err != nil {
		return fmt.Errorf("import: %w", err)
	}
	defer closeIn()

	imp := &importer{c: c, batch: batch, publish: publish, progress: newProgress(a.stderr, total, a.env)}
	runErr := imp.run(ctx, in)
	imp.progress.done()
	if err := imp.writeSummary(a.stdout); err != nil {
		return fmt.Errorf("import: writing the summary: %w", err)
	}
	switch {
	case runErr != nil:
		return fmt.Errorf("import: %w", runErr)
	case len(imp.failures) > 0:
		return fmt.Errorf("import: %d of %d articles failed; see the lines listed", len(imp.failures), imp.imported+len(imp.failures))
	}
	return nil
}

// openInput opens the named file, or stdin for "-". For a regular file it
// also counts the articles up front so the progress bar can show a total.
func openInput(a *app, name string) (r io.Reader, total int, closeFn func() error, err error) {
	if name == "-" {
		return a.stdin, -1, func() error { return nil }, nil
	}
	f, err := os.Open(name)
	if err != nil {
		return nil, 0, nil, err
	}
	total = -1
	if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() {
		n, err := countRecords(f)
		if err != nil {
			f.Close()
			return nil, 0, nil, fmt.Errorf("reading %s: %w", name, err)
		}
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			f.Close()
			return nil, 0, nil, fmt.Errorf("reading %s: %w", name, err)
		}
		total = n
	}
	return f, total, f.Close, nil
}

// countRecords counts the non-blank lines of r without holding a whole line
// in memory; articles can be hundreds of KiB each.
func countRecords(r io.Reader) (int, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	n, content := 0, false
	for {
		chunk, err := br.ReadSlice('\n')
		if len(bytes.TrimSpace(chunk)) > 0 {
			content = true
		}
		switch {
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case err != nil && !errors.Is(err, io.EOF):
			return 0, err
		}
		if content {
			n++
		}
		content = false
		if err != nil { // io.EOF
			return n, nil
		}
	}
}

// run reads every line of in and imports it. It returns a *stopError when a
// whole request failed, and nil when it got through the input (item
// failures are in imp.failures).
func (imp *importer) run(ctx context.Context, in io.Reader) error {
	br := bufio.NewReaderSize(in, 1<<20)
	lineNo := 0
	for {
		line, readErr := br.ReadBytes('\n')
		if len(line) > 0 {
			lineNo++
			if err := imp.addLine(ctx, lineNo, line); err != nil {
				return err
			}
		}
		if errors.Is(readErr, io.EOF) {
			break
		}
		if readErr != nil {
			first := lineNo + 1
			if len(imp.pending) > 0 {
				first = imp.pending[0].line
			}
			return &stopError{line: first, err: fmt.Errorf("reading the input: %w", readErr)}
		}
	}
	return imp.flush(ctx)
}

// addLine parses one line and sends the batch once it is full.
func (imp *importer) addLine(ctx context.Context, lineNo int, line []byte) error {
	line = bytes.TrimSpace(line)
	if lineNo == 1 {
		// Editors on some systems start UTF-8 files with a byte-order mark.
		line = bytes.TrimSpace(bytes.TrimPrefix(line, []byte("\uFEFF")))
	}
	if len(line) == 0 {
		return nil
	}
	art := &articlev1.Article{}
	// Unknown fields are errors here: in a hand-written file they are
	// typos ("titel") that would otherwise be dropped without a word.
	if err := protojson.Unmarshal(line, art); err != nil {
		imp.failures = append(imp.failures, failure{line: lineNo, code: codeInvalidJSON, message: "not an article in the API's JSON shape: " + protoErrText(err)})
		imp.progress.add(1, 1)
		return nil
	}
	if imp.publish {
		art.Status = vocab.StatusPublished
	}
	imp.pending = append(imp.pending, pendingArticle{line: lineNo, article: art})
	if len(imp.pending) >= imp.batch {
		return imp.flush(ctx)
	}
	return nil
}

// flush sends the pending articles in one batchCreate request.
func (imp *importer) flush(ctx context.Context) error {
	if len(imp.pending) == 0 {
		return nil
	}
	batch := imp.pending
	imp.pending = nil
	req := &articlev1.BatchCreateArticlesRequest{Articles: make([]*articlev1.Article, len(batch))}
	for i, p := range batch {
		req.Articles[i] = p.article
	}
	body, err := protojson.Marshal(req)
	if err != nil {
		return &stopError{line: batch[0].line, err: fmt.Errorf("encoding the request: %w", err)}
	}
	r, err := imp.c.do(ctx, call{
		method: http.MethodPost,
		path:   "/api/v1/articles:batchCreate",
		body:   body,
		accept: "application/json",
		hint:   writeHint(len(batch)),
	})
	if err != nil {
		return &stopError{line: batch[0].line, err: err}
	}
	var resp articlev1.BatchCreateArticlesResponse
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(r.body, &resp); err != nil {
		return &stopError{line: batch[0].line, err: fmt.Errorf(
			"the server's answer is not a batch result (%s); lines %d to %d may or may not have been created",
			protoErrText(err), batch[0].line, batch[len(batch)-1].line)}
	}

	answered := make([]bool, len(batch))
	failed := 0
	for _, res := range resp.GetResults() {
		i := int(res.GetIndex())
		if i < 0 || i >= len(batch) || answered[i] {
			continue // not one of ours; the check below reports the gap
		}
		answered[i] = true
		if e := res.GetError(); e != nil {
			imp.failures = append(imp.failures, failure{line: batch[i].line, code: e.GetCode(), message: e.GetMessage()})
			failed++
			continue
		}
		imp.imported++
	}
	for i, ok := range answered {
		if !ok {
			imp.failures = append(imp.failures, failure{line: batch[i].line, code: "UNKNOWN", message: "the server sent no result for this line; check whether the article exists"})
			failed++
		}
	}
	imp.progress.add(len(batch), failed)
	return nil
}

// writeSummary prints "imported N, failed M" and the failures by line.
func (imp *importer) writeSummary(w io.Writer) error {
	// Lines rejected locally are recorded before their batch is sent, so the
	// list is sorted to read top to bottom like the file.
	slices.SortStableFunc(imp.failures, func(a, b failure) int { return a.line - b.line })
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "imported %d, failed %d\n", imp.imported, len(imp.failures))
	for i, f := range imp.failures {
		if i == maxListedFailures {
			fmt.Fprintf(bw, "… and %d more\n", len(imp.failures)-maxListedFailures)
			break
		}
		code := f.code
		if code == "" {
			code = "UNKNOWN"
		}
		fmt.Fprintf(bw, "line %d: %s %s\n", f.line, code, oneLine(f.message))
	}
	return bw.Flush()
}

// writeHint explains failures of a batch create request.
func writeHint(batch int) func(int, string) string {
	return func(status int, _ string) string {
		switch status {
		case http.StatusUnauthorized:
			return fmt.Sprintf("set %s or --key to a key with scope articles:write", envKey)
		case http.StatusForbidden:
			return fmt.Sprintf("the key lacks scope articles:write; set %s or --key to a key that has it", envKey)
		case http.StatusRequestEntityTooLarge:
			if batch == 1 {
				return "this one article is larger than the server accepts; shorten it"
			}
			return fmt.Sprintf("the request (%d articles) is larger than the server accepts; lower --batch", batch)
		}
		return ""
	}
}

// protoErrText drops protojson's "proto:" prefix, which it writes with a
// randomly chosen space or no-break space to stop callers from matching it,
// and turns its "(line 1:7)" into "(column 7)": next to "line 4:" of the
// file, a JSON line number (always 1 in JSONL) would only mislead.
func protoErrText(err error) string {
	s := err.Error()
	if rest, ok := strings.CutPrefix(s, "proto:"); ok {
		s = strings.TrimLeft(rest, " \u00a0")
	}
	return regexp.MustCompile(`\(line 1:(\d+)\)`).ReplaceAllString(s, "(column $1)")
}
