// Package reputation is the verifiers' reputation rule. A verifier starts at
// 50 of 100. Each article judges the verifier's counted record there (its
// newest) against a reference: a later record of the sandbox runner when
// there is one (it ran the code itself), else a clear majority of the other
// verifiers' counted records: at least two of them, one result holding at
// least two thirds, and that result held by more than half of all the
// article's counted records, so that in a two-against-two split nobody is
// judged. A record the reference confirms (same result) adds 3; one
// it contradicts (passed against failed) takes 6, since a wrong pass sends
// agents down a broken fix; partial against either is no verdict. The score
// is 50 + 3 × confirmed − 6 × contradicted, clamped to 0–100, recomputed from
// every article's verdicts, so it never drifts and a superseded record stops
// counting. The inspection bot is neither judged nor a judge: its records say
// whether deterministic checks passed, not whether the fix works.
package reputation

import (
	"time"

	"buzhou.dev/platform/vocab"
)

// Start is a new verifier's reputation.
const Start = 50

const (
	confirmedPoints    = 3
	contradictedPoints = 6
	// A majority must hold at least majorityNum/majorityDen of at least
	// minVoters other verifiers' records.
	majorityNum, majorityDen = 2, 3
	minVoters                = 2
)

// Levels of reputation, lowest first.
const (
	LevelBeginner     = "beginner"
	LevelIntermediate = "intermediate"
	LevelExpert       = "expert"
	LevelMaster       = "master"
)

// Level names a score: beginner < 30 ≤ intermediate < 60 ≤ expert < 80 ≤ master.
func Level(score int32) string {
	switch {
	case score < 30:
		return LevelBeginner
	case score < 60:
		return LevelIntermediate
	case score < 80:
		return LevelExpert
	}
	return LevelMaster
}

// Score is the reputation of a verifier with these verdict sums.
func Score(confirmed, contradicted int64) int32 {
	s := Start + confirmedPoints*confirmed - contradictedPoints*contradicted
	return int32(min(max(s, 0), 100))
}

// Record is a counted record of an article.
type Record struct {
	VerifierID string
	Result     string
	At         time.Time
}

// Verdict is what the article says of one verifier's record.
type Verdict struct {
	VerifierID              string
	Confirmed, Contradicted bool
}

// Judges names the verifiers the rule treats apart.
type Judges struct {
	// Sandbox is the sandbox runner's principal id.
	Sandbox string
	// Ignored are principals neither judged nor judging (the inspection bot).
	Ignored []string
}

func (j Judges) ignored(id string) bool {
	for _, x := range j.Ignored {
		if x == id {
			return true
		}
	}
	return false
}

// Verdicts judges every counted record of one article (one per verifier) and
// returns the verdicts that confirm or contradict, in the records' order.
func Verdicts(counted []Record, j Judges) []Verdict {
	var out []Verdict
	for _, r := range counted {
		if j.ignored(r.VerifierID) {
			continue
		}
		ref, ok := reference(r, counted, j)
		if !ok {
			continue
		}
		v := Verdict{VerifierID: r.VerifierID, Confirmed: r.Result == ref, Contradicted: opposite(r.Result, ref)}
		if v.Confirmed || v.Contradicted {
			out = append(out, v)
		}
	}
	return out
}

// reference is the result r is judged against, if any.
func reference(r Record, counted []Record, j Judges) (string, bool) {
	votes := map[string]int{}
	voters := 0
	for _, o := range counted {
		switch {
		case o.VerifierID == r.VerifierID || j.ignored(o.VerifierID):
			continue
		case o.VerifierID == j.Sandbox && o.At.After(r.At):
			return o.Result, true
		}
		votes[o.Result]++
		voters++
	}
	if voters < minVoters {
		return "", false
	}
	for result, n := range votes {
		all := n + 1 // r itself votes too, when it agrees
		if r.Result != result {
			all = n
		}
		if n*majorityDen >= voters*majorityNum && 2*all > voters+1 {
			return result, true
		}
	}
	return "", false
}

// opposite reports a pass against a failure.
func opposite(a, b string) bool {
	return (a == vocab.ResultPassed && b == vocab.ResultFailed) || (a == vocab.ResultFailed && b == vocab.ResultPassed)
}
