package sqldb

import (
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
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
func (db *DB) Strings(v []string) any {
	if v == nil {
		v = []string{}
	}
	if db.engine == Postgres {
		return v
	}
	b, _ := json.Marshal(v) // a []string always encodes
	return string(b)
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
		out, err = parseTextArray(string(b))
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

// parseTextArray reads PostgreSQL's text form of a one-dimensional text[],
// as pgx hands it to database/sql: {a,"b c","d\"e"}. PostgreSQL quotes an
// element that is empty, holds a space or one of {},"\, or reads NULL, and
// escapes " and \ inside quotes. NULL elements are refused: Strings never
// writes them.
func parseTextArray(s string) ([]string, error) {
	bad := errors.New("not a PostgreSQL text array")
	if len(s) < 2 || s[0] != '{' || s[len(s)-1] != '}' {
		return nil, bad
	}
	s = s[1 : len(s)-1]
	out := []string{}
	for s != "" {
		var el string
		if s[0] == '"' {
			var b strings.Builder
			i := 1
			for ; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' {
					i++
				}
				if i < len(s) {
					b.WriteByte(s[i])
				}
			}
			if i >= len(s) {
				return nil, bad
			}
			el, s = b.String(), s[i+1:]
		} else {
			end := strings.IndexByte(s, ',')
			if end < 0 {
				end = len(s)
			}
			el, s = s[:end], s[end:]
			if el == "" || strings.ContainsAny(el, `{}"\`) || strings.EqualFold(el, "NULL") {
				return nil, bad
			}
		}
		out = append(out, el)
		if s == "" {
			break
		}
		if s[0] != ',' || len(s) == 1 {
			return nil, bad
		}
		s = s[1:]
	}
	return out, nil
}
