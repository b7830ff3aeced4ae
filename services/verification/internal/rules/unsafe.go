package rules

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"

	"buzhou.dev/platform/vocab"
	articlev1 "buzhou.dev/proto/gen/buzhou/article/v1"
)

// text is one piece of an article an agent reads.
type text struct {
	path string
	body string
	// lang is a code block's language (markdown's fenced blocks carry their own).
	lang string
	// context is read for warnings beside body (a code block's description).
	context string
	// code marks a code block's code.
	code bool
	// markdown bodies may hide HTML comments.
	markdown bool
}

func texts(a *articlev1.Article) []text {
	var out []text
	for _, l := range localized(a) {
		for _, lang := range vocab.Langs() {
			body := l.text.GetEn()
			if lang == vocab.LangZH {
				body = l.text.GetZh()
			}
			out = append(out, text{path: l.field + "." + lang, body: body, markdown: l.field == "content"})
		}
	}
	for i, cb := range a.GetCodeBlocks() {
		p := index("codeBlocks", i)
		out = append(out, text{path: p + ".code", body: cb.GetCode(), lang: strings.ToLower(cb.GetLanguage()), context: cb.GetDescription(), code: true},
			text{path: p + ".description", body: cb.GetDescription()})
	}
	for i, qa := range a.GetQaPairs() {
		p := index("qaPairs", i)
		out = append(out, text{path: p + ".question.en", body: qa.GetQuestion().GetEn()}, text{path: p + ".question.zh", body: qa.GetQuestion().GetZh()},
			text{path: p + ".answer.en", body: qa.GetAnswer().GetEn(), markdown: true}, text{path: p + ".answer.zh", body: qa.GetAnswer().GetZh(), markdown: true})
	}
	return out
}

// hit is one unsafe thing found in a text.
type hit struct {
	severity string
	// injection marks text aimed at the reading agent.
	injection bool
	what      string
	offset    int
}

// Unsafe evaluates content.unsafe_for_agents: text that tries to instruct
// the reading agent (critical), invisible characters (high; critical when
// they smuggle text), risky commands presented without a warning (high) and
// secrets written into code (high). One finding per field.
func Unsafe(a *articlev1.Article) []Finding {
	var out []Finding
	for _, t := range texts(a) {
		if strings.TrimSpace(t.body) == "" {
			continue
		}
		var hits []hit
		hits = append(hits, injections(t.body)...)
		if t.markdown {
			hits = append(hits, hiddenComments(t.body)...)
		}
		hits = append(hits, invisible(t.body)...)
		hits = append(hits, risky(t)...)
		hits = append(hits, secrets(t)...)
		if len(hits) == 0 {
			continue
		}
		slices.SortStableFunc(hits, func(x, y hit) int { return x.offset - y.offset })
		f := Finding{RuleKey: KeyUnsafeForAgents, Severity: vocab.RiskHigh, FieldPath: t.path,
			Title: "Risky instructions presented without a warning"}
		var what []string
		for _, h := range hits {
			if SeverityRank(h.severity) > SeverityRank(f.Severity) {
				f.Severity = h.severity
			}
			if h.injection {
				f.Title = "Text that tries to instruct the reading agent"
			}
			what = append(what, fmt.Sprintf("line %d: %s", lineOf(t.body, h.offset), h.what))
		}
		f.Evidence = Clip(strings.Join(what, "; "), 600)
		out = append(out, f)
	}
	return out
}

func lineOf(s string, offset int) int { return strings.Count(s[:offset], "\n") + 1 }

// quoteAt shows the matched text, short and on one line.
func quoteAt(s string, loc []int) string {
	return fmt.Sprintf("%q", Clip(strings.Join(strings.Fields(s[loc[0]:loc[1]]), " "), 80))
}

// pattern is a regular expression with the words it cannot match without
// (lower case, any of them): most texts lack them all, and a substring
// search is far cheaper than the regular expression.
type pattern struct {
	re    *regexp.Regexp
	needs []string
}

// find returns up to n matches in s, whose lower-case form is lower.
func (p pattern) find(s, lower string, n int) [][]int {
	if !slices.ContainsFunc(p.needs, func(w string) bool { return strings.Contains(lower, w) }) {
		return nil
	}
	return p.re.FindAllStringIndex(s, n)
}

