package app

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"time"

	"buzhou.dev/platform/auth"
	"buzhou.dev/platform/grpcx"
	"buzhou.dev/platform/metrics"
	"buzhou.dev/platform/tracing"
	"buzhou.dev/platform/vocab"
	verificationv1 "buzhou.dev/proto/gen/buzhou/verification/v1"
	"buzhou.dev/verification/internal/identity"
	"buzhou.dev/verification/internal/ledger"
	"buzhou.dev/verification/internal/sandbox"
)

// SandboxInit runs the sandbox's init helper when this process is one (the
// runner re-executes its own binary inside the new namespaces) and never
// returns then. Every binary that may run code blocks in process — the
// verification service, the sandbox runner, the all-in-one — calls it
// first thing in main.
func SandboxInit() { sandbox.Main() }

// RunnerConfig configures the sandbox runner, in process or on its own.
type RunnerConfig struct {
	// Concurrency is how many blocks run at once.
	Concurrency int `env:"BUZHOU_SANDBOX_CONCURRENCY, default=2"`
	// Timeout is a block's wall time when a run names none.
	Timeout time.Duration `env:"BUZHOU_SANDBOX_TIMEOUT, default=10s"`
	// CPU is a block's CPU time limit (at least its wall time when a run
	// asks for more).
	CPU time.Duration `env:"BUZHOU_SANDBOX_CPU, default=10s"`
	// MemoryMiB is the address space a block may map (runtimes that reserve
	// more than they use, V8 and Go, get their own floor).
	MemoryMiB int `env:"BUZHOU_SANDBOX_MEMORY_MIB, default=512"`
	// Processes bounds the processes and threads of a block.
	Processes int `env:"BUZHOU_SANDBOX_PROCESSES, default=64"`
	// HostUID is the unprivileged host uid (and gid) code runs as when the
	// runner runs as root; a non-root runner maps its own.
	HostUID int `env:"BUZHOU_SANDBOX_HOST_UID, default=65534"`
}

func (c RunnerConfig) limits() sandbox.Limits {
	lim := sandbox.DefaultLimits()
	if c.Timeout > 0 {
		lim.Wall = c.Timeout
	}
	if c.CPU > 0 {
		lim.CPU = c.CPU
	}
	if c.MemoryMiB > 0 {
		lim.AddressSpace = uint64(c.MemoryMiB) << 20
	}
	if c.Processes > 0 {
		lim.Processes = uint64(c.Processes)
	}
	return lim
}

func (c RunnerConfig) server(ctx context.Context, log *slog.Logger) *sandbox.Server {
	uid := uint32(max(c.HostUID, 0))
	r := sandbox.New(ctx, sandbox.Config{HostUID: uid, HostGID: uid})
	log.Info("sandbox runtimes", "found", r.Runtimes())
	return sandbox.NewServer(r, c.limits(), c.Concurrency, log)
}

// SandboxConfig configures the standalone sandbox runner (cmd/sandbox).
type SandboxConfig struct {
	// GRPCAddr is where it listens.
	GRPCAddr string `env:"BUZHOU_SANDBOX_ADDR, default=127.0.0.1:9104"`
	// CallerKey is the verification service's key, the only one it takes.
	CallerKey string `env:"BUZHOU_VERIFICATION_SERVICE_KEY"`
	// MetricsAddr, when set, serves its metrics at http://MetricsAddr/metrics.
	MetricsAddr string `env:"BUZHOU_METRICS_ADDR"`
	// FailedAuthPerMinute is how many refused keys a client address may
	// present per minute.
	FailedAuthPerMinute int `env:"BUZHOU_RATE_FAILED_AUTH_PER_MINUTE, default=10"`
	Runner              RunnerConfig
	Shutdown            grpcx.Shutdown
	Tracing             tracing.Config
}

// RunSandbox serves the SandboxRunnerService on lis until ctx ends. It
// takes calls with the verification service's key only, checked in memory:
// the runner reaches nothing, not even the identity service.
func RunSandbox(ctx context.Context, cfg SandboxConfig, lis net.Listener, log *slog.Logger, reg *metrics.Registry) error {
	log = log.With("service", "sandbox")
	if len(cfg.CallerKey) < auth.MinConfiguredKeyLen {
		lis.Close()
		return fmt.Errorf("BUZHOU_VERIFICATION_SERVICE_KEY has %d characters; the sandbox runner takes calls only with the verification service's key, so give it that key (at least %d characters)", len(cfg.CallerKey), auth.MinConfiguredKeyLen)
	}
	m, err := reg.Part("sandbox")
	if err != nil {
		return err
	}
	tr, err := tracing.Start(ctx, "sandbox", cfg.Tracing)
	if err != nil {
		return err
	}
	defer tr.Stop(log)
	si, _ := auth.ServiceIdentityOf(auth.ServiceVerification)
	caller := auth.NewFixedKey(cfg.CallerKey, auth.Principal{
		ID: identity.ServicePrincipalID(si.Service), Name: si.Service + " service", Type: vocab.PrincipalOfficialBot,
		KeyID: identity.ServiceKeyID(si.Service), Scopes: si.Scopes, Unlimited: true,
	})
	srv := cfg.Runner.server(ctx, log)
	g := grpcx.NewServer(log, auth.NewGuard(caller, cfg.FailedAuthPerMinute, log), grpcx.WithMetrics(m, cfg.MetricsAddr),
		grpcx.WithChecks(grpcx.Check{Name: "isolation", Ping: srv.Probe}), grpcx.WithTracing(tr), grpcx.WithShutdown(cfg.Shutdown))
	verificationv1.RegisterSandboxRunnerServiceServer(g.GRPC, srv)
	log.Info("serving", "addr", lis.Addr().String(), "uid", os.Geteuid())
	return g.Serve(ctx, lis)
}

// sandboxDeps returns the runner the verification service uses: a client of
// the runner at cfg.SandboxAddr, else one in process; nil when sandbox runs
// are off. close releases it.
func sandboxDeps(ctx context.Context, cfg Config, log *slog.Logger, dial func(addr string) (ledger.Sandbox, func(), error)) (ledger.Sandbox, func(), error) {
	switch {
	case !cfg.Sandbox:
		return nil, func() {}, nil
	case cfg.SandboxAddr != "":
		return dial(cfg.SandboxAddr)
	}
	return sandbox.Local{Server: cfg.SandboxRunner.server(ctx, log)}, func() {}, nil
}
