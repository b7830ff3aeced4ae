-- Repairs sent to the article service whose inspection run is not stored
-- yet: written before the repair, removed with the run's insert (or when the
-- repair is known not written), and settled at start-up after a crash.
CREATE TABLE pending_repairs (
    run_id     TEXT NOT NULL PRIMARY KEY,
    article_id TEXT NOT NULL,
    data       TEXT NOT NULL
) STRICT;