// injectionPatterns are phrases that address the reading agent; compiled
// once, on first use.
var injectionPatterns = sync.OnceValue(func() []pattern {
	m := regexp.MustCompile
	return []pattern{
		{m(`(?i)\b(ignore|disregard|forget|override)\s+(all\s+|any\s+)?(of\s+)?(the\s+|your\s+|my\s+)?(previous|prior|above|earlier|preceding|former|original)\s+(instructions?|prompts?|messages?|rules|directions|context)`),
			[]string{"ignore", "disregard", "forget", "override"}},
		{m(`(?i)\b(reveal|print|show|output|repeat|leak)\s+(your|the)\s+(system\s+prompt|hidden\s+instructions|instructions\s+above)`), []string{"prompt", "instruction"}},
		{m(`(?i)\b(do\s+not|don't|never)\s+(tell|inform|alert|warn)\s+the\s+user`), []string{"user"}},
		{m(`(?i)\b(note|message|instructions?)\s+(to|for)\s+(the\s+)?(ai|llm|language\s+model|assistant|agent|chatbot)s?\b`),
			[]string{"ai", "llm", "model", "assistant", "agent", "chatbot"}},
		{m(`(?i)\b(you\s+are|act\s+as)\s+(now\s+)?(dan|an?\s+unrestricted|in\s+developer\s+mode|jailbroken)\b`), []string{"dan", "unrestricted", "developer", "jailbr"}},
		{m(`<\|im_start\|>|<\|system\|>|\[/?INST\]|<<SYS>>`), []string{"<|", "inst]", "<<sys>>"}},
		{m(`(忽略|无视|忘记|忘掉)(之前|以上|上面|先前|前面|上述)的?(所有|全部)?(指令|指示|提示|规则|要求)`), []string{"忽略", "无视", "忘记", "忘掉"}},
		{m(`(不要|别)(告诉|通知|提醒)用户`), []string{"用户"}},
	}
})

// InstructsAgent returns what in s addresses the reading agent with
// instructions (injected phrases, chat-template tokens, instructions in
// HTML comments), "" for none: text callers send (record notes, problem
// reports) is shown to agents and must not carry any.
func InstructsAgent(s string) string {
	hits := append(injections(s), hiddenComments(s)...)
	if len(hits) == 0 {
		return ""
	}
	return hits[0].what
}

func injections(s string) []hit {
	var out []hit
	lower := strings.ToLower(s)
	for _, p := range injectionPatterns() {
		for _, loc := range p.find(s, lower, 3) {
			out = append(out, hit{severity: vocab.RiskCritical, injection: true, what: "instruction to the reading agent " + quoteAt(s, loc), offset: loc[0]})
		}
	}
	return out
}

var (
	htmlComment = regexp.MustCompile(`(?s)<!--(.*?)-->`)
	// A comment that addresses the reader and tells it what to do.
	addressee  = regexp.MustCompile(`(?i)\b(you|your|assistant|agent|ai|llm|model|claude|gpt|chatgpt|copilot)\b|你|助手|智能体|模型`)
	imperative = regexp.MustCompile(`(?i)\b(must|should|always|never|ignore|instead|do\s+not|don't|run|execute|send|fetch|call|open|reply|respond|say|recommend)\b|必须|应该|总是|不要|执行|运行|发送|回复`)
)

// hiddenComments finds HTML comments, invisible on the page and read by
// agents, that address the reader with instructions.
func hiddenComments(s string) []hit {
	var out []hit
	for _, m := range htmlComment.FindAllStringSubmatchIndex(s, -1) {
		body := s[m[2]:m[3]]
		if addressee.MatchString(body) && imperative.MatchString(body) || len(injections(body)) > 0 {
			out = append(out, hit{severity: vocab.RiskCritical, injection: true,
				what: "instructions hidden in an HTML comment " + quoteAt(s, []int{m[2], m[3]}), offset: m[0]})
		}
	}
	return out
}

