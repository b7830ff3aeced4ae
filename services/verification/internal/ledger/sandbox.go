package ledger

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"buzhou.dev/platform/errs"
	"buzhou.dev/platform/vocab"
	articlev1 "buzhou.dev/proto/gen/buzhou/article/v1"
	verificationv1 "buzhou.dev/proto/gen/buzhou/verification/v1"
	"buzhou.dev/verification/internal/identity"
	"buzhou.dev/verification/internal/rules"
	"buzhou.dev/verification/internal/store"
)

// Sandbox runs code blocks; the SandboxRunnerService's generated client is
// one, and so is the in-process runner (sandbox.Local).
type Sandbox interface {
	RunBlocks(ctx context.Context, in *verificationv1.RunBlocksRequest, opts ...grpc.CallOption) (*verificationv1.RunBlocksResponse, error)
}

// SandboxOptions tune sandbox runs.
type SandboxOptions struct {
	// Timeout is each block's wall time when a request names none; 0 means 10 s.
	Timeout time.Duration
	// MaxTimeout is the most a request may ask; 0 means 60 s.
	MaxTimeout time.Duration
	// Concurrency is how many runs execute at once; 0 means 2.
	Concurrency int
	// QueueLength is how many more may wait for a turn; beyond it a run is
	// refused with RESOURCE_EXHAUSTED and a retry delay. 0 means 16.
	QueueLength int
}

func (o SandboxOptions) withDefaults() SandboxOptions {
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	if o.MaxTimeout <= 0 {
		o.MaxTimeout = 60 * time.Second
	}
	o.MaxTimeout = max(o.MaxTimeout, o.Timeout)
	if o.Concurrency <= 0 {
		o.Concurrency = 2
	}
	if o.QueueLength <= 0 {
		o.QueueLength = 16
	}
	return o
}

// runQueue lets Concurrency runs execute and QueueLength wait; the rest are
// refused at once, so a flood of runs cannot pile up behind the runner.
type runQueue struct {
	slots   chan struct{}
	mu      sync.Mutex
	waiting int
	max     int
	// turn estimates how long one run holds a slot, for the retry delay.
	turn time.Duration
}

func newRunQueue(o SandboxOptions) *runQueue {
	return &runQueue{slots: make(chan struct{}, o.Concurrency), max: o.QueueLength, turn: o.Timeout}
}

