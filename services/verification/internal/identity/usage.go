package identity

import (
	"context"
	"fmt"

	"buzhou.dev/platform/errs"
	"buzhou.dev/platform/vocab"
	identityv1 "buzhou.dev/proto/gen/buzhou/identity/v1"
	"buzhou.dev/verification/internal/store"
)

const (
	// maxUsageEntries bounds one RecordAgentUsage call; a gateway flushes far
	// fewer agents at a time.
	maxUsageEntries = 10_000
	// maxAgentTotals bounds the stats answer: agent ids come from a header any
	// caller sets, so their number is not ours to choose.
	maxAgentTotals = 1000
)

// AgentTotals is the traffic of one agent over all recorded days.
type AgentTotals struct {
	AgentID string
	Calls   int64
	Errors  int64
	// MeanLatencyMs is 0 when there were no calls.
	MeanLatencyMs float64
}

// RecordAgentUsage adds the counts a gateway gathered to today's row of each
// agent. Nothing is written unless every entry is valid.
func (s *Service) RecordAgentUsage(ctx context.Context, req *identityv1.RecordAgentUsageRequest) (*identityv1.RecordAgentUsageResponse, error) {
	entries := req.GetUsage()
	if len(entries) > maxUsageEntries {
		return nil, fmt.Errorf("%w: usage has %d entries; send at most %d per call", errs.ErrInvalid, len(entries), maxUsageEntries)
	}
	usage := make([]store.AgentUsage, 0, len(entries))
	for i, u := range entries {
		if !vocab.ValidAgentID(u.GetAgentId()) {
			return nil, fmt.Errorf("%w: usage[%d].agentId %q is not an agent id; use %s",
				errs.ErrInvalid, i, truncate(u.GetAgentId(), vocab.MaxAgentIDLen), vocab.AgentIDRule)
		}
		if u.GetCalls() < 0 || u.GetErrors() < 0 || u.GetTotalLatencyMs() < 0 {
			return nil, fmt.Errorf("%w: usage[%d] (agent %s) has a negative count; counts start at 0", errs.ErrInvalid, i, u.GetAgentId())
		}
		usage = append(usage, store.AgentUsage{
			AgentID:        u.GetAgentId(),
			Calls:          u.GetCalls(),
			Errors:         u.GetErrors(),
			TotalLatencyMs: u.GetTotalLatencyMs(),
		})
	}
	if err := s.st.AddAgentUsage(ctx, usage); err != nil {
		return nil, err
	}
	return &identityv1.RecordAgentUsageResponse{}, nil
}

// AgentUsage returns each agent's traffic over all days, most calls first, at
// most 1000 agents; it is for the stats endpoint.
func (s *Service) AgentUsage(ctx context.Context) ([]AgentTotals, error) {
	totals, err := s.st.AgentUsageTotals(ctx, maxAgentTotals)
	if err != nil {
		return nil, err
	}
	out := make([]AgentTotals, 0, len(totals))
	for _, t := range totals {
		a := AgentTotals{AgentID: t.AgentID, Calls: t.Calls, Errors: t.Errors}
		if t.Calls > 0 {
			a.MeanLatencyMs = float64(t.TotalLatencyMs) / float64(t.Calls)
		}
		out = append(out, a)
	}
	return out, nil
}

// truncate keeps error messages short when a caller sends a huge value.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return firstRunes(s, n) + "…"
}
