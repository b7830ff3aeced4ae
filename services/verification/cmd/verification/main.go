// Command verification runs the verification service on its own.
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
	// This binary is also the sandbox's init helper when it runs blocks in
	// process; as that it never returns from here.
	app.SandboxInit()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := realMain(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "verification:", err)
		os.Exit(1)
	}
}

func realMain(ctx context.Context) error {
	var cfg app.Config
	if err := envconfig.Process(ctx, &cfg); err != nil {
		return err
	}
	log := logging.New(os.Stderr, os.Getenv("BUZHOU_LOG_LEVEL"), os.Getenv("BUZHOU_LOG_JSON") == "true")
	lis, err := net.Listen("tcp", cfg.GRPCAddr)
	if err != nil {
		return err
	}
	return app.Run(ctx, cfg, lis, log, metrics.NewRegistry())
}
