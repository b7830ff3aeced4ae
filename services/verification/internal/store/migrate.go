package store

import (
	"embed"
	"fmt"
	"io/fs"
	"path"
	"strconv"
	"strings"
)

// migrationsTable records the applied steps. It is named after the service
// because services may share one PostgreSQL database (one DATABASE_URL for
// the whole stack), and another service's step 1 is not ours.
const migrationsTable = "verification_schema_migrations"

// migrationFiles holds the schema of each engine, one numbered file per step
// (NNNN_what.sql). A step never changes once released; new steps (verification
// records, inspections) get new files. embed needs a package variable; nothing
// writes to it.
//
//go:embed migrations/sqlite/*.sql migrations/postgres/*.sql
var migrationFiles embed.FS

type migration struct {
	version int
	name    string
	sql     string
}

// loadMigrations returns the steps of one engine ("sqlite", "postgres") in
// version order.
func loadMigrations(engine string) ([]migration, error) {
	dir := path.Join("migrations", engine)
	entries, err := fs.ReadDir(migrationFiles, dir) // sorted by name
	if err != nil {
		return nil, fmt.Errorf("store: read %s migrations: %w", engine, err)
	}
	var out []migration
	for _, e := range entries {
		prefix, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(prefix)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("store: migration %s/%s: name it NNNN_what.sql", engine, e.Name())
		}
		if len(out) > 0 && v <= out[len(out)-1].version {
			return nil, fmt.Errorf("store: migration %s/%s: version %d repeats or goes back", engine, e.Name(), v)
		}
		b, err := fs.ReadFile(migrationFiles, path.Join(dir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("store: read migration %s/%s: %w", engine, e.Name(), err)
		}
		out = append(out, migration{version: v, name: e.Name(), sql: string(b)})
	}
	return out, nil
}
