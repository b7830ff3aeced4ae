// Command search-eval measures search quality over REST: it loads a corpus
// into a running Buzhou (a fresh one: make eval starts it), reindexes so the
// learned embedder learns from it, runs the development queries with each
// ranker and prints nDCG@10, MRR and recall@5 per query kind, related-article
// recall@5, and how resolve's confidence separates right answers from wrong
// ones.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"time"

	"google.golang.org/protobuf/encoding/protojson"

	"buzhou.dev/search/internal/evaluation"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := realMain(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "search-eval:", err)
		os.Exit(1)
	}
}

type client struct {
	base, key string
	http      *http.Client
}

func (c *client) do(ctx context.Context, method, path string, body any, out any) (int, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return 0, err
	}
	if c.key != "" {
		req.Header.Set("Authorization", "Bearer "+c.key)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, err
	}
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(raw, out); err != nil {
			return resp.StatusCode, fmt.Errorf("%s %s: %w", method, path, err)
		}
	}
	if resp.StatusCode >= 300 && resp.StatusCode != 404 && path != "/readyz" {
		return resp.StatusCode, fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, raw)
	}
	return resp.StatusCode, nil
}

type status struct {
	Applied    string `json:"appliedRevision"`
	Received   string `json:"receivedRevision"`
	Articles   string `json:"indexedArticles"`
	CaughtUp   bool   `json:"caughtUp"`
	Rebuilding bool   `json:"rebuilding"`
	Model      string `json:"embeddingModel"`
}

