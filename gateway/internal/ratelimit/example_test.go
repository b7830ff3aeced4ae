package ratelimit_test

import (
	"context"
	"net/http"
	"os"

	"buzhou.dev/gateway/internal/ratelimit"
)

// How the gateway is meant to use the package for an anonymous read.
func Example() {
	ctx := context.Background()
	limiter, _, closer, err := ratelimit.Open(ctx, ratelimit.Config{RedisURL: os.Getenv("REDIS_URL")})
	if err != nil {
		panic(err) // a real binary reports it and exits
	}
	defer closer.Close()
	clientIP, err := ratelimit.NewClientIP([]string{"10.0.0.0/8"})
	if err != nil {
		panic(err)
	}

	limited := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			key := ratelimit.IPKey(clientIP.Of(r))
			d, err := limiter.Allow(r.Context(), key, ratelimit.Limit{PerMinute: 100})
			if err != nil {
				next.ServeHTTP(w, r) // the gateway's choice: fail open when Redis is down
				return
			}
			ratelimit.WriteHeaders(w.Header(), d)
			if !d.Allowed {
				http.Error(w, "rate limited", http.StatusTooManyRequests) // the API error shape in real life
				return
			}
			next.ServeHTTP(w, r)
		})
	}
	_ = limited
}
