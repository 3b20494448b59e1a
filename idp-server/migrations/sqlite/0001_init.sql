-- Initial schema of the SQLite store (see src/store/sqlite.rs for the column encodings).
--
-- Times are INTEGER seconds since the Unix epoch, booleans INTEGER 0/1, scopes their
-- space-delimited string, lists and attribute maps JSON text. Tables are STRICT so that a value
-- of the wrong type is refused on write instead of being found on read.
--
-- There are deliberately no foreign keys between tables: the store keeps the semantics of the
-- in-memory reference store, where deleting a user or a client leaves its codes, tokens,
-- sessions and consents alone (they stop working because the user or client is gone).

CREATE TABLE users (
    id             TEXT    NOT NULL PRIMARY KEY,
    tenant_id      TEXT,
    email          TEXT    NOT NULL,
    email_verified INTEGER NOT NULL CHECK (email_verified IN (0, 1)),
    password_hash  TEXT,
    name           TEXT,
    given_name     TEXT,
    family_name    TEXT,
    picture        TEXT,
    locale         TEXT,
    active         INTEGER NOT NULL CHECK (active IN (0, 1)),
    allowed_scopes TEXT,
    attributes     TEXT    NOT NULL,
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL
) STRICT;

-- An e-mail address is unique within a tenant, ignoring ASCII case (SQLite's built-in lower()
-- folds ASCII only, which is exactly the contract). SQLite treats NULLs as distinct in unique
-- indexes, so users without a tenant get their own partial index; unlike an index on
-- COALESCE(tenant_id, ''), this keeps "no tenant" and a tenant named '' apart.
CREATE UNIQUE INDEX users_tenant_email ON users (tenant_id, lower(email))
    WHERE tenant_id IS NOT NULL;
CREATE UNIQUE INDEX users_no_tenant_email ON users (lower(email))
    WHERE tenant_id IS NULL;
-- Listing a tenant's users in order.
CREATE INDEX users_tenant_created ON users (tenant_id, created_at, id);

CREATE TABLE clients (
    client_id                  TEXT    NOT NULL PRIMARY KEY,
    tenant_id                  TEXT,
    name                       TEXT,
    secret_hash                TEXT,
    redirect_uris              TEXT    NOT NULL,
    post_logout_redirect_uris  TEXT    NOT NULL,
    allowed_scopes             TEXT    NOT NULL,
    grant_types                TEXT    NOT NULL,
    token_endpoint_auth_method TEXT    NOT NULL,
    audiences                  TEXT    NOT NULL,
    first_party                INTEGER NOT NULL CHECK (first_party IN (0, 1)),
    active                     INTEGER NOT NULL CHECK (active IN (0, 1)),
    attributes                 TEXT    NOT NULL,
    created_at                 INTEGER NOT NULL,
    updated_at                 INTEGER NOT NULL
) STRICT;

CREATE INDEX clients_tenant_created ON clients (tenant_id, created_at, client_id);

CREATE TABLE signing_keys (
    kid                TEXT    NOT NULL PRIMARY KEY,
    alg                TEXT    NOT NULL,
    private_key_sealed BLOB    NOT NULL,
    public_jwk         TEXT    NOT NULL,
    created_at         INTEGER NOT NULL,
    activates_at       INTEGER NOT NULL,
    retired_at         INTEGER,
    expires_at         INTEGER
) STRICT;

CREATE TABLE auth_codes (
    code_hash      TEXT    NOT NULL PRIMARY KEY,
    client_id      TEXT    NOT NULL,
    user_id        TEXT    NOT NULL,
    redirect_uri   TEXT    NOT NULL,
    scope          TEXT    NOT NULL,
    nonce          TEXT,
    code_challenge TEXT,
    auth_time      INTEGER NOT NULL,
    session_id     TEXT,
    grant_id       TEXT    NOT NULL,
    created_at     INTEGER NOT NULL,
    expires_at     INTEGER NOT NULL,
    consumed_at    INTEGER
) STRICT;

CREATE INDEX auth_codes_expires ON auth_codes (expires_at);

CREATE TABLE refresh_tokens (
    token_hash TEXT    NOT NULL PRIMARY KEY,
    family_id  TEXT    NOT NULL,
    client_id  TEXT    NOT NULL,
    user_id    TEXT    NOT NULL,
    scope      TEXT    NOT NULL,
    audiences  TEXT    NOT NULL,
    auth_time  INTEGER NOT NULL,
    session_id TEXT,
    tenant_id  TEXT,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    rotated_at INTEGER,
    revoked_at INTEGER
) STRICT;

CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_expires ON refresh_tokens (expires_at);

CREATE TABLE sessions (
    session_hash TEXT    NOT NULL PRIMARY KEY,
    sid          TEXT    NOT NULL,
    user_id      TEXT    NOT NULL,
    auth_time    INTEGER NOT NULL,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL
) STRICT;

CREATE INDEX sessions_expires ON sessions (expires_at);

CREATE TABLE consents (
    user_id    TEXT    NOT NULL,
    client_id  TEXT    NOT NULL,
    scope      TEXT    NOT NULL,
    granted_at INTEGER NOT NULL,
    PRIMARY KEY (user_id, client_id)
) STRICT;

CREATE TABLE revoked_access_tokens (
    jti        TEXT    NOT NULL PRIMARY KEY,
    expires_at INTEGER NOT NULL
) STRICT;

CREATE INDEX revoked_access_tokens_expires ON revoked_access_tokens (expires_at);
