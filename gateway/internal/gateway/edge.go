package gateway

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"unicode/utf8"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc/codes"

	"buzhou.dev/platform/auth"
)

// edgeHeaders sets what every response carries: nosniff, so that no answer
// is ever run as something it is not, and the cache policy of a successful
// answer (writeError tightens it for errors).
func edgeHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Cache-Control", cacheControl(r, true))
		// Answers differ with the key: drafts, per-key limits.
		h.Set("Vary", "Authorization, X-Api-Key")
		next.ServeHTTP(w, r)
	})
}

// cacheControl is the cache policy. Keyed answers stay out of every cache
// but the client's own, and not even there: they may show drafts or a key's
// details. An anonymous successful read is the same for everyone, so caches
// may keep it but must revalidate it before reuse; anything else is not
// stored at all.
func cacheControl(r *http.Request, success bool) string {
	switch {
	case hasCredentials(r):
		return "private, no-store"
	case success && (r.Method == http.MethodGet || r.Method == http.MethodHead):
		return "no-cache"
	}
	return "no-store"
}

// hasCredentials reports whether the caller presented a key, well-formed or
// not.
func hasCredentials(r *http.Request) bool {
	return r.Header.Get("Authorization") != "" || r.Header.Get("X-Api-Key") != ""
}

// validURL answers 400 for a path or query that is not valid UTF-8 once
// percent-decoded (/api/v1/articles/%ff): it would reach the services as a
// proto string field, which must be UTF-8, and fail there as an internal
// error.
func validURL(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if msg := urlProblem(r.URL); msg != "" {
			log.DebugContext(r.Context(), "request URL refused", "url", strconv.Quote(r.URL.RequestURI()), "problem", msg, "request_id", RequestIDFrom(r.Context()))
			writeError(w, r, http.StatusBadRequest, codes.InvalidArgument, msg)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// urlProblem says what is wrong with u, "" when nothing is.
func urlProblem(u *url.URL) string {
	if !utf8.ValidString(u.Path) {
		return fmt.Sprintf("the path %s is not UTF-8 once percent-decoded; percent-encode the UTF-8 bytes of the text (an id or slug is ASCII)", u.EscapedPath())
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return fmt.Sprintf("the query string is malformed (%v); percent-encode the values, e.g. with encodeURIComponent", err)
	}
	for name, values := range q {
		if !utf8.ValidString(name) {
			return fmt.Sprintf("query parameter %q is not UTF-8 once percent-decoded; percent-encode the UTF-8 bytes of the text", name)
		}
		for _, v := range values {
			if !utf8.ValidString(v) {
				hint := ""
				if name == "pageToken" {
					hint = " (a page token is passed back exactly as received)"
				}
				return fmt.Sprintf("query parameter %s is not UTF-8 once percent-decoded; percent-encode the UTF-8 bytes of the text%s", name, hint)
			}
		}
	}
	return ""
}

// refuseAnonymousEarly answers 401 before the body is read when the matched
// route's RPC needs a key and the caller sent none: the service would refuse
// the call anyway, with the same check (rules, a Guard that never sees a key
// here) and the same words, but only after the gateway had read (and waited
// for) a body nobody will use.
func refuseAnonymousEarly(rpcs map[string]string, rules *auth.Guard) runtime.Middleware {
	return func(next runtime.HandlerFunc) runtime.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request, params map[string]string) {
			if !hasCredentials(r) {
				if pat, ok := runtime.HTTPPattern(r.Context()); ok {
					if rpc := rpcs[r.Method+" "+pat.String()]; rpc != "" {
						if _, err := rules.Check(r.Context(), rpc); err != nil {
							writeDomainError(w, r, err)
							return
						}
					}
				}
			}
			next(w, r, params)
		}
	}
}
