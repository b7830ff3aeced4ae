package gateway

import (
	"net/http"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"

	"buzhou.dev/platform/auth"
)

// hasCredentials reports whether the caller presented a key, well-formed or
// not.
func hasCredentials(r *http.Request) bool {
	return r.Header.Get("Authorization") != "" || r.Header.Get("X-Api-Key") != ""
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