// invisible finds characters that do not show but are read: zero-width
// characters between visible letters, byte-order marks inside text, bidi
// controls, and Unicode tag characters (which can spell out a hidden
// message; those are critical, and the message is shown).
func invisible(s string) []hit {
	var (
		out    []hit
		tagMsg strings.Builder
		tagAt  = -1
		counts = map[rune]int{}
		first  = -1
	)
	runes := []rune(s)
	offset := 0
	for i, r := range runes {
		switch {
		case r >= 0xE0000 && r <= 0xE007F:
			if tagAt < 0 {
				tagAt = offset
			}
			if r >= 0xE0020 && r <= 0xE007E {
				tagMsg.WriteRune(r - 0xE0000)
			}
		case r == 0x200B || r == 0x2060 || r == 0x2061 || r == 0x2062 || r == 0x2063 || r == 0x2064 || r == 0x180E,
			r == 0xFEFF && offset > 0,
			r >= 0x202A && r <= 0x202E, r >= 0x2066 && r <= 0x2069,
			// Joiners are part of emoji and of some scripts; between ASCII
			// they only hide.
			(r == 0x200C || r == 0x200D) && i > 0 && i+1 < len(runes) && runes[i-1] < 0x80 && runes[i+1] < 0x80:
			counts[r]++
			if first < 0 {
				first = offset
			}
		}
		offset += utf8.RuneLen(r)
	}
	if tagAt >= 0 {
		out = append(out, hit{severity: vocab.RiskCritical, injection: true,
			what: fmt.Sprintf("invisible Unicode tag characters spelling %q", Clip(tagMsg.String(), 80)), offset: tagAt})
	}
	if len(counts) > 0 {
		var kinds []string
		for _, r := range slices.Sorted(maps.Keys(counts)) {
			kinds = append(kinds, fmt.Sprintf("%d × U+%04X", counts[r], r))
		}
		out = append(out, hit{severity: vocab.RiskHigh, what: "invisible characters (" + strings.Join(kinds, ", ") + ") that may hide text from people", offset: first})
	}
	return out
}

// riskyPattern is a command that harms a machine or its security when run
// as shown.
type riskyPattern struct {
	pattern
	what string
}

// riskyPatterns are compiled once, on first use.
var riskyPatterns = sync.OnceValue(func() []riskyPattern {
	m := regexp.MustCompile
	p := func(re string, needs ...string) pattern { return pattern{m(re), needs} }
	return []riskyPattern{
		{p(`(?i)\b(curl|wget)\b[^\n|;&]*\|\s*(sudo\s+)?(-\S+\s+)*(ba|z|k|da|fi)?sh\b`, "curl", "wget"), "a downloaded script piped into a shell"},
		{p(`(?i)\b(ba|z)?sh\s+(-c\s+)?["']?(\$\(|<\(|`+"`"+`)\s*(curl|wget)\b`, "curl", "wget"), "a downloaded script run by a shell"},
		{p(`(?i)\brm\s+(-[a-z]*\s+)*(-[a-z]*r[a-z]*f[a-z]*|-[a-z]*f[a-z]*r[a-z]*|-[a-z]*r[a-z]*\s+-[a-z]*f[a-z]*|-[a-z]*f[a-z]*\s+-[a-z]*r[a-z]*|--recursive\s+--force|--force\s+--recursive)\s+(--no-preserve-root\s+)?["']?(/|/\*|~/?|\$HOME/?|\*)["']?(\s|$|;|&|\))`, "rm"), "a recursive forced delete of / or the home directory"},
		{p(`(?i)\bchmod\s+((-[a-z]*R[a-z]*|--recursive)\s+(0?777|a\+rwx|ugo\+rwx)|(0?777|a\+rwx|ugo\+rwx)\s+(-[a-z]*R[a-z]*|--recursive))\b`, "chmod"), "permissions opened to everyone, recursively (chmod -R 777)"},
		{p(`(?i)\bcurl\b[^\n]*\s(-k|--insecure)\b`, "curl"), "TLS verification switched off (curl -k)"},
		{p(`(?i)\bwget\b[^\n]*--no-check-certificate`, "--no-check-certificate"), "TLS verification switched off (wget --no-check-certificate)"},
		{p(`\bverify\s*=\s*False\b|\bcheck_hostname\s*=\s*False\b|\bssl\.CERT_NONE\b|\bssl\._create_unverified_context\b`, "verify", "check_hostname", "cert_none", "_create_unverified"), "TLS verification switched off (Python)"},
		{p(`\bInsecureSkipVerify\s*:\s*true\b`, "insecureskipverify"), "TLS verification switched off (Go InsecureSkipVerify)"},
		{p(`\bNODE_TLS_REJECT_UNAUTHORIZED\s*=\s*['"]?0|\brejectUnauthorized\s*:\s*false\b`, "rejectunauthorized", "node_tls_reject_unauthorized"), "TLS verification switched off (Node.js)"},
		{p(`(?i)\b(http\.)?sslVerify\s*(=\s*|\s+)false\b|\bPYTHONHTTPSVERIFY\s*=\s*['"]?0|\bCURLOPT_SSL_VERIFYPEER\s*,\s*(false|0)\b`, "sslverify", "pythonhttpsverify", "curlopt_ssl_verifypeer"), "TLS verification switched off"},
	}
})

// warningWords mark a risk as explained to the reader.
var warningWords = regexp.MustCompile(`(?i)\b(warning|caution|danger(ous)?|careful|insecure|unsafe|never|do\s+not|don't|only\s+(for|in)\s+(testing|tests|development|local)|not\s+(for|in)\s+production|at\s+your\s+own\s+risk|risk(y|s)?)\b|⚠|警告|注意|危险|切勿|不要|谨慎|风险|仅用于测试`)

