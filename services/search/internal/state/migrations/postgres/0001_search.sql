-- Feed cursors: the last article feed revision each index holds. name is
-- the index ("embedded", "qdrant:<collection>"), so switching backends never
-- trusts a cursor that was saved for another one.
CREATE TABLE search_cursors (
    name       text        NOT NULL PRIMARY KEY,
    revision   bigint      NOT NULL,
    updated_at timestamptz NOT NULL
);

-- Queries that found nothing good enough, by normalised text; no IPs, no keys.
CREATE TABLE search_unanswered (
    query        text        NOT NULL PRIMARY KEY,
    count        bigint      NOT NULL,
    last_seen_at timestamptz NOT NULL
);

CREATE INDEX search_unanswered_rank_idx ON search_unanswered (count DESC, last_seen_at DESC);

-- Learned embedding models, by name, so replicas and restarts share one.
CREATE TABLE search_models (
    name       text        NOT NULL PRIMARY KEY,
    data       bytea       NOT NULL,
    created_at timestamptz NOT NULL
);
