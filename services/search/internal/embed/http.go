package embed

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"buzhou.dev/platform/errs"
	"buzhou.dev/search/internal/index"
)

// HTTPConfig configures the client of an OpenAI-compatible embeddings
// endpoint (OpenAI, Ollama, vLLM, TEI, …).
type HTTPConfig struct {
	// URL is the endpoint's base, e.g. https://api.openai.com/v1 or
	// http://127.0.0.1:11434; "/v1/embeddings" is added as needed.
	URL string
	// Model is sent with every request and recorded in the index.
	Model string
	// APIKey, when set, is sent as "Authorization: Bearer <key>".
	APIKey string
	// Dim, when set, is asked for ("dimensions") and checked; otherwise the
	// dimension is learned from the first answer.
	Dim int
	// Batch is the most texts per request; 0 means 64.
	Batch int
	// Timeout bounds one request; 0 means 30 s.
	Timeout time.Duration
	// Retries is how often a 429, a 5xx or a network error is retried;
	// 0 means 5.
	Retries int
	// Backoff is the first wait between tries, doubled each time up to 10 s
	// (or what Retry-After asks, up to 60 s); 0 means 250 ms.
	Backoff time.Duration
	// Client sends the requests; nil means a client of its own.
	Client *http.Client
}

// HTTP embeds through an OpenAI-compatible /v1/embeddings endpoint.
type HTTP struct {
	cfg      HTTPConfig
	endpoint string
	dim      int
}

// NewHTTP checks the endpoint with one small request, so a wrong URL, key,
// model or dimension stops start-up with a clear message instead of failing
// every article later.
func NewHTTP(ctx context.Context, cfg HTTPConfig) (*HTTP, error) {
	if cfg.Model == "" {
		return nil, fmt.Errorf("%w: EMBEDDINGS_MODEL is not set; name the model the endpoint at EMBEDDINGS_URL serves, e.g. text-embedding-3-small or nomic-embed-text", errs.ErrInvalid)
	}
	endpoint, err := embeddingsURL(cfg.URL)
	if err != nil {
		return nil, err
	}
	if cfg.Batch <= 0 {
		cfg.Batch = 64
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	if cfg.Retries <= 0 {
		cfg.Retries = 5
	}
	if cfg.Backoff <= 0 {
		cfg.Backoff = 250 * time.Millisecond
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{}
	}
	h := &HTTP{cfg: cfg, endpoint: endpoint, dim: cfg.Dim}
	v, err := h.request(ctx, []string{"connection check"})
	if err != nil {
		return nil, fmt.Errorf("embeddings endpoint %s (model %s) does not work: %w; check EMBEDDINGS_URL, EMBEDDINGS_MODEL and EMBEDDINGS_API_KEY", endpoint, cfg.Model, err)
	}
	h.dim = len(v[0])
	return h, nil
}

// embeddingsURL completes a base URL to the embeddings route.
func embeddingsURL(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("%w: EMBEDDINGS_URL %q is not an http(s) URL; e.g. https://api.openai.com/v1 or http://127.0.0.1:11434", errs.ErrInvalid, raw)
	}
	p := strings.TrimRight(u.Path, "/")
	switch {
	case strings.HasSuffix(p, "/embeddings"):
	case strings.HasSuffix(p, "/v1"):
		p += "/embeddings"
	default:
		p += "/v1/embeddings"
	}
	u.Path = p
	return u.String(), nil
}

// Model implements Embedder.
func (h *HTTP) Model() string { return h.cfg.Model }

// Dim implements Embedder.
func (h *HTTP) Dim() int { return h.dim }

// Embed implements Embedder, in batches of at most cfg.Batch texts.
func (h *HTTP) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	out := make([][]float32, 0, len(texts))
	for start := 0; start < len(texts); start += h.cfg.Batch {
		batch := texts[start:min(start+h.cfg.Batch, len(texts))]
		vs, err := h.request(ctx, batch)
		if err != nil {
			return nil, fmt.Errorf("embeddings endpoint %s: %w", h.endpoint, err)
		}
		out = append(out, vs...)
	}
	return out, nil
}

type embeddingsRequest struct {
	Model      string   `json:"model"`
	Input      []string `json:"input"`
	Dimensions int      `json:"dimensions,omitempty"`
}

