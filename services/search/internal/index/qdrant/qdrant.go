// Package qdrant is the index on a Qdrant server (github.com/qdrant/go-client,
// gRPC on port 6334): one collection with a named dense vector ("dense",
// cosine) and a named sparse one ("lexical", IDF modifier, so Qdrant applies
// the idf at query time exactly as the embedded index does), payload indexes
// for every filter, deterministic UUIDv5 point ids of article and chunk, and
// wait=true writes. A query is the Query API: one prefetch per ranker (the
// boosted ones wrapped in a formula multiplying the score by the payload's
// boost), fused by weighted RRF. The collection records the embedding model
// and dimension in its metadata; another model drops and recreates it.
package qdrant

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strconv"

	"github.com/google/uuid"
	"github.com/qdrant/go-client/qdrant"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"buzhou.dev/search/internal/index"
)

var _ index.Index = (*Index)(nil)

// Names of the vectors and payload fields.
const (
	denseName  = "dense"
	sparseName = "lexical"

	fArticle    = "article_id"
	fChunk      = "chunk"
	fSlug       = "slug"
	fDomain     = "domain"
	fStatus     = "status"
	fVerif      = "verification_status"
	fConfidence = "confidence"
	fTags       = "tags"
	fLangs      = "langs"
	fVersions   = "versions"
	fVerifiedAt = "verified_at"
	fUpdatedAt  = "updated_at"
	fTitleZH    = "title_zh"
	fTitleEN    = "title_en"
	fSummaryZH  = "summary_zh"
	fSummaryEN  = "summary_en"
	fHeading    = "heading"
	fTextZH     = "text_zh"
	fTextEN     = "text_en"
	fBoost      = "boost"
)

// namespace is the UUIDv5 namespace of point ids: the same article chunk
// has the same id on every replica and after every rebuild.
var namespace = uuid.MustParse("6f0b7c52-7f38-4c4e-9d3b-1f8f3b2a6c11")

// Config says where the collection lives.
type Config struct {
	// URL is the server, e.g. http://qdrant:6334 or https://xyz.cloud:6334
	// (https means TLS). The port defaults to 6334, the gRPC one.
	URL string
	// APIKey is sent with every call when set.
	APIKey string
	// Collection is the collection's name.
	Collection string
	// DialOptions are extra gRPC options (tests dial an in-process server).
	DialOptions []grpc.DialOption
}

// Index is the Qdrant index.
type Index struct {
	c      *qdrant.Client
	name   string
	schema index.Schema
}

// Open connects and checks that the server answers.
func Open(ctx context.Context, cfg Config) (*Index, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil || u.Hostname() == "" || (u.Scheme != "http" && u.Scheme != "https" && u.Scheme != "grpc") {
		return nil, fmt.Errorf("QDRANT_URL %q: give the server as http://host:6334 (https for TLS)", cfg.URL)
	}
	port := 6334
	if p := u.Port(); p != "" {
		if port, err = strconv.Atoi(p); err != nil {
			return nil, fmt.Errorf("QDRANT_URL %q: bad port", cfg.URL)
		}
	}
	if port == 6333 {
		return nil, fmt.Errorf("QDRANT_URL %q: 6333 is Qdrant's REST port; this client speaks gRPC on 6334", cfg.URL)
	}
	if cfg.Collection == "" || len(cfg.Collection) > 255 {
		return nil, fmt.Errorf("qdrant: the collection name must be 1–255 characters")
	}
	c, err := qdrant.NewClient(&qdrant.Config{
		Host: u.Hostname(), Port: port, APIKey: cfg.APIKey, UseTLS: u.Scheme == "https",
		GrpcOptions: append([]grpc.DialOption{grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(64 << 20))}, cfg.DialOptions...),
		PoolSize:    1,
	})
	if err != nil {
		return nil, fmt.Errorf("qdrant: connect to %s: %w", net.JoinHostPort(u.Hostname(), strconv.Itoa(port)), err)
	}
	if _, err := c.HealthCheck(ctx); err != nil {
		c.Close()
		return nil, fmt.Errorf("qdrant at %s does not answer (is QDRANT_URL the gRPC port 6334, is QDRANT_API_KEY right?): %w", cfg.URL, err)
	}
	return &Index{c: c, name: cfg.Collection}, nil
}

// Backend implements index.Index.
func (ix *Index) Backend() string { return "qdrant" }

// CursorName implements index.Index: replicas writing one collection share
// one cursor.
func (ix *Index) CursorName() string { return "qdrant:" + ix.name }

