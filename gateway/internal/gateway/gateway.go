// Package gateway is Buzhou's HTTP front: it maps REST to the services' gRPC
// APIs with grpc-gateway, and adds request ids, the error shape, body limits,
// health and the OpenAPI document. It holds no business logic.
package gateway

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"runtime/debug"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"buzhou.dev/gateway/internal/agents"
	"buzhou.dev/gateway/internal/mcpserver"
	"buzhou.dev/gateway/internal/openapi"
	"buzhou.dev/gateway/internal/web"
	"buzhou.dev/platform/auth"
	"buzhou.dev/platform/metrics"
	articlev1 "buzhou.dev/proto/gen/buzhou/article/v1"
	searchv1 "buzhou.dev/proto/gen/buzhou/search/v1"
	verificationv1 "buzhou.dev/proto/gen/buzhou/verification/v1"
)

// Config configures the gateway's HTTP behaviour.
type Config struct {
	// MaxBodyBytes bounds request bodies; larger ones get 413.
	MaxBodyBytes int64
	// Access authenticates and rate-limits API calls; nil leaves both to the services.
	Access *Access
	// Agents counts API calls per agent; nil counts nothing.
	Agents *agents.Tracker
	// Metrics records requests by route and serves GET /metrics; nil does neither.
	Metrics *metrics.Part
	// PublicURL is the site's address for readers, for the web pages'
	// absolute links; empty, each request's own.
	PublicURL string
	// Draining, once closed, turns /readyz to 503 while everything else is
	// still served: the gateway is shutting down. nil never drains.
	Draining <-chan struct{}
	// ReadCache serves public article reads; nil asks the service each time.
	ReadCache *ReadCache
	// Shed bounds the API requests in flight per route class (reads served
	// from the read cache are not counted); nil bounds nothing.
	Shed *Shedder
}

// Upstreams are the connections to the services, one per service.
type Upstreams struct {
	Article      *grpc.ClientConn
	Search       *grpc.ClientConn
	Verification *grpc.ClientConn
}

// New returns the gateway's HTTP handler.
func New(ctx context.Context, cfg Config, up Upstreams, log *slog.Logger) (http.Handler, error) {
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = 16 << 20
	}
	api := runtime.NewServeMux(
		runtime.WithMarshalerOption(runtime.MIMEWildcard, &runtime.HTTPBodyMarshaler{
			Marshaler: strictJSON{JSONPb: &runtime.JSONPb{
				MarshalOptions:   protojson.MarshalOptions{EmitUnpopulated: true},
				UnmarshalOptions: protojson.UnmarshalOptions{DiscardUnknown: false},
			}},
		}),
		runtime.WithErrorHandler(errorHandler(log)),
		runtime.WithRoutingErrorHandler(handleRoutingError),
		runtime.WithIncomingHeaderMatcher(incomingHeader),
		runtime.WithOutgoingHeaderMatcher(outgoingHeader),
		runtime.WithMetadata(func(ctx context.Context, _ *http.Request) metadata.MD {
			return metadata.Pairs("x-request-id", RequestIDFrom(ctx))
		}),
		runtime.WithForwardResponseOption(setStatus),
		runtime.WithForwardResponseRewriter(liftResolve),
		// Without credentials the Guard only reads the access rules.
		runtime.WithMiddlewares(apiRoute, refuseAnonymousEarly(rpcsByPattern(), auth.NewGuard(nil, 0, nil).CountRefusals(cfg.Metrics.AuthFailed))),
	)
	for _, s := range apiServices(up) {
		if err := s.register(ctx, api, s.conn); err != nil {
			return nil, fmt.Errorf("register %s routes: %w", s.desc.Name(), err)
		}
	}

	mux := http.NewServeMux()
	apiHandler := validURL(log, cfg.ReadCache.Middleware(cfg.Shed.Middleware(articleRoutes(api))))
	if cfg.Agents != nil {
		apiHandler = agents.Middleware(cfg.Agents, apiHandler)
	}
	mux.Handle("/mcp", mcpHandler(ctx, cfg, apiHandler, log))
	if cfg.Access != nil {
		// Outside the agent counter: calls refused at the edge (failed
		// authentications above all, which anyone can send with any agent
		// id) are not agent usage.
		apiHandler = cfg.Access.Middleware(apiHandler)
	}
	mux.Handle("/api/", agentHeaders(apiHandler))
	mux.Handle("GET /openapi.json", openapi.Handler())
	mountMetrics(mux, cfg.Metrics, log)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, `{"status":"ok"}`)
	})
	mux.Handle("GET /readyz", readiness(up, cfg.Draining))
	webCfg := web.Config{
		Articles: articlev1.NewArticleServiceClient(up.Article), Search: searchv1.NewSearchServiceClient(up.Search),
		Verification: verificationv1.NewVerificationServiceClient(up.Verification),
		PublicURL:    cfg.PublicURL, OpenAPI: openapi.Document(), Log: log,
	}
	if cfg.ReadCache != nil {
		webCfg.Pages = cfg.ReadCache
	}
	site, err := web.New(webCfg)
	if err != nil {
		return nil, err
	}
	site.Mount(mux, func(h http.Handler) http.Handler { return agentHeaders(cfg.Access.Pages(h, site.TooManyRequests)) },
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			writeError(w, r, http.StatusNotFound, codes.NotFound, fmt.Sprintf("nothing at %s; the API is under /api/v1, see /openapi.json", r.URL.Path))
		}))
	return withRequestID(edgeHeaders(observeHTTP(cfg.Metrics, mux, limitBody(cfg.MaxBodyBytes, recoverPanics(log, mux))))), nil
}

