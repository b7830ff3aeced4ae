package render

import (
	"fmt"
	"strings"
	"unicode"
)

// normalizeNewlines turns CRLF and lone CR line ends into LF so the document
// has one line-end convention whatever the writer sent.
func normalizeNewlines(s string) string {
	if !strings.ContainsRune(s, '\r') {
		return s
	}
	return strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\r", "\n")
}

// normalizeMarkdown prepares a markdown fragment to be one block of the
// document: LF line ends, no leading blank lines (the block separator adds
// one), no trailing whitespace. Leading spaces of the first line are kept:
// they may make it an indented code block.
func normalizeMarkdown(s string) string {
	s = strings.TrimRightFunc(normalizeNewlines(s), unicode.IsSpace)
	for {
		line, rest, found := strings.Cut(s, "\n")
		if !found || strings.TrimSpace(line) != "" {
			break
		}
		s = rest
	}
	if strings.TrimSpace(s) == "" {
		return ""
	}
	return s
}

// oneLine collapses all whitespace, newlines included, into single spaces:
// headings, list items and YAML scalars must stay on one line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// headingText makes s safe as the text of an ATX heading. A trailing run of
// '#' after a space (or alone) would be read as the optional closing
// sequence and vanish, so it is escaped.
func headingText(s string) string {
	s = oneLine(s)
	trimmed := strings.TrimRight(s, "#")
	if trimmed == s || (trimmed != "" && !strings.HasSuffix(trimmed, " ")) {
		return s
	}
	return trimmed + `\` + s[len(trimmed):]
}

// blockquote prefixes every line of s with "> ".
func blockquote(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		if strings.TrimSpace(l) == "" {
			lines[i] = ">"
		} else {
			lines[i] = "> " + l
		}
	}
	return strings.Join(lines, "\n")
}

// longestRun returns the length of the longest run of c in s.
func longestRun(s string, c byte) int {
	longest, run := 0, 0
	for i := 0; i < len(s); i++ {
		if s[i] != c {
			run = 0
			continue
		}
		run++
		longest = max(longest, run)
	}
	return longest
}

// infoString turns a code block's language into a fence info string: one
// word, without backticks (CommonMark forbids them after a backtick fence).
func infoString(lang string) string {
	f := strings.Fields(strings.ReplaceAll(lang, "`", ""))
	if len(f) == 0 {
		return ""
	}
	return f[0]
}

// fence is an opening code fence found by closeOpenFence.
type fence struct {
	char byte
	n    int
}

// parseFence reports whether line opens or closes a code fence at the top
// level (at most three spaces of indentation), and which.
func parseFence(line string) (f fence, info string, ok bool) {
	indent := len(line) - len(strings.TrimLeft(line, " "))
	if indent > 3 {
		return fence{}, "", false
	}
	rest := line[indent:]
	if rest == "" || (rest[0] != '`' && rest[0] != '~') {
		return fence{}, "", false
	}
	n := 0
	for n < len(rest) && rest[n] == rest[0] {
		n++
	}
	if n < 3 {
		return fence{}, "", false
	}
	info = strings.TrimSpace(rest[n:])
	if rest[0] == '`' && strings.ContainsRune(info, '`') {
		return fence{}, "", false
	}
	return fence{char: rest[0], n: n}, info, true
}

// closeOpenFence appends a closing fence when s ends inside a fenced code
// block. Without it an unclosed fence in the content would swallow every
// section rendered after it.
func closeOpenFence(s string) string {
	var open *fence
	for line := range strings.SplitSeq(s, "\n") {
		f, info, ok := parseFence(line)
		if !ok {
			continue
		}
		switch {
		case open == nil:
			open = &f
		case f.char == open.char && f.n >= open.n && info == "":
			open = nil
		}
	}
	if open == nil {
		return s
	}
	return s + "\n" + strings.Repeat(string(open.char), open.n)
}

// escapeLinkText escapes the characters that would end or nest link text.
func escapeLinkText(s string) string {
	return strings.NewReplacer(`\`, `\\`, `[`, `\[`, `]`, `\]`).Replace(s)
}

// escapeURL makes url a valid link destination. URLs with spaces, parentheses
// or backslashes go inside angle brackets, where only '<', '>' and line ends
// are not allowed; those are percent-encoded.
func escapeURL(url string) string {
	if !strings.ContainsFunc(url, func(r rune) bool {
		return r <= ' ' || r == 0x7f || strings.ContainsRune(`()<>\`, r)
	}) {
		return url
	}
	var b strings.Builder
	b.WriteByte('<')
	for _, r := range url {
		switch {
		case r == '<':
			b.WriteString("%3C")
		case r == '>':
			b.WriteString("%3E")
		case r == '\\':
			b.WriteString("%5C")
		case r == ' ':
			b.WriteString("%20")
		case r < ' ' || r == 0x7f:
			fmt.Fprintf(&b, "%%%02X", r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('>')
	return b.String()
}
