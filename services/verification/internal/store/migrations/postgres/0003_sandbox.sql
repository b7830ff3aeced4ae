-- Sandbox runs, newest first per article. data is the run's JSON: the
-- outcome of every block and the environment they ran in. record_id is the
-- Sandbox Runner's record, absent when nothing ran.
CREATE TABLE sandbox_runs (
    id               text        COLLATE "C" NOT NULL,
    article_id       text        COLLATE "C" NOT NULL,
    article_revision integer     NOT NULL,
    run_trigger      text        NOT NULL,
    result           text        NOT NULL,
    record_id        text        COLLATE "C",
    created_at       timestamptz NOT NULL,
    data             text        NOT NULL,
    CONSTRAINT sandbox_runs_pkey PRIMARY KEY (id),
    CONSTRAINT sandbox_runs_record_fkey FOREIGN KEY (record_id) REFERENCES verification_records (id)
);

CREATE INDEX sandbox_runs_article_idx ON sandbox_runs (article_id, created_at DESC, id DESC);
