package identity_test

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"

	"buzhou.dev/platform/auth"
	identityv1 "buzhou.dev/proto/gen/buzhou/identity/v1"
)

// TestNoPlaintextSecretAtRest reads everything the database holds — the raw
// SQLite files (database, WAL, shared memory) or the text of every row of
// every table on PostgreSQL — and looks for the secrets.
func TestNoPlaintextSecretAtRest(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, e *env) {
		const admin = "operator-chosen-admin-secret-4f9a1c"
		if err := e.svc.EnsureBootstrapKey(t.Context(), admin); err != nil {
			t.Fatal(err)
		}
		// hidden is what must not be stored: the whole secret and the part
		// after the prefix that is shown in lists.
		hidden := map[string]string{admin: admin[6:]}
		for _, name := range []string{"alpha", "beta", "gamma", "delta"} {
			resp := mustCreateKey(t, e.svc, &identityv1.CreateApiKeyRequest{Name: name, Scopes: []string{auth.ScopeArticlesWrite, auth.ScopeKeysAdmin}})
			hidden[resp.GetKey()] = resp.GetKey()[12:]
			mustAuthenticate(t, e.svc, resp.GetKey())
			if name == "beta" {
				if _, err := e.svc.RevokeApiKey(t.Context(), &identityv1.RevokeApiKeyRequest{Id: resp.GetId()}); err != nil {
					t.Fatal(err)
				}
			}
		}
		check := func(t *testing.T, when, data string) {
			t.Helper()
			for secret, tail := range hidden {
				if strings.Contains(data, secret) || strings.Contains(data, tail) {
					t.Fatalf("%s: a secret (prefix %s) is stored in plain text", when, secret[:6])
				}
				// The hash is there: proof that the data read holds the keys.
				sum := sha256.Sum256([]byte(secret))
				if !strings.Contains(data, hex.EncodeToString(sum[:])) {
					t.Fatalf("%s: the hash of a secret (prefix %s) is not in the data read; the test reads the wrong thing", when, secret[:6])
				}
			}
		}
		check(t, "database in use", e.atRest(t))
		if strings.Contains(e.logs.String(), hidden[admin]) {
			t.Fatal("the log shows the admin secret")
		}
		for secret := range hidden {
			if strings.Contains(e.logs.String(), secret[len(secret)-10:]) {
				t.Fatal("the log shows a secret")
			}
		}
		e.restart(t) // on SQLite, closing folds the WAL into the database file
		check(t, "database closed and reopened", e.atRest(t))
	})
}