// acquire takes a slot, waiting in line when there is room in it; release
// gives the slot back.
func (q *runQueue) acquire(ctx context.Context) (release func(), err error) {
	release = func() { <-q.slots }
	select {
	case q.slots <- struct{}{}:
		return release, nil
	default:
	}
	q.mu.Lock()
	if q.waiting >= q.max {
		ahead := q.waiting + cap(q.slots)
		q.mu.Unlock()
		after := time.Duration(ahead/cap(q.slots)) * q.turn
		return nil, errs.RetryAfter(fmt.Errorf("%w: the sandbox run queue is full (%d running, %d waiting); retry in %d s",
			errs.ErrResourceExhausted, cap(q.slots), q.max, int(after.Seconds())), after)
	}
	q.waiting++
	q.mu.Unlock()
	defer func() {
		q.mu.Lock()
		q.waiting--
		q.mu.Unlock()
	}()
	select {
	case q.slots <- struct{}{}:
		return release, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// CreateSandboxRun implements VerificationServiceServer.
func (s *Service) CreateSandboxRun(ctx context.Context, req *verificationv1.CreateSandboxRunRequest) (*verificationv1.SandboxRun, error) {
	if err := s.checkSandboxRequest(req); err != nil {
		return nil, err
	}
	a, err := s.article(ctx, req.GetArticleId())
	if err != nil {
		return nil, err
	}
	return s.runSandbox(ctx, a, TriggerManual, req.GetBlocks(), time.Duration(req.GetTimeoutSeconds())*time.Second)
}

func (s *Service) checkSandboxRequest(req *verificationv1.CreateSandboxRunRequest) error {
	o := s.o.Sandbox
	if t := req.GetTimeoutSeconds(); t < 0 || time.Duration(t)*time.Second > o.MaxTimeout {
		return fmt.Errorf("%w: timeoutSeconds %d: give 1 to %d seconds per block, or leave it out for %d", errs.ErrInvalid, t,
			int(o.MaxTimeout.Seconds()), int(o.Timeout.Seconds()))
	}
	if len(req.GetBlocks()) > 50 {
		return fmt.Errorf("%w: blocks names %d blocks; an article has at most 50", errs.ErrInvalid, len(req.GetBlocks()))
	}
	seen := map[int32]bool{}
	for _, i := range req.GetBlocks() {
		if seen[i] {
			return fmt.Errorf("%w: blocks names block %d twice; name each once", errs.ErrInvalid, i)
		}
		seen[i] = true
	}
	return nil
}

// RunSandboxOnChange runs the article's runnable blocks after a publish or
// an author's edit of its code, in the background: the feed follower does
// not wait, and a full queue skips the run (logged) rather than block the
// feed; the next change, or a manual run, catches up.
func (s *Service) RunSandboxOnChange(ctx context.Context, a *articlev1.Article, trigger string) {
	if s.d.Sandbox == nil || len(runnable(a, nil)) == 0 {
		return
	}
	s.bg.Go(func() {
		if _, err := s.runSandbox(ctx, a, trigger, nil, 0); err != nil && ctx.Err() == nil {
			s.d.Log.WarnContext(ctx, "sandbox run after a change did not happen", "article", a.GetId(), "revision", a.GetRevision(), "trigger", trigger, "err", err)
		}
	})
}

// Wait waits for the background sandbox runs to end (their context ends them).
func (s *Service) Wait() { s.bg.Wait() }

// runnable returns the article's blocks to run: the named ones (each must
// exist and be runnable; the caller checked for repeats), else every
// runnable one.
func runnable(a *articlev1.Article, named []int32) []*verificationv1.SandboxCode {
	var out []*verificationv1.SandboxCode
	code := func(i int, b *articlev1.CodeBlock) *verificationv1.SandboxCode {
		return &verificationv1.SandboxCode{Index: int32(i), Language: b.GetLanguage(), Code: b.GetCode(), ExpectedOutput: b.GetExpectedOutput()}
	}
	if len(named) == 0 {
		for i, b := range a.GetCodeBlocks() {
			if b.GetRunnable() {
				out = append(out, code(i, b))
			}
		}
		return out
	}
	for _, i := range named {
		out = append(out, code(int(i), a.GetCodeBlocks()[i]))
	}
	return out
}

func checkNamedBlocks(a *articlev1.Article, named []int32) error {
	n := len(a.GetCodeBlocks())
	for _, i := range named {
		switch {
		case i < 0 || int(i) >= n:
			return fmt.Errorf("%w: blocks: article %s has %d code blocks (indexes 0 to %d); there is no block %d", errs.ErrInvalid, a.GetId(), n, n-1, i)
		case !a.GetCodeBlocks()[i].GetRunnable():
			return fmt.Errorf("%w: blocks: code block %d of article %s is not marked runnable; mark it \"runnable\": true or leave it out", errs.ErrInvalid, i, a.GetId())
		}
	}
	return nil
}

func (s *Service) runSandbox(ctx context.Context, a *articlev1.Article, trigger string, named []int32, timeout time.Duration) (*verificationv1.SandboxRun, error) {
	if s.d.Sandbox == nil {
		return nil, fmt.Errorf("%w: sandbox runs are switched off on this server", errs.ErrFailedPrecondition)
	}
	if err := checkNamedBlocks(a, named); err != nil {
		return nil, err
	}
	blocks := runnable(a, named)
	if len(blocks) == 0 {
		return nil, fmt.Errorf("%w: article %s has no code block marked runnable, so nothing ran and no record was filed; mark a block \"runnable\": true to have it run", errs.ErrFailedPrecondition, a.GetId())
	}
	if timeout <= 0 {
		timeout = s.o.Sandbox.Timeout
	}
	release, err := s.sandboxQueue.acquire(ctx)
	if err != nil {
		return nil, err
	}
	resp, err := s.d.Sandbox.RunBlocks(ctx, &verificationv1.RunBlocksRequest{Blocks: blocks, TimeoutSeconds: int32(timeout / time.Second)})
	release()
	if err != nil {
		return nil, s.sandboxError(ctx, err)
	}
	run := sandboxRunOf(a, trigger, resp)
	rec := sandboxRecord(run, resp)

	unlock := s.locks.lock(a.GetId())
	defer unlock()
	stored, err := s.d.Store.AddSandboxRun(ctx, run, rec)
	if err != nil {
		return nil, err
	}
	s.d.Log.InfoContext(ctx, "sandbox run", "run", stored.ID, "article", a.GetId(), "result", stored.Result, "trigger", trigger, "blocks", len(stored.Blocks))
	if rec != nil {
		// As after any record: rescored from a fresh read; a failed
		// write-back is made good by the next rescore.
		cur, err := s.article(ctx, a.GetId())
		if err == nil {
			_, _, err = s.rescore(ctx, cur, time.Time{})
		}
		if err != nil {
			s.d.Log.WarnContext(ctx, "write-back after a sandbox run failed; the next rescore retries", "article", a.GetId(), "err", err)
		}
	}
	return sandboxRunProto(stored, rec), nil
}

// sandboxError turns the runner's refusal into ours: its own refusals keep
// their meaning and words, a runner that does not answer is unavailable.
func (s *Service) sandboxError(ctx context.Context, err error) error {
	st := status.Convert(err)
	switch st.Code() {
	case codes.FailedPrecondition:
		return fmt.Errorf("%w: %s", errs.ErrFailedPrecondition, st.Message())
	case codes.InvalidArgument:
		return fmt.Errorf("%w: %s", errs.ErrInvalid, st.Message())
	case codes.Canceled, codes.DeadlineExceeded:
		return err
	}
	s.d.Log.WarnContext(ctx, "sandbox runner call failed", "err", err)
	return fmt.Errorf("%w: the sandbox runner did not answer; retry shortly", errs.ErrUnavailable)
}

// sandboxRunOf is the run the blocks' outcomes make: passed when every block
// passed, failed when any failed or timed out, partial when some were
// skipped (and every one that ran passed).
func sandboxRunOf(a *articlev1.Article, trigger string, resp *verificationv1.RunBlocksResponse) store.SandboxRun {
	run := store.SandboxRun{ID: identity.NewID("sbx"), ArticleID: a.GetId(), ArticleRevision: a.GetRevision(), Trigger: trigger,
		OS: resp.GetEnvironment().GetOs(), Kernel: resp.GetEnvironment().GetExtras()["kernel"], Isolation: resp.GetEnvironment().GetExtras()["isolation"]}
	skipped, failed := 0, 0
	for _, b := range resp.GetBlocks() {
		run.Blocks = append(run.Blocks, store.SandboxBlock{Index: b.GetIndex(), Language: b.GetLanguage(), Outcome: b.GetOutcome(),
			ExitCode: b.GetExitCode(), DurationMs: b.GetDurationMs(), Stdout: b.GetStdout(), Stderr: b.GetStderr(),
			OutputSHA256: b.GetOutputSha256(), Reason: b.GetReason(), Runtime: b.GetRuntime(), RuntimeVersion: b.GetRuntimeVersion()})
		switch b.GetOutcome() {
		case "skipped":
			skipped++
		case "passed":
		default:
			failed++
		}
	}
	switch {
	case failed > 0:
		run.Result = vocab.ResultFailed
	case skipped > 0:
		run.Result = vocab.ResultPartial
	default:
		run.Result = vocab.ResultPassed
	}
	return run
}

// sandboxRecord is the Sandbox Runner's record of a run, nil when no block
// ran at all (a run of skipped blocks proves nothing, and is no pass).
func sandboxRecord(run store.SandboxRun, resp *verificationv1.RunBlocksResponse) *store.Record {
	var (
		runtimes, versions, notes, evidence []string
		counts                              = map[string]int{}
	)
	for _, b := range run.Blocks {
		counts[b.Outcome]++
		line := fmt.Sprintf("block %d (%s): %s", b.Index, b.Language, strings.ReplaceAll(b.Outcome, "_", " "))
		if b.Outcome != "skipped" {
			line += fmt.Sprintf(", exit %d, %d ms, %s %s, output sha256 %s", b.ExitCode, b.DurationMs, b.Runtime, b.RuntimeVersion, short(b.OutputSHA256))
			if !slices.Contains(runtimes, b.Runtime) {
				runtimes, versions = append(runtimes, b.Runtime), append(versions, b.RuntimeVersion)
			}
		}
		if b.Reason != "" {
			line += "; " + b.Reason
		}
		notes = append(notes, line)
		if b.Outcome == "failed" || b.Outcome == "timed_out" {
			ev := fmt.Sprintf("block %d (%s): %s", b.Index, b.Language, b.Reason)
			if tail := lastBytes(b.Stderr, 2048); tail != "" {
				ev += "\nstderr: " + tail
			} else if tail := lastBytes(b.Stdout, 2048); tail != "" {
				ev += "\nstdout: " + tail
			}
			evidence = append(evidence, ev)
		}
	}
	if len(runtimes) == 0 {
		return nil
	}
	var tally []string
	for _, o := range []string{"passed", "failed", "timed_out", "skipped"} {
		if counts[o] > 0 {
			tally = append(tally, fmt.Sprintf("%d %s", counts[o], strings.ReplaceAll(o, "_", " ")))
		}
	}
	extras := map[string]string{"sandboxRun": run.ID, "blocks": strings.Join(tally, ", ")}
	for k, v := range resp.GetEnvironment().GetExtras() {
		if len(extras) < 16 && v != "" {
			extras[k] = rules.Clip(v, 256)
		}
	}
	return &store.Record{
		ID: identity.NewID("rec"), ArticleID: run.ArticleID, VerifierID: identity.SandboxRunnerID, Result: run.Result,
		OS: rules.Clip(run.OS, 64), Runtime: rules.Clip(strings.Join(runtimes, " + "), 64), RuntimeVersion: rules.Clip(strings.Join(versions, " + "), 64),
		Extras: extras, Notes: rules.Clip("Sandbox run "+run.ID+": "+strings.Join(notes, "; ")+".", maxNotesBytes),
		Evidence: printable(rules.Clip(strings.Join(evidence, "\n\n"), maxEvidenceBytes)),
	}
}

func short(sum string) string {
	if len(sum) > 12 {
		return sum[:12] + "…"
	}
	return sum
}

// lastBytes is the end of s, at most n bytes, cut at a rune.
func lastBytes(s string, n int) string {
	s = strings.TrimSpace(s)
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[len(s)-n:], "")
}

// printable drops control characters (but new lines and tabs) from what a
// block printed, since records are shown beside the article.
func printable(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '\n' || r == '\t' || !unicode.IsControl(r) {
			return r
		}
		return -1
	}, s)
}

