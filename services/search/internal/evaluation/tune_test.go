package evaluation_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	articlev1 "buzhou.dev/proto/gen/buzhou/article/v1"
	"buzhou.dev/search/internal/document"
	"buzhou.dev/search/internal/embed"
	"buzhou.dev/search/internal/evaluation"
	"buzhou.dev/search/internal/index"
	"buzhou.dev/search/internal/index/embedded"
	"buzhou.dev/search/internal/indexer"
	"buzhou.dev/search/internal/ranking"
	"buzhou.dev/search/internal/spell"
)

// TestTune runs the evaluation in process, without a stack, for quick
// measurements while tuning: BUZHOU_TUNE=1 go test -run TestTune -v
// ./internal/evaluation. make eval gives the figures of record, over REST.
func TestTune(t *testing.T) {
	if os.Getenv("BUZHOU_TUNE") == "" {
		t.Skip("set BUZHOU_TUNE=1 to run the in-process evaluation (make eval runs it over REST)")
	}
	dir := os.Getenv("BUZHOU_CORPUS_DIR")
	if dir == "" {
		dir = filepath.Join("..", "..", "..", "..", "..", "shared", "corpus")
	}
	c, err := evaluation.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	params, tune := document.Default(), ranking.Default()
	// As in the service, the model is learned whatever the embedder: its
	// vocabulary corrects misspellings.
	var units []string
	for _, a := range c.Articles {
		units = append(units, document.LearningUnits(a)...)
	}
	cfg := embed.LearnConfig{}
	fmt.Sscanf(os.Getenv("BUZHOU_TUNE_LSA"), "%d,%d,%g", &cfg.Dim, &cfg.HashDim, &cfg.Surface)
	cfg.HashDim = max(cfg.HashDim, 0)
	m, err := embed.Learn(units, cfg)
	if err != nil {
		t.Fatal(err)
	}
	speller := spell.New(m.Vocabulary())
	var emb embed.Embedder = embed.NewHashing(0)
	if os.Getenv("BUZHOU_TUNE_EMBED") == "lsa" {
		fmt.Printf("learned %s: %d units, %d terms\n", m.Name(), len(units), m.Terms())
		emb = embed.NewLearned(m)
	}
	if w := os.Getenv("BUZHOU_TUNE_FIELDS"); w != "" {
		fw := &params.Weights
		fmt.Sscanf(w, "%g,%g,%g,%g,%g,%g,%g,%g", &fw[0], &fw[1], &fw[2], &fw[3], &fw[4], &fw[5], &fw[6], &fw[7])
	}
	if w := os.Getenv("BUZHOU_TUNE_B"); w != "" {
		fb := &params.B
		fmt.Sscanf(w, "%g,%g,%g,%g,%g,%g,%g,%g", &fb[0], &fb[1], &fb[2], &fb[3], &fb[4], &fb[5], &fb[6], &fb[7])
	}
	if w := os.Getenv("BUZHOU_TUNE_K1"); w != "" {
		fmt.Sscanf(w, "%g,%g,%g", &params.K1, &params.GramWeight, &params.GramQuery)
	}
	if w := os.Getenv("BUZHOU_TUNE_REL"); w != "" {
		fmt.Sscanf(w, "%g,%g", &tune.SameDomain, &tune.SharedTag)
	}
	if w := os.Getenv("BUZHOU_TUNE_FB"); w != "" {
		fmt.Sscanf(w, "%d,%g", &tune.Feedback, &tune.FeedbackWeight)
	}
	if w := os.Getenv("BUZHOU_TUNE_WEIGHTS"); w != "" {
		// lexical,fuzzy,dense[,k]
		fmt.Sscanf(w, "%g,%g,%g,%d", &tune.LexicalWeight, &tune.FuzzyWeight, &tune.DenseWeight, &tune.K)
	}
	if w := os.Getenv("BUZHOU_TUNE_PREFETCH"); w != "" {
		// prefetch,fuzzy prefetch,dense threshold
		fmt.Sscanf(w, "%d,%d,%g", &tune.Prefetch, &tune.FuzzyPrefetch, &tune.DenseThreshold)
	}
	idx, err := embedded.Open("")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := idx.Prepare(ctx, indexSchema(emb)); err != nil {
		t.Fatal(err)
	}
	var changes []*articlev1.ArticleChange
	for i, a := range c.Articles {
		a.Id = a.GetSlug()
		changes = append(changes, &articlev1.ArticleChange{Revision: int64(i + 1), Kind: articlev1.ChangeKind_CHANGE_KIND_UPSERT, ArticleId: a.GetId(), Article: a})
	}
	if err := indexer.New(idx, emb, params, nil).Apply(ctx, changes); err != nil {
		t.Fatal(err)
	}
	eng := ranking.New(idx, emb, params, tune)
	if os.Getenv("BUZHOU_TUNE_NOSPELL") == "" {
		eng.SetSpeller(speller)
	}
	reports := map[string]evaluation.Report{}
	all := map[string]map[string][]string{}
	var points []evaluation.Point
	for _, mode := range []ranking.Mode{ranking.Lexical, ranking.Dense, ranking.Hybrid} {
		rankings := map[string][]string{}
		for _, q := range c.Queries {
			ans, err := eng.Search(ctx, ranking.Request{Text: q.Text, Mode: mode, Limit: 10})
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range ans.Results {
				rankings[q.ID] = append(rankings[q.ID], r.Payload.ArticleID)
			}
			if mode == ranking.Hybrid {
				conf, sig, err := eng.Confidence(ctx, ans)
				if err != nil {
					t.Fatal(err)
				}
				right := len(ans.Results) > 0 && q.Relevant[ans.Results[0].Payload.ArticleID] == 2
				points = append(points, evaluation.Point{Confidence: conf, Right: right})
				if os.Getenv("BUZHOU_TUNE_SIGNALS") != "" {
					fmt.Printf("signal %v %.2f %.2f %.2f %.2f conf %.2f\n", right, sig.Words, sig.Grams, sig.Cosine, sig.Margin, conf)
				}
			}
		}
		reports[string(mode)] = evaluation.Score(c.Queries, rankings)
		all[string(mode)] = rankings
	}
	for _, q := range evaluation.OffTopic() {
		ans, err := eng.Search(ctx, ranking.Request{Text: q, Mode: ranking.Hybrid, Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		conf, sig, _ := eng.Confidence(ctx, ans)
		if os.Getenv("BUZHOU_TUNE_SIGNALS") != "" {
			fmt.Printf("signal off %.2f %.2f %.2f %.2f conf %.2f\n", sig.Words, sig.Grams, sig.Cosine, sig.Margin, conf)
		}
		points = append(points, evaluation.Point{Confidence: conf})
	}
	related := map[string][]string{}
	for _, r := range c.Related {
		res, err := eng.Related(ctx, r.Slug, 5)
		if err != nil {
			t.Fatal(err)
		}
		for _, x := range res {
			related[r.Slug] = append(related[r.Slug], x.Payload.ArticleID)
		}
		if os.Getenv("BUZHOU_TUNE_MISSES") != "" {
			// Where the expert's articles rank among the first 20, for study.
			long, err := eng.Related(ctx, r.Slug, 20)
			if err != nil {
				t.Fatal(err)
			}
			var ranks []string
			for _, want := range r.Related {
				rank := "-"
				for i, x := range long {
					if x.Payload.ArticleID == want {
						rank = fmt.Sprint(i + 1)
					}
				}
				ranks = append(ranks, want+"@"+rank)
			}
			fmt.Printf("related %s: expert %v got %v\n", r.Slug, ranks, related[r.Slug])
		}
	}
	var b strings.Builder
	evaluation.Write(&b, reports, []string{"lexical", "dense", "hybrid"})
	for _, mode := range []string{"lexical", "dense", "hybrid"} {
		evaluation.WriteHalves(&b, mode, c.Queries, all[mode])
	}
	relA, relB := evaluation.RelatedHalves(c.Related)
	fmt.Fprintf(&b, "related recall@5 %.3f (A %.3f, B %.3f)\n\n", evaluation.RelatedRecall(c.Related, related),
		evaluation.RelatedRecall(relA, related), evaluation.RelatedRecall(relB, related))
	evaluation.Calibrate(points).Write(&b)
	if os.Getenv("BUZHOU_TUNE_MISSES") != "" {
		b.WriteString("\nhybrid misses:\n" + strings.Join(reports["hybrid"].Misses, "\n") + "\n")
	}
	fmt.Print(b.String())
}

func indexSchema(e embed.Embedder) index.Schema { return index.Schema{Model: e.Model(), Dim: e.Dim()} }
