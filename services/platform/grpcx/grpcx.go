// Package grpcx builds the gRPC servers and clients of every Buzhou service the
// same way: panic recovery, request logging, metrics and traces, load
// shedding (see Shedding), the access check, error mapping, the standard health service, which follows the checks
// of what the service cannot serve without (see WithChecks), and a shutdown
// that drains before it stops (see Shutdown).
package grpcx

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"runtime/debug"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"buzhou.dev/platform/auth"
	"buzhou.dev/platform/errs"
	"buzhou.dev/platform/metrics"
	"buzhou.dev/platform/shed"
	"buzhou.dev/platform/tracing"
	identityv1 "buzhou.dev/proto/gen/buzhou/identity/v1"
)

// MaxMessageBytes bounds every message a server receives or sends, and every
// client's calls. It is four times the gateway's default body limit: a JSON
// body never grows as a proto message, and answers (a batch's results, a page
// of articles) carry server-made fields on top of what was sent. The gateway
// refuses a body limit above it; services bound their answers below it.
const MaxMessageBytes = 64 << 20

// Server is a gRPC server with its health service.
type Server struct {
	GRPC   *grpc.Server
	health *healthServer
	shed   *shedder
	opts   options
	log    *slog.Logger
}

// Option configures a Server.
type Option func(*options)

type options struct {
	metrics     *metrics.Part
	metricsAddr string
	checks      []Check
	tracing     *tracing.Tracing
	shutdown    Shutdown
	// sleep waits out the drain; tests replace it.
	sleep func(time.Duration)
	// maxConnectionAge: see NewServer; tests shorten it.
	maxConnectionAge time.Duration
	// shed and unshed: see Shedding.
	shed   shed.Config
	unshed []string
}

// WithMetrics records every RPC in m and, when addr is not empty, serves the
// process's metrics at http://addr/metrics while the server serves.
func WithMetrics(m *metrics.Part, addr string) Option {
	return func(o *options) { o.metrics, o.metricsAddr = m, addr }
}

// WithChecks makes the health service follow checks: NOT_SERVING while any
// fails, SERVING again when all pass (see Check).
func WithChecks(checks ...Check) Option {
	return func(o *options) { o.checks = append(o.checks, checks...) }
}

// WithTracing traces every RPC the server serves (see tracing.Tracing).
func WithTracing(t *tracing.Tracing) Option {
	return func(o *options) { o.tracing = t }
}

// WithShutdown sets how the server leaves when its context ends.
func WithShutdown(s Shutdown) Option {
	return func(o *options) { o.shutdown = s }
}

// Shutdown is how a server leaves when its context ends (SIGTERM): it
// reports itself not ready at once, keeps serving for Drain so that load
// balancers and Kubernetes endpoints stop sending it work, then stops
// gracefully, cutting what still runs after Timeout. Kubernetes'
// terminationGracePeriodSeconds must cover both.
type Shutdown struct {
	// Drain is how long it serves on while not ready; 0 stops at once.
	Drain time.Duration `env:"BUZHOU_SHUTDOWN_DRAIN, default=0s"`
	// Timeout bounds the graceful stop after the drain: in-flight calls
	// (and requests) finish, anything longer is cut; <= 0 means 10 s.
	Timeout time.Duration `env:"BUZHOU_SHUTDOWN_TIMEOUT, default=10s"`
}

// WaitDrain waits out the drain; the gateway calls it once /readyz says 503.
func (s Shutdown) WaitDrain(log *slog.Logger) { s.drain(log, time.Sleep) }

func (s Shutdown) drain(log *slog.Logger, sleep func(time.Duration)) {
	if s.Drain > 0 {
		log.Info("draining: not ready, still serving", "for", s.Drain.String())
		sleep(s.Drain)
	}
}

// StopTimeout is Timeout, or its default when unset.
func (s Shutdown) StopTimeout() time.Duration {
	if s.Timeout <= 0 {
		return 10 * time.Second
	}
	return s.Timeout
}

// LivenessService is the health service name that answers SERVING for as
// long as the process serves, whatever its dependencies do: Kubernetes'
// liveness probe asks for it (restarting a service does not bring its
// database back), its readiness probe for the overall "" status.
const LivenessService = "liveness"

// maxConnectionAge makes clients reconnect, and so resolve the service's
// name again, this often: without it a client keeps the replicas it found
// first and never sends to those added since (HorizontalPodAutoscaler).
// Streams open on an old connection run on to their end.
const maxConnectionAge = 2 * time.Minute

