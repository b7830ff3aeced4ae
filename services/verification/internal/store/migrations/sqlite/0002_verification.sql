-- Verification records: append-only. The verifier's name and type are copied
-- from principals at insert (principals are never renamed or deleted), so
-- lists need no join. extras is a JSON object of strings.
CREATE TABLE verification_records (
    id              TEXT    NOT NULL PRIMARY KEY,
    article_id      TEXT    NOT NULL,
    verifier_id     TEXT    NOT NULL REFERENCES principals (id),
    verifier_name   TEXT    NOT NULL,
    verifier_type   TEXT    NOT NULL,
    result          TEXT    NOT NULL,
    os              TEXT    NOT NULL,
    runtime         TEXT    NOT NULL,
    runtime_version TEXT    NOT NULL,
    extras          TEXT    NOT NULL,
    notes           TEXT    NOT NULL,
    evidence        TEXT    NOT NULL,
    created_at      INTEGER NOT NULL
) STRICT;

-- An article's records newest first; a verifier's newer record on the same
-- article (which supersedes the older) is one index step.
CREATE INDEX verification_records_article_idx ON verification_records (article_id, created_at DESC, id DESC);
CREATE INDEX verification_records_verifier_idx ON verification_records (article_id, verifier_id, created_at, id);

-- Verifiers: principals with a record, and the built-in bots. The counts
-- follow every record; created_at is when the principal became a verifier.
CREATE TABLE verifiers (
    principal_id     TEXT    NOT NULL PRIMARY KEY REFERENCES principals (id),
    passed           INTEGER NOT NULL,
    partial          INTEGER NOT NULL,
    failed           INTEGER NOT NULL,
    last_verified_at INTEGER,
    created_at       INTEGER NOT NULL
) STRICT;

CREATE INDEX verifiers_created_idx ON verifiers (created_at DESC, principal_id DESC);

-- What each article's consensus says of each verifier's counted record there:
-- reputation is summed from these rows when verifiers are read.
CREATE TABLE reputation_verdicts (
    article_id   TEXT    NOT NULL,
    verifier_id  TEXT    NOT NULL,
    confirmed    INTEGER NOT NULL CHECK (confirmed IN (0, 1)),
    contradicted INTEGER NOT NULL CHECK (contradicted IN (0, 1)),
    PRIMARY KEY (article_id, verifier_id)
) STRICT, WITHOUT ROWID;

CREATE INDEX reputation_verdicts_verifier_idx ON reputation_verdicts (verifier_id);

-- Findings: one row per article, rule and field, whose status moves between
-- open, fixed and dismissed. created_at is when it was first opened.
CREATE TABLE findings (
    id              TEXT    NOT NULL PRIMARY KEY,
    article_id      TEXT    NOT NULL,
    rule_key        TEXT    NOT NULL,
    field_path      TEXT    NOT NULL,
    severity        TEXT    NOT NULL,
    title           TEXT    NOT NULL,
    evidence        TEXT    NOT NULL,
    suggested_patch TEXT    NOT NULL,
    auto_fixable    INTEGER NOT NULL CHECK (auto_fixable IN (0, 1)),
    status          TEXT    NOT NULL,
    report_count    INTEGER NOT NULL,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    UNIQUE (article_id, rule_key, field_path)
) STRICT;

-- Inspection runs, newest first per article. data is the run's JSON: its
-- findings as they stood at the end, its notes and the repairs it applied.
CREATE TABLE inspection_runs (
    id                TEXT    NOT NULL PRIMARY KEY,
    article_id        TEXT    NOT NULL,
    article_revision  INTEGER NOT NULL,
    run_trigger       TEXT    NOT NULL,
    status            TEXT    NOT NULL,
    risk_level        TEXT    NOT NULL,
    repaired_revision INTEGER NOT NULL,
    record_id         TEXT    REFERENCES verification_records (id),
    started_at        INTEGER NOT NULL,
    created_at        INTEGER NOT NULL,
    data              TEXT    NOT NULL
) STRICT;

CREATE INDEX inspection_runs_article_idx ON inspection_runs (article_id, created_at DESC, id DESC);

-- Feed cursors: the last change feed revision a follower applied.
CREATE TABLE feed_cursors (
    name     TEXT    NOT NULL PRIMARY KEY,
    revision INTEGER NOT NULL
) STRICT;
