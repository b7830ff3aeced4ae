-- Repairs sent to the article service whose inspection run is not stored
-- yet: written before the repair, removed with the run's insert (or when the
-- repair is known not written), and settled at start-up after a crash.
CREATE TABLE pending_repairs (
    run_id     text COLLATE "C" NOT NULL,
    article_id text COLLATE "C" NOT NULL,
    data       text NOT NULL,
    CONSTRAINT pending_repairs_pkey PRIMARY KEY (run_id)
);
