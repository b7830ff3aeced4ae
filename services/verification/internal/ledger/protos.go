package ledger

import (
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	articlev1 "buzhou.dev/proto/gen/buzhou/article/v1"
	verificationv1 "buzhou.dev/proto/gen/buzhou/verification/v1"
	"buzhou.dev/verification/internal/reputation"
	"buzhou.dev/verification/internal/store"
)

func timestamp(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

func verifierRef(r store.Record) *articlev1.VerifierRef {
	return &articlev1.VerifierRef{Id: r.VerifierID, Name: r.VerifierName, Type: r.VerifierType}
}

func recordProto(r store.Record) *verificationv1.VerificationRecord {
	return &verificationv1.VerificationRecord{
		Id: r.ID, ArticleId: r.ArticleID, Verifier: verifierRef(r), Result: r.Result,
		Environment: &verificationv1.Environment{Os: r.OS, Runtime: r.Runtime, RuntimeVersion: r.RuntimeVersion, Extras: r.Extras},
		Notes:       r.Notes, Evidence: r.Evidence, VerifiedAt: timestamp(r.CreatedAt), Superseded: r.Superseded,
	}
}

// summaryProto is a record as the article shows it.
func summaryProto(r store.Record) *articlev1.VerificationRecordSummary {
	return &articlev1.VerificationRecordSummary{
		Id: r.ID, Verifier: verifierRef(r), Result: r.Result,
		Environment: &articlev1.VerificationEnvironment{Os: r.OS, Runtime: r.Runtime, RuntimeVersion: r.RuntimeVersion},
		Notes:       r.Notes, VerifiedAt: timestamp(r.CreatedAt),
	}
}

func verifierProto(v store.Verifier) *verificationv1.Verifier {
	score := reputation.Score(v.Confirmed, v.Contradicted)
	return &verificationv1.Verifier{
		Id: v.ID, Name: v.Name, Type: v.Type, Reputation: score, Level: reputation.Level(score),
		RecordCount: clamp32(v.Passed + v.Partial + v.Failed), PassedCount: clamp32(v.Passed),
		PartialCount: clamp32(v.Partial), FailedCount: clamp32(v.Failed), LastVerifiedAt: timestamp(v.LastVerifiedAt),
	}
}

func clamp32(n int64) int32 { return int32(min(max(n, 0), 1<<31-1)) }

func findingProto(f store.Finding) *verificationv1.Finding {
	return &verificationv1.Finding{
		Id: f.ID, RuleKey: f.RuleKey, Severity: f.Severity, FieldPath: f.FieldPath, Title: f.Title, Evidence: f.Evidence,
		AutoFixable: f.AutoFixable, SuggestedPatch: f.SuggestedPatch, Status: f.Status, ReportCount: f.ReportCount,
		OpenedAt: timestamp(f.CreatedAt), UpdatedAt: timestamp(f.UpdatedAt),
	}
}

func findingProtos(fs []store.Finding) []*verificationv1.Finding {
	out := make([]*verificationv1.Finding, 0, len(fs))
	for _, f := range fs {
		out = append(out, findingProto(f))
	}
	return out
}

// runProto is a run as the API shows it; record is the bot's record it
// filed, when the caller has it at hand.
func runProto(r store.Run, record *store.Record) *verificationv1.InspectionRun {
	out := &verificationv1.InspectionRun{
		Id: r.ID, ArticleId: r.ArticleID, Status: r.Status, Findings: findingProtos(r.Findings), RiskLevel: r.RiskLevel,
		StartedAt: timestamp(r.StartedAt), FinishedAt: timestamp(r.FinishedAt), RepairedRevision: r.RepairedRevision,
		Trigger: r.Trigger, ArticleRevision: r.ArticleRevision, Notes: r.Notes,
	}
	for _, p := range r.Repairs {
		out.Repairs = append(out.Repairs, &verificationv1.Repair{FindingId: p.FindingID, RuleKey: p.RuleKey, FieldPath: p.FieldPath, Before: p.Before, After: p.After})
	}
	if record != nil {
		out.Record = recordProto(*record)
	}
	return out
}
