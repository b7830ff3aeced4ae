// Package ranking answers queries over an index: it analyses and embeds the
// query, asks the index for three rankings fused by weighted reciprocal rank
// fusion (lexical BM25F over words, lexical over character trigrams for
// misspellings, dense cosine), folds chunks into articles, drops what the
// version filter excludes, and applies a small trust prior. It also finds
// related articles and rates how well the best answer fits (confidence).
package ranking

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync/atomic"

	"buzhou.dev/platform/errs"
	"buzhou.dev/platform/vocab"
	"buzhou.dev/search/internal/document"
	"buzhou.dev/search/internal/embed"
	"buzhou.dev/search/internal/index"
	"buzhou.dev/search/internal/spell"
)

// Tuning holds the ranking weights. Default holds the values measured with
// make eval on the development queries (README, "Ranking").
type Tuning struct {
	// Weights of the rankers in the fusion.
	LexicalWeight, FuzzyWeight, DenseWeight float64
	// K is the fusion constant.
	K int
	// Prefetch is how many chunks the lexical and dense rankers contribute,
	// FuzzyPrefetch the trigram ranker.
	Prefetch, FuzzyPrefetch int
	// DenseThreshold is the least cosine the dense ranker counts as a match.
	DenseThreshold float64
	// Feedback is how many top articles feed pseudo-relevance feedback into
	// the dense query (0: none), FeedbackWeight their share.
	Feedback       int
	FeedbackWeight float64
	// Related boosts for the same domain and per shared tag (at most 4).
	SameDomain, SharedTag float64
	// Confidence is the logistic model of how well the best article fits.
	Confidence ConfidenceModel
	// Floor is the confidence below which nothing answers; Strong the
	// confidence from which a match is strong.
	Floor, Strong float64
}

// Default returns the measured tuning.
func Default() Tuning {
	return Tuning{
		LexicalWeight: 1, FuzzyWeight: 0.3, DenseWeight: 1, K: index.DefaultK,
		Prefetch: 200, FuzzyPrefetch: 50, DenseThreshold: 0.15,
		SameDomain: 0.05, SharedTag: 0.02,
		// Fitted by logistic regression (L2 0.01) on the development queries
		// (label: the top article answers it) and evaluation.OffTopic.
		Confidence: ConfidenceModel{Bias: -2.6, Words: 2.0, Grams: 1.4, Cosine: 1.6, Margin: 0.15},
		Floor:      0.5, Strong: 0.75,
	}
}

// Mode chooses the rankers.
type Mode string

// The modes: the hybrid, or one side alone for comparison.
const (
	Hybrid  Mode = "hybrid"
	Lexical Mode = "lexical" // words and trigrams
	Dense   Mode = "dense"
)

// ParseMode reads a ranker name; "" is the hybrid.
func ParseMode(s string) (Mode, error) {
	switch Mode(s) {
	case "", Hybrid:
		return Hybrid, nil
	case Lexical, Dense:
		return Mode(s), nil
	}
	return "", fmt.Errorf("%w: ranker %q is not known; use hybrid (the default), lexical or dense", errs.ErrInvalid, s)
}

// Engine answers queries over an index.
type Engine struct {
	idx     index.Index
	emb     embed.Embedder
	params  document.Params
	tune    Tuning
	speller atomic.Pointer[spell.Speller]
}

// New returns an engine.
func New(idx index.Index, emb embed.Embedder, params document.Params, tune Tuning) *Engine {
	return &Engine{idx: idx, emb: emb, params: params, tune: tune}
}

// SetSpeller makes the engine correct misspelled query terms with s (the
// learned model's vocabulary); nil stops it.
func (e *Engine) SetSpeller(s *spell.Speller) { e.speller.Store(s) }

// Analyse turns query text into its terms, trigrams and corrections.
func (e *Engine) Analyse(text string) document.Query {
	var correct func(string) (string, bool)
	if s := e.speller.Load(); s != nil {
		correct = s.Correct
	}
	return e.params.Query(text, correct)
}

// Params returns the engine's lexical parameters.
func (e *Engine) Params() document.Params { return e.params }

// Tuning returns the engine's tuning.
func (e *Engine) Tuning() Tuning { return e.tune }

// Request is a query with its filters.
type Request struct {
	Text   string
	Mode   Mode
	Filter index.Filter
	// Version, when set, keeps articles applicable to it.
	Version *Version
	// Limit bounds the articles returned.
	Limit int
}

// Result is one ranked article.
type Result struct {
	// Payload is the best-matching chunk's.
	Payload *index.Payload
	Score   float64
}

