// Command buzhou is the all-in-one Buzhou: `buzhou serve` runs every service and
// the gateway in one process; the other commands are clients of a running server.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/sethvargo/go-envconfig"

	"buzhou.dev/gateway/internal/cli"
	"buzhou.dev/gateway/internal/stack"
	"buzhou.dev/platform/logging"
	verificationapp "buzhou.dev/verification/app"
)

func main() {
	// This binary is also the sandbox's init helper (the in-process runner
	// re-executes it inside each sandbox); as that it never returns here.
	verificationapp.SandboxInit()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := realMain(ctx, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "buzhou:", err)
		var usage *cli.UsageError
		if errors.As(err, &usage) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

func realMain(ctx context.Context, args []string) error {
	if len(args) > 0 && args[0] == "serve" {
		return serve(ctx)
	}
	return cli.Run(ctx, args, os.Getenv, os.Stdin, os.Stdout, os.Stderr)
}

func serve(ctx context.Context) error {
	var cfg stack.Config
	if err := envconfig.Process(ctx, &cfg); err != nil {
		return err
	}
	log := logging.New(os.Stderr, os.Getenv("BUZHOU_LOG_LEVEL"), os.Getenv("BUZHOU_LOG_JSON") == "true")
	s, err := stack.Start(ctx, cfg, log)
	if err != nil {
		return err
	}
	log.Info("buzhou is up", "url", "http://"+s.HTTPAddr, "data_dir", cfg.Article.DataDir)
	return s.Wait()
}
