package qdrant_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"strings"
	"testing"

	"github.com/google/uuid"
	qc "github.com/qdrant/go-client/qdrant"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"buzhou.dev/search/internal/index"
	"buzhou.dev/search/internal/index/indextest"
	"buzhou.dev/search/internal/index/qdrant"
	"buzhou.dev/search/qdrantfake"
)

func collectionName() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return "buzhou_test_" + hex.EncodeToString(b)
}

func open(t *testing.T, url string) *qdrant.Index {
	t.Helper()
	ix, err := qdrant.Open(context.Background(), qdrant.Config{URL: url, APIKey: os.Getenv("QDRANT_API_KEY"), Collection: collectionName()})
	if err != nil {
		t.Fatal(err)
	}
	return ix
}

func TestContractOnFake(t *testing.T) {
	t.Parallel()
	_, addr := qdrantfake.Start(t)
	indextest.Run(t, func(t *testing.T) index.Index { return open(t, "http://"+addr) })
}

// TestContractOnQdrant runs the same suite against a real server; make
// test-qdrant sets QDRANT_URL. Each test uses a collection of its own and
// drops it at the end.
func TestContractOnQdrant(t *testing.T) {
	url := os.Getenv("QDRANT_URL")
	if url == "" {
		t.Skip("set QDRANT_URL (e.g. http://127.0.0.1:6334, the gRPC port) to run the index contract suite against a real Qdrant: make test-qdrant")
	}
	t.Parallel()
	indextest.Run(t, func(t *testing.T) index.Index {
		ix := open(t, url)
		t.Cleanup(func() { _ = ix.Reset(context.Background()) })
		return ix
	})
}

func TestPointIDsAreUUIDv5(t *testing.T) {
	t.Parallel()
	a, b := qdrant.PointID("art_x", 0), qdrant.PointID("art_x", 1)
	u, err := uuid.Parse(a)
	if err != nil || u.Version() != 5 || a == b || a != qdrant.PointID("art_x", 0) {
		t.Fatalf("ids %s, %s: want distinct, stable UUIDv5", a, b)
	}
}

func TestOpenRefusesTheRESTPort(t *testing.T) {
	t.Parallel()
	for _, u := range []string{"http://127.0.0.1:6333", "not a url", "ftp://x:6334"} {
		if _, err := qdrant.Open(context.Background(), qdrant.Config{URL: u, Collection: "c"}); err == nil || !strings.Contains(err.Error(), "QDRANT_URL") {
			t.Errorf("Open(%s) = %v", u, err)
		}
	}
}

func TestFailingUpsertIsReported(t *testing.T) {
	t.Parallel()
	fake, addr := qdrantfake.Start(t)
	ix := open(t, "http://"+addr)
	ctx := context.Background()
	if _, err := ix.Prepare(ctx, indextest.Schema()); err != nil {
		t.Fatal(err)
	}
	fake.FailUpserts(1)
	ch := []index.Change{{ArticleID: "a", Chunks: []index.Point{indextest.Point("a", []uint32{1}, 1)}}}
	if err := ix.Write(ctx, ch); status.Code(errorsCause(err)) != codes.Unavailable {
		t.Fatalf("Write while Qdrant fails = %v, want the UNAVAILABLE passed on", err)
	}
	if err := ix.Write(ctx, ch); err != nil {
		t.Fatalf("Write after recovery: %v", err)
	}
	if fake.Calls("Upsert") != 2 {
		t.Errorf("%d upserts", fake.Calls("Upsert"))
	}
}

func errorsCause(err error) error {
	for err != nil {
		if _, ok := status.FromError(err); ok {
			return err
		}
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return err
		}
		err = u.Unwrap()
	}
	return nil
}