// Answer is the ranked articles of a query.
type Answer struct {
	Query   document.Query
	Vector  []float32 // nil when the dense ranker did not take part
	Results []Result
}

// Search ranks articles for req.
func (e *Engine) Search(ctx context.Context, req Request) (*Answer, error) {
	ans := &Answer{Query: e.Analyse(req.Text)}
	var rankers []index.Ranker
	if req.Mode != Dense {
		rankers = append(rankers,
			index.Ranker{Sparse: ans.Query.Words, Weight: e.tune.LexicalWeight, Limit: e.tune.Prefetch, Boosted: true},
			index.Ranker{Sparse: ans.Query.Fuzzy, Weight: e.tune.FuzzyWeight, Limit: e.tune.FuzzyPrefetch, Boosted: true})
	}
	if req.Mode != Lexical {
		// Corrections join the embedded text: a misspelled word means
		// nothing to a model.
		vs, err := e.emb.Embed(ctx, []string{strings.TrimSpace(req.Text + " " + strings.Join(ans.Query.Corrections, " "))})
		if err != nil {
			return nil, fmt.Errorf("%w: embed the query: %w", errs.ErrUnavailable, err)
		}
		ans.Vector = vs[0]
		rankers = append(rankers, index.Ranker{Dense: ans.Vector, Weight: e.tune.DenseWeight, Limit: e.tune.Prefetch, Threshold: e.tune.DenseThreshold, Boosted: true})
	}
	// The index holds public articles only (the indexer drops the rest), so
	// queries need no status filter to see published ones.
	q := index.Query{Rankers: rankers, K: e.tune.K, Limit: 3 * e.tune.Prefetch, Filter: req.Filter}
	hits, err := e.idx.Query(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("%w: query the index: %w", errs.ErrUnavailable, err)
	}
	ans.Results = e.finish(hits, req.Version, nil, req.Limit)
	if e.tune.Feedback > 0 && ans.Vector != nil && len(ans.Results) > 0 {
		// Pseudo-relevance feedback: move the dense query towards the best
		// articles and ask again.
		fb := slices.Clone(ans.Vector)
		for _, r := range ans.Results[:min(e.tune.Feedback, len(ans.Results))] {
			chunks, err := e.idx.Chunks(ctx, r.Payload.ArticleID)
			if err != nil || r.Payload.Chunk >= len(chunks) {
				continue
			}
			for i, x := range chunks[r.Payload.Chunk].Dense {
				fb[i] += float32(e.tune.FeedbackWeight/float64(e.tune.Feedback)) * x
			}
		}
		q.Rankers[len(q.Rankers)-1].Dense = index.Normalize(fb)
		if hits, err = e.idx.Query(ctx, q); err != nil {
			return nil, fmt.Errorf("%w: query the index: %w", errs.ErrUnavailable, err)
		}
		ans.Results = e.finish(hits, req.Version, nil, req.Limit)
	}
	return ans, nil
}

// finish folds chunks into articles (the best chunk speaks for its
// article), applies the version filter and boost, sorts (ties by article
// id, so pages are stable) and cuts to limit. The trust prior is already in
// the scores: every ranker is boosted by it.
func (e *Engine) finish(hits []index.Hit, v *Version, boost func(*index.Payload) float64, limit int) []Result {
	seen := make(map[string]bool, len(hits))
	out := make([]Result, 0, len(hits))
	for i := range hits {
		h := &hits[i]
		id := h.Payload.ArticleID
		if seen[id] {
			continue
		}
		seen[id] = true
		if v != nil && !v.Admits(h.Payload.Versions) {
			continue
		}
		score := h.Score
		if boost != nil {
			score *= boost(h.Payload)
		}
		out = append(out, Result{Payload: h.Payload, Score: score})
	}
	slices.SortStableFunc(out, func(a, b Result) int {
		if c := cmp.Compare(b.Score, a.Score); c != 0 {
			return c
		}
		return strings.Compare(a.Payload.ArticleID, b.Payload.ArticleID)
	})
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out
}

