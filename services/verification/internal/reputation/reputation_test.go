package reputation

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestLevel(t *testing.T) {
	t.Parallel()
	cases := []struct {
		score int32
		want  string
	}{
		{0, LevelBeginner}, {29, LevelBeginner}, {30, LevelIntermediate}, {Start, LevelIntermediate}, {59, LevelIntermediate},
		{60, LevelExpert}, {79, LevelExpert}, {80, LevelMaster}, {100, LevelMaster},
	}
	for _, tc := range cases {
		t.Run(tc.want, func(t *testing.T) {
			t.Parallel()
			if got := Level(tc.score); got != tc.want {
				t.Errorf("Level(%d) = %s, want %s", tc.score, got, tc.want)
			}
		})
	}
}

func TestScore(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name                    string
		confirmed, contradicted int64
		want                    int32
	}{
		{"new verifier", 0, 0, 50},
		{"confirmed twice", 2, 0, 56},
		{"a contradiction costs twice a confirmation", 1, 1, 47},
		{"clamped at 100", 40, 0, 100},
		{"clamped at 0", 0, 10, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := Score(tc.confirmed, tc.contradicted); got != tc.want {
				t.Errorf("Score(%d, %d) = %d, want %d", tc.confirmed, tc.contradicted, got, tc.want)
			}
		})
	}
}

func TestVerdicts(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	at := func(h int) time.Time { return t0.Add(time.Duration(h) * time.Hour) }
	j := Judges{Sandbox: "sandbox", Ignored: []string{"bot"}}
	cases := []struct {
		name    string
		counted []Record
		want    []Verdict
	}{
		{"alone: no verdict", []Record{{"a", "passed", at(0)}}, nil},
		{"one other verifier is no majority", []Record{{"a", "passed", at(0)}, {"b", "failed", at(1)}}, nil},
		{"two others agree: confirmed, and each of them by the other two", []Record{
			{"a", "passed", at(0)}, {"b", "passed", at(1)}, {"c", "passed", at(2)},
		}, []Verdict{{"a", true, false}, {"b", true, false}, {"c", true, false}}},
		{"a pass the others failed: contradicted", []Record{
			{"a", "passed", at(0)}, {"b", "failed", at(1)}, {"c", "failed", at(2)},
		}, []Verdict{{"a", false, true}}},
		{"partial against a majority of passes: no verdict", []Record{
			{"a", "partial", at(0)}, {"b", "passed", at(1)}, {"c", "passed", at(2)},
		}, nil},
		{"split others: no clear majority", []Record{
			{"a", "passed", at(0)}, {"b", "passed", at(1)}, {"c", "failed", at(2)}, {"d", "partial", at(3)},
		}, nil},
		{"two thirds of the others is a clear majority", []Record{
			{"a", "failed", at(0)}, {"b", "passed", at(1)}, {"c", "passed", at(2)}, {"d", "passed", at(3)},
		}, []Verdict{{"a", false, true}, {"b", true, false}, {"c", true, false}, {"d", true, false}}},
		{"two against two: nobody is judged", []Record{
			{"a", "failed", at(0)}, {"b", "passed", at(1)}, {"c", "passed", at(2)}, {"d", "failed", at(3)},
		}, nil},
		{"a later sandbox run decides alone", []Record{
			{"a", "failed", at(0)}, {"sandbox", "passed", at(1)},
		}, []Verdict{{"a", false, true}}},
		{"an earlier sandbox run is one voter among others", []Record{
			{"sandbox", "failed", at(0)}, {"a", "passed", at(1)},
		}, nil},
		{"the inspection bot neither judges nor is judged", []Record{
			{"a", "passed", at(0)}, {"bot", "partial", at(1)}, {"c", "passed", at(2)},
		}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if d := cmp.Diff(tc.want, Verdicts(tc.counted, j), cmpopts.EquateEmpty()); d != "" {
				t.Errorf("Verdicts (-want +got):\n%s", d)
			}
		})
	}
}
