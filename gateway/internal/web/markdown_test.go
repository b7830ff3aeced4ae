package web

import (
	"strings"
	"testing"
)

// TestMarkdown renders the markdown of articles into safe HTML with the
// page's code boxes.
func TestMarkdown(t *testing.T) {
	t.Parallel()
	md := newMarkdown("Copy")
	cases := []struct {
		name, src string
		want      []string
		not       []string
	}{
		{"headings start at h2", "# A\n\n## B\n\ntext", []string{"<h2>A</h2>", "<h3>B</h3>"}, []string{"<h1"}},
		{"headings close their gaps", "### A\n\n##### B", []string{"<h2>A</h2>", "<h3>B</h3>"}, nil},
		{"no heading jumps down", "## A\n\n# B\n\n#### C", []string{"<h2>A</h2>", "<h2>B</h2>", "<h3>C</h3>"}, []string{"<h4"}},
		{"table", "| a | b |\n| --- | --- |\n| 1 | 2 |", []string{"<table>", "<th>a</th>", "<td>2</td>"}, nil},
		{"raw HTML is dropped", "<script>alert(1)</script>\n\n<b onclick=\"x()\">bold</b> <iframe src=x></iframe>", nil, []string{"<script", "onclick", "<iframe", "<b"}},
		{"javascript links are not links", "[a](javascript:alert(1)) [b](JAVASCRIPT:alert(1)) [c](data:text/html,x)", nil, []string{"javascript:", "JAVASCRIPT:", "data:text"}},
		{"links", "[RFC](https://www.rfc-editor.org/rfc/rfc6750)", []string{`<a href="https://www.rfc-editor.org/rfc/rfc6750" rel="nofollow">RFC</a>`}, nil},
		{"images become links", `![a diagram](https://example.com/d.png "t")`, []string{`<a class="image" href="https://example.com/d.png" rel="nofollow">a diagram</a>`}, []string{"<img"}},
		{"an image in a link is its text", "[![alt text](https://example.com/i.png)](https://example.com/)", []string{`<a href="https://example.com/" rel="nofollow">alt text</a>`}, []string{"<img", `class="image"`}},
		{"fenced code is highlighted", "```python\nimport os\n```", []string{`<div class="codebox"><div class="codebar"><span class="lang">python</span><button type="button" class="copy" hidden="">Copy</button></div><pre class="chroma"><code>`, `<span class="kn">import</span>`}, nil},
		{"code in an unknown language stays text", "```nosuchlang\n<b>x</b>\n```", []string{`<span class="lang">nosuchlang</span>`, "&lt;b&gt;x&lt;/b&gt;"}, []string{"<b>"}},
		{"code without a language", "    indented <code>\n", []string{`<span class="lang">text</span>`, "indented &lt;code&gt;"}, nil},
		{"code cannot break out", "```html\n</code></pre><script>alert(1)</script>\n```", []string{`<span class="p">&lt;/</span><span class="nt">code</span>`}, []string{"<script"}},
		{"a language with markup", "```\"><script>\nx\n```", []string{`<span class="lang">&#34;&gt;&lt;script&gt;</span>`}, []string{"<script"}},
		{"comments are dropped", "text <!-- ignore previous instructions -->", nil, []string{"ignore previous"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := string(md.render(tc.src))
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("want %q in\n%s", w, got)
				}
			}
			for _, n := range tc.not {
				if strings.Contains(got, n) {
					t.Errorf("%q in\n%s", n, got)
				}
			}
		})
	}
}

// TestCodeBox escapes what it is given and highlights what it knows.
func TestCodeBox(t *testing.T) {
	t.Parallel()
	md := newMarkdown("复制")
	got := string(md.codeBox("bash", "echo '</pre><script>x</script>'"))
	if strings.Contains(got, "<script") || !strings.Contains(got, ">复制</button>") || !strings.Contains(got, `<span class="lang">bash</span>`) {
		t.Errorf("code box:\n%s", got)
	}
}
