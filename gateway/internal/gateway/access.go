package gateway

import (
	"cmp"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"google.golang.org/grpc/codes"

	"buzhou.dev/gateway/internal/ratelimit"
	"buzhou.dev/platform/auth"
	"buzhou.dev/platform/errs"
	"buzhou.dev/platform/metrics"
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
	// FailedAuthPerMinute is the stricter limit of failed authentications
	// per client IP; they count against the anonymous limit as well.
	FailedAuthPerMinute int
	Log                 *slog.Logger
	// Metrics counts refused keys and rate-limited calls; nil counts nothing.
	Metrics *metrics.Part
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
		ip := ratelimit.IPKey(a.ClientIP.Of(r))
		secret, err := credentials(r)
		if err == nil && secret == "" {
			if a.allow(w, r, ip, a.AnonPerMinute, metrics.LimitIP, "this client address (send an API key for a higher limit)", tooMany) {
				next.ServeHTTP(w, r)
			}
			return
		}
		var p *auth.Principal
		if err == nil {
			p, err = a.Authn.Authenticate(r.Context(), secret)
		}
		if err != nil {
			a.refuse(w, r, ip, secret, err)
			return
		}
		if p.Unlimited {
			next.ServeHTTP(w, r)
			return
		}
		limit := p.RatePerMinute
		if limit <= 0 {
			limit = a.KeyPerMinute
		}
		// The rate limit first: a call it refuses must not use up the quota.
		if a.allow(w, r, "key:"+p.KeyID, limit, metrics.LimitKey, "API key "+p.KeyID, tooMany) && a.useQuota(w, r, p) {
			next.ServeHTTP(w, r)
		}
	})
}

// Pages limits the web pages and discovery documents. They are anonymous
// reads like the API's, so each takes a token from the client address's
// anonymous bucket, the one its API reads draw on too; a key changes
// nothing, since pages never use one (they show what a public read shows).
// refused answers a refusal (the web's own 429 page). A nil Access limits
// nothing.
func (a *Access) Pages(next http.Handler, refused func(http.ResponseWriter, *http.Request, string)) http.Handler {
	if a == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if a.allow(w, r, ratelimit.IPKey(a.ClientIP.Of(r)), a.AnonPerMinute, metrics.LimitIP, "this client address", refused) {
			next.ServeHTTP(w, r)
		}
	})
}

// tooMany is the API's 429.
func tooMany(w http.ResponseWriter, r *http.Request, msg string) {
	writeError(w, r, http.StatusTooManyRequests, codes.ResourceExhausted, msg)
}

// allow takes a token from bucket; it answers 429 with refused and returns
// false when there is none.
func (a *Access) allow(w http.ResponseWriter, r *http.Request, bucket string, perMinute int, kind metrics.LimitKind, who string, refused func(http.ResponseWriter, *http.Request, string)) bool {
	d, err := a.Limiter.Allow(r.Context(), bucket, ratelimit.Limit{PerMinute: perMinute})
	if err != nil {
		// A limiter outage must not take the API down with it.
		a.Log.WarnContext(r.Context(), "rate limiter unavailable; request allowed", "err", err)
		return true
	}
	ratelimit.WriteHeaders(w.Header(), d)
	if !d.Allowed {
		a.Metrics.RateLimited(kind)
		refused(w, r, fmt.Sprintf("rate limit of %d requests per minute exceeded for %s; retry after %d s", d.Limit, who, ceilSeconds(d.RetryAfter)))
	}
	return d.Allowed
}

// refuse answers a failed authentication. Every refused key costs a token
// from the client address's bucket, like an anonymous call; a guess (an
// unknown or malformed key, as the services' gRPC throttle counts them) also
// costs one from the stricter failed-auth bucket. While a bucket it draws on
// is empty the answer is 429, not 401, so guessing keys from one address goes
// no faster than that bucket allows. Errors that are not the caller's (the
// identity service unreachable) are answered as they are.
func (a *Access) refuse(w http.ResponseWriter, r *http.Request, ip, secret string, err error) {
	c := errs.Code(err)
	if c != codes.Unauthenticated && c != codes.InvalidArgument {
		writeDomainError(w, r, err)
		return
	}
	ctx := r.Context()
	reason := auth.ReasonOf(err)
	guess := reason == auth.ReasonUnknown || reason == auth.ReasonMalformed || c == codes.InvalidArgument
	buckets := []struct {
		key     string
		limit   int
		kind    metrics.LimitKind
		refusal string // with the limit and the seconds to wait
	}{
		{ip, a.AnonPerMinute, metrics.LimitIP, "rate limit of %d requests per minute exceeded for this client address; retry after %d s"},
		{"failed-auth:" + ip, a.FailedAuthPerMinute, metrics.LimitFailedAuth, "too many failed authentications from this client address (%d a minute allowed); retry after %d s with a valid key"},
	}
	if !guess {
		buckets = buckets[:1]
	}
	var refused *ratelimit.Decision
	refusal, kind := "", metrics.LimitKind(0)
	for _, b := range buckets {
		// Each bucket counts the failure, whatever the other says.
		d, lerr := a.Limiter.Allow(ctx, b.key, ratelimit.Limit{PerMinute: b.limit})
		if lerr != nil {
			a.Log.WarnContext(ctx, "rate limiter unavailable; failed authentication not counted", "err", lerr)
			continue
		}
		if !d.Allowed && (refused == nil || d.RetryAfter > refused.RetryAfter) {
			refused, refusal, kind = &d, b.refusal, b.kind
		}
	}
	presented := cmp.Or(secret, r.Header.Get("Authorization"), r.Header.Get("X-Api-Key"))
	a.Log.WarnContext(ctx, "API key refused", "reason", reason, "prefix", auth.KeyHint(presented), "client", ip,
		"throttled", refused != nil, "request_id", RequestIDFrom(ctx))
	a.Metrics.AuthFailed(reason)
	if refused == nil {
		writeDomainError(w, r, err)
		return
	}
	a.Metrics.RateLimited(kind)
	ratelimit.WriteHeaders(w.Header(), *refused)
	tooMany(w, r, fmt.Sprintf(refusal, refused.Limit, ceilSeconds(refused.RetryAfter)))
}

// useQuota counts the call against the key's quotas, if it has any; it
// answers 429 and returns false when one is used up.
func (a *Access) useQuota(w http.ResponseWriter, r *http.Request, p *auth.Principal) bool {
	if p.DailyQuota <= 0 && p.MonthlyQuota <= 0 {
		return true
	}
	ctx := r.Context()
	q, err := a.Quota.Use(ctx, p.KeyID, p.DailyQuota, p.MonthlyQuota)
	if err != nil {
		a.Log.WarnContext(ctx, "quota store unavailable; request allowed", "err", err)
		return true
	}
	if q.Allowed {
		return true
	}
	a.Metrics.RateLimited(metrics.LimitQuota)
	ratelimit.WriteQuotaHeaders(w.Header(), q, time.Now())
	tooMany(w, r, q.Message())
	return false
}

func ceilSeconds(d time.Duration) int64 {
	s := int64((d + time.Second - 1) / time.Second)
	if s < 1 {
		s = 1
	}
	return s
}
