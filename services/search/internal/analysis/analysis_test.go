package analysis

import (
	"slices"
	"strings"
	"testing"
)

func TestTerms(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		text    string
		want    []string // must all be present
		wantNot []string
	}{
		{"error code kept whole", "MCP error -32602: Invalid params", []string{"mcp", "error", "-32602", "invalid", "param"}, nil},
		{"status code", "HTTP 429 Too Many Requests", []string{"http", "429", "many", "request"}, []string{"too"}},
		{"errno names whole and unstemmed", "connect ECONNREFUSED 127.0.0.1:5432; listen EADDRINUSE", []string{"econnrefused", "eaddrinuse", "127.0.0.1", "5432"}, []string{"econnrefus"}},
		{"dotted identifier split and whole", "openai.AuthenticationError", []string{"openai.authenticationerror", "openai", "authentication", "error"}, nil},
		{"snake case", "thread_id checkpoint_ns", []string{"thread_id", "thread", "id", "checkpoint_ns", "checkpoint", "ns"}, nil},
		{"kebab case", "x-api-key header", []string{"x-api-key", "api", "key", "header"}, nil},
		{"camel case", "getUserName HTTPServer", []string{"getusername", "user", "name", "httpserver", "http", "server"}, nil},
		{"stems meet", "retries retried retry", []string{"retry"}, []string{"retri"}},
		{"es plurals", "fixes fix caches cache", []string{"fix", "cach"}, []string{"fixe"}},
		{"cjk bigrams", "连接被拒绝", []string{"连接", "接被", "被拒", "拒绝"}, []string{"连接被拒绝"}},
		{"mixed scripts", "Key缺失或无效", []string{"key", "缺失", "无效"}, nil},
		{"stop words dropped", "what is the best way", []string{"best", "way"}, []string{"what", "the", "is"}},
		{"version numbers", "Ubuntu 24.04 python3.12", []string{"ubuntu", "24.04", "python3.12"}, nil},
		{"trailing punctuation", "end. (x_y) -- done-", []string{"end", "x_y", "done"}, []string{"-", ""}},
		{"invalid utf-8 is a separator", "abc\xffdef", []string{"abc", "def"}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			got := Terms(c.text)
			for _, w := range c.want {
				if !slices.Contains(got, w) {
					t.Errorf("Terms(%q) = %q, missing %q", c.text, got, w)
				}
			}
			for _, w := range c.wantNot {
				if slices.Contains(got, w) {
					t.Errorf("Terms(%q) = %q, should not hold %q", c.text, got, w)
				}
			}
		})
	}
}

func TestGramsMatchMisspellings(t *testing.T) {
	t.Parallel()
	cases := []struct {
		typo, word string
		minShare   float64
	}{
		{"ECONNREFUSSED", "ECONNREFUSED", 0.6},
		{"authetication", "authentication", 0.6},
		{"langchian", "langchain", 0.4},
		{"timout", "timeout", 0.4},
	}
	for _, c := range cases {
		t.Run(c.typo, func(t *testing.T) {
			t.Parallel()
			a, b := Grams(c.typo), Grams(c.word)
			shared := 0
			for _, g := range a {
				if slices.Contains(b, g) {
					shared++
				}
			}
			if share := float64(shared) / float64(len(a)); share < c.minShare {
				t.Errorf("%q shares %d of %d grams with %q (%.2f), want ≥ %.2f", c.typo, shared, len(a), c.word, share, c.minShare)
			}
			for _, g := range a {
				if !strings.HasPrefix(g, GramPrefix) {
					t.Errorf("gram %q lacks the prefix", g)
				}
			}
		})
	}
}

func TestGramsSkipShortWordsAndCJK(t *testing.T) {
	t.Parallel()
	if g := Grams("a to 429 连接被拒绝"); len(g) != 0 {
		t.Errorf("Grams = %q, want none", g)
	}
}

func TestHugeTokensDropped(t *testing.T) {
	t.Parallel()
	blob := strings.Repeat("A", 10000)
	if got := Terms("start " + blob + " finish"); !slices.Equal(got, []string{"start", "finish"}) {
		t.Errorf("Terms = %q", got)
	}
}

func FuzzTerms(f *testing.F) {
	for _, s := range []string{"MCP error -32602", "连接被拒绝 ECONNREFUSED", "x-api-key", "\xff\xfe", "-", "._-"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, term := range Terms(s) {
			if term == "" {
				t.Fatalf("empty term from %q", s)
			}
		}
		_ = Grams(s)
	})
}

func BenchmarkTerms(b *testing.B) {
	text := strings.Repeat("openai.AuthenticationError: Error code: 401 - invalid x-api-key 连接被拒绝 ", 50)
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		Terms(text)
	}
}
