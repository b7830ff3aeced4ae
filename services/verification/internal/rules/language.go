package rules

import (
	"encoding/json"
	"regexp"
	"strings"
	"sync"
)

// languageSignal is a pattern that shows a language beyond doubt.
type languageSignal struct {
	lang string
	re   *regexp.Regexp
}

// languageSignals label a block only when they point at exactly one
// language; compiled once, on first use.
var languageSignals = sync.OnceValue(func() []languageSignal {
	m := regexp.MustCompile
	return []languageSignal{
		{"python", m(`(?m)^\s*(def|class)\s+\w+.*:\s*$|^from\s+[\w.]+\s+import\s|^import\s+\w+(\s+as\s+\w+)?\s*$|^if __name__ == .__main__.:`)},
		{"go", m(`(?m)^package\s+\w+\s*$|^func\s+(\(\w+\s+\*?\w+\)\s+)?\w+\(.*\{\s*$`)},
		{"javascript", m(`(?m)\brequire\(['"][\w@/.-]+['"]\)|^\s*(const|let)\s+\w+\s*=\s*(async\s+)?\(?[\w, ]*\)?\s*=>|\bconsole\.log\(|^\s*module\.exports\s*=`)},
		{"typescript", m(`(?m)^\s*(export\s+)?(interface|type)\s+\w+\s*(=|\{)|:\s*(string|number|boolean)(\[\])?\s*[;,)=]`)},
		{"sql", m(`(?im)^\s*(select\s.+\sfrom\s|insert\s+into\s|update\s+\w+\s+set\s|delete\s+from\s|create\s+(table|index|extension)\s|alter\s+table\s)`)},
		{"dockerfile", m(`(?m)^FROM\s+\S+.*\n(.*\n)*?(RUN|COPY|CMD|ENTRYPOINT)\s`)},
		{"bash", m(`(?m)^\s*(\$\s+)?(sudo\s+)?(curl|wget|apt-get|apt|brew|pip3?|npm|npx|yarn|pnpm|docker|kubectl|helm|git|export|cd|ls|echo|chmod|mkdir|systemctl|psql|go\s+(run|build|install|test|mod))\b[^=(]*$`)},
	}
})

var shebang = regexp.MustCompile(`^#!\s*(?:/usr/bin/env\s+)?(?:\S*/)?(bash|sh|zsh|python3?|node|ruby|perl)\b`)

// DetectLanguage names the language of a code block when it is beyond
// doubt: a shebang, valid JSON, or signals of exactly one language. It
// returns "" when unsure: a wrong label is worse than none.
func DetectLanguage(code string) string {
	code = strings.TrimSpace(code)
	if code == "" {
		return ""
	}
	if m := shebang.FindStringSubmatch(code); m != nil {
		switch m[1] {
		case "sh", "bash", "zsh":
			return "bash"
		case "python", "python3":
			return "python"
		case "node":
			return "javascript"
		}
		return m[1]
	}
	if (code[0] == '{' || code[0] == '[') && json.Valid([]byte(code)) {
		return "json"
	}
	var found []string
	for _, s := range languageSignals() {
		if s.re.MatchString(code) {
			found = append(found, s.lang)
		}
	}
	// TypeScript is JavaScript with types: its signals win over JavaScript's.
	if len(found) == 2 && found[0] == "javascript" && found[1] == "typescript" {
		return "typescript"
	}
	if len(found) == 1 {
		return found[0]
	}
	return ""
}
