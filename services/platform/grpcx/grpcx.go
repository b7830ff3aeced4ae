// Package grpcx builds the gRPC servers and clients of every Buzhou service the
// same way: panic recovery, request logging, the access check, error mapping and
// the standard health service.
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
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"buzhou.dev/platform/auth"
	"buzhou.dev/platform/errs"
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
	Health *health.Server
	log    *slog.Logger
}

// NewServer returns a server whose every RPC passes through recovery, logging,
// the access check of guard, and error mapping.
func NewServer(log *slog.Logger, guard *auth.Guard) *Server {
	s := grpc.NewServer(
		grpc.MaxRecvMsgSize(MaxMessageBytes),
		grpc.MaxSendMsgSize(MaxMessageBytes),
		grpc.ChainUnaryInterceptor(
			unaryObserve(log),
			guard.UnaryInterceptor(),
		),
		grpc.ChainStreamInterceptor(
			streamObserve(log),
			guard.StreamInterceptor(),
		),
	)
	h := health.NewServer()
	healthpb.RegisterHealthServer(s, h)
	return &Server{GRPC: s, Health: h, log: log}
}

// Serve serves on lis until ctx ends, then stops gracefully (in-flight RPCs
// finish, streams are given 5 s).
func (s *Server) Serve(ctx context.Context, lis net.Listener) error {
	errc := make(chan error, 1)
	go func() { errc <- s.GRPC.Serve(lis) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	s.Health.Shutdown()
	done := make(chan struct{})
	go func() { s.GRPC.GracefulStop(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
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

func finish(ctx context.Context, log *slog.Logger, method string, start time.Time, err error) error {
	err = errs.ToStatus(ctx, log, method, err)
	code := status.Code(err)
	lv := slog.LevelDebug
	if code == codes.Internal || code == codes.Unknown {
		lv = slog.LevelError
	}
	log.Log(ctx, lv, "rpc", "method", method, "code", code.String(), "ms", time.Since(start).Milliseconds(), "request_id", RequestID(ctx))
	return err
}

func recovered(ctx context.Context, log *slog.Logger, method string, r any) error {
	log.ErrorContext(ctx, "panic in handler", "method", method, "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
	return fmt.Errorf("panic in %s: %v", method, r)
}

func unaryObserve(log *slog.Logger) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (resp any, err error) {
		start := time.Now()
		defer func() {
			if r := recover(); r != nil {
				resp, err = nil, recovered(ctx, log, info.FullMethod, r)
			}
			err = finish(ctx, log, info.FullMethod, start, err)
		}()
		return handler(ctx, req)
	}
}

func streamObserve(log *slog.Logger) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) (err error) {
		start := time.Now()
		defer func() {
			if r := recover(); r != nil {
				err = recovered(ss.Context(), log, info.FullMethod, r)
			}
			err = finish(ss.Context(), log, info.FullMethod, start, err)
		}()
		return handler(srv, ss)
	}
}

// Dial connects to a Buzhou service at addr. key, when set, is sent with every
// call so the callee's access check applies to internal traffic too.
func Dial(addr string, key string) (*grpc.ClientConn, error) {
	return grpc.NewClient(addr,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithPerRPCCredentials(auth.KeyCredentials(key)),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(MaxMessageBytes), grpc.MaxCallSendMsgSize(MaxMessageBytes)),
	)
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
// that is unset or too weak is refused here, at start-up.
func DialIdentity(ctx context.Context, addr, service, key string, cacheTTL time.Duration, log *slog.Logger) (*Identity, error) {
	si, ok := auth.ServiceIdentityOf(service)
	if !ok {
		return nil, fmt.Errorf("no service identity %q", service)
	}
	if err := auth.CheckConfiguredKey(si.Env, key); err != nil {
		return nil, fmt.Errorf("the %s service checks API keys with a key of its own: %w", service, err)
	}
	conn, err := Dial(addr, key)
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
