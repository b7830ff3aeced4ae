// Package app wires the verification service, which also hosts the identity
// API. Verification records, inspections, sandbox runs and keys arrive with
// their issues; until then those RPCs answer Unimplemented.
package app

import (
	"context"
	"log/slog"
	"net"

	"buzhou.dev/platform/auth"
	"buzhou.dev/platform/grpcx"
	identityv1 "buzhou.dev/proto/gen/buzhou/identity/v1"
	verificationv1 "buzhou.dev/proto/gen/buzhou/verification/v1"
)

// Config configures the verification service.
type Config struct {
	// GRPCAddr is where the service listens when it opens its own listener.
	GRPCAddr string `env:"BUZHOU_VERIFICATION_ADDR, default=127.0.0.1:9103"`
	// ArticleAddr is the article service it writes trust back to.
	ArticleAddr string `env:"BUZHOU_ARTICLE_ADDR, default=127.0.0.1:9101"`
	// AdminKey is the bootstrap key with every scope.
	AdminKey string `env:"BUZHOU_ADMIN_KEY"`
}

type verificationServer struct {
	verificationv1.UnimplementedVerificationServiceServer
}

type identityServer struct {
	identityv1.UnimplementedIdentityServiceServer
}

// Run serves the verification and identity services on lis until ctx ends.
func Run(ctx context.Context, cfg Config, lis net.Listener, log *slog.Logger) error {
	log = log.With("service", "verification")
	g := grpcx.NewServer(log, auth.AdminKey(cfg.AdminKey))
	verificationv1.RegisterVerificationServiceServer(g.GRPC, verificationServer{})
	identityv1.RegisterIdentityServiceServer(g.GRPC, identityServer{})
	log.Info("serving", "addr", lis.Addr().String())
	return g.Serve(ctx, lis)
}
