package storetest

import (
	"testing"
	"time"

	"buzhou.dev/platform/errs"
	"buzhou.dev/verification/internal/store"
)

func testSandboxRuns(t *testing.T, open Opener) {
	clock := NewClock(baseTime())
	s, reopen := open(t, clock.Now)
	bot := store.Principal{ID: "prn_bot_sandbox", Name: "Sandbox Runner", Type: "official_bot"}
	if err := s.EnsureVerifier(t.Context(), bot); err != nil {
		t.Fatal(err)
	}
	in := store.SandboxRun{ID: "sbx_1", ArticleID: "art_1", ArticleRevision: 2, Trigger: "manual", Result: "partial",
		OS: "Debian GNU/Linux 12 (bookworm)", Kernel: "6.1.0", Isolation: "linux namespaces",
		Blocks: []store.SandboxBlock{
			{Index: 0, Language: "python", Outcome: "passed", DurationMs: 120, Stdout: "héllo\n", OutputSHA256: "ab12", Runtime: "Python", RuntimeVersion: "3.11.2"},
			{Index: 2, Language: "rust", Outcome: "skipped", ExitCode: 0, Reason: "no rust runtime"},
		}}
	rec := newRecord("rec_sbx", "art_1", "prn_bot_sandbox", "partial")
	got, err := s.AddSandboxRun(t.Context(), in, &rec)
	if err != nil {
		t.Fatal(err)
	}
	want := in
	want.RecordID, want.CreatedAt = "rec_sbx", micro(baseTime())
	if d := diff(want, got); d != "" {
		t.Fatalf("AddSandboxRun (-want +got):\n%s", d)
	}
	if rec.VerifierName != "Sandbox Runner" || !rec.CreatedAt.Equal(micro(baseTime())) {
		t.Errorf("AddSandboxRun's record: %+v", rec)
	}
	clock.Advance(time.Second)
	// A run where nothing ran files no record.
	if _, err := s.AddSandboxRun(t.Context(), store.SandboxRun{ID: "sbx_2", ArticleID: "art_1", Trigger: "edit", Result: "partial"}, nil); err != nil {
		t.Fatal(err)
	}
	bad := newRecord("rec_x", "art_1", "prn_nobody", "passed")
	_, err = s.AddSandboxRun(t.Context(), store.SandboxRun{ID: "sbx_3", ArticleID: "art_1", Trigger: "manual", Result: "passed"}, &bad)
	wantErr(t, "AddSandboxRun with a record of an unknown verifier", err, errs.ErrNotFound)
	_, err = s.AddSandboxRun(t.Context(), store.SandboxRun{ID: "sbx_1", ArticleID: "art_1", Trigger: "manual", Result: "passed"}, nil)
	wantErr(t, "AddSandboxRun with a taken id", err, errs.ErrAlreadyExists)
	_, err = s.AddSandboxRun(t.Context(), store.SandboxRun{ID: "sbx_4", ArticleID: "art_1"}, nil)
	wantErr(t, "AddSandboxRun without a result", err, errs.ErrInvalid)

	runs := collect(t, 1, func(p store.Page) ([]store.SandboxRun, string, error) {
		return reopen().ListSandboxRuns(t.Context(), "art_1", p)
	})
	if len(runs) != 2 || runs[0].ID != "sbx_2" || runs[0].RecordID != "" {
		t.Fatalf("ListSandboxRuns: %+v", runs)
	}
	if d := diff(want, runs[1]); d != "" {
		t.Fatalf("ListSandboxRuns reads the run back (-want +got):\n%s", d)
	}
	if other, _, err := s.ListSandboxRuns(t.Context(), "art_2", store.Page{}); err != nil || len(other) != 0 {
		t.Fatalf("another article's runs: %+v, %v", other, err)
	}
	recs, err := s.ArticleRecords(t.Context(), "art_1")
	if err != nil || len(recs) != 1 || recs[0].ID != "rec_sbx" {
		t.Fatalf("records after AddSandboxRun: %+v, %v", recs, err)
	}
}
