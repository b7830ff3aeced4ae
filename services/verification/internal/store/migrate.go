package store

import (
	"embed"

	"buzhou.dev/platform/sqldb"
)

// migrationsTable records the applied steps. It is named after the service
// because services may share one PostgreSQL database (one DATABASE_URL for
// the whole stack), and another service's step 1 is not ours.
const migrationsTable = "verification_schema_migrations"

// pgMigrationLock is the first key of the advisory lock that serialises
// processes migrating the same schema at once; the second is the schema's
// hash. It differs from the other services' so they do not wait on us.
const pgMigrationLock = 0x0b0e_a003

// migrationFiles holds the schema of each engine, one numbered file per step
// (NNNN_what.sql). A step never changes once released; new steps (verification
// records, inspections) get new files. embed needs a package variable; nothing
// writes to it.
//
//go:embed migrations/sqlite/*.sql migrations/postgres/*.sql
var migrationFiles embed.FS

// migrations is the verification schema for sqldb's runner; now stamps
// applied_at.
func migrations(now Clock) sqldb.Migrations {
	return sqldb.Migrations{Files: migrationFiles, Table: migrationsTable, Lock: pgMigrationLock, Now: now}
}
