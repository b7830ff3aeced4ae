package store_test

import (
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"buzhou.dev/article/internal/store"
	articlev1 "buzhou.dev/proto/gen/buzhou/article/v1"
)

// dbStore is a store that remembers how to open its database again, which the
// suite's persistence test needs.
type dbStore struct {
	store.Store
	again func(tb testing.TB) store.Store
}

// reopen closes s and opens its database again.
func reopen(t *testing.T, s store.Store) store.Store {
	t.Helper()
	d := s.(*dbStore)
	if err := d.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	return d.again(t)
}

// fixedClock returns a clock stopped at a time with nanoseconds, which the
// store must cut to microseconds.
func fixedClock() (store.Clock, time.Time) {
	at := time.Date(2026, 5, 6, 7, 8, 9, 123_456_789, time.UTC)
	return func() time.Time { return at }, at.Truncate(time.Microsecond)
}

// testClock checks that writes stamp the store's clock, not the wall clock,
// on updated_at and on the feed entry alike.
func testClock(t *testing.T, s store.Store, want time.Time) {
	t.Helper()
	created := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	if _, err := s.Create(t.Context(), &articlev1.Article{
		Id: "art_clock", Slug: "clock", Status: "draft", Revision: 1,
		CreatedAt: timestamppb.New(created), UpdatedAt: timestamppb.New(created),
	}); err != nil {
		t.Fatal(err)
	}
	got, err := s.Update(t.Context(), "art_clock", 1, articlev1.ChangeCause_CHANGE_CAUSE_AUTHOR_EDIT, func(*articlev1.Article) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	if !got.GetUpdatedAt().AsTime().Equal(want) {
		t.Errorf("updated_at = %v, want %v", got.GetUpdatedAt().AsTime(), want)
	}
	changes, err := s.Changes(t.Context(), 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(changes) != 2 {
		t.Fatalf("got %d changes, want 2", len(changes))
	}
	for _, c := range changes {
		if !c.GetChangeTime().AsTime().Equal(want) {
			t.Errorf("change %d change_time = %v, want %v", c.GetRevision(), c.GetChangeTime().AsTime(), want)
		}
	}
}
