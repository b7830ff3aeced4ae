-- Feed cursors: the last article feed revision each index holds. name is
-- the index ("embedded", "qdrant:<collection>"), so switching backends never
-- trusts a cursor that was saved for another one. Times are unix
-- microseconds.
CREATE TABLE search_cursors (
    name       TEXT    NOT NULL PRIMARY KEY,
    revision   INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
) STRICT;

-- Queries that found nothing good enough, by normalised text; no IPs, no keys.
CREATE TABLE search_unanswered (
    query        TEXT    NOT NULL PRIMARY KEY,
    count        INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL
) STRICT;

CREATE INDEX search_unanswered_rank_idx ON search_unanswered (count DESC, last_seen_at DESC);

-- Learned embedding models, by name, so replicas and restarts share one.
CREATE TABLE search_models (
    name       TEXT    NOT NULL PRIMARY KEY,
    data       BLOB    NOT NULL,
    created_at INTEGER NOT NULL
) STRICT;
