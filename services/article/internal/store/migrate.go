package store

import (
	"embed"

	"buzhou.dev/platform/sqldb"
)

// migrationFiles holds the schema of each engine, one numbered file per step
// (NNNN_what.sql). A step never changes once released; new steps get new files.
// embed needs a package variable; nothing writes to it.
//
//go:embed migrations/sqlite/*.sql migrations/postgres/*.sql
var migrationFiles embed.FS

const (
	// migrationsTable records the applied steps. It keeps the name the article
	// service has always used, so existing databases are not migrated again;
	// the other services name theirs after themselves.
	migrationsTable = "schema_migrations"
	// pgMigrationLock is the first key of the advisory lock that serialises
	// processes migrating the same schema at once; the second is the schema's
	// hash.
	pgMigrationLock = 0x0b0e_a001
)

// migrations is the article schema for sqldb's runner; now stamps applied_at.
func migrations(now Clock) sqldb.Migrations {
	return sqldb.Migrations{Files: migrationFiles, Table: migrationsTable, Lock: pgMigrationLock, Now: now}
}
