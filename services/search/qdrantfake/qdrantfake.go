// Package qdrantfake is an in-process Qdrant for tests (the search
// service's own and the stack tests), built on the
// go-client's generated gRPC server interfaces. It serves what the search
// service's adapter calls and refuses what real Qdrant refuses: point ids
// other than unsigned integers or UUIDs, unknown collections and vector
// names, wrong dense sizes, malformed sparse vectors, empty conditions,
// fusion without prefetches, limits below 1. Its semantics copy Qdrant's
// (notes/qdrant.md): upserts replace whole points, filters match arrays by
// any element and are type-strict, the sparse IDF modifier, weighted RRF,
// formula rescoring by a payload variable. Everything else is Unimplemented,
// so a new call in the adapter fails loudly here first.
package qdrantfake

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/qdrant/go-client/qdrant"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// Server is the fake.
type Server struct {
	qdrant.UnimplementedQdrantServer

	mu          sync.Mutex
	collections map[string]*collection
	// Calls counts RPCs by method name, for tests that look at traffic.
	calls map[string]int
	// fail, when set, answers the next Upsert calls with UNAVAILABLE.
	failUpserts int
}

// collectionsServer and pointsServer serve the two services whose method
// names overlap (Get, Delete) over the one state.
type collectionsServer struct {
	*Server
	qdrant.UnimplementedCollectionsServer
}

type pointsServer struct {
	*Server
	qdrant.UnimplementedPointsServer
}

type collection struct {
	dense    map[string]uint64 // name → size
	sparse   map[string]bool   // name → IDF modifier
	metadata map[string]*qdrant.Value
	points   map[string]*point
	indexes  map[string]qdrant.FieldType
}

type point struct {
	id      *qdrant.PointId
	payload map[string]*qdrant.Value
	dense   map[string][]float32
	sparse  map[string]sparseVec
}

type sparseVec struct {
	idx  []uint32
	vals []float32
}

// Start serves a new fake on a loopback port until tb ends and returns its
// address.
func Start(tb testing.TB) (*Server, string) {
	tb.Helper()
	s := &Server{collections: map[string]*collection{}, calls: map[string]int{}}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	// The client pings every 10 s; permit it, or idle tests die with
	// GOAWAY "too_many_pings".
	g := grpc.NewServer(grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 5 * time.Second, PermitWithoutStream: true}),
		grpc.UnaryInterceptor(func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
			s.mu.Lock()
			s.calls[info.FullMethod[strings.LastIndex(info.FullMethod, "/")+1:]]++
			s.mu.Unlock()
			return h(ctx, req)
		}))
	qdrant.RegisterQdrantServer(g, s)
	qdrant.RegisterCollectionsServer(g, collectionsServer{Server: s})
	qdrant.RegisterPointsServer(g, pointsServer{Server: s})
	go g.Serve(lis)
	tb.Cleanup(g.Stop)
	return s, lis.Addr().String()
}

// Calls returns how often method was called.
func (s *Server) Calls(method string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[method]
}

// FailUpserts makes the next n upserts fail with UNAVAILABLE.
func (s *Server) FailUpserts(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failUpserts = n
}

func invalid(format string, args ...any) error {
	return status.Errorf(codes.InvalidArgument, "Wrong input: "+format, args...)
}

// get returns the collection; s.mu is held.
func (s *Server) get(name string) (*collection, error) {
	c, ok := s.collections[name]
	if !ok {
		return nil, status.Errorf(codes.NotFound, "Not found: Collection `%s` doesn't exist!", name)
	}
	return c, nil
}

// filtered returns the collection after checking a query's filter; s.mu
// is held.
func (s *Server) filtered(name string, f *qdrant.Filter) (*collection, error) {
	c, err := s.get(name)
	if err != nil {
		return nil, err
	}
	return c, checkFilter(f)
}

// HealthCheck implements qdrant.QdrantServer.
func (s *Server) HealthCheck(context.Context, *qdrant.HealthCheckRequest) (*qdrant.HealthCheckReply, error) {
	return &qdrant.HealthCheckReply{Title: "qdrant - vector search engine (fake)", Version: "1.17.1"}, nil
}

