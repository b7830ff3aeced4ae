package sqldb

import (
	"slices"
	"testing"
)

func TestParseTextArray(t *testing.T) {
	t.Parallel()
	good := map[string][]string{
		`{}`:                    {},
		`{a}`:                   {"a"},
		`{articles:write,b}`:    {"articles:write", "b"},
		`{"",x}`:                {"", "x"},
		`{"a,b","q\"u","b\\s"}`: {"a,b", `q"u`, `b\s`},
		`{"NULL"," sp ",文字}`:    {"NULL", " sp ", "文字"},
	}
	for in, want := range good {
		got, err := parseTextArray(in)
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("parseTextArray(%s) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{``, `{`, `a,b`, `{a,}`, `{,a}`, `{"a}`, `{"a"b}`, `{NULL}`, `{{a}}`, `{a"b}`, `[1:1]={a}`} {
		if got, err := parseTextArray(in); err == nil {
			t.Errorf("parseTextArray(%s) = %q, want an error", in, got)
		}
	}
}
