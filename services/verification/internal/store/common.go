package store

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"buzhou.dev/platform/errs"
)

const (
	defaultPageSize = 50
	maxPageSize     = 200

	// Page tokens start with the list they belong to, so a key token handed to
	// ListPrincipals is refused instead of silently skipping rows.
	tokenPrincipals = "p"
	tokenKeys       = "k"
)

// exact cuts a caller's time to what both engines keep.
func exact(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return t.UTC().Truncate(time.Microsecond)
}

// day is the agent_usage row a write at t adds to.
func day(t time.Time) string {
	return t.UTC().Format(time.DateOnly)
}

func pageSize(n int) int {
	switch {
	case n <= 0:
		return defaultPageSize
	case n > maxPageSize:
		return maxPageSize
	}
	return n
}

// checkPrincipal rejects what the principals table cannot hold.
func checkPrincipal(p Principal) error {
	switch {
	case p.ID == "":
		return fmt.Errorf("%w: the new principal has no id; set one before storing it", errs.ErrInvalid)
	case p.Name == "":
		return fmt.Errorf("%w: principal %q has no name; give it one", errs.ErrInvalid, p.ID)
	case p.Type == "":
		return fmt.Errorf("%w: principal %q has no type; give it one", errs.ErrInvalid, p.ID)
	}
	return nil
}

// checkKey rejects what the api_keys table cannot hold.
func checkKey(k Key, newOwner *Principal) error {
	switch {
	case k.ID == "":
		return fmt.Errorf("%w: the new key has no id; set one before storing it", errs.ErrInvalid)
	case k.PrincipalID == "":
		return fmt.Errorf("%w: key %q has no principal; give it an owner", errs.ErrInvalid, k.ID)
	case k.SecretHash == "":
		return fmt.Errorf("%w: key %q has no secret hash; hash its secret before storing it", errs.ErrInvalid, k.ID)
	case k.Prefix == "":
		return fmt.Errorf("%w: key %q has no prefix; set one before storing it", errs.ErrInvalid, k.ID)
	case k.RateLimitPerMinute < 0 || k.DailyQuota < 0 || k.MonthlyQuota < 0:
		return fmt.Errorf("%w: key %q: rate limit and quotas cannot be negative; use 0 for the default or none", errs.ErrInvalid, k.ID)
	case newOwner != nil && newOwner.ID != k.PrincipalID:
		return fmt.Errorf("%w: key %q names principal %q but the new owner is %q; make them the same", errs.ErrInvalid, k.ID, k.PrincipalID, newOwner.ID)
	}
	if newOwner != nil {
		return checkPrincipal(*newOwner)
	}
	return nil
}

// mergeUsage checks the entries, sums those of one agent and sorts them by
// agent id: concurrent writers then lock rows in the same order and cannot
// deadlock, and PostgreSQL never meets one row twice in a statement.
func mergeUsage(usage []AgentUsage) ([]AgentUsage, error) {
	byAgent := map[string]AgentUsage{}
	for _, u := range usage {
		if u.AgentID == "" {
			return nil, fmt.Errorf("%w: usage entry without an agent id; name the agent", errs.ErrInvalid)
		}
		if u.Calls < 0 || u.Errors < 0 || u.TotalLatencyMs < 0 {
			return nil, fmt.Errorf("%w: usage of agent %q has a negative count; counts start at 0", errs.ErrInvalid, u.AgentID)
		}
		sum := byAgent[u.AgentID]
		sum.AgentID = u.AgentID
		sum.Calls += u.Calls
		sum.Errors += u.Errors
		sum.TotalLatencyMs += u.TotalLatencyMs
		byAgent[u.AgentID] = sum
	}
	out := make([]AgentUsage, 0, len(byAgent))
	for _, u := range byAgent {
		out = append(out, u)
	}
	slices.SortFunc(out, func(a, b AgentUsage) int { return cmp.Compare(a.AgentID, b.AgentID) })
	return out, nil
}

func principalNotFound(id string) error {
	return fmt.Errorf("%w: principal %q not found; check the id or create the principal first", errs.ErrNotFound, id)
}

func principalExists(id string) error {
	return fmt.Errorf("%w: a principal with id %q already exists; use a new id", errs.ErrAlreadyExists, id)
}

func keyNotFound(id string) error {
	return fmt.Errorf("%w: API key %q not found; list the keys to find its id", errs.ErrNotFound, id)
}

func keyExists(id string) error {
	return fmt.Errorf("%w: an API key with id %q already exists; use a new id", errs.ErrAlreadyExists, id)
}

// secretTaken does not show the hash: it is no secret, but no caller needs it.
func secretTaken(id string) error {
	return fmt.Errorf("%w: key %q: another key already has this secret; use a different secret", errs.ErrAlreadyExists, id)
}

// keyNotFoundByHash names neither the secret nor its hash.
func keyNotFoundByHash() error {
	return fmt.Errorf("%w: no API key has this secret", errs.ErrNotFound)
}

// Column lists shared by both engines' queries, in the order the scan helpers read them.
const (
	principalColumns = `id, name, type, created_at`
	keyColumns       = `id, name, principal_id, prefix, secret_hash, scopes, expires_at, revoked_at, created_at,
		rate_limit_per_minute, daily_quota, monthly_quota, bootstrap`
)
