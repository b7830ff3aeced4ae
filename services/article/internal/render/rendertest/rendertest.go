// Package rendertest checks documents made by package render: that the front
// matter is the YAML subset the renderer promises and that no section is
// empty. It serves the tests of render and of the packages whose content is
// rendered (seed).
package rendertest

import (
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

var (
	scalarLine = regexp.MustCompile(`^([a-z_]+): (.+)$`)
	listStart  = regexp.MustCompile(`^([a-z_]+):$`)
	listItem   = regexp.MustCompile(`^  - (.+)$`)
	mapField   = regexp.MustCompile(`^(?:  - |    )([a-z_]+): (".*")$`)
	intValue   = regexp.MustCompile(`^-?[0-9]+$`)
)

// FrontMatter checks that doc starts with front matter in the subset of
// YAML the renderer writes — a mapping of double-quoted strings, integers and
// RFC 3339 times, lists of strings and one list of string mappings — and
// returns its values and the rest of the document. No YAML library is
// available, so this is the contract instead: each string must unquote with
// strconv.Unquote (the renderer only uses escapes Go and YAML share), and
// anything else fails the test.
func FrontMatter(t testing.TB, doc string) (map[string]any, string) {
	t.Helper()
	rest, ok := strings.CutPrefix(doc, "---\n")
	if !ok {
		t.Fatalf("document does not start with front matter:\n%s", doc)
	}
	fm, body, ok := strings.Cut(rest, "\n---\n\n")
	if !ok {
		t.Fatalf("front matter is not closed by --- and a blank line:\n%s", doc)
	}
	unquote := func(line, v string) string {
		t.Helper()
		s, err := strconv.Unquote(v)
		if err != nil || !strings.HasPrefix(v, `"`) {
			t.Fatalf("front matter line %q: value %s is not a double-quoted string", line, v)
		}
		return s
	}
	out := map[string]any{}
	var listKey string
	for line := range strings.SplitSeq(fm, "\n") {
		if m := mapField.FindStringSubmatch(line); m != nil && listKey != "" {
			items, ok := out[listKey].([]map[string]string)
			if !ok && len(out[listKey].([]string)) > 0 {
				t.Fatalf("front matter %s mixes strings and mappings", listKey)
			}
			if strings.HasPrefix(line, "  - ") || len(items) == 0 {
				items = append(items, map[string]string{})
			}
			items[len(items)-1][m[1]] = unquote(line, m[2])
			out[listKey] = items
			continue
		}
		if m := listItem.FindStringSubmatch(line); m != nil && listKey != "" {
			items, ok := out[listKey].([]string)
			if !ok {
				t.Fatalf("front matter %s mixes strings and mappings", listKey)
			}
			out[listKey] = append(items, unquote(line, m[1]))
			continue
		}
		listKey = ""
		var key string
		var val any
		switch m, l := scalarLine.FindStringSubmatch(line), listStart.FindStringSubmatch(line); {
		case l != nil:
			key, listKey, val = l[1], l[1], []string(nil)
		case m == nil:
			t.Fatalf("front matter line %q is not `key: value` or a list", line)
		case strings.HasPrefix(m[2], `"`):
			key, val = m[1], unquote(line, m[2])
		case intValue.MatchString(m[2]):
			n, _ := strconv.Atoi(m[2])
			key, val = m[1], n
		default:
			ts, err := time.Parse(time.RFC3339Nano, m[2])
			if err != nil || ts.Location() != time.UTC {
				t.Fatalf("front matter line %q: value is neither string, integer nor RFC 3339 UTC time", line)
			}
			key, val = m[1], ts
		}
		if _, dup := out[key]; dup {
			t.Fatalf("front matter key %q appears twice", key)
		}
		out[key] = val
	}
	for key, v := range out {
		if l, ok := v.([]string); ok && len(l) == 0 {
			t.Errorf("front matter list %q is empty", key)
		}
	}
	return out, body
}

// CheckSections fails t when body has a heading with nothing under it, or
// when the renderer's own sections are out of order. Headings inside fenced
// code do not count.
func CheckSections(t testing.TB, body string) {
	t.Helper()
	type heading struct {
		level int
		text  string
	}
	// Each line is a heading (level > 0) or content (level 0).
	var lines []heading
	var fence string
	for line := range strings.SplitSeq(body, "\n") {
		trimmed := strings.TrimLeft(line, " ")
		switch {
		case fence != "":
			if strings.HasPrefix(trimmed, fence) && strings.Trim(trimmed, fence[:1]+" ") == "" {
				fence = ""
			}
			lines = append(lines, heading{})
			continue
		case strings.HasPrefix(trimmed, "```") || strings.HasPrefix(trimmed, "~~~"):
			fence = trimmed[:len(trimmed)-len(strings.TrimLeft(trimmed, trimmed[:1]))]
			lines = append(lines, heading{})
			continue
		case strings.TrimSpace(line) == "":
			continue
		}
		level := len(trimmed) - len(strings.TrimLeft(trimmed, "#"))
		if level == 0 || level > 6 || !strings.HasPrefix(trimmed[level:], " ") {
			lines = append(lines, heading{})
			continue
		}
		lines = append(lines, heading{level: level, text: strings.TrimSpace(trimmed[level:])})
	}
	if fence != "" {
		t.Errorf("document ends inside a %s fence", fence)
	}
	var order []string
	for i, h := range lines {
		if h.level == 0 {
			continue
		}
		if h.level == 2 {
			order = append(order, h.text)
		}
		if h.level == 1 {
			continue // the title stands alone when there is no summary
		}
		if i+1 == len(lines) || (lines[i+1].level > 0 && lines[i+1].level <= h.level) {
			t.Errorf("heading %q has nothing under it", strings.Repeat("#", h.level)+" "+h.text)
		}
	}
	own := [][]string{{"Code", "FAQ", "References", "Verification records"}, {"代码", "常见问题", "参考资料", "验证记录"}}
	for _, names := range own {
		last := -1
		for _, name := range names {
			i := slices.Index(order, name)
			for j := i + 1; i >= 0 && j < len(order); j++ {
				if order[j] == name {
					i = j
				}
			}
			if i < 0 {
				continue
			}
			if i < last {
				t.Errorf("section %q is out of order in %v", name, order)
			}
			last = i
		}
	}
	if len(order) == 0 || (order[len(order)-1] != "Verification records" && order[len(order)-1] != "验证记录") {
		t.Errorf("the last section is not the verification records: %v", order)
	}
}
