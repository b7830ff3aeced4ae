// Package spell corrects misspelled query terms against the vocabulary of
// the hub's own articles (the learned model's, whatever the embedder): a
// term the articles do not use is replaced by the known term closest to it,
// by shared character trigrams first and edit distance second, so
// "ECONNREFUSSED" also searches for "econnrefused" and "authetication" for
// "authentication".
package spell

import (
	"slices"
	"unicode/utf8"

	"buzhou.dev/search/internal/analysis"
)

// Speller corrects terms against one vocabulary; it is read-only once made
// and safe for concurrent use.
type Speller struct {
	known map[string]bool
	// byGram lists, per trigram, the terms holding it.
	byGram map[string][]int32
	terms  []string
	grams  [][]string
}

// minLen is the shortest term corrected: shorter ones are too often other
// words.
const minLen = 4

// New indexes a vocabulary of lexical terms (as analysis.Terms makes them).
func New(vocabulary []string) *Speller {
	s := &Speller{known: map[string]bool{}, byGram: map[string][]int32{}}
	for _, t := range vocabulary {
		s.known[t] = true
		if utf8.RuneCountInString(t) < minLen || !latin(t) {
			continue
		}
		id := int32(len(s.terms))
		g := analysis.WordGrams(t)
		s.terms, s.grams = append(s.terms, t), append(s.grams, g)
		for _, x := range dedupe(g) {
			s.byGram[x] = append(s.byGram[x], id)
		}
	}
	return s
}

// Correct returns the known term closest to an unknown one: the fewest
// edits (at most two, one for terms under six letters; a swap of neighbours
// is one), then the most trigrams shared. Known terms, short ones and terms
// with digits are left alone.
func (s *Speller) Correct(term string) (string, bool) {
	if s == nil || s.known[term] || utf8.RuneCountInString(term) < minLen || !latin(term) {
		return "", false
	}
	limit := 2
	if len(term) < 6 {
		limit = 1
	}
	g := dedupe(analysis.WordGrams(term))
	shared := map[int32]int{}
	for _, x := range g {
		for _, id := range s.byGram[x] {
			shared[id]++
		}
	}
	best, bestDist, bestJac := "", limit+1, 0.0
	for id, n := range shared {
		cand := s.terms[id]
		if d := len(cand) - len(term); d > limit || -d > limit {
			continue
		}
		dist := distance(term, cand)
		if dist > limit {
			continue
		}
		jac := float64(n) / float64(len(g)+len(dedupe(s.grams[id]))-n)
		if dist < bestDist || dist == bestDist && (jac > bestJac || jac == bestJac && cand < best) {
			best, bestDist, bestJac = cand, dist, jac
		}
	}
	return best, best != ""
}

func latin(t string) bool {
	for i := 0; i < len(t); i++ {
		if c := t[i]; c < 'a' || c > 'z' {
			return false
		}
	}
	return true
}

func dedupe(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return slices.Compact(s)
}

// distance is the optimal string alignment distance (Levenshtein with
// adjacent transpositions) of two ASCII strings.
func distance(a, b string) int {
	if a == b {
		return 0
	}
	prev2 := make([]int, len(b)+1)
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(b)]
}