// warned reports a warning near s[loc]: in the 400 bytes before, the 200
// after, or the context (a code block's description).
func warned(t text, loc []int) bool {
	from, to := max(0, loc[0]-400), min(len(t.body), loc[1]+200)
	return warningWords.MatchString(t.body[from:to]) || warningWords.MatchString(t.context)
}

func risky(t text) []hit {
	var out []hit
	lower := strings.ToLower(t.body)
	for _, p := range riskyPatterns() {
		for _, loc := range p.find(t.body, lower, 3) {
			if !warned(t, loc) {
				out = append(out, hit{severity: vocab.RiskHigh, what: p.what + " " + quoteAt(t.body, loc) + " without a warning", offset: loc[0]})
			}
		}
	}
	return out
}

// realSecret matches credentials of well-known services: a leak whatever
// the text says around it.
var realSecret = regexp.MustCompile(`\b(AKIA[0-9A-Z]{16}|gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,}|sk-(proj-|ant-)?[A-Za-z0-9_-]{32,}|xox[abprs]-[A-Za-z0-9-]{10,}|AIza[0-9A-Za-z_-]{35}|sk_live_[0-9a-zA-Z]{24,})\b|-----BEGIN ([A-Z]+ )?PRIVATE KEY-----`)

// hardcoded is a secret-named variable or key given a literal in code: the
// article teaches pasting a secret into source code.
var hardcoded = regexp.MustCompile(`(?i)(api[_-]?key|secret|token|passw(or)?d|credentials?)\w*["']?\s*(:|=|:=)\s*["']([^"'\n{}$]{8,})["']`)

var (
	// identifier is a value that names something rather than holding a secret.
	identifier = regexp.MustCompile(`^[a-z_]+$`)
	// placeholder is a value that asks the reader to paste their secret.
	placeholder = regexp.MustCompile(`(?i)your|replace|insert|paste|changeme|xxxx`)
)

// secretLike reports a literal that is, or stands for, a real secret: a
// placeholder asking for one, or a value as long as real keys are (short
// example values in test data are not).
func secretLike(value string) bool {
	return !identifier.MatchString(value) && (placeholder.MatchString(value) || len(value) >= 16)
}

// programming are the languages in whose source a pasted secret ends up
// committed; shell and .env snippets are where secrets belong.
func programming(lang string) bool {
	return slices.Contains([]string{"python", "py", "javascript", "js", "typescript", "ts", "go", "golang", "java", "ruby", "rb",
		"php", "csharp", "cs", "c#", "rust", "rs", "kotlin", "kt", "swift", "c", "cpp", "c++", "scala", "jsx", "tsx"}, lang)
}

// codeParts returns the programming-language code of t with its offsets:
// t itself for a code block, its fenced blocks for markdown.
func codeParts(t text) [][2]int {
	if t.code {
		if programming(t.lang) {
			return [][2]int{{0, len(t.body)}}
		}
		return nil
	}
	var (
		out   [][2]int
		start = -1
		lang  string
		pos   int
	)
	for _, line := range strings.SplitAfter(t.body, "\n") {
		if m := fence.FindStringSubmatch(line); m != nil {
			if start < 0 {
				start, lang = pos+len(line), strings.ToLower(m[2])
			} else {
				if programming(lang) {
					out = append(out, [2]int{start, pos})
				}
				start = -1
			}
		}
		pos += len(line)
	}
	return out
}

func secrets(t text) []hit {
	var out []hit
	for _, loc := range realSecret.FindAllStringIndex(t.body, 3) {
		out = append(out, hit{severity: vocab.RiskHigh, what: "what looks like a real credential (" + Clip(t.body[loc[0]:loc[1]], 12) + ")", offset: loc[0]})
	}
	for _, part := range codeParts(t) {
		code := t.body[part[0]:part[1]]
		for _, m := range hardcoded.FindAllStringSubmatchIndex(code, 3) {
			value := code[m[8]:m[9]]
			loc := []int{part[0] + m[0], part[0] + m[1]}
			if !secretLike(value) || realSecret.MatchString(value) || warned(t, loc) {
				continue // a name or a short example value, a leak reported above, or explained
			}
			out = append(out, hit{severity: vocab.RiskHigh, what: "a secret written into source code " + quoteAt(t.body, loc) + "; read it from the environment or a secret manager", offset: loc[0]})
		}
	}
	return out
}
