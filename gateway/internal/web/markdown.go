package web

import (
	"bytes"
	"cmp"
	"html/template"
	"regexp"
	"strings"

	"github.com/alecthomas/chroma/v2"
	chromahtml "github.com/alecthomas/chroma/v2/formatters/html"
	"github.com/alecthomas/chroma/v2/lexers"
	"github.com/alecthomas/chroma/v2/styles"
	"github.com/microcosm-cc/bluemonday"
	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/extension"
	"github.com/yuin/goldmark/parser"
	"github.com/yuin/goldmark/renderer"
	gmhtml "github.com/yuin/goldmark/renderer/html"
	"github.com/yuin/goldmark/text"
	"github.com/yuin/goldmark/util"
)

// markdown turns article markdown into HTML that is safe to embed: goldmark
// parses CommonMark with GitHub's tables, raw HTML is never passed through,
// code is highlighted by chroma with CSS classes (no style attributes, so the
// page's Content-Security-Policy holds), and bluemonday sanitises the result
// as a second line of defence.
type markdown struct {
	md     goldmark.Markdown
	policy *bluemonday.Policy
	code   *codeRenderer
}

// newMarkdown returns a renderer whose copy buttons say copyLabel.
func newMarkdown(copyLabel string) *markdown {
	code := &codeRenderer{copyLabel: copyLabel, formatter: chromahtml.New(chromahtml.WithClasses(true), chromahtml.PreventSurroundingPre(true))}
	md := goldmark.New(
		goldmark.WithExtensions(extension.GFM),
		goldmark.WithParserOptions(parser.WithASTTransformers(util.Prioritized(headingShift{}, 100))),
		// Priority above the default renderer's 1000: these replace its code blocks and images.
		goldmark.WithRendererOptions(renderer.WithNodeRenderers(util.Prioritized(code, 100))),
	)
	return &markdown{md: md, policy: newPolicy(), code: code}
}

// classes are the class attributes this package writes: chroma's token
// classes and the code box's own.
var classes = regexp.MustCompile(`^[a-z0-9]{1,8}$|^(?:codebox|codebar|lang|copy|chroma|image)$`)

func newPolicy() *bluemonday.Policy {
	p := bluemonday.UGCPolicy()
	p.AllowAttrs("class").Matching(classes).OnElements("div", "span", "pre", "code", "button", "a")
	p.AllowElements("button")
	p.AllowAttrs("type").Matching(regexp.MustCompile(`^button$`)).OnElements("button")
	p.AllowAttrs("hidden").Matching(regexp.MustCompile(`^$`)).OnElements("button")
	return p
}

// render returns src as sanitised HTML.
func (m *markdown) render(src string) template.HTML {
	var buf bytes.Buffer
	if err := m.md.Convert([]byte(src), &buf); err != nil {
		// goldmark fails only when its writer does; a bytes.Buffer does not.
		return template.HTML(template.HTMLEscapeString(src))
	}
	return template.HTML(m.policy.SanitizeBytes(buf.Bytes()))
}

// codeBox returns one highlighted code block with its language and copy
// button, for the article's own code blocks; chroma escapes every token.
func (m *markdown) codeBox(lang, code string) template.HTML {
	var buf bytes.Buffer
	m.code.box(&buf, lang, code)
	return template.HTML(buf.String())
}

// codeRenderer renders fenced and indented code blocks as code boxes and
// images as links (the page loads no outside images: its CSP forbids them,
// and they would tell a third party who reads what).
type codeRenderer struct {
	copyLabel string
	formatter *chromahtml.Formatter
}

func (c *codeRenderer) RegisterFuncs(reg renderer.NodeRendererFuncRegisterer) {
	reg.Register(ast.KindFencedCodeBlock, c.renderCode)
	reg.Register(ast.KindCodeBlock, c.renderCode)
	reg.Register(ast.KindImage, c.renderImage)
}

