package sqldb

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgtype"
)

// ScanTime is a Scan destination for a time column of either engine: unix
// microseconds (SQLite's INTEGER) or a timestamp (PostgreSQL's timestamptz),
// read in UTC. NULL reads as the zero time.
func ScanTime(t *time.Time) sql.Scanner { return (*timeDest)(t) }

type timeDest time.Time

func (d *timeDest) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*d = timeDest{}
	case int64:
		*d = timeDest(time.UnixMicro(v).UTC())
	case time.Time:
		*d = timeDest(v.UTC())
	default:
		return fmt.Errorf("store: a time column holds %T", src)
	}
	return nil
}

// NullTime is a time argument that stores the zero time as NULL.
func NullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t
}

// Strings is a list-of-text argument for a column of either engine: a JSON
// array in SQLite's TEXT, a text[] in PostgreSQL. nil stores as an empty
// list.
func (db *DB) Strings(v []string) (any, error) {
	if v == nil {
		v = []string{}
	}
	if db.engine == Postgres {
		return v, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("store: encode a list: %w", err)
	}
	return string(b), nil
}

// ScanStrings is a Scan destination for a column Strings wrote; an empty
// list reads as an empty, non-nil slice.
func ScanStrings(v *[]string) sql.Scanner { return (*stringsDest)(v) }

type stringsDest []string

func (d *stringsDest) Scan(src any) error {
	var b []byte
	switch v := src.(type) {
	case string:
		b = []byte(v)
	case []byte:
		b = v
	default:
		return fmt.Errorf("store: a list column holds %T", src)
	}
	out := []string{}
	var err error
	if len(b) > 0 && b[0] == '[' {
		err = json.Unmarshal(b, &out)
	} else {
		// PostgreSQL's text form of text[], as pgx hands it to database/sql.
		err = pgtype.NewMap().Scan(pgtype.TextArrayOID, pgtype.TextFormatCode, b, &out)
	}
	if err != nil {
		return fmt.Errorf("store: decode a list: %w", err)
	}
	if out == nil {
		out = []string{}
	}
	*d = out
	return nil
}
