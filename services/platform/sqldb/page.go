package sqldb

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Page asks List for one page of a table's rows, newest first: created_at,
// then id, descending, the order of every list of the stores.
type Page struct {
	// Kind starts the list's page tokens, so a token of one list is refused
	// by another; each list of a store has its own.
	Kind string
	// Table and Columns are what to select from. They, and the filters'
	// columns, go into the SQL as they are: constants of the store, never
	// input.
	Table, Columns string
	// Filters keep the rows that match all of them; their values are
	// arguments.
	Filters []Filter
	// Size is the most rows to return; the store clamps it.
	Size int
	// MaxBytes bounds the sum of the rows' Row.Bytes, 0 for no bound. A page
	// holds at least one row however big, so paging always moves on.
	MaxBytes int
	// Token is the previous answer's next-page token, "" for the first page.
	Token string
}

// Row is what List needs of each row besides the item: its sort key, and its
// size for Page.MaxBytes.
type Row struct {
	CreatedAt time.Time
	ID        string
	Bytes     int
}

// List returns one page of p's rows made into items by scan, and the token of
// the next page ("" on the last page).
func List[T any](ctx context.Context, db *sql.DB, p Page, scan func(*sql.Rows) (T, Row, error)) ([]T, string, error) {
	var (
		where []string
		args  []any
	)
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	if p.Token != "" {
		at, id, err := decodeCursor(p.Kind, p.Filters, p.Token)
		if err != nil {
			return nil, "", err
		}
		where = append(where, "(created_at, id) < ("+arg(at)+", "+arg(id)+")")
	}
	for _, f := range p.Filters {
		if len(f.Values) == 0 {
			continue
		}
		in := make([]string, len(f.Values))
		for i, v := range f.Values {
			in[i] = arg(v)
		}
		where = append(where, f.Column+" IN ("+strings.Join(in, ", ")+")")
	}
	query := "SELECT " + p.Columns + " FROM " + p.Table
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	size := max(p.Size, 1)
	query += " ORDER BY created_at DESC, id DESC LIMIT " + arg(size+1) // one more tells whether a next page exists

	rows, err := db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, "", fmt.Errorf("store: list %s: %w", p.Table, err)
	}
	defer rows.Close()
	var (
		out   []T
		last  Row
		bytes int
		more  bool
	)
	for rows.Next() {
		if len(out) == size {
			more = true // the row is not read: it may be big
			break
		}
		v, r, err := scan(rows)
		if err != nil {
			return nil, "", fmt.Errorf("store: list %s: %w", p.Table, err)
		}
		if p.MaxBytes > 0 && len(out) > 0 && bytes+r.Bytes > p.MaxBytes {
			more = true
			break
		}
		out = append(out, v)
		bytes += r.Bytes
		last = r
	}
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("store: list %s: %w", p.Table, err)
	}
	if !more {
		return out, "", nil
	}
	return out, encodeCursor(p.Kind, p.Filters, last.CreatedAt, last.ID), nil
}
