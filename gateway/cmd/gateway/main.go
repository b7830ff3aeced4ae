// Command gateway runs the REST gateway on its own, in front of separately
// deployed services.
package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/sethvargo/go-envconfig"

	"buzhou.dev/gateway/app"
	"buzhou.dev/platform/logging"
	"buzhou.dev/platform/metrics"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := realMain(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "gateway:", err)
		os.Exit(1)
	}
}

func realMain(ctx context.Context) error {
	var cfg app.Config
	if err := envconfig.Process(ctx, &cfg); err != nil {
		return err
	}
	log := logging.New(os.Stderr, os.Getenv("BUZHOU_LOG_LEVEL"), os.Getenv("BUZHOU_LOG_JSON") == "true")
	lis, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return err
	}
	return app.Run(ctx, cfg, lis, log, metrics.NewRegistry())
}
