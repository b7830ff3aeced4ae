package sqldb_test

import (
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"buzhou.dev/platform/errs"
	"buzhou.dev/platform/sqldb"
)

type item struct {
	id    string
	size  int
	color string
}

// itemsDB holds 9 items of either engine: pairs share created_at so the id
// breaks ties, colors cycle, sizes grow. It returns them in list order.
func itemsDB(t *testing.T, e engine) (*sqldb.DB, []item) {
	t.Helper()
	db := rowsDB(t, e)
	exec(t, db, map[sqldb.Engine]string{
		sqldb.SQLite:   `CREATE TABLE items (id TEXT PRIMARY KEY, created_at INTEGER NOT NULL, size INTEGER NOT NULL, color TEXT NOT NULL) STRICT`,
		sqldb.Postgres: `CREATE TABLE items (id text COLLATE "C" PRIMARY KEY, created_at timestamptz NOT NULL, size integer NOT NULL, color text NOT NULL)`,
	}[db.Engine()])
	base := time.Date(2026, 3, 14, 9, 26, 53, 589_793_000, time.UTC)
	colors := []string{"red", "green", "blue"}
	var all []item
	err := db.Write(t.Context(), func(tx *sql.Tx) error {
		for i := range 9 {
			it := item{id: fmt.Sprintf("it_%d", i), size: 10 * (i + 1), color: colors[i%3]}
			if _, err := tx.ExecContext(t.Context(), `INSERT INTO items (id, created_at, size, color) VALUES ($1, $2, $3, $4)`,
				it.id, base.Add(time.Duration(i/2)*time.Minute), it.size, it.color); err != nil {
				return err
			}
			all = append(all, it)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Reverse(all) // newest first; within one created_at, higher id first
	return db, all
}

func scanItem(rows *sql.Rows) (item, sqldb.Row, error) {
	var (
		it item
		at time.Time
	)
	err := rows.Scan(&it.id, sqldb.ScanTime(&at), &it.size, &it.color)
	return it, sqldb.Row{CreatedAt: at, ID: it.id, Bytes: it.size}, err
}

func listItems(t *testing.T, db *sqldb.DB, p sqldb.Page) ([]item, string, error) {
	t.Helper()
	p.Kind, p.Table, p.Columns = "i", "items", "id, created_at, size, color"
	return sqldb.List(t.Context(), db.R, p, scanItem)
}

func colors(values ...string) []sqldb.Filter {
	return []sqldb.Filter{{Column: "color", Values: values}}
}

func TestList(t *testing.T) {
	t.Parallel()
	eachEngine(t, func(t *testing.T, e engine) {
		db, all := itemsDB(t, e)
		keep := func(ok func(item) bool) []item {
			var out []item
			for _, it := range all {
				if ok(it) {
					out = append(out, it)
				}
			}
			return out
		}
		tests := []struct {
			name string
			page sqldb.Page
			// sizes are the page sizes to ask for in turn; the last repeats.
			sizes     []int
			want      []item
			wantPages int
		}{
			{"pages of 4", sqldb.Page{}, []int{4}, all, 3},
			{"pages of 1", sqldb.Page{}, []int{1}, all, 9},
			{"one page", sqldb.Page{}, []int{9}, all, 1},
			{"page size changes", sqldb.Page{}, []int{2, 5, 1}, all, 4},
			{"filtered", sqldb.Page{Filters: colors("red")}, []int{2}, keep(func(it item) bool { return it.color == "red" }), 2},
			{"two values", sqldb.Page{Filters: colors("blue", "red")}, []int{4}, keep(func(it item) bool { return it.color != "green" }), 2},
			{"filter without values", sqldb.Page{Filters: colors()}, []int{5}, all, 2},
			{"no match", sqldb.Page{Filters: colors("black")}, []int{5}, nil, 1},
			// Sizes 90, 80, …, 10 newest first: pages of 90, 80, 70, 60,
			// 50+40 and 30+20+10 bytes.
			{"byte budget", sqldb.Page{MaxBytes: 100}, []int{9}, all, 6},
			{"budget below every row", sqldb.Page{MaxBytes: 5}, []int{9}, all, 9},
			{"budget and count", sqldb.Page{MaxBytes: 1000}, []int{3}, all, 3},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				p := tt.page
				var got []item
				pages := 0
				for {
					p.Size = tt.sizes[min(pages, len(tt.sizes)-1)]
					page, next, err := listItems(t, db, p)
					if err != nil {
						t.Fatalf("page %d: %v", pages+1, err)
					}
					pages++
					bytes := 0
					for _, it := range page {
						bytes += it.size
					}
					if len(page) > p.Size || p.MaxBytes > 0 && len(page) > 1 && bytes > p.MaxBytes {
						t.Fatalf("page %d holds %d items of %d bytes; asked for %d, at most %d bytes", pages, len(page), bytes, p.Size, p.MaxBytes)
					}
					if next != "" && len(page) == 0 {
						t.Fatalf("page %d is empty but has a next page", pages)
					}
					got = append(got, page...)
					if next == "" || pages > 20 {
						break
					}
					p.Token = next
				}
				if !slices.Equal(got, tt.want) {
					t.Errorf("items = %v, want %v", got, tt.want)
				}
				if pages != tt.wantPages {
					t.Errorf("got %d pages, want %d", pages, tt.wantPages)
				}
			})
		}
	})
}

func TestListTokens(t *testing.T) {
	t.Parallel()
	eachEngine(t, func(t *testing.T, e engine) {
		db, _ := itemsDB(t, e)
		_, next, err := listItems(t, db, sqldb.Page{Size: 1, Filters: colors("red")})
		if err != nil || next == "" {
			t.Fatalf("first page: %q, %v", next, err)
		}
		if _, _, err := listItems(t, db, sqldb.Page{Size: 1, Filters: colors("blue"), Token: next}); !errors.Is(err, errs.ErrInvalid) {
			t.Errorf("a token used with other filters = %v, want invalid", err)
		}
		other := sqldb.Page{Kind: "j", Table: "items", Columns: "id, created_at, size, color", Size: 1, Filters: colors("red"), Token: next}
		if _, _, err := sqldb.List(t.Context(), db.R, other, scanItem); !errors.Is(err, errs.ErrInvalid) {
			t.Errorf("a token used for another list = %v, want invalid", err)
		}
		if _, _, err := listItems(t, db, sqldb.Page{Size: 1, Token: "x" + next}); !errors.Is(err, errs.ErrInvalid) {
			t.Errorf("a broken token = %v, want invalid", err)
		}
		if _, _, err := listItems(t, db, sqldb.Page{Size: 3, Filters: colors("red"), Token: next}); err != nil {
			t.Errorf("a token with another page size = %v, want it taken", err)
		}
	})
}