// ListSandboxRuns implements VerificationServiceServer.
func (s *Service) ListSandboxRuns(ctx context.Context, req *verificationv1.ListSandboxRunsRequest) (*verificationv1.ListSandboxRunsResponse, error) {
	if err := checkPageSize(req.GetPageSize(), maxRunsPage); err != nil {
		return nil, err
	}
	a, err := s.article(ctx, req.GetIdOrSlug())
	if err != nil {
		return nil, err
	}
	runs, next, err := s.d.Store.ListSandboxRuns(ctx, a.GetId(), store.Page{Size: pageSize(req.GetPageSize(), runsPage, maxRunsPage), Token: req.GetPageToken()})
	if err != nil {
		return nil, err
	}
	records := map[string]store.Record{}
	if len(runs) > 0 {
		recs, err := s.d.Store.ArticleRecords(ctx, a.GetId())
		if err != nil {
			return nil, err
		}
		for _, r := range recs {
			records[r.ID] = r
		}
	}
	resp := &verificationv1.ListSandboxRunsResponse{Runs: make([]*verificationv1.SandboxRun, 0, len(runs)), NextPageToken: next}
	for _, r := range runs {
		var rec *store.Record
		if got, ok := records[r.RecordID]; ok {
			rec = &got
		}
		resp.Runs = append(resp.Runs, sandboxRunProto(r, rec))
	}
	return resp, nil
}

func sandboxRunProto(r store.SandboxRun, rec *store.Record) *verificationv1.SandboxRun {
	out := &verificationv1.SandboxRun{
		Id: r.ID, ArticleId: r.ArticleID, Result: r.Result, ArticleRevision: r.ArticleRevision, Trigger: r.Trigger,
		Environment: &verificationv1.Environment{Os: r.OS, Extras: map[string]string{"kernel": r.Kernel, "isolation": r.Isolation}},
		CreatedAt:   timestamp(r.CreatedAt),
	}
	for _, b := range r.Blocks {
		out.Blocks = append(out.Blocks, &verificationv1.SandboxBlock{Index: b.Index, Language: b.Language, Outcome: b.Outcome,
			ExitCode: b.ExitCode, DurationMs: b.DurationMs, Stdout: b.Stdout, Stderr: b.Stderr, OutputSha256: b.OutputSHA256,
			Reason: b.Reason, Runtime: b.Runtime, RuntimeVersion: b.RuntimeVersion})
	}
	if rec != nil {
		out.Record = recordProto(*rec)
	}
	return out
}