// Create implements qdrant.CollectionsServer.
func (s collectionsServer) Create(_ context.Context, req *qdrant.CreateCollection) (*qdrant.CollectionOperationResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	name := req.GetCollectionName()
	if len(name) < 1 || len(name) > 255 {
		return nil, invalid("Validation error in body: collection_name: must be 1–255 characters")
	}
	if _, ok := s.collections[name]; ok {
		return nil, status.Errorf(codes.AlreadyExists, "Wrong input: Collection `%s` already exists!", name)
	}
	c := &collection{dense: map[string]uint64{}, sparse: map[string]bool{}, metadata: req.GetMetadata(), points: map[string]*point{}, indexes: map[string]qdrant.FieldType{}}
	vc := req.GetVectorsConfig()
	if vc.GetParams() != nil {
		return nil, status.Error(codes.Unimplemented, "fake: only named vectors")
	}
	for n, p := range vc.GetParamsMap().GetMap() {
		if p.GetSize() < 1 || p.GetSize() > 65536 {
			return nil, invalid("Validation error: vectors_config.size: value %d invalid, must be from 1 to 65536", p.GetSize())
		}
		c.dense[n] = p.GetSize()
	}
	for n, p := range req.GetSparseVectorsConfig().GetMap() {
		c.sparse[n] = p.GetModifier() == qdrant.Modifier_Idf
	}
	s.collections[name] = c
	return &qdrant.CollectionOperationResponse{Result: true}, nil
}

// CollectionExists implements qdrant.CollectionsServer.
func (s collectionsServer) CollectionExists(_ context.Context, req *qdrant.CollectionExistsRequest) (*qdrant.CollectionExistsResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.collections[req.GetCollectionName()]
	return &qdrant.CollectionExistsResponse{Result: &qdrant.CollectionExists{Exists: ok}}, nil
}

// Get implements qdrant.CollectionsServer.
func (s collectionsServer) Get(_ context.Context, req *qdrant.GetCollectionInfoRequest) (*qdrant.GetCollectionInfoResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, err := s.get(req.GetCollectionName())
	if err != nil {
		return nil, err
	}
	n := uint64(len(c.points))
	return &qdrant.GetCollectionInfoResponse{Result: &qdrant.CollectionInfo{
		Status: qdrant.CollectionStatus_Green, PointsCount: &n, Config: &qdrant.CollectionConfig{Metadata: c.metadata},
	}}, nil
}

// List implements qdrant.CollectionsServer.
func (s collectionsServer) List(context.Context, *qdrant.ListCollectionsRequest) (*qdrant.ListCollectionsResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := &qdrant.ListCollectionsResponse{}
	for n := range s.collections {
		out.Collections = append(out.Collections, &qdrant.CollectionDescription{Name: n})
	}
	return out, nil
}

// Delete implements qdrant.CollectionsServer.
func (s collectionsServer) Delete(_ context.Context, req *qdrant.DeleteCollection) (*qdrant.CollectionOperationResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.get(req.GetCollectionName()); err != nil {
		return nil, err
	}
	delete(s.collections, req.GetCollectionName())
	return &qdrant.CollectionOperationResponse{Result: true}, nil
}

func done() *qdrant.PointsOperationResponse {
	return &qdrant.PointsOperationResponse{Result: &qdrant.UpdateResult{Status: qdrant.UpdateStatus_Completed}}
}

// CreateFieldIndex implements qdrant.PointsServer.
func (s pointsServer) CreateFieldIndex(_ context.Context, req *qdrant.CreateFieldIndexCollection) (*qdrant.PointsOperationResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, err := s.get(req.GetCollectionName())
	if err != nil {
		return nil, err
	}
	if req.GetFieldName() == "" {
		return nil, invalid("field_name must not be empty")
	}
	c.indexes[req.GetFieldName()] = req.GetFieldType()
	return done(), nil
}

