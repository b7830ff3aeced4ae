package mcpserver

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

func TestAgentIDOf(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, want string }{
		{"claude-code", "claude-code"},
		{"Claude Code", "claude-code"},
		{"Cursor", "cursor"},
		{"  codex_cli v0.1 ", "codex_cli-v0.1"},
		{"智能体", ""},
		{"", ""},
		{strings.Repeat("a", 200), strings.Repeat("a", 64)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := agentIDOf(&mcp.Implementation{Name: tc.name})
			if tc.name == strings.Repeat("a", 200) {
				if len(got) == 0 || len(got) > 64 {
					t.Errorf("long name gave %q", got)
				}
				return
			}
			if got != tc.want {
				t.Errorf("agentIDOf(%q) = %q, want %q", tc.name, got, tc.want)
			}
		})
	}
	if agentIDOf(nil) != "" {
		t.Errorf("no client info should give no id")
	}
}

func TestCut(t *testing.T) {
	t.Parallel()
	text := "line one\nline two\nline three\n"
	if got := cut(text, 0); got != text {
		t.Errorf("0 tokens must keep the text")
	}
	if got := cut(text, 100); got != text {
		t.Errorf("a short text must stay whole")
	}
	got := cut(text, 4)
	if !strings.HasPrefix(got, "line one") || strings.Contains(got, "line three") || !strings.Contains(got, "[cut at about 4 tokens") {
		t.Errorf("cut: %q", got)
	}
	zh := strings.Repeat("中文", 100)
	if got := cut(zh, 5); !utf8.ValidString(got) {
		t.Errorf("cut split a character: %q", got)
	}
}

func TestFence(t *testing.T) {
	t.Parallel()
	if fence("echo ok") != "```" || fence("a ```` b") != "`````" {
		t.Errorf("fences: %q %q", fence("echo ok"), fence("a ```` b"))
	}
}
