package store_test

import (
	"context"
	"path/filepath"
	"strconv"
	"testing"

	"buzhou.dev/platform/sqldb/sqldbtest"
	"buzhou.dev/verification/internal/store"
	"buzhou.dev/verification/internal/store/storetest"
)

// BenchmarkKeyByHash is the key check behind every authenticated call the
// interceptor's cache does not answer.
func BenchmarkKeyByHash(b *testing.B) {
	engines := []struct {
		name string
		open func(b *testing.B) store.Store
	}{
		{"sqlite", func(b *testing.B) store.Store {
			return openSQLiteAt(b, filepath.Join(b.TempDir(), "verification.db"), nil)
		}},
		{"postgres", func(b *testing.B) store.Store { return openPostgresAt(b, sqldbtest.FreshSchema(b), nil) }},
	}
	const n = 100
	for _, e := range engines {
		b.Run(e.name, func(b *testing.B) {
			s := e.open(b)
			ctx := context.Background()
			for i := range n {
				id := strconv.Itoa(i)
				owner := store.Principal{ID: "prn_" + id, Name: "agent " + id, Type: "third_party_agent"}
				k := store.Key{ID: "key_" + id, Name: "key " + id, PrincipalID: owner.ID, Prefix: "bzk_" + id,
					SecretHash: storetest.Hash("secret " + id), Scopes: []string{"articles:write", "verifications:write"}}
				if _, err := s.CreateKey(ctx, k, &owner); err != nil {
					b.Fatal(err)
				}
			}
			i := 0
			for b.Loop() {
				if _, _, err := s.KeyByHash(ctx, storetest.Hash("secret "+strconv.Itoa(i%n))); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}
