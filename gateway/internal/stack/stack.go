// Package stack starts the whole of Buzhou in one process — article, search,
// verification and gateway — each on its own loopback listener, talking over
// real gRPC exactly as separate binaries would. `buzhou serve` and the
// end-to-end tests use it.
package stack

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"

	articleapp "buzhou.dev/article/app"
	gatewayapp "buzhou.dev/gateway/app"
	"buzhou.dev/platform/metrics"
	searchapp "buzhou.dev/search/app"
	verificationapp "buzhou.dev/verification/app"
)

// Config is the configuration of every part; the services' own gRPC
// addresses are replaced by loopback listeners on free ports, and their
// service keys by fresh random ones; their metrics addresses are ignored:
// the gateway's /metrics serves every part.
type Config struct {
	Article      articleapp.Config
	Search       searchapp.Config
	Verification verificationapp.Config
	Gateway      gatewayapp.Config
}

// Stack is a running Buzhou.
type Stack struct {
	// HTTPAddr is the gateway's address, host:port.
	HTTPAddr string
	// ArticleAddr, SearchAddr and VerificationAddr are the services' gRPC addresses.
	ArticleAddr, SearchAddr, VerificationAddr string
	// ServiceKeys are the secrets of the parts' own identities, by service
	// name (auth.ServiceGateway, …); fresh ones on every start.
	ServiceKeys map[string]string

	cancel context.CancelFunc
	wg     sync.WaitGroup
	mu     sync.Mutex
	err    error
}

// Start listens on every address, then runs all parts until ctx ends, Stop is
// called, or one part fails (which stops the others).
func Start(ctx context.Context, cfg Config, log *slog.Logger) (*Stack, error) {
	var lis [4]net.Listener
	addrs := []string{"127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0", cfg.Gateway.HTTPAddr}
	for i, a := range addrs {
		l, err := net.Listen("tcp", a)
		if err != nil {
			for _, o := range lis[:i] {
				o.Close()
			}
			return nil, fmt.Errorf("listen on %s: %w", a, err)
		}
		lis[i] = l
	}
	s := &Stack{
		ArticleAddr:      lis[0].Addr().String(),
		SearchAddr:       lis[1].Addr().String(),
		VerificationAddr: lis[2].Addr().String(),
		HTTPAddr:         lis[3].Addr().String(),
	}
	cfg.Search.ArticleAddr = s.ArticleAddr
	cfg.Verification.ArticleAddr = s.ArticleAddr
	cfg.Verification.SearchAddr = s.SearchAddr
	cfg.Article.VerificationAddr = s.VerificationAddr
	cfg.Search.VerificationAddr = s.VerificationAddr
	// One process: every identity gets a fresh secret on every start, which
	// nothing outside it needs to know.
	keys := verificationapp.ServiceKeys{Gateway: newServiceKey(), Article: newServiceKey(), Search: newServiceKey(), Verification: newServiceKey()}
	cfg.Verification.ServiceKeys = keys
	cfg.Gateway.ServiceKey, cfg.Article.ServiceKey, cfg.Search.ServiceKey = keys.Gateway, keys.Article, keys.Search
	s.ServiceKeys = keys.ByService()
	cfg.Gateway.ArticleAddr, cfg.Gateway.SearchAddr, cfg.Gateway.VerificationAddr = s.ArticleAddr, s.SearchAddr, s.VerificationAddr

	cfg.Article.MetricsAddr, cfg.Search.MetricsAddr, cfg.Verification.MetricsAddr = "", "", ""
	reg := metrics.NewRegistry()

	ctx, s.cancel = context.WithCancel(ctx)
	parts := []func(context.Context) error{
		func(ctx context.Context) error { return articleapp.Run(ctx, cfg.Article, lis[0], log, reg) },
		func(ctx context.Context) error { return searchapp.Run(ctx, cfg.Search, lis[1], log, reg) },
		func(ctx context.Context) error { return verificationapp.Run(ctx, cfg.Verification, lis[2], log, reg) },
		func(ctx context.Context) error { return gatewayapp.Run(ctx, cfg.Gateway, lis[3], log, reg) },
	}
	for _, run := range parts {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			if err := run(ctx); err != nil && !errors.Is(err, context.Canceled) {
				s.mu.Lock()
				if s.err == nil {
					s.err = err
				}
				s.mu.Unlock()
				s.cancel()
			}
		}()
	}
	return s, nil
}

// Wait blocks until every part has stopped and returns the first failure.
func (s *Stack) Wait() error {
	s.wg.Wait()
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// Stop shuts every part down gracefully and waits for it.
func (s *Stack) Stop() error {
	s.cancel()
	return s.Wait()
}

func newServiceKey() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return "bzs_" + base64.RawURLEncoding.EncodeToString(b)
}