// Prepare implements index.Index.
func (ix *Index) Prepare(ctx context.Context, s index.Schema) (bool, error) {
	if s.Model == "" || s.Dim <= 0 {
		return false, fmt.Errorf("qdrant: schema needs a model and a positive dimension, got %q/%d", s.Model, s.Dim)
	}
	exists, err := ix.c.CollectionExists(ctx, ix.name)
	if err != nil {
		return false, fmt.Errorf("qdrant: look for collection %s: %w", ix.name, err)
	}
	if exists {
		info, err := ix.c.GetCollectionInfo(ctx, ix.name)
		if err != nil {
			return false, fmt.Errorf("qdrant: read collection %s: %w", ix.name, err)
		}
		md := info.GetConfig().GetMetadata()
		if md["model"].GetStringValue() == s.Model && md["dim"].GetIntegerValue() == int64(s.Dim) {
			ix.schema = s
			return false, nil
		}
		if err := ix.c.DeleteCollection(ctx, ix.name); err != nil {
			return false, fmt.Errorf("qdrant: drop collection %s built for another model: %w", ix.name, err)
		}
	}
	if err := ix.create(ctx, s); err != nil {
		return false, err
	}
	ix.schema = s
	return true, nil
}

// create makes the collection and its payload indexes (before any point, as
// Qdrant advises).
func (ix *Index) create(ctx context.Context, s index.Schema) error {
	md, err := qdrant.TryValueMap(map[string]any{"model": s.Model, "dim": int64(s.Dim)})
	if err != nil {
		return err
	}
	if err := ix.c.CreateCollection(ctx, &qdrant.CreateCollection{
		CollectionName: ix.name,
		VectorsConfig:  qdrant.NewVectorsConfigMap(map[string]*qdrant.VectorParams{denseName: {Size: uint64(s.Dim), Distance: qdrant.Distance_Cosine}}),
		SparseVectorsConfig: qdrant.NewSparseVectorsConfig(map[string]*qdrant.SparseVectorParams{
			sparseName: {Modifier: qdrant.Modifier_Idf.Enum()},
		}),
		Metadata: md,
	}); err != nil {
		return fmt.Errorf("qdrant: create collection %s: %w", ix.name, err)
	}
	keyword, integer := qdrant.FieldType_FieldTypeKeyword, qdrant.FieldType_FieldTypeInteger
	for _, f := range []struct {
		name string
		t    qdrant.FieldType
	}{{fArticle, keyword}, {fChunk, integer}, {fDomain, keyword}, {fStatus, keyword}, {fVerif, keyword},
		{fConfidence, integer}, {fTags, keyword}, {fLangs, keyword}} {
		if _, err := ix.c.CreateFieldIndex(ctx, &qdrant.CreateFieldIndexCollection{
			CollectionName: ix.name, FieldName: f.name, FieldType: f.t.Enum(), Wait: qdrant.PtrOf(true),
		}); err != nil {
			return fmt.Errorf("qdrant: index payload field %s: %w", f.name, err)
		}
	}
	return nil
}

// Reset implements index.Index.
func (ix *Index) Reset(ctx context.Context) error {
	if ix.schema.Dim == 0 {
		return index.ErrSchema
	}
	if err := ix.c.DeleteCollection(ctx, ix.name); err != nil && status.Code(err) != codes.NotFound {
		return fmt.Errorf("qdrant: drop collection %s: %w", ix.name, err)
	}
	return ix.create(ctx, ix.schema)
}

// PointID is the point id of an article's chunk.
func PointID(articleID string, chunk int) string {
	return uuid.NewSHA1(namespace, []byte(articleID+"#"+strconv.Itoa(chunk))).String()
}

