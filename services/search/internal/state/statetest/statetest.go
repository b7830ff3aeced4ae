// Package statetest is the contract suite of the search state store.
package statetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"buzhou.dev/platform/errs"
	"buzhou.dev/search/internal/state"
)

// Run runs the suite on stores that open returns, each new and empty.
func Run(t *testing.T, open func(t *testing.T) state.Store) {
	ctx := context.Background()
	t.Run("Cursor", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		if rev, err := s.Cursor(ctx, "embedded"); err != nil || rev != 0 {
			t.Fatalf("Cursor of a new store = %d, %v; want 0", rev, err)
		}
		for _, rev := range []int64{5, 9, 0} {
			if err := s.SaveCursor(ctx, "embedded", rev); err != nil {
				t.Fatal(err)
			}
			if got, err := s.Cursor(ctx, "embedded"); err != nil || got != rev {
				t.Fatalf("Cursor after saving %d = %d, %v", rev, got, err)
			}
		}
		if err := s.SaveCursor(ctx, "qdrant:buzhou", 3); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.Cursor(ctx, "embedded"); got != 0 {
			t.Fatalf("another index's cursor leaked: %d", got)
		}
	})
	t.Run("Unanswered", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		t0 := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
		if err := s.AddUnanswered(ctx, map[string]int64{"a": 1, "b": 3}, t0, 100); err != nil {
			t.Fatal(err)
		}
		if err := s.AddUnanswered(ctx, map[string]int64{"a": 1, "c": 1}, t0.Add(time.Hour), 100); err != nil {
			t.Fatal(err)
		}
		got, err := s.Unanswered(ctx, 10)
		if err != nil {
			t.Fatal(err)
		}
		want := []state.Unanswered{{Query: "b", Count: 3, LastSeenAt: t0}, {Query: "a", Count: 2, LastSeenAt: t0.Add(time.Hour)}, {Query: "c", Count: 1, LastSeenAt: t0.Add(time.Hour)}}
		if d := cmp.Diff(want, got); d != "" {
			t.Fatalf("unanswered (-want +got):\n%s", d)
		}
		if got, _ := s.Unanswered(ctx, 1); len(got) != 1 || got[0].Query != "b" {
			t.Fatalf("limit 1: %v", got)
		}
		// Keep 2: the rarest, oldest goes.
		if err := s.AddUnanswered(ctx, map[string]int64{"d": 1}, t0, 2); err != nil {
			t.Fatal(err)
		}
		got, _ = s.Unanswered(ctx, 10)
		if len(got) != 2 || got[0].Query != "b" || got[1].Query != "a" {
			t.Fatalf("after trimming to 2: %v", got)
		}
	})
	t.Run("Model", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		if _, err := s.Model(ctx, "lsa"); !errors.Is(err, errs.ErrNotFound) {
			t.Fatalf("Model of a new store: %v, want not found", err)
		}
		for _, data := range [][]byte{{1, 2, 3}, make([]byte, 3<<20)} {
			if err := s.SaveModel(ctx, "lsa", data); err != nil {
				t.Fatal(err)
			}
			got, err := s.Model(ctx, "lsa")
			if err != nil || len(got) != len(data) {
				t.Fatalf("Model = %d bytes, %v; want %d", len(got), err, len(data))
			}
		}
	})
}
