package cli

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
)

const (
	// requestTimeout bounds one HTTP exchange. It is generous because a
	// batch of 500 articles may be embedded and indexed before the answer.
	requestTimeout = 5 * time.Minute
	// maxResponseBytes stops a misbehaving server from exhausting memory; a
	// page of 100 articles at the maximum content size stays well below it.
	maxResponseBytes = 256 << 20
	// maxAttempts counts tries of a rate-limited (429) request. Only 429 is
	// retried: the server promises it did nothing, so even a batch create is
	// safe to resend.
	maxAttempts = 5
	// maxRetryWait caps how long one Retry-After makes us sleep.
	maxRetryWait = 30 * time.Second
	userAgent    = "buzhou-cli"
)

// parseServerURL accepts a full http(s) URL, optionally with a path prefix
// (a server behind a reverse proxy), or a bare host:port.
func parseServerURL(raw string) (string, error) {
	s := strings.TrimSpace(raw)
	if !strings.Contains(s, "://") {
		s = "http://" + s
	}
	u, err := url.Parse(s)
	if err != nil {
		return "", fmt.Errorf("server address %q is not a URL (%v); use --server or %s like http://127.0.0.1:8080", raw, err, envServer)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", fmt.Errorf("server address %q must use http or https", raw)
	}
	if u.Host == "" {
		return "", fmt.Errorf("server address %q names no host; use --server or %s like http://127.0.0.1:8080", raw, envServer)
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return "", fmt.Errorf("server address %q must not carry a query, fragment or user info", raw)
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = ""
	return u.String(), nil
}

// client talks to one Buzhou server.
type client struct {
	base   string // scheme://host[/prefix], no trailing slash
	key    string
	http   *http.Client
	notice io.Writer // where retry notices go (stderr)
}

func newClient(base, key string, notice io.Writer) *client {
	return &client{base: base, key: key, http: &http.Client{Timeout: requestTimeout}, notice: notice}
}

// call describes one request.
type call struct {
	method string
	path   string // escaped, starting with /api/v1/
	query  url.Values
	body   []byte // nil for none
	accept string
	// hint says what the user should do about a failed answer; it gets the
	// status and the error code the server sent ("" when it sent none).
	hint func(status int, code string) string
}

// reply is a successful answer.
type reply struct {
	header http.Header
	body   []byte
}

// apiError is an answer that was not 2xx, with the server's error envelope.
type apiError struct {
	status    int
	code      string
	message   string
	requestID string
	hint      string
}

func (e *apiError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "server answered %d", e.status)
	if e.code != "" {
		b.WriteString(" " + e.code)
	}
	if e.message != "" {
		b.WriteString(": " + e.message)
	}
	if e.requestID != "" {
		fmt.Fprintf(&b, " (request id %s)", e.requestID)
	}
	if e.hint != "" {
		b.WriteString("; " + e.hint)
	}
	return b.String()
}

// unreachableError means no HTTP answer came back at all.
type unreachableError struct {
	server string
	err    error
}

func (e *unreachableError) Error() string {
	return fmt.Sprintf("could not talk to the buzhou server at %s: %v; is it running? Start one with `buzhou serve`, or point --server or %s at a running server",
		e.server, e.err, envServer)
}

func (e *unreachableError) Unwrap() error { return e.err }

// do sends c and returns the 2xx answer, an *apiError, an *unreachableError
// or the context's error.
func (c *client) do(ctx context.Context, cl call) (*reply, error) {
	target := c.base + cl.path
	if len(cl.query) > 0 {
		target += "?" + cl.query.Encode()
	}
	for attempt := 1; ; attempt++ {
		var body io.Reader
		if cl.body != nil {
			body = bytes.NewReader(cl.body)
		}
		req, err := http.NewRequestWithContext(ctx, cl.method, target, body)
		if err != nil {
			return nil, fmt.Errorf("building request: %w", err)
		}
		req.Header.Set("User-Agent", userAgent)
		if cl.accept != "" {
			req.Header.Set("Accept", cl.accept)
		}
		if cl.body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		if c.key != "" {
			req.Header.Set("Authorization", "Bearer "+c.key)
		}
		resp, err := c.http.Do(req)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			// url.Error repeats method and URL; the inner error is the news.
			var uerr *url.Error
			if errors.As(err, &uerr) {
				err = uerr.Err
			}
			return nil, &unreachableError{server: c.base, err: err}
		}
		data, readErr := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes+1))
		resp.Body.Close()
		if resp.StatusCode == http.StatusTooManyRequests && attempt < maxAttempts {
			wait := retryAfter(resp.Header.Get("Retry-After"))
			fmt.Fprintf(c.notice, "buzhou: rate limited by the server; retrying in %s\n", wait)
			if err := sleep(ctx, wait); err != nil {
				return nil, err
			}
			continue
		}
		if resp.StatusCode < 200 || resp.StatusCode > 299 {
			return nil, c.apiError(resp, data, cl)
		}
		if readErr != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, &unreachableError{server: c.base, err: fmt.Errorf("reading the answer: %w", readErr)}
		}
		if len(data) > maxResponseBytes {
			return nil, fmt.Errorf("the answer from %s is larger than %d MiB; refusing it", c.base, maxResponseBytes>>20)
		}
		return &reply{header: resp.Header, body: data}, nil
	}
}

// apiError decodes the server's {"error": {...}} envelope. An answer without
// one (a proxy's HTML page, say) still yields the status and request id.
func (c *client) apiError(resp *http.Response, data []byte, cl call) *apiError {
	var env struct {
		Error struct {
			Code      string `json:"code"`
			Message   string `json:"message"`
			RequestID string `json:"requestId"`
		} `json:"error"`
	}
	_ = json.Unmarshal(data, &env) // not an envelope: the fields stay empty
	e := &apiError{
		status:    resp.StatusCode,
		code:      env.Error.Code,
		message:   oneLine(env.Error.Message),
		requestID: env.Error.RequestID,
	}
	if e.requestID == "" {
		e.requestID = resp.Header.Get("X-Request-Id")
	}
	if e.message == "" {
		e.message = strings.ToLower(http.StatusText(resp.StatusCode))
	}
	if cl.hint != nil {
		e.hint = cl.hint(e.status, e.code)
	}
	if e.hint == "" {
		e.hint = commonHint(c.base, e.status, e.code)
	}
	return e
}

// commonHint covers the answers whose remedy does not depend on the command.
func commonHint(server string, status int, code string) string {
	switch {
	case code == "" && (status == http.StatusNotFound || status == http.StatusMethodNotAllowed):
		return fmt.Sprintf("%s does not answer like a buzhou server; check --server or %s", server, envServer)
	case status == http.StatusTooManyRequests:
		return "rate limited even after retrying; wait a minute and run again, or use a key with a higher limit"
	case status == http.StatusServiceUnavailable:
		return "the server is not ready or overloaded; try again in a moment"
	case status >= 500:
		return "the server failed; try again later, and if it keeps failing report the request id to its operator"
	}
	return ""
}

// retryAfter reads a Retry-After header (seconds or an HTTP date).
func retryAfter(v string) time.Duration {
	wait := time.Second
	if s, err := strconv.Atoi(strings.TrimSpace(v)); err == nil {
		wait = time.Duration(s) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		wait = time.Until(t)
	}
	return min(max(wait, 0), maxRetryWait)
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// oneLine folds a message onto one line so that each failure stays one row.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
