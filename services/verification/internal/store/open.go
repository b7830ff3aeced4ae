package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// Config chooses the database: PostgreSQL when DatabaseURL is set, else SQLite
// in DataDir/verification.db.
type Config struct {
	// DatabaseURL is a PostgreSQL URL or keyword/value string as pgx takes it.
	DatabaseURL string
	// DataDir holds verification.db when DatabaseURL is empty; it is created
	// when missing.
	DataDir string
}

// Open opens the store cfg names and brings its schema up to date. nil now
// means time.Now.
func Open(ctx context.Context, cfg Config, now Clock) (Store, error) {
	if cfg.DatabaseURL != "" {
		return OpenPostgres(ctx, cfg.DatabaseURL, now)
	}
	if cfg.DataDir == "" {
		return nil, errors.New("store: set a data directory for SQLite or a PostgreSQL database URL")
	}
	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		return nil, fmt.Errorf("store: create the data directory: %w", err)
	}
	return OpenSQLite(ctx, filepath.Join(cfg.DataDir, "verification.db"), now)
}