// Write implements index.Index: one upsert of every new chunk, then one
// delete of what is left over (chunks past an article's new count, and
// deleted articles), both waiting until visible.
func (ix *Index) Write(ctx context.Context, changes []index.Change) error {
	if ix.schema.Dim == 0 {
		return index.ErrSchema
	}
	last := map[string]int{}
	for i, c := range changes {
		if c.ArticleID == "" {
			return errors.New("qdrant: a change without an article id")
		}
		last[c.ArticleID] = i
		for j := range c.Chunks {
			if len(c.Chunks[j].Dense) != ix.schema.Dim {
				return fmt.Errorf("qdrant: chunk %d of %s has %d dimensions, the collection %d", j, c.ArticleID, len(c.Chunks[j].Dense), ix.schema.Dim)
			}
		}
	}
	var points []*qdrant.PointStruct
	var stale []*qdrant.Condition
	for i, c := range changes {
		if last[c.ArticleID] != i {
			continue // a later change of the batch replaces it
		}
		for j := range c.Chunks {
			p, err := point(c.ArticleID, j, &c.Chunks[j])
			if err != nil {
				return err
			}
			points = append(points, p)
		}
		stale = append(stale, qdrant.NewFilterAsCondition(&qdrant.Filter{Must: []*qdrant.Condition{
			qdrant.NewMatchKeyword(fArticle, c.ArticleID),
			qdrant.NewRange(fChunk, &qdrant.Range{Gte: qdrant.PtrOf(float64(len(c.Chunks)))}),
		}}))
	}
	wait := qdrant.PtrOf(true)
	if len(points) > 0 {
		if _, err := ix.c.Upsert(ctx, &qdrant.UpsertPoints{CollectionName: ix.name, Points: points, Wait: wait}); err != nil {
			return fmt.Errorf("qdrant: upsert %d points: %w", len(points), err)
		}
	}
	if len(stale) > 0 {
		if _, err := ix.c.Delete(ctx, &qdrant.DeletePoints{CollectionName: ix.name, Wait: wait,
			Points: qdrant.NewPointsSelectorFilter(&qdrant.Filter{Should: stale})}); err != nil {
			return fmt.Errorf("qdrant: delete stale points: %w", err)
		}
	}
	return nil
}

func point(articleID string, chunk int, p *index.Point) (*qdrant.PointStruct, error) {
	pl := &p.Payload
	payload, err := qdrant.TryValueMap(map[string]any{
		fArticle: articleID, fChunk: int64(chunk), fSlug: pl.Slug, fDomain: pl.Domain, fStatus: pl.Status,
		fVerif: pl.VerificationStatus, fConfidence: int64(pl.Confidence), fTags: anys(pl.Tags), fLangs: anys(pl.Langs),
		fVersions: anys(pl.Versions), fVerifiedAt: pl.VerifiedAt, fUpdatedAt: pl.UpdatedAt,
		fTitleZH: pl.TitleZH, fTitleEN: pl.TitleEN, fSummaryZH: pl.SummaryZH, fSummaryEN: pl.SummaryEN,
		fHeading: pl.Heading, fTextZH: pl.TextZH, fTextEN: pl.TextEN, fBoost: index.BoostOf(pl),
	})
	if err != nil {
		return nil, fmt.Errorf("qdrant: payload of %s: %w", articleID, err)
	}
	vectors := map[string]*qdrant.Vector{denseName: qdrant.NewVectorDense(index.Normalize(slices.Clone(p.Dense)))}
	if p.Sparse.Len() > 0 {
		vectors[sparseName] = qdrant.NewVectorSparse(p.Sparse.Indices, p.Sparse.Values)
	}
	return &qdrant.PointStruct{Id: qdrant.NewIDUUID(PointID(articleID, chunk)), Payload: payload, Vectors: qdrant.NewVectorsMap(vectors)}, nil
}

// anys makes a []any of strings: NewValueMap knows no []string.
func anys(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}

// filter is the Qdrant form of f.
func filter(f index.Filter) *qdrant.Filter {
	q := &qdrant.Filter{}
	if f.Domain != "" {
		q.Must = append(q.Must, qdrant.NewMatchKeyword(fDomain, f.Domain))
	}
	if f.VerificationStatus != "" {
		q.Must = append(q.Must, qdrant.NewMatchKeyword(fVerif, f.VerificationStatus))
	}
	if f.Lang != "" {
		q.Must = append(q.Must, qdrant.NewMatchKeyword(fLangs, f.Lang))
	}
	for _, t := range f.Tags {
		q.Must = append(q.Must, qdrant.NewMatchKeyword(fTags, t))
	}
	if f.MinConfidence > 0 {
		q.Must = append(q.Must, qdrant.NewRange(fConfidence, &qdrant.Range{Gte: qdrant.PtrOf(float64(f.MinConfidence))}))
	}
	if len(f.Statuses) > 0 {
		q.Must = append(q.Must, qdrant.NewMatchKeywords(fStatus, f.Statuses...))
	}
	if f.ExcludeArticle != "" {
		q.MustNot = append(q.MustNot, qdrant.NewMatchKeyword(fArticle, f.ExcludeArticle))
	}
	if len(q.Must) == 0 && len(q.MustNot) == 0 {
		return nil
	}
	return q
}