// idKey checks a point id as Qdrant does and returns its map key.
func idKey(id *qdrant.PointId) (string, error) {
	switch v := id.GetPointIdOptions().(type) {
	case *qdrant.PointId_Num:
		return fmt.Sprintf("n%020d", v.Num), nil
	case *qdrant.PointId_Uuid:
		u, err := uuid.Parse(v.Uuid)
		if err != nil {
			return "", invalid("Unable to parse UUID: %s", v.Uuid)
		}
		return "u" + u.String(), nil
	}
	return "", invalid("point id is missing")
}

// Upsert implements qdrant.PointsServer.
func (s pointsServer) Upsert(_ context.Context, req *qdrant.UpsertPoints) (*qdrant.PointsOperationResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, err := s.get(req.GetCollectionName())
	if err != nil {
		return nil, err
	}
	if s.failUpserts > 0 {
		s.failUpserts--
		return nil, status.Error(codes.Unavailable, "fake: service unavailable")
	}
	// Check every point first: a refused request changes nothing.
	var ps []*point
	var keys []string
	for _, in := range req.GetPoints() {
		k, err := idKey(in.GetId())
		if err != nil {
			return nil, err
		}
		p, err := c.vectors(in)
		if err != nil {
			return nil, err
		}
		ps, keys = append(ps, p), append(keys, k)
	}
	for i, p := range ps {
		c.points[keys[i]] = p // an upsert replaces the whole point
	}
	return done(), nil
}

func (c *collection) vectors(in *qdrant.PointStruct) (*point, error) {
	p := &point{id: in.GetId(), payload: in.GetPayload(), dense: map[string][]float32{}, sparse: map[string]sparseVec{}}
	vs := in.GetVectors()
	if vs.GetVector() != nil {
		return nil, invalid("Not existing vector name error: ")
	}
	for name, v := range vs.GetVectors().GetVectors() {
		if size, ok := c.dense[name]; ok {
			data := v.GetDense().GetData()
			if data == nil {
				data = v.GetData()
			}
			if uint64(len(data)) != size {
				return nil, invalid("Vector dimension error: expected dim: %d, got %d", size, len(data))
			}
			p.dense[name] = normalize(data)
			continue
		}
		if _, ok := c.sparse[name]; ok {
			sv, err := sparseOf(v.GetSparse().GetIndices(), v.GetSparse().GetValues())
			if err != nil {
				return nil, err
			}
			p.sparse[name] = sv
			continue
		}
		return nil, invalid("Not existing vector name error: %s", name)
	}
	return p, nil
}

func sparseOf(idx []uint32, vals []float32) (sparseVec, error) {
	if len(idx) != len(vals) {
		return sparseVec{}, invalid("Sparse vector error: indices and values must be of the same length")
	}
	seen := map[uint32]bool{}
	for _, i := range idx {
		if seen[i] {
			return sparseVec{}, invalid("Sparse vector error: indices must be unique")
		}
		seen[i] = true
	}
	return sparseVec{idx: slices.Clone(idx), vals: slices.Clone(vals)}, nil
}

func normalize(v []float32) []float32 {
	var n float64
	for _, x := range v {
		n += float64(x) * float64(x)
	}
	out := slices.Clone(v)
	if n == 0 {
		return out
	}
	inv := float32(1 / math.Sqrt(n))
	for i := range out {
		out[i] *= inv
	}
	return out
}

// Delete implements qdrant.PointsServer: by ids or by filter; missing ids
// are fine.
func (s pointsServer) Delete(_ context.Context, req *qdrant.DeletePoints) (*qdrant.PointsOperationResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, err := s.get(req.GetCollectionName())
	if err != nil {
		return nil, err
	}
	sel := req.GetPoints()
	if ids := sel.GetPoints(); ids != nil {
		for _, id := range ids.GetIds() {
			k, err := idKey(id)
			if err != nil {
				return nil, err
			}
			delete(c.points, k)
		}
		return done(), nil
	}
	f := sel.GetFilter()
	if f == nil {
		return nil, invalid("points selector is empty")
	}
	if err := checkFilter(f); err != nil {
		return nil, err
	}
	for k, p := range c.points {
		if match(f, p) {
			delete(c.points, k)
		}
	}
	return done(), nil
}

