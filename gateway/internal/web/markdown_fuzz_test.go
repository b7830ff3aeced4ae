package web

import (
	"regexp"
	"strings"
	"testing"

	"golang.org/x/net/html"
)

// FuzzMarkdown: whatever an author writes, the rendered page fragment holds
// no script, no event handler, no javascript: or data: link and no element
// or attribute outside the sanitiser's list.
func FuzzMarkdown(f *testing.F) {
	for _, s := range []string{
		"## Fix\n\nRun `lsof -i :8080`.\n\n```bash\nkill -9 $(lsof -t -i :8080)\n```",
		"<script>alert(1)</script>", "[x](javascript:alert(1))", "![a](data:text/html;base64,PHNjcmlwdD4=)",
		"<img src=x onerror=alert(1)>", "<a href=\"&#106;avascript:alert(1)\">x</a>", "```\"><script>x</script>\n```",
		"| a | b |\n|---|---|\n| <iframe> | ~~x~~ |", "<svg><animate onbegin=alert(1)>", "\x00\xff# h\n",
	} {
		f.Add(s)
	}
	m := newMarkdown("Copy")
	unsafeURL := regexp.MustCompile(`(?i)^\s*(javascript|vbscript|data):`)
	f.Fuzz(func(t *testing.T, src string) {
		out := string(m.render(src))
		z := html.NewTokenizer(strings.NewReader(out))
		for {
			tt := z.Next()
			if tt == html.ErrorToken {
				break
			}
			if tt != html.StartTagToken && tt != html.SelfClosingTagToken {
				continue
			}
			tok := z.Token()
			switch tok.Data {
			case "script", "style", "iframe", "object", "embed", "form", "input", "svg", "math", "link", "meta", "base":
				t.Fatalf("render(%q) has <%s>:\n%s", src, tok.Data, out)
			}
			for _, a := range tok.Attr {
				switch {
				case strings.HasPrefix(strings.ToLower(a.Key), "on"), a.Key == "style", a.Key == "srcdoc", a.Key == "formaction":
					t.Fatalf("render(%q) has attribute %s=%q:\n%s", src, a.Key, a.Val, out)
				case (a.Key == "href" || a.Key == "src") && unsafeURL.MatchString(a.Val):
					t.Fatalf("render(%q) links to %q:\n%s", src, a.Val, out)
				}
			}
		}
	})
}
