package store_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"buzhou.dev/article/internal/store"
	articlev1 "buzhou.dev/proto/gen/buzhou/article/v1"
)

type engine struct {
	name string
	open func(tb testing.TB) store.Store
}

func engines() []engine {
	return []engine{{"sqlite", newSQLite}, {"postgres", newPostgres}}
}

// benchArticle is about the size of a real one: a few KiB of body per language.
func benchArticle(i int) *articlev1.Article {
	id := "art_bench_" + strconv.Itoa(i)
	ts := timestamppb.New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Second))
	return &articlev1.Article{
		Id:                 id,
		Slug:               "bench-" + strconv.Itoa(i),
		Title:              &articlev1.LocalizedText{En: "Fix the thing " + id, Zh: "修复 " + id},
		Summary:            &articlev1.LocalizedText{En: "What goes wrong and how to fix it."},
		Content:            &articlev1.LocalizedText{En: strings.Repeat("Step by step, the fix. ", 200), Zh: strings.Repeat("一步一步地修复。", 200)},
		Domain:             "agent",
		Tags:               []string{"go", "sqlite", "postgres"},
		CodeBlocks:         []*articlev1.CodeBlock{{Id: "cb1", Language: "bash", Code: "go test ./...", Runnable: true}},
		VerificationStatus: "pending",
		Status:             "published",
		CreatedAt:          ts,
		UpdatedAt:          ts,
		Revision:           1,
	}
}

func BenchmarkCreate(b *testing.B) {
	for _, e := range engines() {
		b.Run(e.name, func(b *testing.B) {
			s := e.open(b)
			ctx := context.Background()
			i := 0
			for b.Loop() {
				if _, err := s.Create(ctx, benchArticle(i)); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}

// benchStore opens a store of engine e holding n articles.
func benchStore(b *testing.B, e engine, n int) store.Store {
	b.Helper()
	s := e.open(b)
	for i := range n {
		if _, err := s.Create(context.Background(), benchArticle(i)); err != nil {
			b.Fatal(err)
		}
	}
	return s
}

func BenchmarkGet(b *testing.B) {
	const n = 200
	for _, e := range engines() {
		b.Run(e.name, func(b *testing.B) {
			s := benchStore(b, e, n)
			ctx := context.Background()
			i := 0
			for b.Loop() {
				if _, err := s.Get(ctx, "art_bench_"+strconv.Itoa(i%n)); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}

func BenchmarkUpdate(b *testing.B) {
	for _, e := range engines() {
		b.Run(e.name, func(b *testing.B) {
			s := benchStore(b, e, 1)
			ctx := context.Background()
			i := 0
			for b.Loop() {
				if _, err := s.Update(ctx, "art_bench_0", 0, articlev1.ChangeCause_CHANGE_CAUSE_AUTHOR_EDIT, func(a *articlev1.Article) error {
					a.ConfidenceScore = int32(i % 100)
					return nil
				}); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}

// BenchmarkList reads the first page of 20 of a domain.
func BenchmarkList(b *testing.B) {
	const n = 200
	for _, e := range engines() {
		b.Run(e.name, func(b *testing.B) {
			s := benchStore(b, e, n)
			ctx := context.Background()
			for b.Loop() {
				if got, _, err := s.List(ctx, store.ListQuery{Domain: "agent", PageSize: 20}); err != nil || len(got) != 20 {
					b.Fatal(len(got), err)
				}
			}
		})
	}
}
