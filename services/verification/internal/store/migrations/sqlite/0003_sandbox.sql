-- Sandbox runs, newest first per article. data is the run's JSON: the
-- outcome of every block and the environment they ran in. record_id is the
-- Sandbox Runner's record, absent when nothing ran.
CREATE TABLE sandbox_runs (
    id               TEXT    NOT NULL PRIMARY KEY,
    article_id       TEXT    NOT NULL,
    article_revision INTEGER NOT NULL,
    run_trigger      TEXT    NOT NULL,
    result           TEXT    NOT NULL,
    record_id        TEXT    REFERENCES verification_records (id),
    created_at       INTEGER NOT NULL,
    data             TEXT    NOT NULL
) STRICT;

CREATE INDEX sandbox_runs_article_idx ON sandbox_runs (article_id, created_at DESC, id DESC);