// checkFilter refuses conditions that set nothing.
func checkFilter(f *qdrant.Filter) error {
	if f == nil {
		return nil
	}
	for _, list := range [][]*qdrant.Condition{f.GetMust(), f.GetShould(), f.GetMustNot()} {
		for _, c := range list {
			switch v := c.GetConditionOneOf().(type) {
			case *qdrant.Condition_Field:
				fc := v.Field
				if fc.GetKey() == "" || fc.GetMatch() == nil && fc.GetRange() == nil {
					return invalid("Validation error: a field condition must set match or range")
				}
			case *qdrant.Condition_Filter:
				if err := checkFilter(v.Filter); err != nil {
					return err
				}
			case *qdrant.Condition_HasId:
			case nil:
				return invalid("Validation error: a condition must set something")
			default:
				return status.Errorf(codes.Unimplemented, "fake: condition %T", v)
			}
		}
	}
	return nil
}

// match applies a (checked) filter: must = all, should = at least one,
// must_not = none.
func match(f *qdrant.Filter, p *point) bool {
	if f == nil {
		return true
	}
	for _, c := range f.GetMust() {
		if !cond(c, p) {
			return false
		}
	}
	if sh := f.GetShould(); len(sh) > 0 && !slices.ContainsFunc(sh, func(c *qdrant.Condition) bool { return cond(c, p) }) {
		return false
	}
	for _, c := range f.GetMustNot() {
		if cond(c, p) {
			return false
		}
	}
	return true
}

func cond(c *qdrant.Condition, p *point) bool {
	switch v := c.GetConditionOneOf().(type) {
	case *qdrant.Condition_Filter:
		return match(v.Filter, p)
	case *qdrant.Condition_HasId:
		for _, id := range v.HasId.GetHasId() {
			if proto.Equal(id, p.id) {
				return true
			}
		}
		return false
	case *qdrant.Condition_Field:
		val, ok := p.payload[v.Field.GetKey()]
		if !ok {
			return false // a missing field fails match and range
		}
		// An array matches when any element does.
		vals := []*qdrant.Value{val}
		if l := val.GetListValue(); l != nil {
			vals = l.GetValues()
		}
		return slices.ContainsFunc(vals, func(x *qdrant.Value) bool { return fieldMatch(v.Field, x) })
	}
	return false
}

// fieldMatch is type-strict: a keyword never matches a number.
func fieldMatch(fc *qdrant.FieldCondition, x *qdrant.Value) bool {
	if m := fc.GetMatch(); m != nil {
		switch mv := m.GetMatchValue().(type) {
		case *qdrant.Match_Keyword:
			s, ok := x.GetKind().(*qdrant.Value_StringValue)
			return ok && s.StringValue == mv.Keyword
		case *qdrant.Match_Keywords:
			s, ok := x.GetKind().(*qdrant.Value_StringValue)
			return ok && slices.Contains(mv.Keywords.GetStrings(), s.StringValue)
		case *qdrant.Match_Integer:
			i, ok := x.GetKind().(*qdrant.Value_IntegerValue)
			return ok && i.IntegerValue == mv.Integer
		}
		return false
	}
	var n float64
	switch k := x.GetKind().(type) {
	case *qdrant.Value_IntegerValue:
		n = float64(k.IntegerValue)
	case *qdrant.Value_DoubleValue:
		n = k.DoubleValue
	default:
		return false
	}
	r := fc.GetRange()
	return (r.Gte == nil || n >= r.GetGte()) && (r.Gt == nil || n > r.GetGt()) &&
		(r.Lte == nil || n <= r.GetLte()) && (r.Lt == nil || n < r.GetLt())
}

type scored struct {
	key   string
	p     *point
	score float64
}

