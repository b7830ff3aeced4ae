package spell

import "testing"

func TestCorrect(t *testing.T) {
	t.Parallel()
	s := New([]string{"econnrefused", "authentication", "langchain", "prompt", "templat", "timeout", "socket", "redis", "server", "spawn", "miss", "variabl", "401"})
	cases := []struct {
		in, want string
		ok       bool
	}{
		{"econnrefussed", "econnrefused", true},
		{"authetication", "authentication", true},
		{"langchian", "langchain", true},
		{"sokcet", "socket", true},
		{"redsi", "redis", true},
		{"timout", "timeout", true},
		{"socket", "", false},     // known
		{"abc", "", false},        // too short
		{"kubernetes", "", false}, // nothing close
		{"erver", "", false},      // known words are not forced onto near strings of another length... (1 edit allowed only under 6 letters)
		{"xyzzyplugh", "", false}, // nothing shares enough
		{"4o1x", "", false},       // digits
	}
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			t.Parallel()
			got, ok := s.Correct(c.in)
			if c.in == "erver" {
				// "erver" is one deletion from "server": corrected.
				if !ok || got != "server" {
					t.Errorf("Correct(%q) = %q, %v", c.in, got, ok)
				}
				return
			}
			if got != c.want || ok != c.ok {
				t.Errorf("Correct(%q) = %q, %v; want %q, %v", c.in, got, ok, c.want, c.ok)
			}
		})
	}
}

func TestDistance(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		a, b string
		d    int
	}{{"redsi", "redis", 1}, {"abc", "abc", 0}, {"timout", "timeout", 1}, {"kitten", "sitting", 3}} {
		if got := distance(c.a, c.b); got != c.d {
			t.Errorf("distance(%q, %q) = %d, want %d", c.a, c.b, got, c.d)
		}
	}
}
