-- Initial schema of the PostgreSQL store (see src/store/postgres.rs for the column encodings).
--
-- Times are BIGINT seconds since the Unix epoch, booleans BOOLEAN, scopes their
-- space-delimited string, lists and attribute maps JSON held as TEXT (not JSONB: JSONB
-- rewrites numbers and refuses \u0000, so a round trip would not be exact), the sealed
-- private key BYTEA.
--
-- Identifier and tenant columns use the "C" collation, so that ordering (`ORDER BY
-- created_at, id`) is bytewise whatever the database's default collation, as in the SQLite
-- and in-memory stores.
--
-- There are deliberately no foreign keys between tables: the store keeps the semantics of the
-- in-memory reference store, where deleting a user or a client leaves its codes, tokens,
-- sessions and consents alone (they stop working because the user or client is gone).
--
-- Tables are created in the first schema of the connection's search_path (normally
-- "public"), as is sqlx's _sqlx_migrations table.

CREATE TABLE users (
    id             TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    tenant_id      TEXT COLLATE "C",
    email          TEXT    NOT NULL,
    email_verified BOOLEAN NOT NULL,
    password_hash  TEXT,
    name           TEXT,
    given_name     TEXT,
    family_name    TEXT,
    picture        TEXT,
    locale         TEXT,
    active         BOOLEAN NOT NULL,
    allowed_scopes TEXT,
    attributes     TEXT    NOT NULL,
    created_at     BIGINT  NOT NULL,
    updated_at     BIGINT  NOT NULL
);

-- An e-mail address is unique within a tenant, ignoring ASCII case only: lower() under the
-- "C" collation folds A-Z and nothing else, whatever the database's locale (under a UTF-8
-- locale it would also fold 'È' to 'è'). NULLs are distinct in unique indexes, so users
-- without a tenant get their own partial index; unlike an index on COALESCE(tenant_id, ''),
-- this keeps "no tenant" and a tenant named '' apart. The lookups in the store use exactly
-- these expressions, so that they can use the indexes.
CREATE UNIQUE INDEX users_tenant_email ON users (tenant_id, lower(email COLLATE "C"))
    WHERE tenant_id IS NOT NULL;
CREATE UNIQUE INDEX users_no_tenant_email ON users (lower(email COLLATE "C"))
    WHERE tenant_id IS NULL;
-- Listing a tenant's users in order.
CREATE INDEX users_tenant_created ON users (tenant_id, created_at, id);

CREATE TABLE clients (
    client_id                  TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    tenant_id                  TEXT COLLATE "C",
    name                       TEXT,
    secret_hash                TEXT,
    redirect_uris              TEXT    NOT NULL,
    post_logout_redirect_uris  TEXT    NOT NULL,
    allowed_scopes             TEXT    NOT NULL,
    grant_types                TEXT    NOT NULL,
    token_endpoint_auth_method TEXT    NOT NULL,
    audiences                  TEXT    NOT NULL,
    first_party                BOOLEAN NOT NULL,
    active                     BOOLEAN NOT NULL,
    attributes                 TEXT    NOT NULL,
    created_at                 BIGINT  NOT NULL,
    updated_at                 BIGINT  NOT NULL
);

CREATE INDEX clients_tenant_created ON clients (tenant_id, created_at, client_id);

CREATE TABLE signing_keys (
    kid                TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    alg                TEXT   NOT NULL,
    private_key_sealed BYTEA  NOT NULL,
    public_jwk         TEXT   NOT NULL,
    created_at         BIGINT NOT NULL,
    activates_at       BIGINT NOT NULL,
    retired_at         BIGINT,
    expires_at         BIGINT
);

CREATE TABLE auth_codes (
    code_hash      TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    client_id      TEXT   NOT NULL,
    user_id        TEXT   NOT NULL,
    redirect_uri   TEXT   NOT NULL,
    scope          TEXT   NOT NULL,
    nonce          TEXT,
    code_challenge TEXT,
    auth_time      BIGINT NOT NULL,
    session_id     TEXT,
    grant_id       TEXT   NOT NULL,
    created_at     BIGINT NOT NULL,
    expires_at     BIGINT NOT NULL,
    consumed_at    BIGINT
);

CREATE INDEX auth_codes_expires ON auth_codes (expires_at);

CREATE TABLE refresh_tokens (
    token_hash TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    family_id  TEXT COLLATE "C" NOT NULL,
    client_id  TEXT   NOT NULL,
    user_id    TEXT   NOT NULL,
    scope      TEXT   NOT NULL,
    audiences  TEXT   NOT NULL,
    auth_time  BIGINT NOT NULL,
    session_id TEXT,
    tenant_id  TEXT,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    rotated_at BIGINT,
    revoked_at BIGINT
);

CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_expires ON refresh_tokens (expires_at);

CREATE TABLE sessions (
    session_hash TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    sid          TEXT   NOT NULL,
    user_id      TEXT   NOT NULL,
    auth_time    BIGINT NOT NULL,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL
);

CREATE INDEX sessions_expires ON sessions (expires_at);

CREATE TABLE consents (
    user_id    TEXT COLLATE "C" NOT NULL,
    client_id  TEXT COLLATE "C" NOT NULL,
    scope      TEXT   NOT NULL,
    granted_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, client_id)
);

CREATE TABLE revoked_access_tokens (
    jti        TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    expires_at BIGINT NOT NULL
);

CREATE INDEX revoked_access_tokens_expires ON revoked_access_tokens (expires_at);