// prefetch is one ranker as a prefetch: the nearest query on its vector,
// wrapped in the boost formula when boosted.
func prefetch(r index.Ranker, limit int, f *qdrant.Filter) *qdrant.PrefetchQuery {
	p := &qdrant.PrefetchQuery{Limit: qdrant.PtrOf(uint64(limit)), Filter: f}
	if r.Sparse.Len() > 0 {
		p.Query, p.Using = qdrant.NewQuerySparse(r.Sparse.Indices, r.Sparse.Values), qdrant.PtrOf(sparseName)
	} else {
		p.Query, p.Using = qdrant.NewQueryDense(r.Dense), qdrant.PtrOf(denseName)
	}
	if r.Threshold > 0 {
		p.ScoreThreshold = qdrant.PtrOf(float32(r.Threshold))
	}
	if !r.Boosted {
		return p
	}
	return &qdrant.PrefetchQuery{Prefetch: []*qdrant.PrefetchQuery{p}, Query: boostFormula(), Limit: qdrant.PtrOf(uint64(limit)), Filter: f}
}

// boostFormula multiplies the score by the payload's boost (1 when absent).
func boostFormula() *qdrant.Query {
	return qdrant.NewQueryFormula(&qdrant.Formula{
		Expression: qdrant.NewExpressionMult(&qdrant.MultExpression{Mult: []*qdrant.Expression{
			qdrant.NewExpressionVariable("$score"), qdrant.NewExpressionVariable(fBoost),
		}}),
		Defaults: map[string]*qdrant.Value{fBoost: qdrant.NewValueDouble(1)},
	})
}

// Query implements index.Index.
func (ix *Index) Query(ctx context.Context, q index.Query) ([]index.Hit, error) {
	if ix.schema.Dim == 0 {
		return nil, index.ErrSchema
	}
	if q.Limit <= 0 {
		return nil, errors.New("qdrant: limit must be at least 1")
	}
	rankers := q.Active()
	if len(rankers) == 0 {
		return nil, nil
	}
	for _, r := range rankers {
		if r.Sparse.Len() == 0 && len(r.Dense) != ix.schema.Dim {
			return nil, fmt.Errorf("qdrant: the query vector has %d dimensions, the collection %d", len(r.Dense), ix.schema.Dim)
		}
	}
	f := filter(q.Filter)
	req := &qdrant.QueryPoints{CollectionName: ix.name, Filter: f, Limit: qdrant.PtrOf(uint64(q.Limit)), WithPayload: qdrant.NewWithPayloadExclude(fTextZH, fTextEN)}
	if q.WithText {
		req.WithPayload = qdrant.NewWithPayload(true)
	}
	if q.WithVectors {
		req.WithVectors = qdrant.NewWithVectors(true)
	}
	if len(rankers) == 1 {
		p := prefetch(rankers[0], q.Limit, f)
		req.Prefetch, req.Query, req.Using, req.ScoreThreshold = p.Prefetch, p.Query, p.Using, p.ScoreThreshold
	} else {
		k := q.K
		if k <= 0 {
			k = index.DefaultK
		}
		rrf := &qdrant.Rrf{K: qdrant.PtrOf(uint32(k))}
		for _, r := range rankers {
			limit := q.Limit
			if r.Limit > 0 {
				limit = r.Limit
			}
			req.Prefetch = append(req.Prefetch, prefetch(r, limit, f))
			rrf.Weights = append(rrf.Weights, float32(r.Weight))
		}
		req.Query = qdrant.NewQueryRRF(rrf)
	}
	res, err := ix.c.Query(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("qdrant: query: %w", err)
	}
	hits := make([]index.Hit, 0, len(res))
	for _, p := range res {
		pt := fromQdrant(p.GetPayload(), p.GetVectors())
		hits = append(hits, index.Hit{Payload: &pt.Payload, Sparse: pt.Sparse, Dense: pt.Dense, Score: float64(p.GetScore())})
	}
	return hits, nil
}

// Chunks implements index.Index.
func (ix *Index) Chunks(ctx context.Context, articleID string) ([]index.Point, error) {
	if ix.schema.Dim == 0 {
		return nil, index.ErrSchema
	}
	res, err := ix.c.Scroll(ctx, &qdrant.ScrollPoints{
		CollectionName: ix.name, Filter: &qdrant.Filter{Must: []*qdrant.Condition{qdrant.NewMatchKeyword(fArticle, articleID)}},
		Limit: qdrant.PtrOf(uint32(10000)), WithPayload: qdrant.NewWithPayload(true), WithVectors: qdrant.NewWithVectors(true),
	})
	if err != nil {
		return nil, fmt.Errorf("qdrant: read the chunks of %s: %w", articleID, err)
	}
	out := make([]index.Point, 0, len(res))
	for _, p := range res {
		out = append(out, fromQdrant(p.GetPayload(), p.GetVectors()))
	}
	slices.SortFunc(out, func(a, b index.Point) int { return a.Payload.Chunk - b.Payload.Chunk })
	return out, nil
}

