-- Device authorizations (RFC 8628): the device code stored as its SHA-256, the user code
-- normalised (upper case, no dash) and unique while the row lives, so that the verification
-- page finds it by what the user typed. A row lives until `expires_at`, then the purge
-- deletes it; an approval names the grant it created (`grant_id`), so that revoking the
-- grant ends what the device got.
CREATE TABLE device_codes (
    device_code_hash TEXT    NOT NULL PRIMARY KEY,
    user_code        TEXT    NOT NULL,
    client_id        TEXT    NOT NULL,
    scope            TEXT    NOT NULL,
    created_at       BIGINT  NOT NULL,
    expires_at       BIGINT  NOT NULL,
    poll_interval    BIGINT  NOT NULL,
    last_polled_at   BIGINT,
    status           TEXT    NOT NULL CHECK (status IN ('pending', 'approved', 'denied')),
    user_id          TEXT,
    grant_id         TEXT,
    granted_scope    TEXT,
    session_id       TEXT,
    auth_time        BIGINT,
    decided_at       BIGINT,
    consumed_at      BIGINT
);

CREATE UNIQUE INDEX device_codes_user_code ON device_codes (user_code);
CREATE INDEX device_codes_expires ON device_codes (expires_at);