// Query implements qdrant.PointsServer.
func (s pointsServer) Query(_ context.Context, req *qdrant.QueryPoints) (*qdrant.QueryResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, err := s.get(req.GetCollectionName())
	if err != nil {
		return nil, err
	}
	limit := uint64(10)
	if req.Limit != nil {
		limit = req.GetLimit()
	}
	if limit < 1 {
		return nil, invalid("Validation error: limit: value 0 invalid, must be 1 or more")
	}
	if err := checkFilter(req.GetFilter()); err != nil {
		return nil, err
	}
	res, err := c.run(req.GetPrefetch(), req.GetQuery(), req.GetUsing(), req.GetFilter(), req.ScoreThreshold, int(limit+req.GetOffset()))
	if err != nil {
		return nil, err
	}
	res = res[min(int(req.GetOffset()), len(res)):] // offset applies after fusion
	out := &qdrant.QueryResponse{}
	for _, r := range res {
		sp := &qdrant.ScoredPoint{Id: r.p.id, Score: float32(r.score), Payload: selectPayload(req.GetWithPayload(), r.p.payload)}
		if req.GetWithVectors().GetEnable() {
			sp.Vectors = r.p.output()
		}
		out.Result = append(out.Result, sp)
	}
	return out, nil
}

func (p *point) output() *qdrant.VectorsOutput {
	m := map[string]*qdrant.VectorOutput{}
	for n, d := range p.dense {
		m[n] = &qdrant.VectorOutput{Vector: &qdrant.VectorOutput_Dense{Dense: &qdrant.DenseVector{Data: d}}}
	}
	for n, sv := range p.sparse {
		m[n] = &qdrant.VectorOutput{Vector: &qdrant.VectorOutput_Sparse{Sparse: &qdrant.SparseVector{Indices: sv.idx, Values: sv.vals}}}
	}
	return &qdrant.VectorsOutput{VectorsOptions: &qdrant.VectorsOutput_Vectors{Vectors: &qdrant.NamedVectorsOutput{Vectors: m}}}
}

// run evaluates a query over its prefetches (each filtered by the root
// filter too), best first, at most limit.
func (c *collection) run(prefetch []*qdrant.PrefetchQuery, q *qdrant.Query, using string, root *qdrant.Filter, threshold *float32, limit int) ([]scored, error) {
	var lists [][]scored
	for _, p := range prefetch {
		if err := checkFilter(p.GetFilter()); err != nil {
			return nil, err
		}
		l := 10
		if p.Limit != nil {
			l = int(p.GetLimit())
		}
		if l < 1 {
			return nil, invalid("Validation error: prefetch limit must be 1 or more")
		}
		f := &qdrant.Filter{Must: []*qdrant.Condition{qdrant.NewFilterAsCondition(orAll(root)), qdrant.NewFilterAsCondition(orAll(p.GetFilter()))}}
		res, err := c.run(p.GetPrefetch(), p.GetQuery(), p.GetUsing(), f, p.ScoreThreshold, l)
		if err != nil {
			return nil, err
		}
		lists = append(lists, res)
	}
	var out []scored
	switch v := q.GetVariant().(type) {
	case *qdrant.Query_Nearest:
		if len(prefetch) > 0 {
			return nil, status.Error(codes.Unimplemented, "fake: nearest over prefetches")
		}
		var err error
		if out, err = c.nearest(v.Nearest, using, root); err != nil {
			return nil, err
		}
	case *qdrant.Query_Rrf, *qdrant.Query_Fusion:
		if len(prefetch) == 0 {
			return nil, invalid("Validation error: fusion queries need prefetches")
		}
		k, weights := 2, []float32(nil)
		if r, ok := v.(*qdrant.Query_Rrf); ok {
			if r.Rrf.K != nil {
				k = int(r.Rrf.GetK())
			}
			weights = r.Rrf.GetWeights()
			if len(weights) > 0 && len(weights) != len(prefetch) {
				return nil, invalid("Validation error: rrf weights must match the prefetches")
			}
		} else if v.(*qdrant.Query_Fusion).Fusion != qdrant.Fusion_RRF {
			return nil, status.Error(codes.Unimplemented, "fake: only RRF fusion")
		}
		out = fuse(lists, weights, k)
	case *qdrant.Query_Formula:
		if len(prefetch) != 1 {
			return nil, status.Error(codes.Unimplemented, "fake: formulas over exactly one prefetch")
		}
		var err error
		if out, err = formula(v.Formula, lists[0]); err != nil {
			return nil, err
		}
	default:
		return nil, status.Errorf(codes.Unimplemented, "fake: query %T", v)
	}
	if threshold != nil {
		out = slices.DeleteFunc(out, func(r scored) bool { return r.score < float64(*threshold) })
	}
	return out[:min(limit, len(out))], nil
}

