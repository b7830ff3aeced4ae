// Package trust is the public site's trust rule: an article's verification
// status and confidence score from its verification records. It is pure
// arithmetic over the records, so the same records always give the same
// summary at the same moment; the recency bonus makes it depend on the clock,
// which is why the service rescores daily.
package trust

import (
	"math/big"
	"time"

	"buzhou.dev/platform/vocab"
)

// Record is what the rule needs of one verification record.
type Record struct {
	ID         string
	VerifierID string
	// Result is vocab.ResultPassed, ResultPartial or ResultFailed.
	Result string
	At     time.Time
}

// Counted returns the records that count in the score: each verifier's newest
// (by time, then id), since a newer record supersedes the same verifier's
// older ones. The others stay in the timeline but not in the score. The
// result keeps the order of records.
func Counted(records []Record) []Record {
	newest := make(map[string]Record, len(records))
	for _, r := range records {
		if cur, ok := newest[r.VerifierID]; !ok || newer(r, cur) {
			newest[r.VerifierID] = r
		}
	}
	out := make([]Record, 0, len(newest))
	for _, r := range records {
		if newest[r.VerifierID].ID == r.ID {
			out = append(out, r)
		}
	}
	return out
}

func newer(a, b Record) bool {
	if !a.At.Equal(b.At) {
		return a.At.After(b.At)
	}
	return a.ID > b.ID
}

// Input is what the rule reads of an article's counted records.
type Input struct {
	Passed, Partial, Failed int
	// Verifiers is the number of distinct verifiers among them.
	Verifiers int
	// Latest is the time of the newest record; ignored without records.
	Latest time.Time
	// Deprecated articles keep the status deprecated whatever the records say.
	Deprecated bool
}

// InputOf tallies counted records (see Counted).
func InputOf(counted []Record, deprecated bool) Input {
	in := Input{Deprecated: deprecated}
	verifiers := map[string]bool{}
	for _, r := range counted {
		switch r.Result {
		case vocab.ResultPassed:
			in.Passed++
		case vocab.ResultPartial:
			in.Partial++
		case vocab.ResultFailed:
			in.Failed++
		default:
			continue
		}
		verifiers[r.VerifierID] = true
		if r.At.After(in.Latest) {
			in.Latest = r.At
		}
	}
	in.Verifiers = len(verifiers)
	return in
}

// Summary is an article's verification status and confidence.
type Summary struct {
	Status     string
	Confidence int32
}

// The rule's constants, as the public site has them.
const (
	minConfidence = 45
	maxConfidence = 98
	// Records at which the observed pass rate has all the weight.
	fullWeight = 8
	// Points per distinct verifier, and how many verifiers count.
	perVerifier, maxVerifiers = 2, 3
	freshBonus, recentBonus   = 4, 2
	freshAge, recentAge       = 7 * 24 * time.Hour, 30 * 24 * time.Hour
	mostlyFailedPenalty       = 6
)

// prior is the confidence a status starts from before the records weigh in.
func prior(status string) int64 {
	switch status {
	case vocab.VerificationPartial:
		return 78
	case vocab.VerificationVerified:
		return 88
	case vocab.VerificationFailed:
		return 55
	case vocab.VerificationDeprecated:
		return 50
	}
	return 72 // pending
}

// StatusOf is the status the results give: none → pending, all passed →
// verified, all failed → failed, all partial or any mix → partial; a
// deprecated article stays deprecated.
func StatusOf(in Input) string {
	total := in.Passed + in.Partial + in.Failed
	switch {
	case in.Deprecated:
		return vocab.VerificationDeprecated
	case total == 0:
		return vocab.VerificationPending
	case in.Passed == total:
		return vocab.VerificationVerified
	case in.Failed == total:
		return vocab.VerificationFailed
	}
	return vocab.VerificationPartial
}

// Score applies the rule at time now:
//
//	observed   = (passed + 0.6 × partial) / total × 100
//	weight     = min(total / 8, 1)
//	core       = prior(status) × (1 − weight) + observed × weight
//	confidence = core + 2 × min(verifiers, 3)
//	           + 4 if the newest record is ≤ 7 days old, else + 2 if ≤ 30 days
//	           − 6 if more than half failed
//
// rounded half up, clamped to 45–98, then bounded by status (see Bound). The
// arithmetic is exact (rationals), so a score of x.5 always rounds up.
func Score(in Input, now time.Time) Summary {
	status := StatusOf(in)
	total := int64(in.Passed + in.Partial + in.Failed)
	c := new(big.Rat).SetInt64(prior(status))
	if total > 0 {
		// observed = (5 × passed + 3 × partial) × 20 / total, exactly.
		observed := big.NewRat((5*int64(in.Passed)+3*int64(in.Partial))*20, total)
		weight := big.NewRat(min(total, fullWeight), fullWeight)
		rest := new(big.Rat).Sub(big.NewRat(1, 1), weight)
		c.Mul(c, rest)
		c.Add(c, observed.Mul(observed, weight))
		bonus := int64(perVerifier * min(in.Verifiers, maxVerifiers))
		switch age := now.Sub(in.Latest); {
		case age <= freshAge:
			bonus += freshBonus
		case age <= recentAge:
			bonus += recentBonus
		}
		if 2*int64(in.Failed) > total {
			bonus -= mostlyFailedPenalty
		}
		c.Add(c, big.NewRat(bonus, 1))
	}
	return Summary{Status: status, Confidence: Bound(status, int(total), clamp(roundHalfUp(c)))}
}

// roundHalfUp is floor(x + 1/2).
func roundHalfUp(x *big.Rat) int64 {
	y := new(big.Rat).Add(x, big.NewRat(1, 2))
	q := new(big.Int).Div(y.Num(), y.Denom()) // Euclidean: floor for a positive denominator
	return q.Int64()
}

func clamp(c int64) int32 {
	return int32(min(max(c, minConfidence), maxConfidence))
}

// Bound applies the status bounds after the clamp: verified with ≥ 2 records
// is at least 90, with ≥ 5 at least 95; failed with ≥ 3 is at most 60. With
// the priors above the formula already lands inside them (two passes score
// at least 91 + 2, five at least 95.5; all-failed at most 38), so they only
// guard against future changes of the weights.
func Bound(status string, records int, c int32) int32 {
	switch {
	case status == vocab.VerificationVerified && records >= 5:
		return max(c, 95)
	case status == vocab.VerificationVerified && records >= 2:
		return max(c, 90)
	case status == vocab.VerificationFailed && records >= 3:
		return min(c, 60)
	}
	return c
}
