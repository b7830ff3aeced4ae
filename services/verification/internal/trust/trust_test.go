package trust

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"buzhou.dev/platform/vocab"
)

var now = time.Date(2026, 3, 23, 18, 26, 0, 0, time.UTC)

func daysAgo(d float64) time.Time { return now.Add(-time.Duration(d * float64(24*time.Hour))) }

// TestScore walks every branch of the rule and both clamps; the figures were
// worked out by hand from the rule in the issue.
func TestScore(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		in   Input
		want Summary
	}{
		{"no records: pending at its prior", Input{}, Summary{vocab.VerificationPending, 72}},
		{"deprecated without records: its prior", Input{Deprecated: true}, Summary{vocab.VerificationDeprecated, 50}},
		// The examples.
		{"two fresh passes by two verifiers: 99 clamped to 98", Input{Passed: 2, Verifiers: 2, Latest: now}, Summary{vocab.VerificationVerified, 98}},
		{"the seed page: passed, passed, partial by three: 91", Input{Passed: 2, Partial: 1, Verifiers: 3, Latest: daysAgo(1)}, Summary{vocab.VerificationPartial, 91}},
		{"passed, failed, failed by one verifier: 61", Input{Passed: 1, Failed: 2, Verifiers: 1, Latest: now}, Summary{vocab.VerificationPartial, 61}},
		// Status branches.
		{"all failed, one fresh record: 48.125", Input{Failed: 1, Verifiers: 1, Latest: now}, Summary{vocab.VerificationFailed, 48}},
		{"all partial: partial", Input{Partial: 3, Verifiers: 3, Latest: now}, Summary{vocab.VerificationPartial, 81}},
		{"deprecated stays deprecated with passes: 70.5 rounds up", Input{Passed: 2, Verifiers: 2, Latest: now, Deprecated: true}, Summary{vocab.VerificationDeprecated, 71}},
		// Penalty: only more than half failed.
		{"exactly half failed: no penalty", Input{Passed: 1, Failed: 1, Verifiers: 2, Latest: now}, Summary{vocab.VerificationPartial, 79}},
		// Recency bonus and its edges.
		{"newest exactly 7 days old: +4", Input{Passed: 2, Partial: 1, Verifiers: 3, Latest: daysAgo(7)}, Summary{vocab.VerificationPartial, 91}},
		{"newest just over 7 days old: +2", Input{Passed: 2, Partial: 1, Verifiers: 3, Latest: daysAgo(7).Add(-time.Second)}, Summary{vocab.VerificationPartial, 89}},
		{"newest exactly 30 days old: +2", Input{Passed: 2, Partial: 1, Verifiers: 3, Latest: daysAgo(30)}, Summary{vocab.VerificationPartial, 89}},
		{"newest just over 30 days old: nothing", Input{Passed: 2, Partial: 1, Verifiers: 3, Latest: daysAgo(30).Add(-time.Second)}, Summary{vocab.VerificationPartial, 87}},
		// Verifier bonus: at most three count.
		{"two verifiers: +4", Input{Passed: 1, Partial: 3, Verifiers: 2, Latest: daysAgo(40)}, Summary{vocab.VerificationPartial, 78}},
		{"four verifiers count as three: +6", Input{Passed: 1, Partial: 3, Verifiers: 4, Latest: daysAgo(40)}, Summary{vocab.VerificationPartial, 80}},
		// Weight: the prior fades out at eight records.
		{"ten records: observed alone", Input{Passed: 6, Partial: 4, Verifiers: 3, Latest: now}, Summary{vocab.VerificationPartial, 94}},
		{"sixteen records: observed alone", Input{Passed: 8, Partial: 8, Verifiers: 3, Latest: now}, Summary{vocab.VerificationPartial, 90}},
		// Rounding half up.
		{"86.5 rounds up to 87", Input{Passed: 1, Partial: 1, Verifiers: 2, Latest: now}, Summary{vocab.VerificationPartial, 87}},
		{"91.5 rounds up to 92", Input{Passed: 1, Verifiers: 1, Latest: daysAgo(100)}, Summary{vocab.VerificationVerified, 92}},
		// Clamps.
		{"above 98: clamped", Input{Passed: 5, Verifiers: 3, Latest: daysAgo(100)}, Summary{vocab.VerificationVerified, 98}},
		{"below 45: clamped", Input{Failed: 8, Verifiers: 3, Latest: daysAgo(40)}, Summary{vocab.VerificationFailed, 45}},
		{"three fresh failures: 38.375 clamped to 45", Input{Failed: 3, Verifiers: 3, Latest: now}, Summary{vocab.VerificationFailed, 45}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := Score(tc.in, now); got != tc.want {
				t.Errorf("Score(%+v) = %+v, want %+v", tc.in, got, tc.want)
			}
		})
	}
}

