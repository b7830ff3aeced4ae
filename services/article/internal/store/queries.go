package store

import "buzhou.dev/platform/sqldb"

// queries is the SQL that differs between the engines: how a write takes the
// next feed revision, and how it locks the article it changes. Everything
// else is one SQL text for both (see sqldb).
type queries struct {
	// insertArticle stores a new article: $1 id, $2 slug, $3 status,
	// $4 domain, $5 verification_status, $6 revision, $7 created_at,
	// $8 updated_at, $9 data.
	insertArticle string
	// appendChange takes the next feed revision, appends the change with it
	// and points the article at it: $1 article id, $2 kind, $3 change_time,
	// $4 data, $5 cause, $6 changed_paths.
	appendChange string
	// lockArticle reads revision and data of article $1 and keeps other
	// writers of it waiting until the transaction ends.
	lockArticle string
	// updateAndAppend is appendChange that also writes the article: then
	// $7 status, $8 domain, $9 verification_status, $10 revision,
	// $11 created_at, $12 updated_at, $13 data. Its statements run in order,
	// each with all the arguments.
	updateAndAppend []string
}

const insertArticle = `INSERT INTO articles
	(id, slug, status, domain, verification_status, revision, created_at, updated_at, data, feed_revision)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, `

func queriesFor(e sqldb.Engine) queries {
	if e == sqldb.Postgres {
		// Writers bump the feed_state counter with UPDATE … RETURNING in the
		// statement that appends the change, one round trip. The row lock it
		// takes is held to commit, which makes writers commit in revision
		// order, so a follower never sees revision 11 before 10 is committed.
		// The article goes in before the counter is locked: a unique check
		// may wait for another transaction, and it must not wait while
		// holding the lock every writer needs.
		return queries{
			insertArticle: insertArticle + `0)`,
			appendChange: `WITH f AS (UPDATE feed_state SET revision = revision + 1 RETURNING revision),
			a AS (UPDATE articles SET feed_revision = f.revision FROM f WHERE articles.id = $1)
			INSERT INTO changes (revision, article_id, kind, change_time, data, cause, changed_paths)
			SELECT f.revision, $1::text, $2::smallint, $3::timestamptz, $4::text, $5::smallint, $6::text[] FROM f`,
			// FOR UPDATE makes concurrent writers of one article take turns,
			// each mutating the state the previous one committed.
			lockArticle: `SELECT revision, data FROM articles WHERE id = $1 FOR UPDATE`,
			updateAndAppend: []string{`WITH f AS (UPDATE feed_state SET revision = revision + 1 RETURNING revision),
			a AS (UPDATE articles SET status = $7, domain = $8, verification_status = $9, revision = $10,
					created_at = $11, updated_at = $12, data = $13, feed_revision = f.revision
				FROM f WHERE articles.id = $1)
			INSERT INTO changes (revision, article_id, kind, change_time, data, cause, changed_paths)
			SELECT f.revision, $1::text, $2::smallint, $3::timestamptz, $4::text, $5::smallint, $6::text[] FROM f`},
		}
	}
	// Every SQLite write transaction holds the file's write lock from its
	// start (BEGIN IMMEDIATE), so the next revision is one more than the last,
	// and a rolled-back writer leaves no gap. revision is the rowid, so MAX is
	// one index step.
	const appendChange = `INSERT INTO changes (revision, article_id, kind, change_time, data, cause, changed_paths)
		SELECT COALESCE(MAX(revision), 0) + 1, $1, $2, $3, $4, $5, $6 FROM changes`
	return queries{
		insertArticle: insertArticle + `(SELECT COALESCE(MAX(revision), 0) + 1 FROM changes))`,
		appendChange:  appendChange,
		lockArticle:   `SELECT revision, data FROM articles WHERE id = $1`,
		// Two statements: SQLite has no data-modifying WITH.
		updateAndAppend: []string{appendChange, `UPDATE articles SET status = $7, domain = $8, verification_status = $9,
			revision = $10, created_at = $11, updated_at = $12, data = $13,
			feed_revision = (SELECT MAX(revision) FROM changes)
		WHERE id = $1`},
	}
}
