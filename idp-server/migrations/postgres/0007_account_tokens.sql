-- Single-use tokens sent by e-mail: verification of an address, password reset. Stored as
-- the SHA-256 of the value; taking one deletes it (one atomic statement), so a link works
-- once. The purge deletes the expired ones.
CREATE TABLE account_tokens (
    token_hash TEXT    NOT NULL PRIMARY KEY,
    purpose    TEXT    NOT NULL CHECK (purpose IN ('verify_email', 'reset_password')),
    user_id    TEXT    NOT NULL,
    email      TEXT    NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);

CREATE INDEX account_tokens_user ON account_tokens (user_id, purpose);
CREATE INDEX account_tokens_expires ON account_tokens (expires_at);
