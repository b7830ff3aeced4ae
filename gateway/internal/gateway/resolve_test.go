package gateway

import (
	"context"
	"testing"

	"google.golang.org/protobuf/types/known/structpb"

	articlev1 "buzhou.dev/proto/gen/buzhou/article/v1"
	searchv1 "buzhou.dev/proto/gen/buzhou/search/v1"
)

func TestLiftResolve(t *testing.T) {
	t.Parallel()
	in := &searchv1.ResolveResponse{
		Article:      &articlev1.Article{Id: "art_1", Slug: "fix-it", Title: &articlev1.LocalizedText{En: "Fix <it>"}, Revision: 3},
		Confidence:   0.9,
		Match:        "strong",
		Alternatives: []*searchv1.Alternative{{Slug: "other", Title: "Other", Score: 0.5}},
		NextSteps:    []string{"run it"},
	}
	got, err := liftResolve(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	s, ok := got.(*structpb.Struct)
	if !ok {
		t.Fatalf("got %T, want a Struct", got)
	}
	f := s.GetFields()
	if f["id"].GetStringValue() != "art_1" || f["slug"].GetStringValue() != "fix-it" || f["revision"].GetNumberValue() != 3 {
		t.Errorf("article fields not at the top level: %v", s)
	}
	if f["title"].GetStructValue().GetFields()["en"].GetStringValue() != "Fix <it>" {
		t.Errorf("title = %v", f["title"])
	}
	if f["confidence"].GetNumberValue() != 0.9 || f["match"].GetStringValue() != "strong" || len(f["alternatives"].GetListValue().GetValues()) != 1 || len(f["nextSteps"].GetListValue().GetValues()) != 1 {
		t.Errorf("resolve fields missing: %v", s)
	}
	if _, ok := f["article"]; ok {
		t.Errorf("the article is still nested")
	}
	// Unpopulated article fields are there, as for GET /api/v1/articles/{id}.
	if _, ok := f["relatedIds"]; !ok {
		t.Errorf("relatedIds missing")
	}
	other := &searchv1.SearchResponse{}
	if got, _ := liftResolve(context.Background(), other); got != other {
		t.Errorf("other answers must pass unchanged")
	}
}