// mcpHandler serves MCP at /mcp. Its tools call the REST API in process
// (mcpserver.API): api is the API handler inside Access, so a tool call is
// authenticated, scope-checked and counted per agent exactly like a REST
// call with the same key, while the rate limit and the key check at the
// edge apply once per MCP HTTP request, by Access around the whole
// endpoint, as they do once per REST request.
func mcpHandler(ctx context.Context, cfg Config, api http.Handler, log *slog.Logger) http.Handler {
	// A tool call's context may descend from an /mcp request's; a route
	// record of its own keeps apiRoute from relabelling that request.
	ownRoute := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		api.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), routeKey{}, &route{})))
	})
	inProcess := withRequestID(limitBody(cfg.MaxBodyBytes, recoverPanics(log, ownRoute)))
	srv := mcpserver.New(mcpserver.Config{
		API:      &mcpserver.API{Base: "http://buzhou.internal", Client: mcpserver.InProcess(inProcess)},
		Version:  "1",
		KeyHowTo: mcpserver.KeyHowToHTTP,
		Log:      log,
	})
	// Sessions live in memory until they idle out; the gateway's end ends
	// them too, with the goroutines that serve them.
	context.AfterFunc(ctx, func() {
		for ss := range srv.Sessions() {
			_ = ss.Close()
		}
	})
	// With a public URL the gateway is reached by that name, typically
	// through a proxy, so the loopback Host guard would refuse everyone.
	h := mcpserver.HTTPHandler(srv, mcpserver.HTTPOptions{MaxBody: cfg.MaxBodyBytes, BehindProxy: cfg.PublicURL != "", Log: log})
	if cfg.Access != nil {
		h = cfg.Access.Middleware(h)
	}
	return h
}

func writeJSON(w http.ResponseWriter, code int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_, _ = io.WriteString(w, body+"\n")
}

// incomingHeader forwards the headers the services read.
func incomingHeader(key string) (string, bool) {
	switch strings.ToLower(key) {
	case "x-api-key", "x-agent-id":
		return strings.ToLower(key), true
	case "x-request-id":
		// Set by the gateway itself from the validated value.
		return "", false
	}
	return runtime.DefaultHeaderMatcher(key)
}

// outgoingHeader passes the response metadata that is part of the API.
func outgoingHeader(key string) (string, bool) {
	switch key {
	case "x-article-id":
		return "X-Article-Id", true
	case "x-article-slug":
		return "X-Article-Slug", true
	case "etag":
		return "ETag", true
	}
	return "", false
}

// setStatus answers a successful call with the status StatusesOf gives
// its RPC (201 for creations).
func setStatus(ctx context.Context, w http.ResponseWriter, _ proto.Message) error {
	if code := statusesOfContext(ctx).Success; code != http.StatusOK {
		w.WriteHeader(code)
	}
	return nil
}

// agentHeaders tells agents where the API and its description live.
func agentHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Agent-API-Endpoint", "/api/v1")
		w.Header().Set("X-Agent-API-Docs", "/openapi.json")
		next.ServeHTTP(w, r)
	})
}

var articlePath = regexp.MustCompile(`^/api/v1/articles/([^/:]+)$`)

// articleRoutes adapts REST conventions grpc-gateway cannot express: the format
// query parameter of GET /api/v1/articles/{x} (markdown goes to the render RPC)
// and the If-Match header of PATCH (becomes expectedRevision).
func articleRoutes(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m := articlePath.FindStringSubmatch(r.URL.Path)
		if m == nil {
			next.ServeHTTP(w, r)
			return
		}
		switch r.Method {
		case http.MethodGet:
			q := r.URL.Query()
			if q.Get("format") == "markdown" {
				q.Del("format")
				r.URL.Path += ":render"
				r.URL.RawPath = ""
				r.URL.RawQuery = q.Encode()
			}
		case http.MethodPatch:
			if h := r.Header.Get("If-Match"); h != "" {
				rev, ok := parseIfMatch(h)
				if !ok {
					writeError(w, r, http.StatusBadRequest, codes.InvalidArgument,
						fmt.Sprintf("If-Match %q is not an article revision; send the article's revision number, e.g. If-Match: 3", h))
					return
				}
				q := r.URL.Query()
				q.Set("expectedRevision", strconv.Itoa(rev))
				r.URL.RawQuery = q.Encode()
			}
		}
		next.ServeHTTP(w, r)
	})
}