// TestBound covers the status bounds, which the formula never reaches with
// today's priors (see Bound), so Score alone cannot show them.
func TestBound(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		status  string
		records int
		in      int32
		want    int32
	}{
		{"verified, one record: no floor", vocab.VerificationVerified, 1, 80, 80},
		{"verified, two records: at least 90", vocab.VerificationVerified, 2, 80, 90},
		{"verified, two records above the floor", vocab.VerificationVerified, 2, 93, 93},
		{"verified, five records: at least 95", vocab.VerificationVerified, 5, 91, 95},
		{"failed, two records: no cap", vocab.VerificationFailed, 2, 70, 70},
		{"failed, three records: at most 60", vocab.VerificationFailed, 3, 70, 60},
		{"failed, three records below the cap", vocab.VerificationFailed, 3, 50, 50},
		{"partial: no bound", vocab.VerificationPartial, 9, 97, 97},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := Bound(tc.status, tc.records, tc.in); got != tc.want {
				t.Errorf("Bound(%s, %d, %d) = %d, want %d", tc.status, tc.records, tc.in, got, tc.want)
			}
		})
	}
}

func TestCountedKeepsEachVerifiersNewest(t *testing.T) {
	t.Parallel()
	at := func(d float64) time.Time { return daysAgo(d) }
	cases := []struct {
		name    string
		records []Record
		want    []string
	}{
		{"none", nil, []string{}},
		{"distinct verifiers all count", []Record{
			{ID: "r1", VerifierID: "a", Result: "passed", At: at(3)},
			{ID: "r2", VerifierID: "b", Result: "failed", At: at(2)},
		}, []string{"r1", "r2"}},
		{"a newer record supersedes the same verifier's older one", []Record{
			{ID: "r1", VerifierID: "a", Result: "failed", At: at(3)},
			{ID: "r2", VerifierID: "b", Result: "passed", At: at(2)},
			{ID: "r3", VerifierID: "a", Result: "passed", At: at(1)},
		}, []string{"r2", "r3"}},
		{"order of the input does not matter", []Record{
			{ID: "r3", VerifierID: "a", Result: "passed", At: at(1)},
			{ID: "r1", VerifierID: "a", Result: "failed", At: at(3)},
		}, []string{"r3"}},
		{"same instant: the larger id wins", []Record{
			{ID: "r1", VerifierID: "a", Result: "failed", At: at(1)},
			{ID: "r2", VerifierID: "a", Result: "passed", At: at(1)},
		}, []string{"r2"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := []string{}
			for _, r := range Counted(tc.records) {
				got = append(got, r.ID)
			}
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("Counted (-want +got):\n%s", d)
			}
		})
	}
}

func TestInputOf(t *testing.T) {
	t.Parallel()
	in := InputOf([]Record{
		{ID: "r1", VerifierID: "a", Result: vocab.ResultPassed, At: daysAgo(5)},
		{ID: "r2", VerifierID: "b", Result: vocab.ResultPartial, At: daysAgo(1)},
		{ID: "r3", VerifierID: "c", Result: vocab.ResultFailed, At: daysAgo(3)},
	}, true)
	want := Input{Passed: 1, Partial: 1, Failed: 1, Verifiers: 3, Latest: daysAgo(1), Deprecated: true}
	if in != want {
		t.Errorf("InputOf = %+v, want %+v", in, want)
	}
}
