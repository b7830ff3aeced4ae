// Package vocab is the one definition of the words the Buzhou API is spoken
// in: article domains and statuses, verification statuses, risk levels,
// languages, principal types and agent ids. Every service, the gateway and
// the CLI use these; scopes live beside the access check in platform/auth.
//
// The lists are returned fresh by functions rather than kept in package
// variables, so no caller can change them for everyone.
package vocab

import "slices"

// Article statuses: the life cycle of an article.
const (
	StatusDraft      = "draft"
	StatusPublished  = "published"
	StatusArchived   = "archived"
	StatusDeprecated = "deprecated"
)

// Statuses returns the article statuses in their documented order.
func Statuses() []string {
	return []string{StatusDraft, StatusPublished, StatusArchived, StatusDeprecated}
}

// PublicStatuses returns the statuses anonymous readers see.
func PublicStatuses() []string {
	return []string{StatusPublished, StatusDeprecated}
}

// IsPublic reports whether an article with status s is visible without a key.
func IsPublic(s string) bool { return slices.Contains(PublicStatuses(), s) }

// Verification statuses, made by the server from verification records.
const (
	VerificationVerified   = "verified"
	VerificationPartial    = "partial"
	VerificationPending    = "pending"
	VerificationFailed     = "failed"
	VerificationDeprecated = "deprecated"
)

// VerificationStatuses returns the verification statuses.
func VerificationStatuses() []string {
	return []string{VerificationVerified, VerificationPartial, VerificationPending, VerificationFailed, VerificationDeprecated}
}

// Risk levels, made by the server from inspection findings.
const (
	RiskLow      = "low"
	RiskMedium   = "medium"
	RiskHigh     = "high"
	RiskCritical = "critical"
)

// RiskLevels returns the risk levels, lowest first.
func RiskLevels() []string {
	return []string{RiskLow, RiskMedium, RiskHigh, RiskCritical}
}

// Languages Buzhou serves.
const (
	LangZH = "zh"
	LangEN = "en"
)

// Langs returns the languages Buzhou serves.
func Langs() []string { return []string{LangZH, LangEN} }

// Domains returns the article domains in their documented order.
func Domains() []string {
	return []string{
		"agent", "mcp", "skill", "foundation", "transport",
		"tools_filesystem", "tools_postgres", "tools_github",
		"error_codes", "scenarios",
	}
}

// Principal types: who owns keys and signs verification records.
const (
	PrincipalOfficialBot     = "official_bot"
	PrincipalThirdPartyAgent = "third_party_agent"
	PrincipalHumanExpert     = "human_expert"
)

// PrincipalTypes returns the principal types.
func PrincipalTypes() []string {
	return []string{PrincipalOfficialBot, PrincipalThirdPartyAgent, PrincipalHumanExpert}
}

// MaxAgentIDLen bounds agent ids, which come from a header any caller sets.
const MaxAgentIDLen = 64

// AgentIDRule describes valid agent ids, for error messages.
const AgentIDRule = "1 to 64 characters of A-Z, a-z, 0-9, '.', '_' and '-'"

// ValidAgentID reports whether id follows AgentIDRule.
func ValidAgentID(id string) bool {
	if id == "" || len(id) > MaxAgentIDLen {
		return false
	}
	for _, c := range []byte(id) {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '.', c == '_', c == '-':
		default:
			return false
		}
	}
	return true
}

// ValidDomain reports whether d is a known domain (exact, lower-case).
func ValidDomain(d string) bool { return slices.Contains(Domains(), d) }

// ValidStatus reports whether s is an article status.
func ValidStatus(s string) bool { return slices.Contains(Statuses(), s) }

// ValidVerificationStatus reports whether s is a verification status.
func ValidVerificationStatus(s string) bool { return slices.Contains(VerificationStatuses(), s) }

// ValidRiskLevel reports whether s is a risk level.
func ValidRiskLevel(s string) bool { return slices.Contains(RiskLevels(), s) }

// ValidLang reports whether s is a language Buzhou serves.
func ValidLang(s string) bool { return slices.Contains(Langs(), s) }

// ValidPrincipalType reports whether t is a principal type.
func ValidPrincipalType(t string) bool { return slices.Contains(PrincipalTypes(), t) }

// Verification record results.
const (
	ResultPassed  = "passed"
	ResultPartial = "partial"
	ResultFailed  = "failed"
)

// Results lists the verification record results.
func Results() []string { return []string{ResultPassed, ResultPartial, ResultFailed} }

// Kinds of problem an agent reports on an article (each becomes the finding
// reported.<kind>).
const (
	ProblemOutdated  = "outdated"
	ProblemIncorrect = "incorrect"
	ProblemUnclear   = "unclear"
	ProblemUnsafe    = "unsafe"
)

// ProblemKinds lists the problem kinds.
func ProblemKinds() []string {
	return []string{ProblemOutdated, ProblemIncorrect, ProblemUnclear, ProblemUnsafe}
}
