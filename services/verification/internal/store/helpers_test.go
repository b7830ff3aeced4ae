package store_test

import (
	"testing"

	"buzhou.dev/verification/internal/store"
)

// closeAtEnd closes s when tb ends and reports a failing Close.
func closeAtEnd(tb testing.TB, s store.Store) {
	tb.Cleanup(func() {
		if err := s.Close(); err != nil {
			tb.Errorf("Close: %v", err)
		}
	})
}
