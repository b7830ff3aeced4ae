package server

import (
	"context"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"time"
	"unicode"

	"buzhou.dev/search/internal/state"
)

// Unanswered counts queries that found nothing good enough, by normalised
// text, in memory, and adds the counts to the state store every so often, so
// a search never waits for a database write. Nothing about the caller is
// kept, and things in the text that look like addresses or secrets are
// blanked out.
type Unanswered struct {
	store state.Store
	now   func() time.Time
	log   *slog.Logger

	mu      sync.Mutex
	pending map[string]int64
}

// Bounds of the unanswered list: queries are cut to maxUnansweredRunes,
// the store keeps keepUnanswered of them, and at most maxPending wait for a
// flush (more are dropped until then, so a flood cannot exhaust memory).
const (
	maxUnansweredRunes = 200
	keepUnanswered     = 10000
	maxPending         = 5000
)

// NewUnanswered returns a counter over store. nil now means time.Now.
func NewUnanswered(store state.Store, now func() time.Time, log *slog.Logger) *Unanswered {
	if now == nil {
		now = time.Now
	}
	return &Unanswered{store: store, now: now, log: log, pending: map[string]int64{}}
}

// Note counts one query.
func (u *Unanswered) Note(q string) {
	n := Normalize(q)
	if n == "" {
		return
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if _, ok := u.pending[n]; !ok && len(u.pending) >= maxPending {
		return
	}
	u.pending[n]++
}

// Flush writes the pending counts to the store.
func (u *Unanswered) Flush(ctx context.Context) error {
	u.mu.Lock()
	batch := u.pending
	u.pending = map[string]int64{}
	u.mu.Unlock()
	if len(batch) == 0 {
		return nil
	}
	if err := u.store.AddUnanswered(ctx, batch, u.now(), keepUnanswered); err != nil {
		// Put them back for the next try.
		u.mu.Lock()
		for q, n := range batch {
			u.pending[q] += n
		}
		u.mu.Unlock()
		return err
	}
	return nil
}

// Run flushes every interval until ctx ends, then once more.
func (u *Unanswered) Run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := u.Flush(fctx); err != nil {
				u.log.Warn("unanswered queries not saved at shutdown", "err", err)
			}
			return
		case <-t.C:
			if err := u.Flush(ctx); err != nil {
				u.log.WarnContext(ctx, "unanswered queries not saved; kept for the next try", "err", err)
			}
		}
	}
}

// List flushes, then returns the most frequent queries.
func (u *Unanswered) List(ctx context.Context, limit int) ([]state.Unanswered, error) {
	if err := u.Flush(ctx); err != nil {
		u.log.WarnContext(ctx, "unanswered queries not saved before listing", "err", err)
	}
	return u.store.Unanswered(ctx, limit)
}

// secretLike matches what must never be stored from a query: IP addresses,
// e-mail addresses, bearer tokens and keys with a known prefix. Compiled
// once; a Regexp is safe for concurrent use and never changes.
var secretLike = regexp.MustCompile(`(?i)\b(?:\d{1,3}\.){3}\d{1,3}\b|[\w.+-]+@[\w-]+\.[\w.]+|\b(?:sk|pk|rk|bzk|bzs|ghp|gho|github_pat|xox[a-z])[-_][\w-]{6,}|\bAKIA[0-9A-Z]{12,}|bearer\s+\S+`)

// longToken matches runs long enough to be a key or token.
var longToken = regexp.MustCompile(`[A-Za-z0-9_\-+/=]{24,}`)

// Normalize makes the form queries are counted under: secrets and addresses
// blanked, lower-case, spaces collapsed, at most 200 characters.
func Normalize(q string) string {
	q = secretLike.ReplaceAllString(q, "…")
	q = longToken.ReplaceAllStringFunc(q, func(t string) string {
		// Letters and digits mixed over 24 characters: a secret, not a word.
		if strings.ContainsFunc(t, unicode.IsDigit) && strings.ContainsFunc(t, unicode.IsLetter) {
			return "…"
		}
		return t
	})
	q = strings.ToLower(strings.Join(strings.FieldsFunc(q, unicode.IsSpace), " "))
	if r := []rune(q); len(r) > maxUnansweredRunes {
		q = string(r[:maxUnansweredRunes])
	}
	return strings.TrimSpace(q)
}