// orAll is f, or a filter matching everything.
func orAll(f *qdrant.Filter) *qdrant.Filter {
	if f == nil {
		return &qdrant.Filter{}
	}
	return f
}

func (c *collection) nearest(in *qdrant.VectorInput, using string, f *qdrant.Filter) ([]scored, error) {
	var out []scored
	switch v := in.GetVariant().(type) {
	case *qdrant.VectorInput_Dense:
		size, ok := c.dense[using]
		if !ok {
			return nil, invalid("Not existing vector name error: %s", using)
		}
		if uint64(len(v.Dense.GetData())) != size {
			return nil, invalid("Vector dimension error: expected dim: %d, got %d", size, len(v.Dense.GetData()))
		}
		qv := normalize(v.Dense.GetData())
		for k, p := range c.points {
			d, ok := p.dense[using]
			if !ok || !match(f, p) {
				continue
			}
			var dot float64
			for i := range qv {
				dot += float64(qv[i]) * float64(d[i])
			}
			out = append(out, scored{k, p, dot})
		}
	case *qdrant.VectorInput_Sparse:
		idf, ok := c.sparse[using]
		if !ok {
			return nil, invalid("Not existing vector name error: %s", using)
		}
		q, err := sparseOf(v.Sparse.GetIndices(), v.Sparse.GetValues())
		if err != nil {
			return nil, err
		}
		weights := map[uint32]float64{}
		n, df := 0, map[uint32]int{}
		for _, p := range c.points {
			if sv, ok := p.sparse[using]; ok {
				n++
				for _, i := range sv.idx {
					df[i]++
				}
			}
		}
		for j, i := range q.idx {
			w := float64(q.vals[j])
			if idf {
				w *= math.Log((float64(n)-float64(df[i])+0.5)/(float64(df[i])+0.5) + 1)
			}
			weights[i] = w
		}
		for k, p := range c.points {
			sv, ok := p.sparse[using]
			if !ok || !match(f, p) {
				continue
			}
			score, hit := 0.0, false
			for j, i := range sv.idx {
				if w, ok := weights[i]; ok {
					score += w * float64(sv.vals[j])
					hit = true
				}
			}
			if hit {
				out = append(out, scored{k, p, score})
			}
		}
	default:
		if using == "" {
			return nil, invalid("Not existing vector name error: ")
		}
		return nil, status.Errorf(codes.Unimplemented, "fake: nearest %T", v)
	}
	sortScored(out)
	return out, nil
}

// sortScored orders best first, ties by id.
func sortScored(s []scored) {
	slices.SortFunc(s, func(a, b scored) int {
		if c := cmp.Compare(b.score, a.score); c != 0 {
			return c
		}
		return strings.Compare(a.key, b.key)
	})
}

// fuse is Qdrant's weighted RRF: Σ 1 / (rank/weight + k − 1), rank from 1.
func fuse(lists [][]scored, weights []float32, k int) []scored {
	byKey := map[string]*scored{}
	for li, l := range lists {
		w := 1.0
		if len(weights) > 0 {
			w = float64(weights[li])
		}
		if w <= 0 {
			continue
		}
		for r, x := range l {
			e := byKey[x.key]
			if e == nil {
				e = &scored{key: x.key, p: x.p}
				byKey[x.key] = e
			}
			e.score += 1 / (float64(r+1)/w + float64(k) - 1)
		}
	}
	out := make([]scored, 0, len(byKey))
	for _, e := range byKey {
		out = append(out, *e)
	}
	sortScored(out)
	return out
}

