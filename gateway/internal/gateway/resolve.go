package gateway

import (
	"context"
	"fmt"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"

	searchv1 "buzhou.dev/proto/gen/buzhou/search/v1"
)

// liftResolve answers GET /api/v1/resolve with the article's fields at the
// top level, beside confidence, match, alternatives and nextSteps, as API.md
// shows; every other answer passes unchanged. A Struct rather than raw JSON
// keeps the marshaler's own rules (no HTML escaping, unpopulated fields).
func liftResolve(_ context.Context, m proto.Message) (any, error) {
	r, ok := m.(*searchv1.ResolveResponse)
	if !ok {
		return m, nil
	}
	opts := protojson.MarshalOptions{EmitUnpopulated: true}
	toStruct := func(m proto.Message) (*structpb.Struct, error) {
		b, err := opts.Marshal(m)
		if err != nil {
			return nil, err
		}
		s := &structpb.Struct{}
		return s, protojson.Unmarshal(b, s)
	}
	out, err := toStruct(r.GetArticle())
	if err != nil {
		return nil, fmt.Errorf("lift the resolved article: %w", err)
	}
	rest := proto.Clone(r).(*searchv1.ResolveResponse)
	rest.Article = nil
	extra, err := toStruct(rest)
	if err != nil {
		return nil, fmt.Errorf("lift the resolve answer: %w", err)
	}
	delete(extra.Fields, "article")
	for k, v := range extra.Fields {
		out.Fields[k] = v
	}
	return out, nil
}
