package sqldb_test

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"buzhou.dev/platform/sqldb"
)

func TestOpen(t *testing.T) {
	t.Parallel()
	var got []string
	postgres := func(url string) (string, error) { got = append(got, "postgres "+url); return "pg", nil }
	sqlite := func(path string) (string, error) { got = append(got, "sqlite "+path); return "lite", nil }

	if _, err := sqldb.Open(sqldb.Config{}, "a.db", postgres, sqlite); err == nil {
		t.Fatal("Open without a URL or a data directory succeeded")
	}
	dir := filepath.Join(t.TempDir(), "not", "yet")
	if s, err := sqldb.Open(sqldb.Config{DatabaseURL: "postgres://db", DataDir: dir}, "a.db", postgres, sqlite); err != nil || s != "pg" {
		t.Fatalf("Open with a URL = %q, %v", s, err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("Open with a URL touched the data directory: %v", err)
	}
	for i := range 2 { // the second call finds the directory in place
		if s, err := sqldb.Open(sqldb.Config{DataDir: dir}, "a.db", postgres, sqlite); err != nil || s != "lite" {
			t.Fatalf("Open #%d with a data directory = %q, %v", i+1, s, err)
		}
	}
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		t.Fatalf("the data directory was not made: %v", err)
	}
	want := []string{"postgres postgres://db", "sqlite " + filepath.Join(dir, "a.db"), "sqlite " + filepath.Join(dir, "a.db")}
	if !slices.Equal(got, want) {
		t.Fatalf("opened %q, want %q", got, want)
	}
}

func TestTick(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 5, 6, 7, 8, 9, 123_456_789, time.FixedZone("UTC+8", 8*3600))
	got := sqldb.Tick(func() time.Time { return at })
	if want := at.UTC().Truncate(time.Microsecond); !got.Equal(want) || got.Location() != time.UTC || got.Nanosecond()%1000 != 0 {
		t.Fatalf("Tick = %v, want %v in UTC", got, want)
	}
	before := time.Now().Add(-time.Second)
	if got := sqldb.Tick(nil); got.Before(before) || got.Location() != time.UTC {
		t.Fatalf("Tick(nil) = %v, want the wall clock in UTC", got)
	}
}