// NewServer returns a server whose every RPC passes through recovery, logging,
// metrics and traces, the load shedding of Shedding (before any work, the
// access check included), the access check of guard, and error mapping.
func NewServer(log *slog.Logger, guard *auth.Guard, opts ...Option) *Server {
	o := options{sleep: time.Sleep, maxConnectionAge: maxConnectionAge}
	for _, opt := range opts {
		opt(&o)
	}
	obs := observer{log: log, metrics: o.metrics}
	if o.metrics != nil {
		guard.CountRefusals(o.metrics.AuthFailed)
	}
	unary := []grpc.UnaryServerInterceptor{obs.unary}
	sh := newShedder(o)
	if sh != nil {
		unary = append(unary, sh.unary)
	}
	unary = append(unary, guard.UnaryInterceptor())
	s := grpc.NewServer(
		grpc.MaxRecvMsgSize(MaxMessageBytes),
		grpc.MaxSendMsgSize(MaxMessageBytes),
		grpc.KeepaliveParams(keepalive.ServerParameters{MaxConnectionAge: o.maxConnectionAge}),
		o.tracing.ServerOption(),
		grpc.ChainUnaryInterceptor(unary...),
		grpc.ChainStreamInterceptor(
			obs.stream,
			guard.StreamInterceptor(),
		),
	)
	h := &healthServer{Server: health.NewServer()}
	h.SetServingStatus(LivenessService, healthpb.HealthCheckResponse_SERVING)
	healthpb.RegisterHealthServer(s, h)
	return &Server{GRPC: s, health: h, shed: sh, opts: o, log: log}
}

// Serve serves on lis until ctx ends, then leaves as its Shutdown says:
// NOT_SERVING while it drains, then a graceful stop. With checks, the first
// round of them runs before the first RPC is accepted, so the health service
// never claims more than it knows.
func (s *Server) Serve(ctx context.Context, lis net.Listener) error {
	stopMetrics, err := serveMetrics(s.opts.metrics, s.opts.metricsAddr, s.log)
	if err != nil {
		lis.Close()
		return err
	}
	defer stopMetrics()
	stopWatching := watch(ctx, s.health, s.opts.checks, s.log)
	errc := make(chan error, 1)
	go func() { errc <- s.GRPC.Serve(lis) }()
	select {
	case err := <-errc:
		stopWatching()
		return err
	case <-ctx.Done():
	}
	stopWatching()
	s.health.shutdown()
	s.opts.shutdown.drain(s.log, s.opts.sleep)
	done := make(chan struct{})
	go func() { s.GRPC.GracefulStop(); close(done) }()
	select {
	case <-done:
	case <-time.After(s.opts.shutdown.StopTimeout()):
		s.log.Warn("calls still running at the end of the shutdown timeout were cut", "timeout", s.opts.shutdown.StopTimeout().String())
		s.GRPC.Stop()
	}
	if err := <-errc; err != nil && !errors.Is(err, grpc.ErrServerStopped) {
		return err
	}
	return nil
}

// RequestID returns the caller's x-request-id, "" when absent.
func RequestID(ctx context.Context) string {
	md, _ := metadata.FromIncomingContext(ctx)
	if v := md.Get("x-request-id"); len(v) > 0 {
		return v[0]
	}
	return ""
}

// observer logs, measures and maps the errors of every RPC.
type observer struct {
	log     *slog.Logger
	metrics *metrics.Part
}

func (o observer) finish(ctx context.Context, method string, start time.Time, err error) error {
	err = errs.ToStatus(ctx, o.log, method, err)
	code := status.Code(err)
	took := time.Since(start)
	o.metrics.ObserveRPC(method, code, took)
	lv := slog.LevelDebug
	if code == codes.Internal || code == codes.Unknown {
		lv = slog.LevelError
	}
	o.log.Log(ctx, lv, "rpc", "method", method, "code", code.String(), "ms", took.Milliseconds(), "request_id", RequestID(ctx))
	return err
}

