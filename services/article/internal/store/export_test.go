package store

import (
	"io/fs"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"

	"buzhou.dev/platform/sqldb"
)

// MigrationsBefore is the article schema as it was before step version, for
// tests of what the step does to the rows it finds.
func MigrationsBefore(t *testing.T, version int) sqldb.Migrations {
	t.Helper()
	m := migrations(nil)
	old := fstest.MapFS{}
	err := fs.WalkDir(m.Files, "migrations", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		n, _, _ := strings.Cut(d.Name(), "_")
		if v, _ := strconv.Atoi(n); v < version {
			b, err := fs.ReadFile(m.Files, path)
			old[path] = &fstest.MapFile{Data: b}
			return err
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	m.Files = old
	return m
}
