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

// waitIndexed waits until the search index holds at least n articles and
// has applied everything it received.
func waitIndexed(ctx context.Context, c *http.Client, server, key string, n int) error {
	for {
		var st struct {
			IndexedArticles string `json:"indexedArticles"`
			Lag             string `json:"lag"`
		}
		if err := call(ctx, c, http.MethodGet, server+"/api/v1/search/status", key, nil, &st); err != nil {
			return fmt.Errorf("search status: %w", err)
		}
		var indexed int
		fmt.Sscan(st.IndexedArticles, &indexed)
		if indexed >= n && st.Lag == "0" {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
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
