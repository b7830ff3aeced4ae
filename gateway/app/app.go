// Package app runs the gateway: it dials the services and serves HTTP until
// its context ends, then shuts down gracefully.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"buzhou.dev/gateway/internal/gateway"
	"buzhou.dev/platform/grpcx"
	"google.golang.org/grpc"
)

// Config configures the gateway.
type Config struct {
	// HTTPAddr is where REST, web pages and MCP are served.
	HTTPAddr string `env:"BUZHOU_HTTP_ADDR, default=127.0.0.1:8080"`
	// ArticleAddr is the article service's gRPC address.
	ArticleAddr string `env:"BUZHOU_ARTICLE_ADDR, default=127.0.0.1:9101"`
	// SearchAddr is the search service's gRPC address.
	SearchAddr string `env:"BUZHOU_SEARCH_ADDR, default=127.0.0.1:9102"`
	// VerificationAddr is the verification (and identity) service's gRPC address.
	VerificationAddr string `env:"BUZHOU_VERIFICATION_ADDR, default=127.0.0.1:9103"`
	// MaxBodyBytes bounds request bodies (413 beyond).
	MaxBodyBytes int64 `env:"BUZHOU_MAX_BODY_BYTES, default=16777216"`
}

// shutdownGrace is how long in-flight requests get after SIGTERM.
const shutdownGrace = 10 * time.Second

// Run serves HTTP on lis until ctx ends.
func Run(ctx context.Context, cfg Config, lis net.Listener, log *slog.Logger) error {
	log = log.With("service", "gateway")
	var up gateway.Upstreams
	for _, u := range []struct {
		addr string
		conn **grpc.ClientConn
	}{{cfg.ArticleAddr, &up.Article}, {cfg.SearchAddr, &up.Search}, {cfg.VerificationAddr, &up.Verification}} {
		c, err := grpcx.Dial(u.addr, "")
		if err != nil {
			return fmt.Errorf("dial %s: %w", u.addr, err)
		}
		defer c.Close()
		*u.conn = c
	}
	h, err := gateway.New(ctx, gateway.Config{MaxBodyBytes: cfg.MaxBodyBytes}, up, log)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(lis) }()
	log.Info("serving", "addr", lis.Addr().String())
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