// Texts implements index.Index: one Get of the chunks' points, their text
// fields only.
func (ix *Index) Texts(ctx context.Context, refs []index.Ref) ([][2]string, error) {
	if ix.schema.Dim == 0 {
		return nil, index.ErrSchema
	}
	out := make([][2]string, len(refs))
	if len(refs) == 0 {
		return out, nil
	}
	var ids []*qdrant.PointId
	at := map[string][]int{} // a chunk asked for twice gets its texts twice
	for i, r := range refs {
		id := PointID(r.ArticleID, r.Chunk)
		if at[id] == nil {
			ids = append(ids, qdrant.NewIDUUID(id))
		}
		at[id] = append(at[id], i)
	}
	res, err := ix.c.Get(ctx, &qdrant.GetPoints{CollectionName: ix.name, Ids: ids, WithPayload: qdrant.NewWithPayloadInclude(fTextZH, fTextEN)})
	if err != nil {
		return nil, fmt.Errorf("qdrant: read chunk texts: %w", err)
	}
	for _, p := range res {
		for _, i := range at[p.GetId().GetUuid()] {
			out[i] = [2]string{p.GetPayload()[fTextZH].GetStringValue(), p.GetPayload()[fTextEN].GetStringValue()}
		}
	}
	return out, nil
}

// Count implements index.Index.
func (ix *Index) Count(ctx context.Context) (int64, int64, error) {
	if ix.schema.Dim == 0 {
		return 0, 0, nil
	}
	chunks, err := ix.c.Count(ctx, &qdrant.CountPoints{CollectionName: ix.name, Exact: qdrant.PtrOf(true)})
	if err != nil {
		return 0, 0, fmt.Errorf("qdrant: count: %w", err)
	}
	articles, err := ix.c.Count(ctx, &qdrant.CountPoints{CollectionName: ix.name, Exact: qdrant.PtrOf(true),
		Filter: &qdrant.Filter{Must: []*qdrant.Condition{qdrant.NewMatchInt(fChunk, 0)}}})
	if err != nil {
		return 0, 0, fmt.Errorf("qdrant: count: %w", err)
	}
	return int64(articles), int64(chunks), nil
}

// Close implements index.Index.
func (ix *Index) Close() error { return ix.c.Close() }

// fromQdrant reads a point's payload and vectors back.
func fromQdrant(pl map[string]*qdrant.Value, vs *qdrant.VectorsOutput) index.Point {
	str := func(k string) string { return pl[k].GetStringValue() }
	num := func(k string) int64 { return pl[k].GetIntegerValue() }
	list := func(k string) []string {
		var out []string
		for _, v := range pl[k].GetListValue().GetValues() {
			out = append(out, v.GetStringValue())
		}
		return out
	}
	p := index.Point{Payload: index.Payload{
		ArticleID: str(fArticle), Chunk: int(num(fChunk)), Slug: str(fSlug), Domain: str(fDomain), Status: str(fStatus),
		VerificationStatus: str(fVerif), Confidence: int32(num(fConfidence)), Tags: list(fTags), Langs: list(fLangs),
		Versions: list(fVersions), VerifiedAt: num(fVerifiedAt), UpdatedAt: num(fUpdatedAt),
		TitleZH: str(fTitleZH), TitleEN: str(fTitleEN), SummaryZH: str(fSummaryZH), SummaryEN: str(fSummaryEN),
		Heading: str(fHeading), TextZH: str(fTextZH), TextEN: str(fTextEN), Boost: pl[fBoost].GetDoubleValue(),
	}}
	named := vs.GetVectors().GetVectors()
	if d := named[denseName]; d != nil {
		p.Dense = d.GetDense().GetData()
		if p.Dense == nil {
			p.Dense = d.GetData()
		}
	}
	if s := named[sparseName]; s != nil {
		if sp := s.GetSparse(); sp != nil {
			p.Sparse = index.Sparse{Indices: sp.GetIndices(), Values: sp.GetValues()}
		} else {
			p.Sparse = index.Sparse{Indices: s.GetIndices().GetData(), Values: s.GetData()}
		}
	}
	return p
}
