package mcpserver

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"buzhou.dev/gateway/internal/agents"
	"buzhou.dev/platform/vocab"
)

// maxAnswerBytes bounds one REST answer a tool reads; an article at the
// largest allowed size renders well below it.
const maxAnswerBytes = 8 << 20

// API is how the tools reach Buzhou: its public REST API. Every tool call
// becomes one or more REST requests carrying the caller's key and agent id,
// so the rules REST has (authentication, scopes, rate limits, agent
// counting, error texts) hold for MCP without a second copy of them, and the
// tools work the same inside the gateway (an in-process client, see
// InProcess) and in `buzhou mcp` (an HTTP client to a Buzhou URL).
type API struct {
	// Base is the server's address, e.g. "http://127.0.0.1:8080", no
	// trailing slash.
	Base string
	// Client sends the requests.
	Client *http.Client
	// Key, when set, is the API key of every call (buzhou mcp --key). Empty,
	// a call carries the key of the MCP HTTP request it serves, if any.
	Key string
	// UserAgent names the client when the MCP HTTP request names none.
	UserAgent string
}

// caller is what a tool call knows about who is calling.
type caller interface {
	GetExtra() *mcp.RequestExtra
	ClientInfo() *mcp.Implementation
}

// answer is one REST answer.
type answer struct {
	status int
	header http.Header
	body   []byte
}

// apiError is a REST answer that was not 2xx, in the API's error envelope.
type apiError struct {
	status  int
	code    string
	message string
}

func (e *apiError) Error() string {
	return fmt.Sprintf("Buzhou answered %d %s: %s", e.status, e.code, e.message)
}

// call sends one REST request for c. body, when not nil, is sent as JSON.
// A non-2xx answer is an *apiError.
func (a *API) call(ctx context.Context, c caller, method, path string, query url.Values, body any) (*answer, error) {
	target := a.Base + path
	if len(query) > 0 {
		target += "?" + query.Encode()
	}
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			return nil, fmt.Errorf("encoding the request: %w", err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctx, method, target, rd)
	if err != nil {
		return nil, fmt.Errorf("building the request: %w", err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	a.identify(req.Header, c)
	resp, err := a.Client.Do(req)
	if err != nil {
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err
		}
		return nil, fmt.Errorf("could not reach Buzhou at %s: %v; check that the server runs and the URL is right", a.Base, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswerBytes+1))
	if err != nil {
		return nil, fmt.Errorf("reading Buzhou's answer: %w", err)
	}
	if len(data) > maxAnswerBytes {
		return nil, fmt.Errorf("Buzhou's answer is larger than %d MiB; ask for less (a language, maxTokens)", maxAnswerBytes>>20)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, decodeError(resp.StatusCode, data)
	}
	return &answer{status: resp.StatusCode, header: resp.Header, body: data}, nil
}

// identify sets the key and agent headers of a REST request made for c: the
// fixed key, else the MCP HTTP request's own (Authorization, as the gateway
// normalised it, or x-api-key); its X-Agent-Id when valid, else the MCP
// client's name as the agent id; its User-Agent, which agents.Identify
// also reads.
func (a *API) identify(h http.Header, c caller) {
	var in http.Header
	if ex := c.GetExtra(); ex != nil {
		in = ex.Header
	}
	switch {
	case a.Key != "":
		h.Set("Authorization", "Bearer "+a.Key)
	case in.Get("Authorization") != "":
		h.Set("Authorization", in.Get("Authorization"))
	case in.Get("X-Api-Key") != "":
		h.Set("X-Api-Key", in.Get("X-Api-Key"))
	}
	if id := in.Get(agents.HeaderAgentID); vocab.ValidAgentID(id) {
		h.Set(agents.HeaderAgentID, id)
	} else if id := agentIDOf(c.ClientInfo()); id != "" {
		h.Set(agents.HeaderAgentID, id)
	}
	if ua := in.Get("User-Agent"); ua != "" {
		h.Set("User-Agent", ua)
	} else if a.UserAgent != "" {
		h.Set("User-Agent", a.UserAgent)
	}
	if id := in.Get("X-Request-Id"); id != "" {
		h.Set("X-Request-Id", id)
	}
}

// agentIDOf turns an MCP client's name ("claude-code", "Cursor",
// "Claude Desktop") into an agent id: lower-cased, runs of other characters
// as one "-". A name with nothing usable left gives "".
func agentIDOf(impl *mcp.Implementation) string {
	if impl == nil {
		return ""
	}
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(impl.Name) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '.', r == '_':
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			dash = false
			b.WriteRune(r)
		default:
			dash = true
		}
	}
	id := b.String()
	if len(id) > vocab.MaxAgentIDLen {
		id = strings.TrimRight(id[:vocab.MaxAgentIDLen], "-")
	}
	if !vocab.ValidAgentID(id) {
		return ""
	}
	return id
}

// decodeError reads the API's {"error": {...}} envelope; an answer without
// one still gives its status.
func decodeError(status int, data []byte) *apiError {
	var env struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	_ = json.Unmarshal(data, &env)
	e := &apiError{status: status, code: env.Error.Code, message: strings.Join(strings.Fields(env.Error.Message), " ")}
	if e.code == "" {
		e.code = strings.ToUpper(strings.ReplaceAll(http.StatusText(status), " ", "_"))
	}
	if e.message == "" {
		e.message = strings.ToLower(http.StatusText(status))
	}
	return e
}

// InProcess returns a client whose requests h serves in this process: the
// gateway hands in its API handler, so a tool call costs no socket and
// passes the same handler chain as a REST call (see gateway.New for which
// parts of it).
func InProcess(h http.Handler) *http.Client {
	return &http.Client{Transport: handlerTransport{h}}
}

type handlerTransport struct{ h http.Handler }

func (t handlerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	w := &bufferedResponse{header: http.Header{}}
	in := req.Clone(req.Context())
	if in.Body == nil {
		// Handlers, unlike clients, count on a body: net/http's server
		// always gives one.
		in.Body = http.NoBody
	}
	in.RequestURI = req.URL.RequestURI()
	t.h.ServeHTTP(w, in)
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return &http.Response{
		StatusCode: w.status, Status: http.StatusText(w.status), Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: w.header, Body: io.NopCloser(&w.body), ContentLength: int64(w.body.Len()), Request: req,
	}, nil
}

// bufferedResponse keeps an in-process answer. Writes past maxAnswerBytes
// are dropped: call refuses such an answer anyway.
type bufferedResponse struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (w *bufferedResponse) Header() http.Header { return w.header }

func (w *bufferedResponse) WriteHeader(code int) {
	if w.status == 0 && code >= 200 {
		w.status = code
	}
}

func (w *bufferedResponse) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	if room := maxAnswerBytes + 1 - w.body.Len(); room < len(p) {
		if room > 0 {
			w.body.Write(p[:room])
		}
		return len(p), nil
	}
	return w.body.Write(p)
}