type embeddingsResponse struct {
	Data []struct {
		Embedding []float32 `json:"embedding"`
		Index     int       `json:"index"`
	} `json:"data"`
	Error *struct {
		Message string `json:"message"`
	} `json:"error"`
}

// maxAnswerBytes bounds one answer: 64 texts × 4096 dimensions as JSON
// numbers fit with room to spare.
const maxAnswerBytes = 64 << 20

// request sends one batch, retrying 429, 5xx and network errors with
// exponential backoff (or as Retry-After asks).
func (h *HTTP) request(ctx context.Context, texts []string) ([][]float32, error) {
	body, err := json.Marshal(embeddingsRequest{Model: h.cfg.Model, Input: texts, Dimensions: h.cfg.Dim})
	if err != nil {
		return nil, err
	}
	wait := h.cfg.Backoff
	for try := 0; ; try++ {
		vs, retryAfter, err := h.once(ctx, body, len(texts))
		if err == nil {
			return vs, nil
		}
		var perm permanent
		if errors.As(err, &perm) || try >= h.cfg.Retries || ctx.Err() != nil {
			return nil, err
		}
		d := wait
		if retryAfter > 0 {
			d = min(retryAfter, time.Minute)
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("%w (gave up waiting to retry: %w)", err, ctx.Err())
		case <-time.After(d):
		}
		wait = min(2*wait, 10*time.Second)
	}
}

// permanent marks answers that retrying cannot fix (400, 401, 404, a wrong
// dimension).
type permanent struct{ error }

func (p permanent) Unwrap() error { return p.error }

func (h *HTTP) once(ctx context.Context, body []byte, n int) ([][]float32, time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, h.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.endpoint, bytes.NewReader(body))
	if err != nil {
		return nil, 0, permanent{err}
	}
	req.Header.Set("Content-Type", "application/json")
	if h.cfg.APIKey != "" {
		req.Header.Set("Authorization", "Bearer "+h.cfg.APIKey)
	}
	resp, err := h.cfg.Client.Do(req)
	if err != nil {
		return nil, 0, fmt.Errorf("%w: %w", errs.ErrUnavailable, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswerBytes+1))
	if err != nil {
		return nil, 0, fmt.Errorf("%w: read the answer: %w", errs.ErrUnavailable, err)
	}
	var ans embeddingsResponse
	jsonErr := json.Unmarshal(raw, &ans)
	if resp.StatusCode != http.StatusOK {
		msg := http.StatusText(resp.StatusCode)
		if jsonErr == nil && ans.Error != nil && ans.Error.Message != "" {
			msg = ans.Error.Message
		}
		err := fmt.Errorf("%w: HTTP %d: %s", errs.ErrUnavailable, resp.StatusCode, truncate(msg, 300))
		if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500 {
			return nil, retryAfter(resp.Header.Get("Retry-After")), err
		}
		return nil, 0, permanent{err}
	}
	if len(raw) > maxAnswerBytes || jsonErr != nil {
		return nil, 0, permanent{fmt.Errorf("%w: the answer is not an embeddings list", errs.ErrUnavailable)}
	}
	if len(ans.Data) != n {
		return nil, 0, permanent{fmt.Errorf("%w: asked for %d embeddings, got %d", errs.ErrUnavailable, n, len(ans.Data))}
	}
	out := make([][]float32, n)
	for _, d := range ans.Data {
		if d.Index < 0 || d.Index >= n || out[d.Index] != nil {
			return nil, 0, permanent{fmt.Errorf("%w: the answer's embedding indexes are not 0…%d", errs.ErrUnavailable, n-1)}
		}
		if h.dim > 0 && len(d.Embedding) != h.dim {
			return nil, 0, permanent{fmt.Errorf("%w: the endpoint answers %d dimensions, expected %d; set EMBEDDINGS_DIMENSIONS to what the model gives, or reindex after changing models", errs.ErrFailedPrecondition, len(d.Embedding), h.dim)}
		}
		if len(d.Embedding) == 0 {
			return nil, 0, permanent{fmt.Errorf("%w: an empty embedding", errs.ErrUnavailable)}
		}
		out[d.Index] = index.Normalize(d.Embedding)
	}
	return out, 0, nil
}

// retryAfter reads a Retry-After header in seconds; dates and junk count as
// none.
func retryAfter(v string) time.Duration {
	s, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || s < 0 {
		return 0
	}
	return time.Duration(s) * time.Second
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
