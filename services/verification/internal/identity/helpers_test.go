package identity_test

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"buzhou.dev/platform/sqldb/sqldbtest"
	"buzhou.dev/verification/internal/identity"
	"buzhou.dev/verification/internal/store"
	"buzhou.dev/verification/internal/store/storetest"
)

// env is a Service on a fresh database, with the clock both share and
// everything the service logged.
type env struct {
	svc   *identity.Service
	st    store.Store
	clock *storetest.Clock
	logs  *logBuffer
	// atRest returns every byte the database holds: the SQLite files, or the
	// text of every row on PostgreSQL.
	atRest func(t *testing.T) string
	// restart opens the database again and returns a new Service on it, as a
	// process restart would.
	restart func(t *testing.T) *identity.Service
}

// engine opens a fresh database with the given clock.
type engine struct {
	name string
	open func(t *testing.T, now store.Clock) (st store.Store, reopen func() store.Store, atRest func(t *testing.T) string)
}

func engines() []engine {
	return []engine{
		{"SQLite", func(t *testing.T, now store.Clock) (store.Store, func() store.Store, func(t *testing.T) string) {
			dir := t.TempDir()
			open := func() store.Store { return openAtEnd(t, store.Config{DataDir: dir}, now) }
			return open(), open, func(t *testing.T) string { return readDir(t, dir) }
		}},
		{"PostgreSQL", func(t *testing.T, now store.Clock) (store.Store, func() store.Store, func(t *testing.T) string) {
			dbURL := sqldbtest.FreshSchema(t) // skips t without a server
			open := func() store.Store { return openAtEnd(t, store.Config{DatabaseURL: dbURL}, now) }
			return open(), open, func(t *testing.T) string { return strings.Join(sqldbtest.DumpPostgres(t, dbURL), "\n") }
		}},
	}
}

func openAtEnd(t *testing.T, cfg store.Config, now store.Clock) store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), cfg, now)
	if err != nil {
		t.Fatalf("store.Open: %v", err)
	}
	t.Cleanup(func() {
		if err := st.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return st
}

// readDir concatenates every file under dir: the database, its WAL and its
// shared-memory index.
func readDir(t *testing.T, dir string) string {
	t.Helper()
	var all bytes.Buffer
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		all.Write(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if all.Len() == 0 {
		t.Fatal("the data directory is empty")
	}
	return all.String()
}

// startTime is when every test's clock starts.
func startTime() time.Time { return time.Date(2026, 7, 1, 12, 0, 0, 0, time.UTC) }

func newEnvOn(t *testing.T, e engine) *env {
	t.Helper()
	clock := storetest.NewClock(startTime())
	st, reopen, atRest := e.open(t, clock.Now)
	logs := &logBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	return &env{
		svc:    identity.New(st, clock.Now, log, nil),
		st:     st,
		clock:  clock,
		logs:   logs,
		atRest: atRest,
		restart: func(t *testing.T) *identity.Service {
			if err := st.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			return identity.New(reopen(), clock.Now, log, nil)
		},
	}
}

// newEnv is an env on SQLite, the default engine.
func newEnv(t *testing.T) *env {
	t.Helper()
	return newEnvOn(t, engines()[0])
}

// forEachEngine runs fn in parallel subtests, once per engine.
func forEachEngine(t *testing.T, fn func(t *testing.T, e *env)) {
	for _, e := range engines() {
		t.Run(e.name, func(t *testing.T) {
			t.Parallel()
			fn(t, newEnvOn(t, e))
		})
	}
}

// logBuffer collects log output from concurrent handlers.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
