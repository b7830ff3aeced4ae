package sandbox

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"time"

	"google.golang.org/grpc"

	"buzhou.dev/platform/errs"
	verificationv1 "buzhou.dev/proto/gen/buzhou/verification/v1"
)

// Most blocks one request may carry, and most bytes of code in one block (the
// article service's own limits).
const (
	maxBlocks    = 50
	maxCodeBytes = 64 << 10
)

// Server is the SandboxRunnerService: a Runner behind the API, with at most
// Concurrency blocks running at once (further calls wait their turn).
type Server struct {
	verificationv1.UnimplementedSandboxRunnerServiceServer
	r     *Runner
	lim   Limits
	slots chan struct{}
	log   *slog.Logger

	probeMu  sync.Mutex
	probedAt time.Time
	probeErr error
}

var _ verificationv1.SandboxRunnerServiceServer = (*Server)(nil)

// NewServer serves r with limits lim (the wall time is the default, a
// request may ask for less or more, up to the caller's own maximum) and at
// most concurrency runs at once (at least 1).
func NewServer(r *Runner, lim Limits, concurrency int, log *slog.Logger) *Server {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Server{r: r, lim: lim, slots: make(chan struct{}, max(concurrency, 1)), log: log}
}

// RunBlocks implements SandboxRunnerServiceServer.
func (s *Server) RunBlocks(ctx context.Context, req *verificationv1.RunBlocksRequest) (*verificationv1.RunBlocksResponse, error) {
	switch n := len(req.GetBlocks()); {
	case n == 0:
		return nil, fmt.Errorf("%w: give at least one block to run", errs.ErrInvalid)
	case n > maxBlocks:
		return nil, fmt.Errorf("%w: %d blocks in one run; at most %d", errs.ErrInvalid, n, maxBlocks)
	}
	if t := req.GetTimeoutSeconds(); t < 0 || t > 3600 {
		return nil, fmt.Errorf("%w: timeoutSeconds %d: give 1 to 3600 seconds, or 0 for the default", errs.ErrInvalid, t)
	}
	blocks := make([]Block, 0, len(req.GetBlocks()))
	for _, b := range req.GetBlocks() {
		if len(b.GetCode()) > maxCodeBytes || len(b.GetExpectedOutput()) > maxCodeBytes {
			return nil, fmt.Errorf("%w: block %d: code and expectedOutput are at most %d bytes each", errs.ErrInvalid, b.GetIndex(), maxCodeBytes)
		}
		blocks = append(blocks, Block{Index: int(b.GetIndex()), Language: b.GetLanguage(), Code: b.GetCode(), Expected: b.GetExpectedOutput()})
	}
	lim := s.lim
	if t := req.GetTimeoutSeconds(); t > 0 {
		lim.Wall = time.Duration(t) * time.Second
		lim.CPU = max(lim.CPU, lim.Wall)
	}
	select {
	case s.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-s.slots }()
	out, err := s.r.Run(ctx, blocks, lim)
	if errors.Is(err, ErrIsolation) {
		// The detail names host paths and kernel errors: the log has it,
		// the caller gets what it means.
		s.log.ErrorContext(ctx, "sandbox refused a run: isolation unavailable", "err", err)
		return nil, fmt.Errorf("%w: the sandbox cannot isolate code on this runner (Linux user, mount, pid and network namespaces are unavailable or refused), so nothing ran; the runner's log says why", errs.ErrFailedPrecondition)
	}
	if err != nil {
		return nil, err
	}
	env := s.r.Environment()
	resp := &verificationv1.RunBlocksResponse{Environment: &verificationv1.Environment{
		Os: env.OS, Extras: map[string]string{"kernel": env.Kernel, "isolation": env.Isolation},
	}}
	for _, o := range out {
		resp.Blocks = append(resp.Blocks, BlockProto(o))
	}
	return resp, nil
}

// BlockProto is an outcome as the API shows it.
func BlockProto(o Outcome) *verificationv1.SandboxBlock {
	return &verificationv1.SandboxBlock{
		Index: int32(o.Index), Language: o.Language, Outcome: o.Outcome, ExitCode: int32(o.ExitCode), DurationMs: int32(min(o.DurationMs, math.MaxInt32)),
		Stdout: o.Stdout, Stderr: o.Stderr, OutputSha256: o.OutputSHA256, Reason: o.Reason, Runtime: o.Runtime, RuntimeVersion: o.Version,
	}
}

// Probe runs a trivial block in a sandbox, at most once a minute, and says
// whether isolation works here: the runner's readiness.
func (s *Server) Probe(ctx context.Context) error {
	s.probeMu.Lock()
	defer s.probeMu.Unlock()
	if !s.probedAt.IsZero() && time.Since(s.probedAt) < time.Minute {
		return s.probeErr
	}
	lim := s.lim
	lim.Wall = 5 * time.Second
	out, err := s.r.Run(ctx, []Block{{Language: "sh", Code: "exit 0"}}, lim)
	switch {
	case err != nil:
	case len(out) == 1 && out[0].Outcome == OutcomeSkipped:
		err = fmt.Errorf("no sh on the runner: %s", out[0].Reason)
	case len(out) == 1 && out[0].Outcome != OutcomePassed:
		err = fmt.Errorf("a trivial block did not pass: %s", out[0].Reason)
	}
	if ctx.Err() != nil {
		return err // not cached: the caller gave up, not the sandbox
	}
	s.probedAt, s.probeErr = time.Now(), err
	return err
}

// Local calls a Server in process with the generated client's signature, so
// the verification service holds a runner the same way whether it is its
// own process (BUZHOU_SANDBOX_ADDR) or not.
type Local struct{ *Server }

// RunBlocks calls the server directly.
func (l Local) RunBlocks(ctx context.Context, in *verificationv1.RunBlocksRequest, _ ...grpc.CallOption) (*verificationv1.RunBlocksResponse, error) {
	out, err := l.Server.RunBlocks(ctx, in)
	if err != nil {
		return nil, errs.ToStatus(ctx, l.Server.log, verificationv1.SandboxRunnerService_RunBlocks_FullMethodName, err)
	}
	return out, nil
}
