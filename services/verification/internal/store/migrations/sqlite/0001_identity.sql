-- Principals: agents, bots and human experts that own keys. Times are unix
-- microseconds, PostgreSQL's precision, so both engines order alike.
CREATE TABLE principals (
    id         TEXT    NOT NULL PRIMARY KEY,
    name       TEXT    NOT NULL,
    type       TEXT    NOT NULL,
    created_at INTEGER NOT NULL
) STRICT;

-- ListPrincipals pages newest first.
CREATE INDEX principals_created_idx ON principals (created_at DESC, id DESC);

-- API keys. The secret itself is never stored: secret_hash is the hex SHA-256
-- of it, unique so that authentication is one index lookup. scopes is a JSON
-- array of strings. expires_at and revoked_at are NULL while unset.
CREATE TABLE api_keys (
    id                    TEXT    NOT NULL PRIMARY KEY,
    name                  TEXT    NOT NULL,
    principal_id          TEXT    NOT NULL REFERENCES principals (id),
    prefix                TEXT    NOT NULL,
    secret_hash           TEXT    NOT NULL UNIQUE,
    scopes                TEXT    NOT NULL,
    expires_at            INTEGER,
    revoked_at            INTEGER,
    created_at            INTEGER NOT NULL,
    rate_limit_per_minute INTEGER NOT NULL,
    daily_quota           INTEGER NOT NULL,
    monthly_quota         INTEGER NOT NULL,
    bootstrap             INTEGER NOT NULL CHECK (bootstrap IN (0, 1))
) STRICT;

-- ListApiKeys pages newest first; the foreign key wants an index to check.
CREATE INDEX api_keys_created_idx ON api_keys (created_at DESC, id DESC);
CREATE INDEX api_keys_principal_idx ON api_keys (principal_id);

-- Calls per agent and UTC day (YYYY-MM-DD), added to by every gateway flush.
CREATE TABLE agent_usage (
    agent_id         TEXT    NOT NULL,
    day              TEXT    NOT NULL,
    calls            INTEGER NOT NULL,
    errors           INTEGER NOT NULL,
    total_latency_ms INTEGER NOT NULL,
    PRIMARY KEY (agent_id, day)
) STRICT, WITHOUT ROWID;
