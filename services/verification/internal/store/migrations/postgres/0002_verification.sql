-- Verification records: append-only. The verifier's name and type are copied
-- from principals at insert (principals are never renamed or deleted), so
-- lists need no join. extras is a JSON object of strings.
CREATE TABLE verification_records (
    id              text        COLLATE "C" NOT NULL,
    article_id      text        COLLATE "C" NOT NULL,
    verifier_id     text        COLLATE "C" NOT NULL,
    verifier_name   text        NOT NULL,
    verifier_type   text        NOT NULL,
    result          text        NOT NULL,
    os              text        NOT NULL,
    runtime         text        NOT NULL,
    runtime_version text        NOT NULL,
    extras          text        NOT NULL,
    notes           text        NOT NULL,
    evidence        text        NOT NULL,
    created_at      timestamptz NOT NULL,
    CONSTRAINT verification_records_pkey PRIMARY KEY (id),
    CONSTRAINT verification_records_verifier_fkey FOREIGN KEY (verifier_id) REFERENCES principals (id)
);

-- An article's records newest first; a verifier's newer record on the same
-- article (which supersedes the older) is one index step.
CREATE INDEX verification_records_article_idx ON verification_records (article_id, created_at DESC, id DESC);
CREATE INDEX verification_records_verifier_idx ON verification_records (article_id, verifier_id, created_at, id);

-- Verifiers: principals with a record, and the built-in bots. The counts
-- follow every record; created_at is when the principal became a verifier.
CREATE TABLE verifiers (
    principal_id     text        COLLATE "C" NOT NULL,
    passed           bigint      NOT NULL,
    partial          bigint      NOT NULL,
    failed           bigint      NOT NULL,
    last_verified_at timestamptz,
    created_at       timestamptz NOT NULL,
    CONSTRAINT verifiers_pkey PRIMARY KEY (principal_id),
    CONSTRAINT verifiers_principal_fkey FOREIGN KEY (principal_id) REFERENCES principals (id)
);

CREATE INDEX verifiers_created_idx ON verifiers (created_at DESC, principal_id DESC);

-- What each article's consensus says of each verifier's counted record there:
-- reputation is summed from these rows when verifiers are read.
CREATE TABLE reputation_verdicts (
    article_id   text    COLLATE "C" NOT NULL,
    verifier_id  text    COLLATE "C" NOT NULL,
    confirmed    integer NOT NULL CHECK (confirmed IN (0, 1)),
    contradicted integer NOT NULL CHECK (contradicted IN (0, 1)),
    CONSTRAINT reputation_verdicts_pkey PRIMARY KEY (article_id, verifier_id)
);

CREATE INDEX reputation_verdicts_verifier_idx ON reputation_verdicts (verifier_id);

-- Findings: one row per article, rule and field, whose status moves between
-- open, fixed and dismissed. created_at is when it was first opened.
CREATE TABLE findings (
    id              text        COLLATE "C" NOT NULL,
    article_id      text        COLLATE "C" NOT NULL,
    rule_key        text        COLLATE "C" NOT NULL,
    field_path      text        COLLATE "C" NOT NULL,
    severity        text        NOT NULL,
    title           text        NOT NULL,
    evidence        text        NOT NULL,
    suggested_patch text        NOT NULL,
    auto_fixable    boolean     NOT NULL,
    status          text        NOT NULL,
    report_count    integer     NOT NULL,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    CONSTRAINT findings_pkey PRIMARY KEY (id),
    CONSTRAINT findings_article_rule_path_key UNIQUE (article_id, rule_key, field_path)
);

-- Inspection runs, newest first per article. data is the run's JSON: its
-- findings as they stood at the end, its notes and the repairs it applied.
CREATE TABLE inspection_runs (
    id                text        COLLATE "C" NOT NULL,
    article_id        text        COLLATE "C" NOT NULL,
    article_revision  integer     NOT NULL,
    run_trigger       text        NOT NULL,
    status            text        NOT NULL,
    risk_level        text        NOT NULL,
    repaired_revision integer     NOT NULL,
    record_id         text        COLLATE "C",
    started_at        timestamptz NOT NULL,
    created_at        timestamptz NOT NULL,
    data              text        NOT NULL,
    CONSTRAINT inspection_runs_pkey PRIMARY KEY (id),
    CONSTRAINT inspection_runs_record_fkey FOREIGN KEY (record_id) REFERENCES verification_records (id)
);

CREATE INDEX inspection_runs_article_idx ON inspection_runs (article_id, created_at DESC, id DESC);

-- Feed cursors: the last change feed revision a follower applied.
CREATE TABLE feed_cursors (
    name     text   COLLATE "C" NOT NULL,
    revision bigint NOT NULL,
    CONSTRAINT feed_cursors_pkey PRIMARY KEY (name)
);
