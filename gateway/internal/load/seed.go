package load

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"google.golang.org/protobuf/encoding/protojson"

	"buzhou.dev/search/synth"
)

// seedBatch is the articles per batchCreate call.
const seedBatch = 500

// Seed creates n synthetic published articles (services/search/synth, for
// seed) through the API with key, waits until the search index holds them
// all, and returns them with queries about them. progress, when set, hears
// how far it got.
func Seed(ctx context.Context, c *http.Client, server, key string, n int, seed uint64, progress io.Writer) (Target, error) {
	g := synth.New(seed)
	var t Target
	if err := waitReady(ctx, c, server); err != nil {
		return t, err
	}
	for i := 0; i < n; i += seedBatch {
		var batch []json.RawMessage
		for j := i; j < min(i+seedBatch, n); j++ {
			raw, err := protojson.Marshal(g.Article(j))
			if err != nil {
				return t, err
			}
			batch = append(batch, raw)
		}
		body, _ := json.Marshal(map[string]any{"articles": batch})
		var out struct {
			Results []struct {
				Article *struct {
					ID   string `json:"id"`
					Slug string `json:"slug"`
				} `json:"article"`
				Error *struct {
					Message string `json:"message"`
				} `json:"error"`
			} `json:"results"`
		}
		if err := call(ctx, c, http.MethodPost, server+"/api/v1/articles:batchCreate", key, body, &out); err != nil {
			return t, fmt.Errorf("seed articles %d–%d: %w", i, i+len(batch)-1, err)
		}
		for k, r := range out.Results {
			if r.Article == nil {
				msg := "no article"
				if r.Error != nil {
					msg = r.Error.Message
				}
				return t, fmt.Errorf("seed article %d: %s (seed a fresh stack)", i+k, msg)
			}
			t.IDs = append(t.IDs, r.Article.ID)
			t.Slugs = append(t.Slugs, r.Article.Slug)
		}
		if progress != nil {
			fmt.Fprintf(progress, "seeded %d/%d articles\n", len(t.IDs), n)
		}
	}
	for range 1000 {
		t.Queries = append(t.Queries, g.Query())
	}
	return t, waitIndexed(ctx, c, server, key, n)
}

// waitReady waits up to a minute for the server's /readyz to answer 200.
func waitReady(ctx context.Context, c *http.Client, server string) error {
	deadline := time.Now().Add(time.Minute)
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, server+"/readyz", nil)
		if err != nil {
			return err
		}
		resp, err := c.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s/readyz did not answer 200 within a minute (last: %v)", server, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// Settle brings a freshly seeded stack to the state of a hub in service
// before it is measured: with reindex, the search index is rebuilt so its
// embedder learns from the articles (as a hub that started with articles
// does); with related, it waits until every related list is written back
// (the backlog a bulk load leaves, paced by the search service, would
// otherwise compete with the measured requests). progress hears each
// phase's time.
func Settle(ctx context.Context, c *http.Client, server, key string, n int, reindex, related bool, progress io.Writer) error {
	if reindex {
		start := time.Now()
		// A reindex learns the embedder before it answers: longer than a
		// request's time limit.
		rctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		defer cancel()
		var started struct{}
		if err := call(rctx, &http.Client{Transport: c.Transport}, http.MethodPost, server+"/api/v1/search:reindex", key, []byte("{}"), &started); err != nil {
			return fmt.Errorf("reindex: %w", err)
		}
		if err := waitStatus(ctx, c, server, key, func(st status) bool {
			return st.CaughtUp && !st.Rebuilding && st.indexed() >= n && st.Lag == "0"
		}); err != nil {
			return err
		}
		fmt.Fprintf(progress, "reindexed %d articles in %v\n", n, time.Since(start).Round(time.Millisecond))
	}
	if !related {
		return nil
	}
	start := time.Now()
	if err := waitStatus(ctx, c, server, key, func(st status) bool { return st.RelatedPending == "" || st.RelatedPending == "0" }); err != nil {
		return err
	}
	fmt.Fprintf(progress, "related lists written back in %v\n", time.Since(start).Round(time.Millisecond))
	return nil
}

// status is what the load generator reads of /api/v1/search/status.
type status struct {
	IndexedArticles string `json:"indexedArticles"`
	Lag             string `json:"lag"`
	CaughtUp        bool   `json:"caughtUp"`
	Rebuilding      bool   `json:"rebuilding"`
	RelatedPending  string `json:"relatedPending"`
}

func (st status) indexed() int {
	var n int
	fmt.Sscan(st.IndexedArticles, &n)
	return n
}

// waitStatus polls the search status until done says so.
func waitStatus(ctx context.Context, c *http.Client, server, key string, done func(status) bool) error {
	for {
		var st status
		if err := call(ctx, c, http.MethodGet, server+"/api/v1/search/status", key, nil, &st); err != nil {
			return fmt.Errorf("search status: %w", err)
		}
		if done(st) {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// waitIndexed waits until the search index holds at least n articles and
// has applied everything it received.
func waitIndexed(ctx context.Context, c *http.Client, server, key string, n int) error {
	return waitStatus(ctx, c, server, key, func(st status) bool { return st.indexed() >= n && st.Lag == "0" })
}

// call sends a JSON request with key and decodes a 200 answer into out.
func call(ctx context.Context, c *http.Client, method, u, key string, body []byte, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, u, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s %s: %d %s", method, u, resp.StatusCode, bytes.TrimSpace(raw))
	}
	return json.Unmarshal(raw, out)
}
