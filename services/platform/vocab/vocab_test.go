package vocab

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestDomains(t *testing.T) {
	t.Parallel()
	want := []string{"agent", "mcp", "skill", "foundation", "transport", "tools_filesystem", "tools_postgres", "tools_github", "error_codes", "scenarios"}
	got := Domains()
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("Domains() (-want +got):\n%s", diff)
	}
	got[0] = "changed"
	if Domains()[0] != "agent" {
		t.Error("changing the slice Domains returned changed the domain list")
	}
	for _, d := range want {
		if !ValidDomain(d) {
			t.Errorf("ValidDomain(%q) = false", d)
		}
	}
	for _, d := range []string{"", "Agent", " agent", "changed", "tools"} {
		if ValidDomain(d) {
			t.Errorf("ValidDomain(%q) = true", d)
		}
	}
}

func TestEnums(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		valid func(string) bool
		good  []string
	}{
		{"status", ValidStatus, []string{"draft", "published", "archived", "deprecated"}},
		{"verification", ValidVerificationStatus, []string{"verified", "partial", "pending", "failed", "deprecated"}},
		{"risk", ValidRiskLevel, []string{"low", "medium", "high", "critical"}},
		{"lang", ValidLang, []string{"zh", "en"}},
		{"principal type", ValidPrincipalType, []string{"official_bot", "third_party_agent", "human_expert"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			for _, s := range tt.good {
				if !tt.valid(s) {
					t.Errorf("%q is not valid", s)
				}
			}
			for _, s := range []string{"", "unknown", strings.ToUpper(tt.good[0])} {
				if tt.valid(s) {
					t.Errorf("%q is valid", s)
				}
			}
		})
	}
}

func TestValidAgentID(t *testing.T) {
	t.Parallel()
	for _, id := range []string{"claude-code", "ChatGPT-User", "a", "x.y_z-1", strings.Repeat("a", MaxAgentIDLen)} {
		if !ValidAgentID(id) {
			t.Errorf("ValidAgentID(%q) = false", id)
		}
	}
	for _, id := range []string{"", "a b", "a/b", "ä", "a\x00", strings.Repeat("a", MaxAgentIDLen+1)} {
		if ValidAgentID(id) {
			t.Errorf("ValidAgentID(%q) = true", id)
		}
	}
}