// parseIfMatch accepts 3, "3" and W/"3".
func parseIfMatch(h string) (int, bool) {
	h = strings.TrimPrefix(strings.TrimSpace(h), "W/")
	h = strings.Trim(h, `"`)
	n, err := strconv.Atoi(h)
	return n, err == nil && n > 0
}

type ctxKey int

const (
	requestIDKey ctxKey = iota
	bodyLimitKey
)

// bodyState is what the gateway learns about a request body while it is read.
type bodyState struct {
	limit int64
	// exceeded: the body went on past limit.
	exceeded atomic.Bool
	// ended: the body was read to its end.
	ended atomic.Bool
	// failed: reading it failed, in practice the server's read timeout.
	failed atomic.Bool
}

var validRequestID = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,128}$`)

// withRequestID gives every request an id: the caller's X-Request-Id when it is
// well-formed, a new one otherwise. It is echoed on every response.
func withRequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("X-Request-Id")
		if !validRequestID.MatchString(id) {
			id = newRequestID()
		}
		w.Header().Set("X-Request-Id", id)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), requestIDKey, id)))
	})
}

func newRequestID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return "req_" + base64.RawURLEncoding.EncodeToString(b)
}

// RequestIDFrom returns the request id of ctx.
func RequestIDFrom(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey).(string)
	return id
}

// limitBody answers 413 for bodies over limit: at once when Content-Length
// says so, otherwise when reading crosses the limit. It also records how far
// the body was read, so that a refusal can close the connection instead of
// waiting for the rest (see writeError).
func limitBody(limit int64, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st := &bodyState{limit: limit}
		r = r.WithContext(context.WithValue(r.Context(), bodyLimitKey, st))
		if r.ContentLength > limit {
			// A body small enough for net/http to have drained anyway is read
			// first (within the read timeout), so the connection stays and
			// the client, still sending, reads its 413 rather than a reset;
			// a larger one loses its connection after the answer.
			if r.ContentLength <= maxDrainedBody {
				if _, err := io.Copy(io.Discard, r.Body); err == nil {
					st.ended.Store(true)
				}
			}
			writeTooLarge(w, r)
			return
		}
		r.Body = &limitedBody{rc: r.Body, left: limit, state: st}
		next.ServeHTTP(w, r)
	})
}

// maxDrainedBody is the most of an oversized body read before its 413:
// net/http's own limit for draining a body its handler left.
const maxDrainedBody = 256 << 10

type limitedBody struct {
	rc    io.ReadCloser
	left  int64
	state *bodyState
}

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		// Probe for one more byte: only a body that really goes on is too large.
		var one [1]byte
		n, err := b.rc.Read(one[:])
		if n > 0 {
			b.state.exceeded.Store(true)
			return 0, errors.New("request body too large")
		}
		b.note(err)
		return 0, err
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.rc.Read(p)
	b.left -= int64(n)
	b.note(err)
	return n, err
}

func (b *limitedBody) note(err error) {
	switch {
	case err == io.EOF:
		b.state.ended.Store(true)
	case err != nil:
		b.state.failed.Store(true)
	}
}

func (b *limitedBody) Close() error { return b.rc.Close() }

func bodyStateOf(r *http.Request) *bodyState {
	st, _ := r.Context().Value(bodyLimitKey).(*bodyState)
	return st
}

func tooLarge(r *http.Request) bool {
	st := bodyStateOf(r)
	return st != nil && st.exceeded.Load()
}

func bodyFailed(r *http.Request) bool {
	st := bodyStateOf(r)
	return st != nil && st.failed.Load()
}

// bodyPending reports whether r has a body that was not read to its end.
func bodyPending(r *http.Request) bool {
	if r.ContentLength == 0 {
		return false
	}
	st := bodyStateOf(r)
	return st == nil || !st.ended.Load()
}

func bodyLimitFrom(ctx context.Context) int64 {
	st, _ := ctx.Value(bodyLimitKey).(*bodyState)
	if st == nil {
		return 0
	}
	return st.limit
}

// recoverPanics turns a panic into a 500 in the API error shape.
func recoverPanics(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				log.ErrorContext(r.Context(), "panic in HTTP handler", "panic", fmt.Sprint(v), "stack", string(debug.Stack()), "request_id", RequestIDFrom(r.Context()))
				writeError(w, r, http.StatusInternalServerError, codes.Internal, "internal error; try again later")
			}
		}()
		next.ServeHTTP(w, r)
	})
}
