// Package store is the verification service's database, on SQLite (default,
// one file) or PostgreSQL. It holds the trust domain's records: principals,
// their API keys and per-agent usage counts now; verification records and
// inspections join as new migrations. The store is written once over
// platform/sqldb, with one SQL text for both engines, and both pass one
// contract suite (storetest).
//
// The store keeps what it is given and checks only what its tables need; the
// rules (which scopes exist, who may revoke what) live in the domain packages.
// It never sees a key's secret, only its SHA-256.
package store

import (
	"context"
	"time"
)

// Store is the verification store. Errors wrap the sentinels of
// buzhou.dev/platform/errs: ErrNotFound for a missing row, ErrAlreadyExists for
// a taken id or secret hash, ErrInvalid for a bad page token or a value the
// tables cannot hold.
type Store interface {
	// CreatePrincipal stores a new principal with created_at = now and returns it.
	CreatePrincipal(ctx context.Context, p Principal) (Principal, error)
	// GetPrincipal returns a principal by id.
	GetPrincipal(ctx context.Context, id string) (Principal, error)
	// ListPrincipals returns a page of principals, newest first, and the token
	// of the next page ("" on the last page).
	ListPrincipals(ctx context.Context, page Page) ([]Principal, string, error)

	// CreateKey stores a new key with created_at = now and returns it. With
	// newOwner set, that principal is created in the same transaction and
	// k.PrincipalID must name it; otherwise k.PrincipalID must exist
	// (ErrNotFound when it does not).
	CreateKey(ctx context.Context, k Key, newOwner *Principal) (Key, error)
	// GetKey returns a key by id.
	GetKey(ctx context.Context, id string) (Key, error)
	// KeyByHash returns the key whose secret has this SHA-256 (lower-case hex)
	// and its owner, ErrNotFound when no key has it. Revoked and expired keys
	// are returned too; refusing them is the caller's business.
	KeyByHash(ctx context.Context, secretHash string) (Key, Principal, error)
	// ListKeys returns a page of keys, newest first, and the token of the next
	// page ("" on the last page).
	ListKeys(ctx context.Context, page Page) ([]Key, string, error)
	// RevokeKey sets the key's revoked_at to now and returns the key. Revoking
	// a revoked key changes nothing: the first revocation time stays.
	RevokeKey(ctx context.Context, id string) (Key, error)
	// UpsertBootstrapKey makes sure owner exists (an existing row with its id
	// is kept as it is) and that key k.ID exists with exactly k's secret hash,
	// prefix, name, scopes, expiry, limits and bootstrap flag, not revoked. An
	// existing key keeps its created_at. It returns the stored key.
	UpsertBootstrapKey(ctx context.Context, owner Principal, k Key) (Key, error)

	// AddAgentUsage adds each entry's counts to the agent's row for today
	// (the UTC day of now), creating the row when missing. Entries for the
	// same agent are summed. All entries are added or none.
	AddAgentUsage(ctx context.Context, usage []AgentUsage) error
	// AgentUsageTotals sums every day's counts per agent, most calls first
	// (then by agent id), at most limit agents (all when limit <= 0).
	AgentUsageTotals(ctx context.Context, limit int) ([]AgentTotals, error)

	// Ping checks that the database answers.
	Ping(ctx context.Context) error
	// Close releases the database.
	Close() error
}

// Principal is an actor that owns keys: an agent, a bot or a human expert.
type Principal struct {
	ID   string
	Name string
	// Type is "official_bot", "third_party_agent" or "human_expert"; the store
	// keeps any non-empty value.
	Type      string
	CreatedAt time.Time
}

// Key is an API key without its secret.
type Key struct {
	ID          string
	Name        string
	PrincipalID string
	// Prefix is the first characters of the secret, for recognising it.
	Prefix string
	// SecretHash is the lower-case hex SHA-256 of the secret.
	SecretHash string
	Scopes     []string
	// ExpiresAt and RevokedAt are zero when unset.
	ExpiresAt time.Time
	RevokedAt time.Time
	CreatedAt time.Time
	// RateLimitPerMinute is 0 for the default limit; the quotas are 0 for none.
	RateLimitPerMinute int32
	DailyQuota         int64
	MonthlyQuota       int64
	// Bootstrap marks the BUZHOU_ADMIN_KEY key.
	Bootstrap bool
}

// AgentUsage is traffic of one agent to add to today's counts.
type AgentUsage struct {
	AgentID        string
	Calls          int64
	Errors         int64
	TotalLatencyMs int64
}

// AgentTotals is the traffic of one agent over all days.
type AgentTotals struct {
	AgentID        string
	Calls          int64
	Errors         int64
	TotalLatencyMs int64
	// Days counts the days with a row.
	Days int64
}

// Page asks for one page of a list.
type Page struct {
	// Size is the most rows to return: 50 when <= 0, at most 200.
	Size int
	// Token is the previous answer's next-page token, "" for the first page.
	Token string
}

// Clock returns the current time; stores take it so tests can fix time.
type Clock func() time.Time