// Related returns the published articles most like the article, never
// itself: its title, summary and tags as a lexical query, its own embedding
// as the dense one, boosted for the same domain and shared tags.
func (e *Engine) Related(ctx context.Context, articleID string, limit int) ([]Result, error) {
	chunks, err := e.idx.Chunks(ctx, articleID)
	if err != nil {
		return nil, fmt.Errorf("%w: read the article from the index: %w", errs.ErrUnavailable, err)
	}
	if len(chunks) == 0 {
		return nil, fmt.Errorf("%w: article %s is not indexed (not published, or not yet indexed)", errs.ErrNotFound, articleID)
	}
	self := chunks[0].Payload
	text := strings.Join(append([]string{self.TitleEN, self.TitleZH, self.SummaryEN, self.SummaryZH}, self.Tags...), "\n")
	q := e.params.Query(text, nil)
	rankers := []index.Ranker{
		{Sparse: q.Words, Weight: e.tune.LexicalWeight, Limit: e.tune.Prefetch, Boosted: true},
		{Sparse: q.Fuzzy, Weight: e.tune.FuzzyWeight, Limit: e.tune.FuzzyPrefetch, Boosted: true},
		{Dense: chunks[0].Dense, Weight: e.tune.DenseWeight, Limit: e.tune.Prefetch, Boosted: true},
	}
	hits, err := e.idx.Query(ctx, index.Query{Rankers: rankers, K: e.tune.K, Limit: 3 * e.tune.Prefetch,
		Filter: index.Filter{Statuses: []string{vocab.StatusPublished}, ExcludeArticle: articleID}})
	if err != nil {
		return nil, fmt.Errorf("%w: query the index: %w", errs.ErrUnavailable, err)
	}
	boost := func(p *index.Payload) float64 {
		b := 1.0
		if p.Domain == self.Domain {
			b += e.tune.SameDomain
		}
		shared := 0
		for _, t := range p.Tags {
			if slices.Contains(self.Tags, t) {
				shared++
			}
		}
		return b + e.tune.SharedTag*float64(min(shared, 4))
	}
	return e.finish(hits, nil, boost, limit), nil
}

// ConfidenceModel is a logistic model of P(the best article answers the
// query) from what the query and the article share.
type ConfidenceModel struct {
	Bias, Words, Grams, Cosine, Margin float64
}

// Signals are what the confidence is computed from.
type Signals struct {
	// Words is the weighted share of the query's terms the article holds,
	// Grams the share of its trigrams; Cosine the embedding similarity;
	// Margin how far the best result leads the second (0–1).
	Words, Grams, Cosine, Margin float64
}

// Confidence rates the best result of ans, 0–1; 0 when there is none.
func (e *Engine) Confidence(ctx context.Context, ans *Answer) (float64, Signals, error) {
	if len(ans.Results) == 0 {
		return 0, Signals{}, nil
	}
	top := ans.Results[0]
	chunks, err := e.idx.Chunks(ctx, top.Payload.ArticleID)
	if err != nil {
		return 0, Signals{}, fmt.Errorf("%w: read the best article from the index: %w", errs.ErrUnavailable, err)
	}
	if top.Payload.Chunk >= len(chunks) {
		return 0, Signals{}, nil // changed meanwhile
	}
	doc := chunks[top.Payload.Chunk]
	var s Signals
	s.Words = coverage(ans.Query.Terms, doc.Sparse, termWeight)
	if len(ans.Query.Corrections) > 0 {
		// A corrected term found counts as the misspelled one.
		s.Words = max(s.Words, coverage(append(slices.Clone(ans.Query.Terms), ans.Query.Corrections...), doc.Sparse, termWeight))
	}
	s.Grams = coverage(ans.Query.Grams, doc.Sparse, func(string) float64 { return 1 })
	if ans.Vector != nil {
		s.Cosine = index.Cosine(ans.Vector, doc.Dense)
	} else if vs, err := e.emb.Embed(ctx, []string{strings.Join(ans.Query.Terms, " ")}); err == nil && len(ans.Query.Terms) > 0 {
		s.Cosine = index.Cosine(vs[0], doc.Dense)
	}
	if len(ans.Results) > 1 && top.Score > 0 {
		s.Margin = (top.Score - ans.Results[1].Score) / top.Score
	} else {
		s.Margin = 1
	}
	return e.tune.Confidence.Apply(s), s, nil
}

// Apply evaluates the model.
func (m ConfidenceModel) Apply(s Signals) float64 {
	z := m.Bias + m.Words*s.Words + m.Grams*s.Grams + m.Cosine*s.Cosine + m.Margin*s.Margin
	return 1 / (1 + math.Exp(-z))
}

// termWeight makes codes and identifiers (terms with digits or connectors)
// count double and CJK bigrams half: a query has many of those.
func termWeight(t string) float64 {
	switch {
	case strings.ContainsAny(t, "0123456789._-"):
		return 2
	case !isASCII(t):
		return 0.5
	}
	return 1
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// coverage is the weighted share of terms present in doc.
func coverage(terms []string, doc index.Sparse, weight func(string) float64) float64 {
	var have, all float64
	for _, t := range terms {
		w := weight(t)
		all += w
		if _, ok := slices.BinarySearch(doc.Indices, document.TermID(t)); ok {
			have += w
		}
	}
	if all == 0 {
		return 0
	}
	return have / all
}
