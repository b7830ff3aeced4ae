// Command sandbox runs the sandbox runner on its own: it executes articles'
// code blocks in isolation for the verification service, which calls it at
// BUZHOU_SANDBOX_ADDR with its own key, the only one it takes.
package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/sethvargo/go-envconfig"

	"buzhou.dev/platform/logging"
	"buzhou.dev/platform/metrics"
	"buzhou.dev/verification/app"
)

func main() {
	// The runner re-executes this binary as the init helper of each
	// sandbox; as that it never returns from here.
	app.SandboxInit()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := realMain(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "sandbox:", err)
		os.Exit(1)
	}
}

func realMain(ctx context.Context) error {
	var cfg app.SandboxConfig
	if err := envconfig.Process(ctx, &cfg); err != nil {
		return err
	}
	log := logging.New(os.Stderr, os.Getenv("BUZHOU_LOG_LEVEL"), os.Getenv("BUZHOU_LOG_JSON") == "true")
	lis, err := net.Listen("tcp", cfg.GRPCAddr)
	if err != nil {
		return err
	}
	return app.RunSandbox(ctx, cfg, lis, log, metrics.NewRegistry())
}
