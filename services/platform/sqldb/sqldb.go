// Package sqldb is the database plumbing the services' stores share: it opens
// SQLite (one file, the default) or PostgreSQL (when a URL is given) and brings
// a store's schema up to date from its embedded migration files.
//
// A store keeps its own schema, migrations, queries and domain logic; only what
// does not depend on them lives here, so every service opens its database the
// same way and fixes to that land once.
//
// Errors start with "store:" because they surface as the stores' own errors,
// worded as the stores worded them before the plumbing moved here.
package sqldb

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// Config chooses the database: PostgreSQL when DatabaseURL is set, else SQLite
// in a file of the service's own name in DataDir.
type Config struct {
	// DatabaseURL is a PostgreSQL URL or keyword/value string as pgx takes it.
	DatabaseURL string
	// DataDir holds the SQLite file when DatabaseURL is empty; it is created
	// when missing.
	DataDir string
}

// Open opens what cfg names: PostgreSQL through postgres when DatabaseURL is
// set, else SQLite through sqlite on DataDir/file, creating DataDir when
// missing. Each store passes its own openers and file name, so the choice is
// made the same way in every service.
func Open[S any](cfg Config, file string, postgres func(url string) (S, error), sqlite func(path string) (S, error)) (S, error) {
	if cfg.DatabaseURL != "" {
		return postgres(cfg.DatabaseURL)
	}
	var zero S
	if cfg.DataDir == "" {
		return zero, errors.New("store: set a data directory for SQLite or a PostgreSQL database URL")
	}
	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		return zero, fmt.Errorf("store: create the data directory: %w", err)
	}
	return sqlite(filepath.Join(cfg.DataDir, file))
}

// Tick reads now (time.Now when nil) at microsecond precision in UTC:
// PostgreSQL keeps no finer, and both engines must hand back exactly the times
// they were given, so a store stamps every write with Tick.
func Tick(now func() time.Time) time.Time {
	if now == nil {
		now = time.Now
	}
	return now().UTC().Truncate(time.Microsecond)
}
