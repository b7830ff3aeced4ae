package gateway

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"google.golang.org/grpc/codes"

	"buzhou.dev/gateway/internal/ratelimit"
	"buzhou.dev/platform/auth"
)

// Access authenticates API callers at the edge and applies rate limits and
// quotas: per client IP for anonymous callers, per key for keyed ones. The
// services check scopes themselves with the same key (see platform/auth).
type Access struct {
	Authn    auth.Authenticator
	Limiter  ratelimit.Limiter
	Quota    ratelimit.Quota
	ClientIP *ratelimit.ClientIP
	// AnonPerMinute and KeyPerMinute are the default limits.
	AnonPerMinute, KeyPerMinute int
	Log                         *slog.Logger
}

// credentials returns the presented key, "" when none, or why the headers are
// malformed. It leaves r carrying exactly that key, as "Authorization:
// Bearer <key>", and no other key header (Grpc-Metadata-* ones included), so
// that the services check the very key the gateway checked and limited.
func credentials(r *http.Request) (string, error) {
	key, err := auth.PresentedKey(r.Header.Values("Authorization"), r.Header.Values("X-Api-Key"))
	if err != nil {
		return "", err
	}
	for name := range r.Header {
		switch strings.TrimPrefix(strings.ToLower(name), "grpc-metadata-") {
		case "authorization", "x-api-key":
			r.Header.Del(name)
		}
	}
	if key != "" {
		r.Header.Set("Authorization", "Bearer "+key)
	}
	return key, nil
}

// Middleware wraps the API routes.
func (a *Access) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		secret, err := credentials(r)
		if err != nil {
			writeDomainError(w, r, err)
			return
		}
		bucket, limit := ratelimit.IPKey(a.ClientIP.Of(r)), a.AnonPerMinute
		who := "this client address (send an API key for a higher limit)"
		if secret != "" {
			p, err := a.Authn.Authenticate(ctx, secret)
			if err != nil {
				writeDomainError(w, r, err)
				return
			}
			if p.Unlimited {
				next.ServeHTTP(w, r)
				return
			}
			bucket, limit, who = "key:"+p.KeyID, a.KeyPerMinute, "API key "+p.KeyID
			if p.RatePerMinute > 0 {
				limit = p.RatePerMinute
			}
			if p.DailyQuota > 0 || p.MonthlyQuota > 0 {
				if !a.useQuota(ctx, w, r, p) {
					return
				}
			}
		}
		d, err := a.Limiter.Allow(ctx, bucket, ratelimit.Limit{PerMinute: limit})
		if err != nil {
			// A limiter outage must not take the API down with it.
			a.Log.WarnContext(ctx, "rate limiter unavailable; request allowed", "err", err)
			next.ServeHTTP(w, r)
			return
		}
		ratelimit.WriteHeaders(w.Header(), d)
		if !d.Allowed {
			writeError(w, r, http.StatusTooManyRequests, codes.ResourceExhausted,
				fmt.Sprintf("rate limit of %d requests per minute exceeded for %s; retry after %d s", d.Limit, who, ceilSeconds(d.RetryAfter)))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// useQuota counts the call against the key's quotas; it answers 429 and
// returns false when one is used up.
func (a *Access) useQuota(ctx context.Context, w http.ResponseWriter, r *http.Request, p *auth.Principal) bool {
	q, err := a.Quota.Use(ctx, p.KeyID, p.DailyQuota, p.MonthlyQuota)
	if err != nil {
		a.Log.WarnContext(ctx, "quota store unavailable; request allowed", "err", err)
		return true
	}
	if q.Allowed {
		return true
	}
	ratelimit.WriteQuotaHeaders(w.Header(), q, time.Now())
	writeError(w, r, http.StatusTooManyRequests, codes.ResourceExhausted, q.Message())
	return false
}

func ceilSeconds(d time.Duration) int64 {
	s := int64((d + time.Second - 1) / time.Second)
	if s < 1 {
		s = 1
	}
	return s
}
