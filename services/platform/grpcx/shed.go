package grpcx

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"

	"buzhou.dev/platform/errs"
	"buzhou.dev/platform/shed"
)

// The method classes, each with a limit of its own, so that a flood of
// writes cannot take the slots of reads nor reads those of writes.
const (
	// classRead: RPCs declared NO_SIDE_EFFECTS in the proto.
	classRead = iota
	// classWrite: every other unary RPC.
	classWrite
	// never: RPCs that are not shed.
	never = -1
)

// Shedding bounds the unary RPCs the server works on at once, per method
// class: read (declared NO_SIDE_EFFECTS in the proto) and write (the
// others), as BUZHOU_<SERVICE>_SHED_READ and _WRITE say (CONCURRENT/QUEUE,
// see shed.ParseLimit), each waiting at most wait (BUZHOU_SHED_QUEUE_WAIT)
// for a slot. Past that an RPC is answered at once with UNAVAILABLE and a
// google.rpc.RetryInfo of shed.RetryAfter:
//
//   - UNAVAILABLE, not RESOURCE_EXHAUSTED: it is the code gRPC defines as
//     transient and safe to retry with backoff (the one retry policies
//     list), and grpc-gateway maps it to 503 — the server is busy —
//     where RESOURCE_EXHAUSTED would be a 429 telling the caller it went
//     over a quota of its own. A shed RPC never reached its handler, so a
//     retry of a write repeats nothing.
//
// Never shed: the health service (probes must see a busy server as alive
// and ready), streams (every one is a change feed — WatchArticles,
// WatchKeyRevocations, health Watch — that a follower needs to catch up,
// and followers are few), and the methods in unshed: the internal calls a
// service's peers need to recover or to keep work already done (key
// checks, a follower's first call, write-backs).
//
// service is the service's name ("article"), for the variables and
// messages. An error names the variable that is wrong.
func Shedding(service, read, write string, wait time.Duration, unshed ...string) (Option, error) {
	env := "BUZHOU_" + strings.ToUpper(service) + "_SHED_"
	cfg := shed.Config{Who: "the " + service + " service", QueueWait: wait, Classes: []shed.Class{
		classRead:  {Name: "read", Env: env + "READ"},
		classWrite: {Name: "write", Env: env + "WRITE"},
	}}
	for i, v := range []string{classRead: read, classWrite: write} {
		l, err := shed.ParseLimit(v)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", cfg.Classes[i].Env, err)
		}
		cfg.Classes[i].Limit = l
	}
	if err := shed.CheckQueueWait(wait); err != nil {
		return nil, err
	}
	return func(o *options) { o.shed, o.unshed = cfg, unshed }, nil
}

// shedder applies a server's Shedding.
type shedder struct {
	limiter *shed.Limiter
	// classes caches each method's class, computed from its descriptor on
	// its first call (only registered methods reach interceptors).
	classes sync.Map
	unshed  map[string]bool
}

func newShedder(o options) *shedder {
	l := shed.New(o.shed, o.metrics)
	if l == nil {
		return nil
	}
	s := &shedder{limiter: l, unshed: map[string]bool{}}
	for _, m := range o.unshed {
		s.unshed[m] = true
	}
	return s
}

// unary admits an RPC within its class's limit, or refuses it.
func (s *shedder) unary(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	c := s.classOf(info.FullMethod)
	if c == never {
		return handler(ctx, req)
	}
	release, err := s.limiter.Acquire(ctx, c)
	if err != nil {
		if refused := (*shed.Refused)(nil); errors.As(err, &refused) {
			return nil, errs.RetryAfter(fmt.Errorf("%w: %w", errs.ErrUnavailable, err), shed.RetryAfter)
		}
		return nil, err // the caller left or its deadline passed
	}
	defer release()
	return handler(ctx, req)
}

func (s *shedder) classOf(method string) int {
	if c, ok := s.classes.Load(method); ok {
		return c.(int)
	}
	c := s.classify(method)
	s.classes.Store(method, c)
	return c
}

func (s *shedder) classify(method string) int {
	if s.unshed[method] || strings.HasPrefix(method, "/"+healthpb.Health_ServiceDesc.ServiceName+"/") {
		return never
	}
	name := protoreflect.FullName(strings.ReplaceAll(strings.TrimPrefix(method, "/"), "/", "."))
	d, err := protoregistry.GlobalFiles.FindDescriptorByName(name)
	if md, ok := d.(protoreflect.MethodDescriptor); err == nil && ok {
		if opts, ok := md.Options().(*descriptorpb.MethodOptions); ok && opts.GetIdempotencyLevel() == descriptorpb.MethodOptions_NO_SIDE_EFFECTS {
			return classRead
		}
	}
	return classWrite
}
