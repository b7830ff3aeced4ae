package ledger_test

import (
	"testing"

	verificationv1 "buzhou.dev/proto/gen/buzhou/verification/v1"
)

// BenchmarkCreateRecord records a verification and writes the summary back
// (SQLite store, fake article service over loopback gRPC), on an article
// with a growing number of records.
func BenchmarkCreateRecord(b *testing.B) {
	e := newEnv(b, options{})
	a := e.publish(article("Bench records"))
	ctx := e.verifier("prn_bench", "bench", "third_party_agent")
	req := &verificationv1.CreateVerificationRecordRequest{ArticleId: a.GetId(), Result: "passed", Environment: &verificationv1.Environment{Os: "Linux"}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.svc.CreateVerificationRecord(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkInspect inspects an article (content and record rules, no link
// checks or search) and writes the summary back.
func BenchmarkInspect(b *testing.B) {
	e := newEnv(b, options{})
	a := e.publish(article("Bench inspections"))
	req := &verificationv1.RunInspectionRequest{ArticleId: a.GetId()}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.svc.RunInspection(b.Context(), req); err != nil {
			b.Fatal(err)
		}
	}
}
