-- Grants: one row per authorization (code -> tokens -> refreshes). Access tokens name their
-- grant (`gid` claim), refresh tokens carry it as `family_id`, codes as `grant_id`; revoking
-- the row ends them all. Sessions, users and clients cascade through these columns.
CREATE TABLE grants (
    grant_id   TEXT    NOT NULL PRIMARY KEY,
    client_id  TEXT    NOT NULL,
    user_id    TEXT    NOT NULL,
    tenant_id  TEXT,
    session_id TEXT,
    offline    INTEGER NOT NULL CHECK (offline IN (0, 1)),
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    revoked_at INTEGER
) STRICT;

CREATE INDEX grants_user ON grants (user_id);
CREATE INDEX grants_client ON grants (client_id);
CREATE INDEX grants_session ON grants (session_id);
CREATE INDEX grants_expires ON grants (expires_at);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX auth_codes_grant ON auth_codes (grant_id);

-- What was granted before grants were stored: every refresh-token family (it was granted
-- offline_access), and every code not yet exchanged.
INSERT OR IGNORE INTO grants
    SELECT family_id, MIN(client_id), MIN(user_id), MIN(tenant_id), MIN(session_id), 1,
           MIN(created_at), MAX(expires_at), NULL
    FROM refresh_tokens GROUP BY family_id;
INSERT OR IGNORE INTO grants
    SELECT grant_id, client_id, user_id, NULL, session_id,
           CASE WHEN (' ' || scope || ' ') LIKE '% offline_access %' THEN 1 ELSE 0 END,
           created_at, expires_at + 31536000, NULL
    FROM auth_codes WHERE consumed_at IS NULL;

-- OpenID Connect Back-Channel Logout 1.0: where a client is told that a session ended.
ALTER TABLE clients ADD COLUMN backchannel_logout_uri TEXT;
