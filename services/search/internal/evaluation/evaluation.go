// Package evaluation measures search quality on a corpus with graded
// queries and expert related-article lists (the shared corpus, read from
// where it lies; its text never enters the repository): nDCG@10, MRR and
// recall@5 per query kind, recall@5 of related articles, and how well
// resolve's confidence separates right answers from wrong ones. make eval
// runs it over REST against a fresh stack; the tuning test runs it in
// process.
package evaluation

import (
	"bufio"
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"google.golang.org/protobuf/encoding/protojson"

	articlev1 "buzhou.dev/proto/gen/buzhou/article/v1"
)

// Query is one graded development query.
type Query struct {
	ID       string         `json:"id"`
	Text     string         `json:"query"`
	Lang     string         `json:"lang"`
	Kind     string         `json:"kind"`
	Relevant map[string]int `json:"relevant"` // corpus slug → grade (2 answers it, 1 is useful)
}

// Related is an expert's list of related articles for one article.
type Related struct {
	Slug    string   `json:"slug"`
	Related []string `json:"related"`
}

// Corpus is what the evaluation runs on. Articles keep the corpus slug in
// Slug; the server makes its own, so callers map between them.
type Corpus struct {
	Articles []*articlev1.Article
	// Slugs are the corpus slugs of Articles, in order.
	Slugs   []string
	Queries []Query
	Related []Related
}

// Load reads corpus.jsonl, queries-dev.jsonl and related-dev.jsonl from dir.
func Load(dir string) (*Corpus, error) {
	c := &Corpus{}
	err := eachLine(filepath.Join(dir, "corpus.jsonl"), func(line []byte) error {
		a := &articlev1.Article{}
		// The corpus uses the proto field names (code_blocks, qa_pairs),
		// which protojson reads as well as the JSON names.
		if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(line, a); err != nil {
			return err
		}
		a.Status = "published"
		c.Articles = append(c.Articles, a)
		c.Slugs = append(c.Slugs, a.GetSlug())
		return nil
	})
	if err == nil {
		err = eachLine(filepath.Join(dir, "queries-dev.jsonl"), func(line []byte) error {
			var q Query
			c.Queries = append(c.Queries, q)
			return json.Unmarshal(line, &c.Queries[len(c.Queries)-1])
		})
	}
	if err == nil {
		err = eachLine(filepath.Join(dir, "related-dev.jsonl"), func(line []byte) error {
			var r Related
			c.Related = append(c.Related, r)
			return json.Unmarshal(line, &c.Related[len(c.Related)-1])
		})
	}
	if err != nil {
		return nil, fmt.Errorf("load the corpus from %s: %w (set BUZHOU_CORPUS_DIR to the folder with corpus.jsonl)", dir, err)
	}
	return c, nil
}

func eachLine(path string, fn func([]byte) error) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	n := 0
	for sc.Scan() {
		n++
		if len(strings.TrimSpace(sc.Text())) == 0 {
			continue
		}
		if err := fn(sc.Bytes()); err != nil {
			return fmt.Errorf("%s line %d: %w", filepath.Base(path), n, err)
		}
	}
	return sc.Err()
}

// NDCG is nDCG@k of a ranking (corpus slugs) with graded relevance, gain
// 2^grade − 1.
func NDCG(ranked []string, rel map[string]int, k int) float64 {
	dcg := 0.0
	for i, s := range ranked[:min(k, len(ranked))] {
		dcg += (math.Pow(2, float64(rel[s])) - 1) / math.Log2(float64(i+2))
	}
	var grades []int
	for _, g := range rel {
		grades = append(grades, g)
	}
	slices.SortFunc(grades, func(a, b int) int { return b - a })
	idcg := 0.0
	for i, g := range grades[:min(k, len(grades))] {
		idcg += (math.Pow(2, float64(g)) - 1) / math.Log2(float64(i+2))
	}
	if idcg == 0 {
		return 0
	}
	return dcg / idcg
}

// RR is the reciprocal rank of the first article that answers the query
// (the highest grade in rel), 0 when it is not ranked.
func RR(ranked []string, rel map[string]int) float64 {
	top := 0
	for _, g := range rel {
		top = max(top, g)
	}
	for i, s := range ranked {
		if rel[s] == top {
			return 1 / float64(i+1)
		}
	}
	return 0
}

// Recall is the share of the relevant articles (any grade) in the first k.
func Recall(ranked []string, rel map[string]int, k int) float64 {
	if len(rel) == 0 {
		return 0
	}
	hit := 0
	for _, s := range ranked[:min(k, len(ranked))] {
		if rel[s] > 0 {
			hit++
		}
	}
	return float64(hit) / float64(len(rel))
}

// Scores are the mean metrics of a set of queries.
type Scores struct {
	N                    int
	NDCG10, MRR, Recall5 float64
}

func (s *Scores) add(ranked []string, rel map[string]int) {
	s.N++
	s.NDCG10 += NDCG(ranked, rel, 10)
	s.MRR += RR(ranked, rel)
	s.Recall5 += Recall(ranked, rel, 5)
}

func (s Scores) mean() Scores {
	if s.N == 0 {
		return s
	}
	n := float64(s.N)
	return Scores{N: s.N, NDCG10: s.NDCG10 / n, MRR: s.MRR / n, Recall5: s.Recall5 / n}
}

// Report holds the scores of one ranker, overall and per query kind.
type Report struct {
	All    Scores
	ByKind map[string]Scores
	// Misses lists the queries whose answer is not first, for study.
	Misses []string
}

