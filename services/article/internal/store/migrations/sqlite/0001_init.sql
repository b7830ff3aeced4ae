-- Articles, one row each. data is the protojson of the whole article and is
-- what reads return; the other columns exist to find, sort and count rows.
-- Times are unix microseconds, PostgreSQL's precision, so both engines order
-- alike.
CREATE TABLE articles (
    id                  TEXT    NOT NULL PRIMARY KEY,
    slug                TEXT    NOT NULL UNIQUE,
    status              TEXT    NOT NULL,
    domain              TEXT    NOT NULL,
    verification_status TEXT    NOT NULL,
    revision            INTEGER NOT NULL,
    -- feed revision of the article's newest change
    feed_revision       INTEGER NOT NULL,
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL,
    data                TEXT    NOT NULL
) STRICT;

-- List pages newest first, optionally within one domain or status.
CREATE INDEX articles_created_idx ON articles (created_at DESC, id DESC);
CREATE INDEX articles_domain_idx ON articles (domain, created_at DESC, id DESC);
CREATE INDEX articles_status_idx ON articles (status, created_at DESC, id DESC);

-- The change feed. revision is the rowid, so MAX(revision) is a single index
-- step; data is the article after the change, NULL for a tombstone.
CREATE TABLE changes (
    revision    INTEGER NOT NULL PRIMARY KEY,
    article_id  TEXT    NOT NULL,
    kind        INTEGER NOT NULL,
    change_time INTEGER NOT NULL,
    data        TEXT
) STRICT;
