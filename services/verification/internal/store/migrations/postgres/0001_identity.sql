-- Principals: agents, bots and human experts that own keys. ids sort bytewise
-- (COLLATE "C") as in SQLite, so lists break created_at ties the same way on
-- both engines whatever the database's locale. The constraint names are what
-- the store reads from a violation.
CREATE TABLE principals (
    id         text        COLLATE "C" NOT NULL,
    name       text        NOT NULL,
    type       text        NOT NULL,
    created_at timestamptz NOT NULL,
    CONSTRAINT principals_pkey PRIMARY KEY (id)
);

-- ListPrincipals pages newest first.
CREATE INDEX principals_created_idx ON principals (created_at DESC, id DESC);

-- API keys. The secret itself is never stored: secret_hash is the hex SHA-256
-- of it, unique so that authentication is one index lookup. expires_at and
-- revoked_at are NULL while unset.
CREATE TABLE api_keys (
    id                    text        COLLATE "C" NOT NULL,
    name                  text        NOT NULL,
    principal_id          text        COLLATE "C" NOT NULL,
    prefix                text        NOT NULL,
    secret_hash           text        NOT NULL,
    scopes                text[]      NOT NULL,
    expires_at            timestamptz,
    revoked_at            timestamptz,
    created_at            timestamptz NOT NULL,
    rate_limit_per_minute integer     NOT NULL,
    daily_quota           bigint      NOT NULL,
    monthly_quota         bigint      NOT NULL,
    bootstrap             boolean     NOT NULL,
    CONSTRAINT api_keys_pkey PRIMARY KEY (id),
    CONSTRAINT api_keys_secret_hash_key UNIQUE (secret_hash),
    CONSTRAINT api_keys_principal_fkey FOREIGN KEY (principal_id) REFERENCES principals (id)
);

-- ListApiKeys pages newest first; the foreign key wants an index to check.
CREATE INDEX api_keys_created_idx ON api_keys (created_at DESC, id DESC);
CREATE INDEX api_keys_principal_idx ON api_keys (principal_id);

-- Calls per agent and UTC day, added to by every gateway flush.
CREATE TABLE agent_usage (
    agent_id         text   COLLATE "C" NOT NULL,
    day              date   NOT NULL,
    calls            bigint NOT NULL,
    errors           bigint NOT NULL,
    total_latency_ms bigint NOT NULL,
    CONSTRAINT agent_usage_pkey PRIMARY KEY (agent_id, day)
);