// Score scores rankings (corpus slugs per query id) against the queries.
func Score(queries []Query, rankings map[string][]string) Report {
	r := Report{ByKind: map[string]Scores{}}
	all := Scores{}
	for _, q := range queries {
		ranked := rankings[q.ID]
		all.add(ranked, q.Relevant)
		k := r.ByKind[q.Kind]
		k.add(ranked, q.Relevant)
		r.ByKind[q.Kind] = k
		if RR(ranked, q.Relevant) < 1 {
			r.Misses = append(r.Misses, fmt.Sprintf("%s %-13s RR %.2f %q → %v", q.ID, q.Kind, RR(ranked, q.Relevant), ellipsis(q.Text, 70), ranked[:min(3, len(ranked))]))
		}
	}
	r.All = all.mean()
	for k, v := range r.ByKind {
		r.ByKind[k] = v.mean()
	}
	return r
}

// Halves splits queries in two, alternating within each kind, so that
// weights can be chosen on one half (A) and checked on the other (B), which
// they were not chosen on: a gain that holds only on A is overfitting.
func Halves(queries []Query) (a, b []Query) {
	seen := map[string]int{}
	for _, q := range queries {
		if seen[q.Kind]%2 == 0 {
			a = append(a, q)
		} else {
			b = append(b, q)
		}
		seen[q.Kind]++
	}
	return a, b
}

// WriteHalves prints a ranker's overall scores on each half (see Halves).
func WriteHalves(w io.Writer, name string, queries []Query, rankings map[string][]string) {
	a, b := Halves(queries)
	for _, h := range []struct {
		label string
		qs    []Query
	}{{"A (tuned on)", a}, {"B (held out)", b}} {
		r := Score(h.qs, rankings)
		fmt.Fprintf(w, "%-10s half %-13s %4d %8.3f %6.3f %9.3f  questions %.3f / %.3f\n", name, h.label, r.All.N, r.All.NDCG10, r.All.MRR, r.All.Recall5,
			r.ByKind["question"].NDCG10, r.ByKind["question"].MRR)
	}
}

// RelatedHalves splits the expert lists in two, alternating, for the same
// hold-out as Halves: weights chosen on A are checked on B.
func RelatedHalves(expert []Related) (a, b []Related) {
	for i, r := range expert {
		if i%2 == 0 {
			a = append(a, r)
		} else {
			b = append(b, r)
		}
	}
	return a, b
}

// RelatedRecall is the mean share of each expert list found in the first
// five related articles (corpus slugs per article slug).
func RelatedRecall(expert []Related, got map[string][]string) float64 {
	if len(expert) == 0 {
		return 0
	}
	sum := 0.0
	for _, e := range expert {
		rel := map[string]int{}
		for _, s := range e.Related {
			rel[s] = 1
		}
		sum += Recall(got[e.Slug], rel, 5)
	}
	return sum / float64(len(expert))
}

// Write prints reports, one per ranker, as a table.
func Write(w io.Writer, reports map[string]Report, order []string) {
	kinds := map[string]bool{}
	for _, r := range reports {
		for k := range r.ByKind {
			kinds[k] = true
		}
	}
	var ks []string
	for k := range kinds {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	fmt.Fprintf(w, "%-10s %-14s %4s %8s %6s %9s\n", "ranker", "kind", "n", "nDCG@10", "MRR", "recall@5")
	for _, name := range order {
		r := reports[name]
		for _, k := range ks {
			s := r.ByKind[k]
			fmt.Fprintf(w, "%-10s %-14s %4d %8.3f %6.3f %9.3f\n", name, k, s.N, s.NDCG10, s.MRR, s.Recall5)
		}
		fmt.Fprintf(w, "%-10s %-14s %4d %8.3f %6.3f %9.3f\n\n", name, "ALL", r.All.N, r.All.NDCG10, r.All.MRR, r.All.Recall5)
	}
}

// Calibration is how resolve's confidence sorts right answers from wrong
// ones: per confidence band, how many top answers were right.
type Calibration struct {
	Bands []Band
}

// Band is one confidence range.
type Band struct {
	Lo, Hi       float64
	Right, Wrong int
}

// Calibrate bins (confidence, right) pairs into bands of 0.1.
func Calibrate(points []Point) Calibration {
	c := Calibration{}
	for i := range 10 {
		c.Bands = append(c.Bands, Band{Lo: float64(i) / 10, Hi: float64(i+1) / 10})
	}
	for _, p := range points {
		b := &c.Bands[min(9, int(p.Confidence*10))]
		if p.Right {
			b.Right++
		} else {
			b.Wrong++
		}
	}
	return c
}

// Point is one resolve: its confidence and whether its article answers the
// query (false for off-topic queries, which have none).
type Point struct {
	Confidence float64
	Right      bool
}

// Write prints the calibration table.
func (c Calibration) Write(w io.Writer) {
	fmt.Fprintf(w, "%-11s %6s %6s %9s\n", "confidence", "right", "wrong", "precision")
	for _, b := range c.Bands {
		if b.Right+b.Wrong == 0 {
			continue
		}
		fmt.Fprintf(w, "%.1f–%.1f    %6d %6d %9.2f\n", b.Lo, b.Hi, b.Right, b.Wrong, float64(b.Right)/float64(b.Right+b.Wrong))
	}
}

// OffTopic are queries no article of a technical hub answers; resolve must
// refuse them. They are this project's own, not the corpus's.
func OffTopic() []string {
	return []string{
		"how long should I knead sourdough bread",
		"best hiking trails near the Matterhorn in autumn",
		"如何给猫咪剪指甲",
		"what is the capital of Australia",
		"repair a squeaky wooden staircase",
		"推荐几本适合初学者的小说",
		"how to tie a bowline knot",
		"watercolor painting techniques for skies",
	}
}

func ellipsis(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n]) + "…"
	}
	return s
}

// Sorted returns the map's keys sorted, for stable output.
func Sorted[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, cmp.Compare)
	return keys
}
