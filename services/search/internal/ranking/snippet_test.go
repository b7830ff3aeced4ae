package ranking

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"buzhou.dev/search/internal/document"
	"buzhou.dev/search/internal/index"
)

func TestSnippet(t *testing.T) {
	p := &index.Payload{
		SummaryEN: "What the article is about.",
		SummaryZH: "文章摘要。",
		TextEN:    "# Fixing it\nRestart the POSTGRES server.\n- Raise MAX_CONNECTIONS and restart Postgres\n",
		TextZH:    "# 修复\n重启数据库服务器。\n连接数太多时调高 max_connections\n",
	}
	for _, c := range []struct {
		name, lang string
		q          document.Query
		want       string
	}{
		{"the line with most terms, case ignored, marks trimmed", "en", document.Query{Terms: []string{"max_connections", "postgres"}}, "Raise MAX_CONNECTIONS and restart Postgres"},
		{"corrections count", "en", document.Query{Terms: []string{"resatrt"}, Corrections: []string{"restart"}}, "Restart the POSTGRES server."},
		{"Chinese text for Chinese", "zh", document.Query{Terms: []string{"连接", "max_connections"}}, "连接数太多时调高 max_connections"},
		{"the summary when nothing matches", "en", document.Query{Terms: []string{"kubernetes"}}, "What the article is about."},
		{"the summary in the asked language", "zh", document.Query{Terms: []string{"restart"}}, "文章摘要。"},
	} {
		if got := Snippet(p, c.q, c.lang); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
	en := *p
	en.TextZH, en.SummaryZH = "", ""
	if got := Snippet(&en, document.Query{Terms: []string{"postgres"}}, "zh"); got != "Restart the POSTGRES server." {
		t.Errorf("no Chinese text: %q, want the English line", got)
	}
}

// TestSnippetIsTheBestLine checks Snippet against its definition, written
// the plain way: the first of the first 200 lines holding the most probes.
func TestSnippetIsTheBestLine(t *testing.T) {
	plain := func(p *index.Payload, q document.Query, lang string) string {
		text := Pick(lang, p.TextZH, p.TextEN)
		var probes []string
		for _, term := range append(slices.Clone(q.Terms), q.Corrections...) {
			if pr := term[:min(len(term), 4)]; !slices.Contains(probes, pr) {
				probes = append(probes, pr)
			}
		}
		best, bestScore := "", 0
		for n := 0; n < snippetLines && text != ""; n++ {
			var line string
			line, text, _ = strings.Cut(text, "\n")
			score := 0
			for _, pr := range probes {
				if strings.Contains(strings.ToLower(line), pr) {
					score++
				}
			}
			if score > bestScore {
				best, bestScore = strings.TrimSpace(strings.TrimLeft(strings.TrimSpace(line), "#>*-|` ")), score
			}
		}
		if best == "" {
			return cut(Pick(lang, p.SummaryZH, p.SummaryEN), snippetRunes)
		}
		return cut(best, snippetRunes)
	}
	r := rand.New(rand.NewPCG(1, 2))
	pieces := []string{"a", "B", "ab", "Ab", "abc", "重启", "启动", "\n", "\n", " ", "# ", "- ", "é", "É"}
	words := []string{"a", "ab", "abc", "abcd", "b", "重启", "启动", "é", "ab\u00e9"}
	for range 20000 {
		var text strings.Builder
		for range r.IntN(60) {
			text.WriteString(pieces[r.IntN(len(pieces))])
		}
		if r.IntN(10) == 0 { // past the lines looked at
			text.WriteString(strings.Repeat("x\n", snippetLines-2+r.IntN(4)) + "abc abcd")
		}
		var q document.Query
		for range r.IntN(4) {
			q.Terms = append(q.Terms, words[r.IntN(len(words))])
		}
		if r.IntN(3) == 0 {
			q.Corrections = append(q.Corrections, words[r.IntN(len(words))])
		}
		p := &index.Payload{TextEN: text.String(), SummaryEN: "summary"}
		if got, want := Snippet(p, q, "en"), plain(p, q, "en"); got != want {
			t.Fatalf("Snippet(%q, %q) = %q, want %q", p.TextEN, q.Terms, got, want)
		}
	}
}

func TestAppendLower(t *testing.T) {
	all := make([]byte, 0x80)
	for i := range all {
		all[i] = byte(i)
	}
	for _, s := range []string{"", "ABC def", "ÄÖÜ Straße", "ΣΊΣΥΦΟΣ", "重启 PostgreSQL 服务", "한국어 ABC", "ＡＢＣ", "bad \xff byte",
		string(all), "@AZ[`az{" + string(all[1:]) + "MIXED Case Words Over Eight Bytes, é after ASCII"} {
		if got, want := string(appendLower(nil, s)), strings.ToLower(s); got != want {
			t.Errorf("appendLower(%q) = %q, want %q", s, got, want)
		}
	}
}

func TestCut(t *testing.T) {
	short := "short line"
	if got := cut(short, 240); got != short {
		t.Errorf("cut of a short line: %q", got)
	}
	long := strings.Repeat("word ", 100)
	got := cut(long, 240)
	if !strings.HasSuffix(got, " …") || utf8.RuneCountInString(got) > 242 {
		t.Errorf("cut at a space: %q", got)
	}
	cjk := strings.Repeat("数据库", 100)
	if got := cut(cjk, 240); utf8.RuneCountInString(got) != 241 || !strings.HasSuffix(got, "…") || !utf8.ValidString(got) {
		t.Errorf("cut of CJK: %d runes, %q", utf8.RuneCountInString(got), got[len(got)-8:])
	}
	if got := cut(strings.Repeat("é", 240), 240); got != strings.Repeat("é", 240) {
		t.Errorf("exactly n runes are kept whole: %q", got)
	}
}