func recovered(ctx context.Context, log *slog.Logger, method string, r any) error {
	log.ErrorContext(ctx, "panic in handler", "method", method, "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
	return fmt.Errorf("panic in %s: %v", method, r)
}

func (o observer) unary(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (resp any, err error) {
	start := time.Now()
	defer func() {
		if r := recover(); r != nil {
			resp, err = nil, recovered(ctx, o.log, info.FullMethod, r)
		}
		err = o.finish(ctx, info.FullMethod, start, err)
	}()
	return handler(ctx, req)
}

func (o observer) stream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) (err error) {
	start := time.Now()
	defer func() {
		if r := recover(); r != nil {
			err = recovered(ss.Context(), o.log, info.FullMethod, r)
		}
		err = o.finish(ss.Context(), info.FullMethod, start, err)
	}()
	return handler(srv, ss)
}

// roundRobin spreads calls over every address the service's name resolves
// to (a Kubernetes headless Service lists each ready replica), instead of
// sending them all to the first.
const roundRobin = `{"loadBalancingConfig": [{"round_robin": {}}]}`

// Parts start in any order (Kubernetes starts them at once), and a client
// that found its service down must find it again within seconds once it is
// up, not after gRPC's default backoff of up to two minutes: Dial retries
// every 2 s at most. connectWait bounds how long a call waits for a
// connection that is coming up before it is tried (and fails at once if it
// is still down): long enough to ride over a service that starts or
// restarts, short enough that an outage answers promptly.
const connectWait = 3 * time.Second

// Dial connects to a Buzhou service at addr. key, when set, is sent with every
// call so the callee's access check applies to internal traffic too. opts
// add to the defaults, e.g. a tracing.Tracing's DialOption.
func Dial(addr string, key string, opts ...grpc.DialOption) (*grpc.ClientConn, error) {
	return grpc.NewClient(addr, append([]grpc.DialOption{
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithPerRPCCredentials(auth.KeyCredentials(key)),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(MaxMessageBytes), grpc.MaxCallSendMsgSize(MaxMessageBytes)),
		grpc.WithDefaultServiceConfig(roundRobin),
		grpc.WithConnectParams(grpc.ConnectParams{
			Backoff:           backoff.Config{BaseDelay: 250 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: 2 * time.Second},
			MinConnectTimeout: 5 * time.Second,
		}),
		grpc.WithChainUnaryInterceptor(func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoke grpc.UnaryInvoker, opts ...grpc.CallOption) error {
			awaitConnection(ctx, cc)
			return invoke(ctx, method, req, reply, cc, opts...)
		}),
		grpc.WithChainStreamInterceptor(func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, stream grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
			awaitConnection(ctx, cc)
			return stream(ctx, desc, cc, method, opts...)
		}),
	}, opts...)...)
}

// awaitConnection returns once cc is ready, ctx ends or connectWait has
// passed, whichever comes first.
func awaitConnection(ctx context.Context, cc *grpc.ClientConn) {
	st := cc.GetState()
	if st == connectivity.Ready {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, connectWait)
	defer cancel()
	for ; st != connectivity.Ready; st = cc.GetState() {
		if st == connectivity.Idle {
			cc.Connect()
		}
		if !cc.WaitForStateChange(ctx, st) {
			return
		}
	}
}

// Identity is a service's connection to the identity service, made with the
// service's own key: a key check that follows revocations, and the client
// for the service's other identity calls.
type Identity struct {
	Authn  *auth.Remote
	Client identityv1.IdentityServiceClient
	conn   *grpc.ClientConn
	stop   func()
}

// DialIdentity connects service (auth.ServiceGateway, …) to the identity
// service at addr with its key, and follows revocations until ctx ends or
// Close; accepted keys are cached for cacheTTL (<= 0: the default). A key
// that is unset or too weak is refused here, at start-up. opts are Dial's.
func DialIdentity(ctx context.Context, addr, service, key string, cacheTTL time.Duration, log *slog.Logger, opts ...grpc.DialOption) (*Identity, error) {
	si, ok := auth.ServiceIdentityOf(service)
	if !ok {
		return nil, fmt.Errorf("no service identity %q", service)
	}
	if err := auth.CheckConfiguredKey(si.Env, key); err != nil {
		return nil, fmt.Errorf("the %s service checks API keys with a key of its own: %w", service, err)
	}
	conn, err := Dial(addr, key, opts...)
	if err != nil {
		return nil, fmt.Errorf("dial the identity (verification) service at %s: %w", addr, err)
	}
	client := identityv1.NewIdentityServiceClient(conn)
	authn := auth.NewRemote(client, cacheTTL, log, nil)
	return &Identity{Authn: authn, Client: client, conn: conn, stop: authn.Start(ctx)}, nil
}

// Close stops following revocations and closes the connection.
func (i *Identity) Close() error {
	i.stop()
	return i.conn.Close()
}
