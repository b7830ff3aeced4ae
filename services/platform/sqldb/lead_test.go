package sqldb_test

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"buzhou.dev/platform/sqldb"
	"buzhou.dev/platform/sqldb/sqldbtest"
)

// On SQLite one process owns the file: run runs at once.
func TestLeadSQLite(t *testing.T) {
	t.Parallel()
	db := mustOpen(t, engines()[0], filepath.Join(t.TempDir(), "test.db"), sqldb.Migrations{Files: steps(step1()), Table: "schema_migrations"})
	ran := false
	db.Lead(t.Context(), "follower", nil, func(context.Context) { ran = true })
	if !ran {
		t.Fatal("run did not run")
	}
}

// leader runs Lead on db in the background and reports each time it starts
// leading on started; stop ends it and waits.
type leader struct {
	started, ended chan string
	stop           func()
}

func lead(t *testing.T, db *sqldb.DB, who string) *leader {
	ctx, cancel := context.WithCancel(t.Context())
	l := &leader{started: make(chan string, 4), ended: make(chan string, 4)}
	var wg sync.WaitGroup
	wg.Go(func() {
		db.Lead(ctx, "follower", nil, func(ctx context.Context) {
			l.started <- who
			<-ctx.Done()
			l.ended <- who
		})
	})
	l.stop = func() { cancel(); wg.Wait() }
	t.Cleanup(l.stop)
	return l
}

// On PostgreSQL one of the processes sharing a schema leads; the other takes
// over when the leader stops, or when the leader's connection dies. Another
// schema (another test, another install) has a leadership of its own.
func TestLeadPostgres(t *testing.T) {
	// Restored last, once every leader below has stopped.
	t.Cleanup(sqldb.SetLeadEvery(20 * time.Millisecond))
	dbURL := sqldbtest.FreshSchema(t)
	m := sqldb.Migrations{Files: steps(step1()), Table: "schema_migrations"}
	a, b := mustOpen(t, engines()[1], dbURL, m), mustOpen(t, engines()[1], dbURL, m)

	la := lead(t, a, "a")
	if got := recv(t, la.started); got != "a" {
		t.Fatalf("started %s", got)
	}
	lb := lead(t, b, "b")
	// b keeps trying while a leads: give it many tries, then look.
	time.Sleep(300 * time.Millisecond)
	select {
	case <-lb.started:
		t.Fatal("b leads while a does")
	default:
	}
	other := mustOpen(t, engines()[1], sqldbtest.FreshSchema(t), m)
	lo := lead(t, other, "other")
	recv(t, lo.started)

	la.stop()
	recv(t, lb.started)

	// b's lock connection dies (as when its host is cut off): b's run is
	// stopped, and a (back) or b leads again.
	la = lead(t, a, "a")
	var pid int
	if err := b.R.QueryRowContext(t.Context(), `SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted
		AND pid IN (SELECT pid FROM pg_stat_activity WHERE datname = current_database()) AND objid = (hashtextextended(current_schema() || ':follower', 0) & x'ffffffff'::bigint)`).Scan(&pid); err != nil {
		t.Fatalf("find b's lock: %v", err)
	}
	if _, err := b.R.ExecContext(t.Context(), `SELECT pg_terminate_backend($1)`, pid); err != nil {
		t.Fatal(err)
	}
	recv(t, lb.ended)
	select {
	case <-la.started:
	case <-lb.started:
	case <-time.After(10 * time.Second):
		t.Fatal("nobody leads again")
	}
}

// recv waits for a leader's news, failing the test rather than hanging.
func recv(t *testing.T, ch chan string) string {
	t.Helper()
	select {
	case who := <-ch:
		return who
	case <-time.After(10 * time.Second):
		t.Fatal("no news from the leaders in 10 s")
		return ""
	}
}
