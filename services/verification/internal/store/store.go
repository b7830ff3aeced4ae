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
//
// The trust side keeps verification records (append-only), verifiers with
// their counts and the verdicts their reputation is summed from, the
// articles' inspection findings and runs, and the change feed cursor.
package store

import (
	"context"
	"log/slog"
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

	// EnsureVerifier makes sure principal p exists (an existing row is kept
	// as it is) and is listed as a verifier, for the built-in bots.
	EnsureVerifier(ctx context.Context, p Principal) error
	// AddRecord stores a new record with created_at = now, copying the
	// verifier's name and type from its principal (ErrNotFound when there is
	// none), and counts it on the verifier, which becomes one if need be.
	AddRecord(ctx context.Context, r Record) (Record, error)
	// ListRecords returns a page of an article's records, newest first, with
	// Superseded set, and the token of the next page ("" on the last page).
	ListRecords(ctx context.Context, articleID string, page Page) ([]Record, string, error)
	// ArticleRecords returns every record of an article, newest first.
	ArticleRecords(ctx context.Context, articleID string) ([]Record, error)
	// ArticlesWithRecords returns up to limit ids of articles with records,
	// in id order, after the id after ("" for the first).
	ArticlesWithRecords(ctx context.Context, after string, limit int) ([]string, error)
	// CountRecords counts every record and the passed ones.
	CountRecords(ctx context.Context) (total, passed int64, err error)
	// ListVerifiers returns a page of verifiers, newest first, with their
	// counts and verdict sums, and the token of the next page.
	ListVerifiers(ctx context.Context, page Page) ([]Verifier, string, error)
	// ReplaceVerdicts makes verdicts the article's whole set of verdicts.
	ReplaceVerdicts(ctx context.Context, articleID string, verdicts []Verdict) error

	// UpdateFindings calls mutate with the article's findings, inside a
	// transaction that keeps other updates of the same article's findings
	// waiting, and stores the findings it returns (new ids are inserted with
	// created_at = now, known ones overwritten; updated_at = now for both).
	// It returns every finding of the article afterwards, by id.
	UpdateFindings(ctx context.Context, articleID string, mutate func(current []Finding) ([]Finding, error)) ([]Finding, error)
	// ArticleFindings returns every finding of an article, by id.
	ArticleFindings(ctx context.Context, articleID string) ([]Finding, error)

	// AddRun stores a finished inspection run with created_at = now, and
	// with it record, when not nil, as AddRecord would (run.RecordID is set
	// to the record's id); both or neither are stored.
	AddRun(ctx context.Context, run Run, record *Record) (Run, error)
	// SavePendingRepair stores a repair about to be sent to the article
	// service (ErrAlreadyExists when its run id is taken). AddRun of its run
	// removes it in the same transaction.
	SavePendingRepair(ctx context.Context, p PendingRepair) error
	// PendingRepairs returns every pending repair, by run id.
	PendingRepairs(ctx context.Context) ([]PendingRepair, error)
	// DropPendingRepair removes a pending repair that was not written;
	// dropping a missing one is not an error.
	DropPendingRepair(ctx context.Context, runID string) error
	// ListRuns returns a page of an article's runs, newest first, and the
	// token of the next page.
	ListRuns(ctx context.Context, articleID string, page Page) ([]Run, string, error)

	// AddSandboxRun stores a finished sandbox run with created_at = now, and
	// with it record, when not nil, as AddRecord would (run.RecordID is set
	// to the record's id); both or neither are stored.
	AddSandboxRun(ctx context.Context, run SandboxRun, record *Record) (SandboxRun, error)
	// ListSandboxRuns returns a page of an article's sandbox runs, newest
	// first, and the token of the next page.
	ListSandboxRuns(ctx context.Context, articleID string, page Page) ([]SandboxRun, string, error)

	// Cursor returns the feed revision the follower name saved, 0 if none.
	Cursor(ctx context.Context, name string) (int64, error)
	// SaveCursor saves the feed revision the follower name applied last.
	SaveCursor(ctx context.Context, name string, revision int64) error

	// Lead runs run while this process leads name among the replicas
	// sharing the database, until ctx ends (see sqldb.DB.Lead).
	Lead(ctx context.Context, name string, log *slog.Logger, run func(context.Context))

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

// Record is one verification record.
type Record struct {
	ID         string
	ArticleID  string
	VerifierID string
	// VerifierName and VerifierType are the principal's, filled by the store.
	VerifierName, VerifierType string
	// Result is "passed", "partial" or "failed"; the store keeps any value.
	Result                      string
	OS, Runtime, RuntimeVersion string
	Extras                      map[string]string
	Notes, Evidence             string
	CreatedAt                   time.Time
	// Superseded is set by ListRecords when the verifier has a newer record
	// on the article.
	Superseded bool
}

// Verifier is a principal listed as a verifier, with its tallies.
type Verifier struct {
	Principal
	Passed, Partial, Failed int64
	// LastVerifiedAt is zero before the first record.
	LastVerifiedAt time.Time
	// BecameAt is when the principal became a verifier.
	BecameAt time.Time
	// Confirmed and Contradicted sum the verifier's verdicts.
	Confirmed, Contradicted int64
}

// Verdict is what an article's consensus says of one verifier's record there.
type Verdict struct {
	VerifierID   string
	Confirmed    bool
	Contradicted bool
}

// Finding is one inspection finding or problem report of an article.
type Finding struct {
	ID, ArticleID, RuleKey, FieldPath string
	Severity, Title, Evidence         string
	// SuggestedPatch is a JSON Patch, "" when there is none.
	SuggestedPatch string
	AutoFixable    bool
	// Status is "open", "fixed" or "dismissed".
	Status      string
	ReportCount int32
	// CreatedAt is when it was first opened; UpdatedAt when it last changed.
	CreatedAt, UpdatedAt time.Time
}

// Run is one finished inspection run.
type Run struct {
	ID, ArticleID    string
	ArticleRevision  int32
	Trigger, Status  string
	RiskLevel        string
	RepairedRevision int32
	// RecordID names the inspection bot's record filed by the run, if any.
	RecordID string
	// StartedAt is when it started; FinishedAt is set by the store.
	StartedAt, FinishedAt time.Time
	// Findings are the run's findings as they stood when it ended.
	Findings []Finding
	Notes    []string
	Repairs  []Repair
}

// SandboxRun is one finished sandbox run of an article's code blocks.
type SandboxRun struct {
	ID, ArticleID   string
	ArticleRevision int32
	Trigger         string
	// Result is "passed", "partial" or "failed".
	Result string
	// RecordID names the Sandbox Runner's record, "" when nothing ran.
	RecordID string
	// CreatedAt is set by the store.
	CreatedAt time.Time
	Blocks    []SandboxBlock
	// OS, Kernel and Isolation say where the blocks ran.
	OS, Kernel, Isolation string
}

// SandboxBlock is the outcome of one block of a sandbox run.
type SandboxBlock struct {
	Index                   int32  `json:"index"`
	Language                string `json:"language"`
	Outcome                 string `json:"outcome"`
	ExitCode                int32  `json:"exitCode"`
	DurationMs              int32  `json:"durationMs"`
	Stdout                  string `json:"stdout,omitempty"`
	Stderr                  string `json:"stderr,omitempty"`
	OutputSHA256            string `json:"outputSha256,omitempty"`
	Reason                  string `json:"reason,omitempty"`
	Runtime, RuntimeVersion string `json:",omitempty"`
}

// PendingRepair is an inspection's repair between its write to the article
// service and the run that records it: a crash in between leaves it, and
// whether the article shows Record says whether the repair was written.
type PendingRepair struct {
	// Run is the run to store once the repair is written, Record the
	// inspection bot's record the repair's trust summary shows.
	Run    Run
	Record Record
	// Fixed are the ids of the findings the repair fixes.
	Fixed []string
}

// Repair is one change an auto-repair made.
type Repair struct {
	FindingID, RuleKey, FieldPath string
	// Before and After are JSON values.
	Before, After string
}

// Clock returns the current time; stores take it so tests can fix time.
type Clock func() time.Time
