-- The feed counter. Writers bump it with UPDATE … RETURNING inside their
-- transaction; the row lock makes them commit in revision order, so a
-- follower never sees revision 11 before 10 is committed, and a rolled-back
-- writer leaves no gap.
CREATE TABLE feed_state (
    id       boolean NOT NULL DEFAULT true,
    revision bigint  NOT NULL,
    CONSTRAINT feed_state_pkey PRIMARY KEY (id),
    CONSTRAINT feed_state_one_row CHECK (id)
);
INSERT INTO feed_state (id, revision) VALUES (true, 0);

-- Articles, one row each. data is the protojson of the whole article and is
-- what reads return; the other columns exist to find, sort and count rows.
-- The constraint names are what the store reads from a unique violation. id
-- sorts bytewise (COLLATE "C") as in SQLite, so List breaks created_at ties
-- the same way on both engines whatever the database's locale.
CREATE TABLE articles (
    id                  text        COLLATE "C" NOT NULL,
    slug                text        NOT NULL,
    status              text        NOT NULL,
    domain              text        NOT NULL,
    verification_status text        NOT NULL,
    revision            integer     NOT NULL,
    -- feed revision of the article's newest change
    feed_revision       bigint      NOT NULL,
    created_at          timestamptz NOT NULL,
    updated_at          timestamptz NOT NULL,
    data                text        NOT NULL,
    CONSTRAINT articles_pkey PRIMARY KEY (id),
    CONSTRAINT articles_slug_key UNIQUE (slug)
);

-- List pages newest first, optionally within one domain or status.
CREATE INDEX articles_created_idx ON articles (created_at DESC, id DESC);
CREATE INDEX articles_domain_idx ON articles (domain, created_at DESC, id DESC);
CREATE INDEX articles_status_idx ON articles (status, created_at DESC, id DESC);

-- The change feed; data is the article after the change, NULL for a tombstone.
CREATE TABLE changes (
    revision    bigint      NOT NULL,
    article_id  text        NOT NULL,
    kind        smallint    NOT NULL,
    change_time timestamptz NOT NULL,
    data        text,
    CONSTRAINT changes_pkey PRIMARY KEY (revision)
);