// TestFakeRefusesWhatQdrantRefuses talks to the fake with the raw client.
func TestFakeRefusesWhatQdrantRefuses(t *testing.T) {
	t.Parallel()
	_, addr := qdrantfake.Start(t)
	host, port, _ := strings.Cut(addr, ":")
	c, err := qc.NewClient(&qc.Config{Host: host, Port: atoi(port), PoolSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	ctx := context.Background()
	create := &qc.CreateCollection{CollectionName: "c",
		VectorsConfig:       qc.NewVectorsConfigMap(map[string]*qc.VectorParams{"dense": {Size: 3, Distance: qc.Distance_Cosine}}),
		SparseVectorsConfig: qc.NewSparseVectorsConfig(map[string]*qc.SparseVectorParams{"lexical": {Modifier: qc.Modifier_Idf.Enum()}})}
	if err := c.CreateCollection(ctx, create); err != nil {
		t.Fatal(err)
	}
	good := func() *qc.PointStruct {
		return &qc.PointStruct{Id: qc.NewIDNum(1), Vectors: qc.NewVectorsMap(map[string]*qc.Vector{"dense": qc.NewVectorDense([]float32{1, 0, 0})})}
	}
	upsert := func(p *qc.PointStruct) error {
		_, err := c.Upsert(ctx, &qc.UpsertPoints{CollectionName: "c", Points: []*qc.PointStruct{p}, Wait: qc.PtrOf(true)})
		return err
	}
	cases := []struct {
		name string
		call func() error
		code codes.Code
		msg  string
	}{
		{"existing collection", func() error { return c.CreateCollection(ctx, create) }, codes.AlreadyExists, "already exists"},
		{"unknown collection", func() error {
			_, err := c.Count(ctx, &qc.CountPoints{CollectionName: "nope"})
			return err
		}, codes.NotFound, "doesn't exist"},
		{"collection name too long", func() error {
			return c.CreateCollection(ctx, &qc.CreateCollection{CollectionName: strings.Repeat("x", 256)})
		}, codes.InvalidArgument, "collection_name"},
		{"vector size 0", func() error {
			return c.CreateCollection(ctx, &qc.CreateCollection{CollectionName: "z", VectorsConfig: qc.NewVectorsConfigMap(map[string]*qc.VectorParams{"d": {Size: 0}})})
		}, codes.InvalidArgument, "1 to 65536"},
		{"string point id", func() error { p := good(); p.Id = qc.NewID("art_yQUePTDy_sfd"); return upsert(p) }, codes.InvalidArgument, "Unable to parse UUID"},
		{"wrong dimension", func() error {
			p := good()
			p.Vectors = qc.NewVectorsMap(map[string]*qc.Vector{"dense": qc.NewVectorDense([]float32{1, 0})})
			return upsert(p)
		}, codes.InvalidArgument, "expected dim: 3, got 2"},
		{"unknown vector name", func() error {
			p := good()
			p.Vectors = qc.NewVectorsMap(map[string]*qc.Vector{"other": qc.NewVectorDense([]float32{1, 0, 0})})
			return upsert(p)
		}, codes.InvalidArgument, "Not existing vector name"},
		{"unnamed vector on named collection", func() error { p := good(); p.Vectors = qc.NewVectors(1, 0, 0); return upsert(p) }, codes.InvalidArgument, "vector name"},
		{"repeated sparse indices", func() error {
			p := good()
			p.Vectors = qc.NewVectorsMap(map[string]*qc.Vector{"dense": qc.NewVectorDense([]float32{1, 0, 0}), "lexical": qc.NewVectorSparse([]uint32{1, 1}, []float32{1, 2})})
			return upsert(p)
		}, codes.InvalidArgument, "unique"},
		{"sparse lengths differ", func() error {
			p := good()
			p.Vectors = qc.NewVectorsMap(map[string]*qc.Vector{"dense": qc.NewVectorDense([]float32{1, 0, 0}), "lexical": qc.NewVectorSparse([]uint32{1, 2}, []float32{1})})
			return upsert(p)
		}, codes.InvalidArgument, "same length"},
		{"query without using", func() error {
			_, err := c.Query(ctx, &qc.QueryPoints{CollectionName: "c", Query: qc.NewQueryDense([]float32{1, 0, 0})})
			return err
		}, codes.InvalidArgument, "vector name"},
		{"query dimension", func() error {
			_, err := c.Query(ctx, &qc.QueryPoints{CollectionName: "c", Query: qc.NewQueryDense([]float32{1}), Using: qc.PtrOf("dense")})
			return err
		}, codes.InvalidArgument, "expected dim"},
		{"limit 0", func() error {
			_, err := c.Query(ctx, &qc.QueryPoints{CollectionName: "c", Query: qc.NewQueryDense([]float32{1, 0, 0}), Using: qc.PtrOf("dense"), Limit: qc.PtrOf(uint64(0))})
			return err
		}, codes.InvalidArgument, "limit"},
		{"fusion without prefetch", func() error {
			_, err := c.Query(ctx, &qc.QueryPoints{CollectionName: "c", Query: qc.NewQueryFusion(qc.Fusion_RRF)})
			return err
		}, codes.InvalidArgument, "prefetch"},
		{"empty condition", func() error {
			_, err := c.Count(ctx, &qc.CountPoints{CollectionName: "c", Filter: &qc.Filter{Must: []*qc.Condition{{}}}})
			return err
		}, codes.InvalidArgument, "condition"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			if status.Code(errorsCause(err)) != tc.code || !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("got %v, want %s mentioning %q", err, tc.code, tc.msg)
			}
		})
	}
	// Type-strict filters and array matching.
	p := good()
	p.Payload = qc.NewValueMap(map[string]any{"tags": []any{"a", "b"}, "n": int64(5)})
	if err := upsert(p); err != nil {
		t.Fatal(err)
	}
	count := func(f *qc.Filter) uint64 {
		n, err := c.Count(ctx, &qc.CountPoints{CollectionName: "c", Filter: f, Exact: qc.PtrOf(true)})
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	if count(&qc.Filter{Must: []*qc.Condition{qc.NewMatchKeyword("tags", "b")}}) != 1 ||
		count(&qc.Filter{Must: []*qc.Condition{qc.NewMatchKeyword("n", "5")}}) != 0 ||
		count(&qc.Filter{Must: []*qc.Condition{qc.NewMatchInt("n", 5)}}) != 1 ||
		count(&qc.Filter{Must: []*qc.Condition{qc.NewMatchKeyword("missing", "x")}}) != 0 ||
		count(&qc.Filter{MustNot: []*qc.Condition{qc.NewMatchKeyword("missing", "x")}}) != 1 {
		t.Errorf("filters do not match as Qdrant's do")
	}
}

func atoi(s string) int {
	n := 0
	for _, c := range s {
		n = n*10 + int(c-'0')
	}
	return n
}