func realMain(ctx context.Context) error {
	server := flag.String("server", "http://127.0.0.1:8080", "Buzhou to evaluate (a fresh one: the corpus is loaded into it)")
	corpus := flag.String("corpus", os.Getenv("BUZHOU_CORPUS_DIR"), "folder with corpus.jsonl, queries-dev.jsonl, related-dev.jsonl")
	flag.Parse()
	c := &client{base: strings.TrimRight(*server, "/"), key: os.Getenv("BUZHOU_API_KEY"), http: &http.Client{Timeout: time.Minute}}
	corp, err := evaluation.Load(*corpus)
	if err != nil {
		return err
	}
	if err := waitFor(ctx, "the server to be ready", func() (bool, error) {
		st, err := c.do(ctx, "GET", "/readyz", nil, nil)
		return st == 200, err
	}); err != nil {
		return err
	}
	// Load the corpus; the server makes its own slugs, so keep the mapping.
	var batch []json.RawMessage
	for _, a := range corp.Articles {
		a.Slug = ""
		b, err := protojson.Marshal(a)
		if err != nil {
			return err
		}
		batch = append(batch, b)
	}
	var created struct {
		Results []struct {
			Index   int `json:"index"`
			Article *struct {
				Slug string `json:"slug"`
			} `json:"article"`
			Error *struct{ Message string } `json:"error"`
		} `json:"results"`
	}
	if _, err := c.do(ctx, "POST", "/api/v1/articles:batchCreate", map[string]any{"articles": batch}, &created); err != nil {
		return fmt.Errorf("load the corpus (set BUZHOU_API_KEY to a key with articles:write): %w", err)
	}
	toCorpus, toServer := map[string]string{}, map[string]string{}
	for _, r := range created.Results {
		if r.Article == nil {
			return fmt.Errorf("article %d was refused: %v", r.Index, r.Error)
		}
		slug := corpusSlug(corp, r.Index)
		toCorpus[r.Article.Slug], toServer[slug] = slug, r.Article.Slug
	}
	fmt.Printf("loaded %d articles\n", len(toServer))
	if err := waitFor(ctx, "the index to take them in", func() (bool, error) {
		var st status
		_, err := c.do(ctx, "GET", "/api/v1/search/status", nil, &st)
		return st.Applied == st.Received && st.Articles == fmt.Sprint(len(toServer)), err
	}); err != nil {
		return err
	}
	// Reindex, so the learned embedder learns from these articles.
	if _, err := c.do(ctx, "POST", "/api/v1/search:reindex", map[string]any{}, nil); err != nil {
		return err
	}
	var st status
	if err := waitFor(ctx, "the reindex", func() (bool, error) {
		_, err := c.do(ctx, "GET", "/api/v1/search/status", nil, &st)
		return st.CaughtUp && !st.Rebuilding && st.Articles == fmt.Sprint(len(toServer)), err
	}); err != nil {
		return err
	}
	fmt.Printf("embedding model %s\n\n", st.Model)

	reports := map[string]evaluation.Report{}
	all := map[string]map[string][]string{}
	for _, ranker := range []string{"lexical", "dense", "hybrid"} {
		rankings := map[string][]string{}
		for _, q := range corp.Queries {
			var ans struct {
				Items []struct {
					Slug string `json:"slug"`
				} `json:"items"`
			}
			if _, err := c.do(ctx, "GET", "/api/v1/search?pageSize=10&ranker="+ranker+"&q="+url.QueryEscape(q.Text), nil, &ans); err != nil {
				return err
			}
			for _, it := range ans.Items {
				rankings[q.ID] = append(rankings[q.ID], toCorpus[it.Slug])
			}
		}
		reports[ranker] = evaluation.Score(corp.Queries, rankings)
		all[ranker] = rankings
	}
	related := map[string][]string{}
	for _, r := range corp.Related {
		var ans struct {
			Items []struct {
				Slug string `json:"slug"`
			} `json:"items"`
		}
		if _, err := c.do(ctx, "GET", "/api/v1/articles/"+toServer[r.Slug]+"/related?limit=5", nil, &ans); err != nil {
			return err
		}
		for _, it := range ans.Items {
			related[r.Slug] = append(related[r.Slug], toCorpus[it.Slug])
		}
	}
	var points []evaluation.Point
	resolved, refused := 0, 0
	resolve := func(q string) (string, float64, error) {
		var ans struct {
			Slug       string  `json:"slug"`
			Confidence float64 `json:"confidence"`
		}
		code, err := c.do(ctx, "GET", "/api/v1/resolve?q="+url.QueryEscape(q), nil, &ans)
		if code == 404 {
			return "", 0, nil
		}
		return toCorpus[ans.Slug], ans.Confidence, err
	}
	for _, q := range corp.Queries {
		slug, conf, err := resolve(q.Text)
		if err != nil {
			return err
		}
		right := slug != "" && q.Relevant[slug] == 2
		if right {
			resolved++
		}
		points = append(points, evaluation.Point{Confidence: conf, Right: right})
	}
	for _, q := range evaluation.OffTopic() {
		slug, conf, err := resolve(q)
		if err != nil {
			return err
		}
		if slug == "" {
			refused++
		}
		points = append(points, evaluation.Point{Confidence: conf})
	}
	evaluation.Write(os.Stdout, reports, []string{"lexical", "dense", "hybrid"})
	for _, ranker := range []string{"lexical", "dense", "hybrid"} {
		evaluation.WriteHalves(os.Stdout, ranker, corp.Queries, all[ranker])
	}
	fmt.Println()
	fmt.Printf("related recall@5 %.3f\n\n", evaluation.RelatedRecall(corp.Related, related))
	fmt.Printf("resolve: %d of %d development queries resolve to the article that answers them; %d of %d off-topic queries get 404\n\n",
		resolved, len(corp.Queries), refused, len(evaluation.OffTopic()))
	fmt.Println("resolve confidence (404s count as 0):")
	evaluation.Calibrate(points).Write(os.Stdout)
	if os.Getenv("BUZHOU_EVAL_MISSES") != "" {
		fmt.Println("\nhybrid misses:\n" + strings.Join(reports["hybrid"].Misses, "\n"))
	}
	return nil
}

func corpusSlug(c *evaluation.Corpus, i int) string {
	if i < 0 || i >= len(c.Articles) {
		return ""
	}
	return c.Slugs[i]
}

// waitFor polls cond every 100 ms for up to five minutes.
func waitFor(ctx context.Context, what string, cond func() (bool, error)) error {
	deadline := time.Now().Add(5 * time.Minute)
	for {
		ok, err := cond()
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("gave up waiting for %s: %w", what, errors.Join(err, errors.New("timed out")))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}