// formula rescores with the one formula shape the adapter sends:
// mult($score, <payload number>), with defaults for a missing variable.
func formula(f *qdrant.Formula, in []scored) ([]scored, error) {
	m := f.GetExpression().GetMult().GetMult()
	if len(m) != 2 || m[0].GetVariable() != "$score" || m[1].GetVariable() == "" {
		return nil, status.Error(codes.Unimplemented, "fake: only mult($score, variable) formulas")
	}
	key := m[1].GetVariable()
	out := make([]scored, len(in))
	for i, x := range in {
		v, ok := x.p.payload[key]
		if !ok {
			v, ok = f.GetDefaults()[key]
		}
		if !ok {
			return nil, invalid("No value found for variable %s and no default given", key)
		}
		factor := v.GetDoubleValue()
		if iv, isInt := v.GetKind().(*qdrant.Value_IntegerValue); isInt {
			factor = float64(iv.IntegerValue)
		}
		out[i] = scored{x.key, x.p, x.score * factor}
	}
	sortScored(out)
	return out, nil
}

// Scroll implements qdrant.PointsServer: by id order, filtered.
func (s pointsServer) Scroll(_ context.Context, req *qdrant.ScrollPoints) (*qdrant.ScrollResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, err := s.filtered(req.GetCollectionName(), req.GetFilter())
	if err != nil {
		return nil, err
	}
	limit := 10
	if req.Limit != nil {
		limit = int(req.GetLimit())
	}
	if limit < 1 {
		return nil, invalid("Validation error: limit: must be 1 or more")
	}
	var keys []string
	for k, p := range c.points {
		if match(req.GetFilter(), p) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	if off := req.GetOffset(); off != nil {
		k, err := idKey(off)
		if err != nil {
			return nil, err
		}
		i, _ := slices.BinarySearch(keys, k)
		keys = keys[i:]
	}
	out := &qdrant.ScrollResponse{}
	for i, k := range keys {
		if i == limit {
			out.NextPageOffset = c.points[k].id
			break
		}
		out.Result = append(out.Result, c.points[k].retrieved(req.GetWithPayload(), req.GetWithVectors()))
	}
	return out, nil
}

// selectPayload applies a payload selector: all, none, only or all but
// some fields.
func selectPayload(sel *qdrant.WithPayloadSelector, pl map[string]*qdrant.Value) map[string]*qdrant.Value {
	switch {
	case sel.GetInclude() != nil:
		out := map[string]*qdrant.Value{}
		for _, f := range sel.GetInclude().GetFields() {
			if v, ok := pl[f]; ok {
				out[f] = v
			}
		}
		return out
	case sel.GetExclude() != nil:
		out := map[string]*qdrant.Value{}
		for k, v := range pl {
			if !slices.Contains(sel.GetExclude().GetFields(), k) {
				out[k] = v
			}
		}
		return out
	case sel.GetEnable():
		return pl
	}
	return nil
}

// retrieved is p as Scroll and Get return it.
func (p *point) retrieved(payload *qdrant.WithPayloadSelector, vectors *qdrant.WithVectorsSelector) *qdrant.RetrievedPoint {
	rp := &qdrant.RetrievedPoint{Id: p.id, Payload: selectPayload(payload, p.payload)}
	if vectors.GetEnable() {
		rp.Vectors = p.output()
	}
	return rp
}

// Get implements qdrant.PointsServer: points by id, missing ones left out.
func (s pointsServer) Get(_ context.Context, req *qdrant.GetPoints) (*qdrant.GetResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, err := s.get(req.GetCollectionName())
	if err != nil {
		return nil, err
	}
	out := &qdrant.GetResponse{}
	for _, id := range req.GetIds() {
		k, err := idKey(id)
		if err != nil {
			return nil, err
		}
		p, ok := c.points[k]
		if !ok {
			continue
		}
		out.Result = append(out.Result, p.retrieved(req.GetWithPayload(), req.GetWithVectors()))
	}
	return out, nil
}

// Count implements qdrant.PointsServer (always exact).
func (s pointsServer) Count(_ context.Context, req *qdrant.CountPoints) (*qdrant.CountResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, err := s.filtered(req.GetCollectionName(), req.GetFilter())
	if err != nil {
		return nil, err
	}
	n := uint64(0)
	for _, p := range c.points {
		if match(req.GetFilter(), p) {
			n++
		}
	}
	return &qdrant.CountResponse{Result: &qdrant.CountResult{Count: n}}, nil
}
