package ledger_test

import (
	"context"
	"sync"
	"testing"

	"google.golang.org/grpc"

	articlev1 "buzhou.dev/proto/gen/buzhou/article/v1"
	"buzhou.dev/verification/internal/ledger"
)

// interleaved is an article client that runs before once, just before the
// first trust write it forwards: another replica's work landing between
// this replica's read and its write.
type interleaved struct {
	ledger.Articles
	once   sync.Once
	before func()
}

func (c *interleaved) UpdateArticleTrust(ctx context.Context, in *articlev1.UpdateArticleTrustRequest, opts ...grpc.CallOption) (*articlev1.Article, error) {
	c.once.Do(c.before)
	return c.Articles.UpdateArticleTrust(ctx, in, opts...)
}

// TestReplicasDoNotOverwriteNewerTrust: two verification replicas share the
// store and the article service; a summary computed before the other
// replica's record was written must not overwrite the summary that counts
// it. Replica A computes from one record; replica B adds a second record and
// writes its summary in between; A's write then fails on the revision, and A
// computes again from both records.
func TestReplicasDoNotOverwriteNewerTrust(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{})
	a := e.publish(article("Two replicas"))
	b := ledger.New(ledger.Deps{Store: e.st, Articles: e.articles.Client, Now: e.clock.Now}, ledger.Options{})
	bob := e.verifier("prn_bob", "Bob", "third_party_agent")
	carol := e.verifier("prn_carol", "Carol", "third_party_agent")

	client := &interleaved{Articles: e.articles.Client, before: func() {
		other := &env{t: t, st: e.st, articles: e.articles, clock: e.clock, svc: b}
		other.record(carol, a.GetId(), "passed")
	}}
	replicaA := &env{t: t, st: e.st, articles: e.articles, clock: e.clock,
		svc: ledger.New(ledger.Deps{Store: e.st, Articles: client, Now: e.clock.Now}, ledger.Options{})}
	replicaA.record(bob, a.GetId(), "passed")

	got, err := e.articles.Client.GetArticle(t.Context(), &articlev1.GetArticleRequest{IdOrSlug: a.GetId()})
	if err != nil {
		t.Fatal(err)
	}
	// Two fresh passes by two verifiers: verified, 98 (the rule's example).
	if got.GetVerificationCount() != 2 || got.GetVerificationStatus() != "verified" || got.GetConfidenceScore() != 98 {
		t.Errorf("article shows %d records, %s, %d; want 2, verified, 98 (a stale summary overwrote the newer one)",
			got.GetVerificationCount(), got.GetVerificationStatus(), got.GetConfidenceScore())
	}
}
