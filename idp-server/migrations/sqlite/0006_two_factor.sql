-- Two-factor authentication (TOTP, RFC 6238).
--
-- `two_factor`: one row per user who began enrolment; the shared secret sealed with the
-- configured encryption key (AES-256-GCM, bound to the user id), never in clear. Two-factor
-- is on once `enabled_at` is set. `last_step` is the last TOTP time step accepted: a code of
-- that step or an earlier one is refused (no replay within its window).
CREATE TABLE two_factor (
    user_id       TEXT    NOT NULL PRIMARY KEY,
    secret_sealed BLOB    NOT NULL,
    enabled_at    INTEGER,
    last_step     INTEGER,
    created_at    INTEGER NOT NULL
) STRICT;

-- Single-use backup codes, stored as a keyed hash (HMAC-SHA256 under a key derived from the
-- encryption key); `used_at` once spent.
CREATE TABLE backup_codes (
    user_id   TEXT    NOT NULL,
    code_hash TEXT    NOT NULL,
    used_at   INTEGER,
    PRIMARY KEY (user_id, code_hash)
) STRICT;

-- A sign-in whose password was right and whose second factor is awaited: bound to the
-- browser by a cookie (stored as its SHA-256), expiring, with a bounded number of attempts.
CREATE TABLE pending_sign_ins (
    pending_hash TEXT    NOT NULL PRIMARY KEY,
    user_id      TEXT    NOT NULL,
    attempts     INTEGER NOT NULL,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL
) STRICT;

CREATE INDEX pending_sign_ins_expires ON pending_sign_ins (expires_at);

-- How a session's user authenticated (the ID token's `amr`, space-separated); NULL: a
-- password (rows from before this migration).
ALTER TABLE sessions ADD COLUMN amr TEXT;
ALTER TABLE grants ADD COLUMN amr TEXT;
