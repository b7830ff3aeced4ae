package render

import (
	"fmt"
	"strings"

	articlev1 "buzhou.dev/proto/gen/buzhou/article/v1"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// yamlWriter writes the front matter: a flat mapping of scalars, lists of
// scalars and one list of mappings (runtime_env). Unset values are left out.
type yamlWriter struct {
	b strings.Builder
}

func (y *yamlWriter) str(key, v string) {
	if v == "" {
		return
	}
	fmt.Fprintf(&y.b, "%s: %s\n", key, yamlQuote(v))
}

func (y *yamlWriter) int(key string, v int32) {
	if v == 0 {
		return
	}
	fmt.Fprintf(&y.b, "%s: %d\n", key, v)
}

func (y *yamlWriter) time(key string, ts *timestamppb.Timestamp) {
	if s := formatTime(ts); s != "" {
		fmt.Fprintf(&y.b, "%s: %s\n", key, s)
	}
}

func (y *yamlWriter) list(key string, vs []string) {
	var items []string
	for _, v := range vs {
		if v = oneLine(v); v != "" {
			items = append(items, v)
		}
	}
	if len(items) == 0 {
		return
	}
	fmt.Fprintf(&y.b, "%s:\n", key)
	for _, v := range items {
		fmt.Fprintf(&y.b, "  - %s\n", yamlQuote(v))
	}
}

func (y *yamlWriter) runtimes(key string, envs []*articlev1.RuntimeEnv) {
	wrote := false
	for _, e := range envs {
		var fields []string
		if n := oneLine(e.GetName()); n != "" {
			fields = append(fields, "name: "+yamlQuote(n))
		}
		if v := oneLine(e.GetVersion()); v != "" {
			fields = append(fields, "version: "+yamlQuote(v))
		}
		if len(fields) == 0 {
			continue
		}
		if !wrote {
			fmt.Fprintf(&y.b, "%s:\n", key)
			wrote = true
		}
		for i, f := range fields {
			prefix := "    "
			if i == 0 {
				prefix = "  - "
			}
			y.b.WriteString(prefix + f + "\n")
		}
	}
}

// yamlQuote returns s as a YAML double-quoted scalar. Every string is quoted,
// so no value (a title with ": ", a tag "yes", a version "3.10") can change
// type or break the mapping. Escapes are limited to those YAML and Go share
// (\" \\ \n \r \t \uXXXX), so tests can check values with strconv.Unquote.
func yamlQuote(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case !yamlPrintable(r):
			b.WriteString(`\u` + fmt.Sprintf("%04X", r))
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// yamlPrintable reports whether r may appear unescaped in a YAML 1.2 stream.
// NEL and the Unicode line and paragraph separators are escaped too: YAML 1.1
// parsers treat them as line breaks.
func yamlPrintable(r rune) bool {
	switch {
	case r >= 0x20 && r <= 0x7e:
		return true
	case r == 0x85, r == 0x2028, r == 0x2029, r == 0xfeff:
		return false
	case r >= 0xa0 && r <= 0xd7ff, r >= 0xe000 && r <= 0xfffd, r >= 0x10000 && r <= 0x10ffff:
		return true
	}
	return false
}
