package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
)

func getFlags(*app) *flagSet {
	fs := newFlagSet("get", "buzhou get <id-or-slug> [--format markdown|json] [--lang en|zh]",
		`Prints one article. Markdown (the default) is the whole article rendered in one
language, as agents read it; json is the article's API shape, pretty-printed.
Drafts and archived articles need a key with scope articles:write.`)
	fs.String("format", "markdown", "output `format`: markdown or json")
	fs.String("lang", "en", "`language` of the markdown: en or zh (the server falls back to the other one)")
	return fs
}

func runGet(ctx context.Context, a *app, fs *flagSet, args []string) error {
	format := fs.value("format").(string)
	lang := fs.value("lang").(string)
	if len(args) != 1 || args[0] == "" {
		fs.writeUsage(a.stderr)
		return usagef("get: want exactly one id or slug, got %d arguments", len(args))
	}
	if format != "markdown" && format != "json" {
		fs.writeUsage(a.stderr)
		return usagef("get: --format must be markdown or json, not %q", format)
	}
	if lang != "en" && lang != "zh" {
		fs.writeUsage(a.stderr)
		return usagef("get: --lang must be en or zh, not %q", lang)
	}
	c, err := fs.client(a)
	if err != nil {
		return fmt.Errorf("get: %w", err)
	}

	cl := call{
		method: http.MethodGet,
		path:   "/api/v1/articles/" + url.PathEscape(args[0]),
		query:  url.Values{"format": {format}},
		accept: "application/json",
		hint:   readHint(fmt.Sprintf("check the id or slug %q; drafts and archived articles are visible only with a key with scope articles:write", args[0])),
	}
	if format == "markdown" {
		cl.query.Set("lang", lang)
		cl.accept = "text/markdown"
	}
	r, err := c.do(ctx, cl)
	if err != nil {
		return fmt.Errorf("get %s: %w", args[0], err)
	}

	out := r.body
	if format == "json" {
		// Indent the server's own bytes rather than re-encoding through the
		// proto types: a newer server's fields are shown, not dropped.
		var buf bytes.Buffer
		if err := json.Indent(&buf, r.body, "", "  "); err != nil {
			return fmt.Errorf("get %s: the server sent invalid JSON: %w", args[0], err)
		}
		out = buf.Bytes()
	}
	if len(out) > 0 && out[len(out)-1] != '\n' {
		out = append(out, '\n')
	}
	if _, err := a.stdout.Write(out); err != nil {
		return fmt.Errorf("get %s: writing output: %w", args[0], err)
	}
	return nil
}

// readHint explains failures of public reads (get, export); notFound is the
// remedy for a 404 that came from the API itself.
func readHint(notFound string) func(int, string) string {
	return func(status int, code string) string {
		switch {
		case status == http.StatusUnauthorized:
			return fmt.Sprintf("the server does not accept the key from --key or %s; fix it, or unset it to read anonymously", envKey)
		case status == http.StatusForbidden:
			return "the key may not read this; use another key"
		case status == http.StatusNotFound && code != "":
			return notFound
		}
		return ""
	}
}