func (c *codeRenderer) renderCode(w util.BufWriter, source []byte, node ast.Node, entering bool) (ast.WalkStatus, error) {
	if !entering {
		return ast.WalkContinue, nil
	}
	var lang string
	if f, ok := node.(*ast.FencedCodeBlock); ok {
		lang = string(f.Language(source))
	}
	var code strings.Builder
	lines := node.Lines()
	for i := range lines.Len() {
		seg := lines.At(i)
		code.Write(seg.Value(source))
	}
	var buf bytes.Buffer
	c.box(&buf, lang, code.String())
	_, _ = w.Write(buf.Bytes())
	return ast.WalkSkipChildren, nil
}

// box writes a code box: the language, a copy button the page's script
// reveals and wires (without JavaScript there is nothing to click), and the
// highlighted code.
func (c *codeRenderer) box(buf *bytes.Buffer, lang, code string) {
	lang = strings.TrimSpace(lang)
	buf.WriteString(`<div class="codebox"><div class="codebar"><span class="lang">`)
	buf.WriteString(template.HTMLEscapeString(cmp.Or(lang, "text")))
	buf.WriteString(`</span><button type="button" class="copy" hidden>`)
	buf.WriteString(template.HTMLEscapeString(c.copyLabel))
	buf.WriteString(`</button></div><pre class="chroma"><code>`)
	c.highlight(buf, lang, code)
	buf.WriteString(`</code></pre></div>`)
}

// highlight writes code as chroma's token spans, or escaped plain text when
// no lexer knows lang.
func (c *codeRenderer) highlight(buf *bytes.Buffer, lang, code string) {
	var lexer chroma.Lexer
	if lang != "" {
		lexer = lexers.Get(lang)
	}
	if lexer == nil {
		buf.WriteString(template.HTMLEscapeString(code))
		return
	}
	it, err := chroma.Coalesce(lexer).Tokenise(nil, code)
	if err == nil {
		var out bytes.Buffer
		if err = c.formatter.Format(&out, styles.Fallback, it); err == nil {
			buf.Write(out.Bytes())
			return
		}
	}
	buf.WriteString(template.HTMLEscapeString(code))
}

// renderImage writes an image as a link to it, its alt text as the link
// text; inside a link, as the alt text alone (links do not nest).
func (c *codeRenderer) renderImage(w util.BufWriter, source []byte, node ast.Node, entering bool) (ast.WalkStatus, error) {
	n := node.(*ast.Image)
	inLink := false
	for p := node.Parent(); p != nil; p = p.Parent() {
		if p.Kind() == ast.KindLink {
			inLink = true
		}
	}
	dest := util.URLEscape(n.Destination, true)
	link := !inLink && !gmhtml.IsDangerousURL(dest)
	switch {
	case entering && link:
		_, _ = w.WriteString(`<a class="image" href="`)
		_, _ = w.Write(util.EscapeHTML(dest))
		_, _ = w.WriteString(`">`)
	case !entering && link:
		_, _ = w.WriteString(`</a>`)
	}
	return ast.WalkContinue, nil
}

// headingShift renumbers the content's headings below the page's h1: the
// levels used, in order, become h2, h3, …, and no heading goes more than
// one level below the one before it (the first is an h2), so that headings
// never skip a level going down.
type headingShift struct{}

func (headingShift) Transform(doc *ast.Document, _ text.Reader, _ parser.Context) {
	var used [7]bool
	var headings []*ast.Heading
	_ = ast.Walk(doc, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		if h, ok := n.(*ast.Heading); ok && entering {
			used[h.Level] = true
			headings = append(headings, h)
		}
		return ast.WalkContinue, nil
	})
	var rank [7]int
	next := 2
	for l := 1; l <= 6; l++ {
		if used[l] {
			rank[l] = min(next, 6)
			next++
		}
	}
	prev := 1
	for _, h := range headings {
		h.Level = min(rank[h.Level], prev+1)
		prev = h.Level
	}
}
