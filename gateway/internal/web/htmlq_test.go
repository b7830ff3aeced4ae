package web

import (
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/net/html"

	"buzhou.dev/gateway/internal/openapi"
)

// newHandler serves a Site on fakes as the gateway mounts it, with the
// API's JSON 404 stood in by a recognisable body.
func newHandler(t testing.TB, a ArticleClient, s SearchClient, v VerificationClient, publicURL string) http.Handler {
	t.Helper()
	site, err := New(Config{Articles: a, Search: s, Verification: v, PublicURL: publicURL, OpenAPI: openapi.Document()})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	site.Mount(mux, func(h http.Handler) http.Handler { return h }, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`{"error":{"code":"NOT_FOUND"}}`))
	}))
	return mux
}

// newRequest is a GET of path and its recorder, which carries the request
// id as the gateway would have set it.
func newRequest(path string) (*http.Request, *httptest.ResponseRecorder) {
	rec := httptest.NewRecorder()
	rec.Header().Set("X-Request-Id", "req_test")
	return httptest.NewRequest(http.MethodGet, path, nil), rec
}

// get requests path from h; headers are name, value pairs.
func get(t testing.TB, h http.Handler, path string, headers ...string) *httptest.ResponseRecorder {
	t.Helper()
	req, rec := newRequest(path)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	h.ServeHTTP(rec, req)
	return rec
}

type htmlNode = html.Node

const htmlElement = html.ElementNode

// doc is a parsed page with a small selector language: tag, #id, .class
// and [attr] / [attr=value] / [attr^=prefix], compounded ("a.title[href]").
type doc struct {
	t    testing.TB
	root *html.Node
}

func parseHTML(t testing.TB, body string) *doc {
	t.Helper()
	root, err := html.Parse(strings.NewReader(body))
	if err != nil {
		t.Fatalf("parse page: %v", err)
	}
	return &doc{t: t, root: root}
}

var selectorPart = regexp.MustCompile(`^([a-z0-9]*)((?:[#.][A-Za-z0-9_-]+|\[[a-z:-]+(?:\^?=[^\]]*)?\])*)$`)
var selectorItem = regexp.MustCompile(`[#.][A-Za-z0-9_-]+|\[([a-z:-]+)(?:(\^?=)([^\]]*))?\]`)

func matcher(t testing.TB, sel string) func(*html.Node) bool {
	m := selectorPart.FindStringSubmatch(sel)
	if m == nil {
		t.Fatalf("selector %q is not supported", sel)
	}
	tag, rest := m[1], m[2]
	items := selectorItem.FindAllStringSubmatch(rest, -1)
	return func(n *html.Node) bool {
		if n.Type != html.ElementNode || (tag != "" && n.Data != tag) {
			return false
		}
		for _, it := range items {
			switch s := it[0]; {
			case s[0] == '#':
				if attr(n, "id") != s[1:] {
					return false
				}
			case s[0] == '.':
				if !strings.Contains(" "+attr(n, "class")+" ", " "+s[1:]+" ") {
					return false
				}
			default:
				v, ok := attrOK(n, it[1])
				switch {
				case !ok:
					return false
				case it[2] == "=" && v != it[3]:
					return false
				case it[2] == "^=" && !strings.HasPrefix(v, it[3]):
					return false
				}
			}
		}
		return true
	}
}

// all returns every element under the document matching sel; parts
// separated by spaces match descendants, as in CSS.
func (d *doc) all(sel string) []*html.Node {
	current := []*html.Node{d.root}
	for _, part := range strings.Fields(sel) {
		match := matcher(d.t, part)
		var next []*html.Node
		seen := map[*html.Node]bool{}
		for _, c := range current {
			for k := c.FirstChild; k != nil; k = k.NextSibling {
				for _, n := range findAll(k, match) {
					if !seen[n] {
						seen[n] = true
						next = append(next, n)
					}
				}
			}
		}
		current = next
	}
	return current
}

// one returns the only element matching sel, failing the test otherwise.
func (d *doc) one(sel string) *html.Node {
	d.t.Helper()
	ns := d.all(sel)
	if len(ns) != 1 {
		d.t.Fatalf("%d elements match %q, want 1", len(ns), sel)
	}
	return ns[0]
}

// in scopes the selectors to the element matching sel.
func (d *doc) in(sel string) *doc {
	d.t.Helper()
	return &doc{t: d.t, root: d.one(sel)}
}

// text is the text of the element matching sel, white space collapsed.
func (d *doc) text(sel string) string {
	d.t.Helper()
	return textOfNode(d.one(sel))
}

func findAll(root *html.Node, match func(*html.Node) bool) []*html.Node {
	var out []*html.Node
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if match(n) {
			out = append(out, n)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(root)
	return out
}

// blocks are the elements whose text reads apart from their neighbours'.
var blocks = regexp.MustCompile(`^(?:li|p|div|dt|dd|tr|td|th|h[1-6]|br|section|ul|ol|dl|pre|figure|figcaption|summary|details|table)$`)

func textOfNode(n *html.Node) string {
	var b strings.Builder
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.TextNode {
			b.WriteString(n.Data)
		}
		block := n.Type == html.ElementNode && blocks.MatchString(n.Data)
		if block {
			b.WriteByte(' ')
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
		if block {
			b.WriteByte(' ')
		}
	}
	walk(n)
	return strings.Join(strings.Fields(b.String()), " ")
}

func attrOK(n *html.Node, key string) (string, bool) {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val, true
		}
	}
	return "", false
}

func attr(n *html.Node, key string) string {
	v, _ := attrOK(n, key)
	return v
}

// texts returns the text of every element matching sel.
func (d *doc) texts(sel string) []string {
	var out []string
	for _, n := range d.all(sel) {
		out = append(out, textOfNode(n))
	}
	return out
}
