//! The SQL stores: one text per statement for SQLite and PostgreSQL, one implementation of
//! [`Store`](super::Store) for both, and a small [`Dialect`] each for what the two databases
//! do their own way.
//!
//! Every statement below is written with `$N` placeholders: PostgreSQL's own syntax, which
//! sqlx's SQLite driver binds by number too. The implementation (`sql_store!` in `shared.rs`,
//! with `helpers.rs` and `rows.rs`) is a macro expanded once per database, since sqlx's
//! per-database encode and decode bounds would otherwise have to be spelled out for every
//! column type; what it calls per database is the [`Dialect`].
//!
//! Column encodings: times are integer Unix seconds, booleans the database's own, a `Scope`
//! its space-delimited string, lists (redirect URIs, grant types, audiences) and attribute
//! maps JSON text, an `Algorithm` its name, the public `Jwk` its JSON and the sealed private
//! key a blob. The schemas live in `migrations/sqlite/` and `migrations/postgres/`.
//!
//! Consuming a code is one conditional `UPDATE … RETURNING`; rotating a refresh token is one
//! write transaction (insert the successor, conditionally mark the old token rotated).
//! Neither reads first and writes after: of concurrent callers, exactly one sees the row come
//! back from the `UPDATE` (SQLite serializes writers; under PostgreSQL's READ COMMITTED a
//! second `UPDATE` of the same row waits for the first to commit and then re-checks its
//! `WHERE` clause against the new version).

mod helpers;
#[cfg(feature = "postgres")]
mod postgres;
mod rows;
mod shared;
#[cfg(feature = "sqlite")]
mod sqlite;
mod two_factor;

#[cfg(feature = "postgres")]
pub use postgres::PostgresStore;
#[cfg(feature = "sqlite")]
pub use sqlite::SqliteStore;

use serde::Serialize;
use sqlx::error::DatabaseError;

use super::StoreError;

/// What one database does its own way. Implemented by each store type; everything else (the
/// statements and the [`Store`](super::Store) implementation) is shared.
trait Dialect {
    /// The statement that begins a write transaction.
    const BEGIN_WRITE: &'static str;
    /// A user by e-mail, ignoring ASCII case, within a tenant (`$1` the tenant, `$2` the
    /// e-mail). Each database spells the match as its unique index does, so the index serves.
    const FIND_USER_IN_TENANT: &'static str;
    /// A user by e-mail, ignoring ASCII case, with no tenant (`$1` the e-mail).
    const FIND_USER_NO_TENANT: &'static str;

    /// Whether `key` can be held in a text column, and so match a stored one. A lookup by a
    /// key that cannot finds nothing without asking the database.
    fn storable(key: &str) -> bool;

    /// Whether a unique violation is on the primary key of `users` (rather than the e-mail).
    fn is_user_id_violation(error: &dyn DatabaseError) -> bool;

    /// [`Store::announce_client_change`](super::Store::announce_client_change) for this
    /// database: nothing unless it has a channel between processes.
    async fn announce_client_change(&self, _client_id: &str) -> Result<(), StoreError> {
        Ok(())
    }

    /// [`Store::announce_tenant_change`](super::Store::announce_tenant_change) for this
    /// database: nothing unless it has a channel between processes.
    async fn announce_tenant_change(&self, _tenant_id: &str) -> Result<(), StoreError> {
        Ok(())
    }

    /// [`Store::client_changes`](super::Store::client_changes) for this database.
    async fn client_changes(&self) -> Option<tokio::sync::mpsc::Receiver<super::ClientChange>> {
        None
    }
}

// ---- errors ----

/// Any failure of the database as [`StoreError::Backend`]. A database error displays its
/// message only (not PostgreSQL's DETAIL, which may quote a row).
fn backend(e: sqlx::Error) -> StoreError {
    StoreError::Backend(e.to_string())
}

/// `Conflict(message)` for a unique-constraint violation, `Backend` for anything else.
fn conflict_or_backend(e: sqlx::Error, message: &str) -> StoreError {
    if e.as_database_error()
        .is_some_and(|d| d.is_unique_violation())
    {
        StoreError::Conflict(message.to_owned())
    } else {
        backend(e)
    }
}

/// Users have two unique constraints: the id and the e-mail within the tenant.
fn user_write_error<D: Dialect>(e: sqlx::Error) -> StoreError {
    let id_taken = e
        .as_database_error()
        .is_some_and(|d| d.is_unique_violation() && D::is_user_id_violation(d));
    if id_taken {
        StoreError::Conflict("user id already exists".into())
    } else {
        conflict_or_backend(e, "email already registered")
    }
}

fn to_json<T: Serialize + ?Sized>(value: &T, what: &str) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|_| StoreError::Backend(format!("cannot encode {what}")))
}

// ---- statements ----
//
// One text per statement for both databases. The bind order of the user, client and refresh
// token columns is the one of `bind_user`, `bind_client` and `bind_refresh` (`shared.rs`).

const INSERT_USER: &str = "INSERT INTO users (id, tenant_id, email, email_verified, \
     password_hash, name, given_name, family_name, picture, locale, active, allowed_scopes, \
     attributes, created_at, updated_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)";
const UPDATE_USER: &str = "UPDATE users SET tenant_id = $2, email = $3, email_verified = $4, \
     password_hash = $5, name = $6, given_name = $7, family_name = $8, picture = $9, \
     locale = $10, active = $11, allowed_scopes = $12, attributes = $13, created_at = $14, \
     updated_at = $15 WHERE id = $1";
const USER_BY_ID: &str = "SELECT * FROM users WHERE id = $1";
const USERS_OF_TENANT: &str = "SELECT * FROM users WHERE tenant_id = $1 ORDER BY created_at, id";
const ALL_USERS: &str = "SELECT * FROM users ORDER BY created_at, id";
// Keyset pages: after the row `after` in (created_at, id) order; an unknown `after` makes
// the sub-select empty, the comparison unknown, and the page empty.
const USERS_FIRST: &str = "SELECT * FROM users ORDER BY created_at, id LIMIT $1";
const USERS_AFTER: &str = "SELECT * FROM users WHERE (created_at, id) > \
     (SELECT created_at, id FROM users WHERE id = $1) ORDER BY created_at, id LIMIT $2";
const TENANT_USERS_FIRST: &str =
    "SELECT * FROM users WHERE tenant_id = $1 ORDER BY created_at, id LIMIT $2";
const TENANT_USERS_AFTER: &str = "SELECT * FROM users WHERE tenant_id = $1 AND \
     (created_at, id) > (SELECT created_at, id FROM users WHERE id = $2 AND tenant_id = $1) \
     ORDER BY created_at, id LIMIT $3";
const DELETE_USER: &str = "DELETE FROM users WHERE id = $1";

const INSERT_CLIENT: &str = "INSERT INTO clients (client_id, tenant_id, name, secret_hash, \
     redirect_uris, post_logout_redirect_uris, allowed_scopes, grant_types, \
     token_endpoint_auth_method, audiences, first_party, active, attributes, created_at, \
     updated_at, backchannel_logout_uri) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)";
const UPDATE_CLIENT: &str = "UPDATE clients SET tenant_id = $2, name = $3, secret_hash = $4, \
     redirect_uris = $5, post_logout_redirect_uris = $6, allowed_scopes = $7, \
     grant_types = $8, token_endpoint_auth_method = $9, audiences = $10, first_party = $11, \
     active = $12, attributes = $13, created_at = $14, updated_at = $15, \
     backchannel_logout_uri = $16 WHERE client_id = $1";
const CLIENT_BY_ID: &str = "SELECT * FROM clients WHERE client_id = $1";
const CLIENTS_OF_TENANT: &str =
    "SELECT * FROM clients WHERE tenant_id = $1 ORDER BY created_at, client_id";
const ALL_CLIENTS: &str = "SELECT * FROM clients ORDER BY created_at, client_id";
const CLIENTS_FIRST: &str = "SELECT * FROM clients ORDER BY created_at, client_id LIMIT $1";
const CLIENTS_AFTER: &str = "SELECT * FROM clients WHERE (created_at, client_id) > \
     (SELECT created_at, client_id FROM clients WHERE client_id = $1) \
     ORDER BY created_at, client_id LIMIT $2";
const TENANT_CLIENTS_FIRST: &str =
    "SELECT * FROM clients WHERE tenant_id = $1 ORDER BY created_at, client_id LIMIT $2";
const TENANT_CLIENTS_AFTER: &str = "SELECT * FROM clients WHERE tenant_id = $1 AND \
     (created_at, client_id) > \
     (SELECT created_at, client_id FROM clients WHERE client_id = $2 AND tenant_id = $1) \
     ORDER BY created_at, client_id LIMIT $3";
const DELETE_CLIENT: &str = "DELETE FROM clients WHERE client_id = $1";

const INSERT_TENANT: &str = "INSERT INTO tenants (id, display_name, logo_url, allowed_scopes, \
     created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6)";
const UPDATE_TENANT: &str = "UPDATE tenants SET display_name = $2, logo_url = $3, \
     allowed_scopes = $4, created_at = $5, updated_at = $6 WHERE id = $1";
const TENANT_BY_ID: &str = "SELECT * FROM tenants WHERE id = $1";
const ALL_TENANTS: &str = "SELECT * FROM tenants ORDER BY id";

const INSERT_KEY: &str = "INSERT INTO signing_keys (kid, alg, private_key_sealed, public_jwk, \
     created_at, activates_at, retired_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
const ALL_KEYS: &str = "SELECT * FROM signing_keys ORDER BY created_at, kid";
const RETIRE_KEY: &str = "UPDATE signing_keys SET retired_at = $2, expires_at = $3 WHERE kid = $1";
const DELETE_EXPIRED_KEYS: &str =
    "DELETE FROM signing_keys WHERE expires_at IS NOT NULL AND expires_at < $1";

const INSERT_CODE: &str = "INSERT INTO auth_codes (code_hash, client_id, user_id, redirect_uri, \
     scope, nonce, code_challenge, auth_time, session_id, grant_id, created_at, expires_at, \
     consumed_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)";
/// Marks a usable code consumed at `$2`; the row comes back only to the caller that did.
const CONSUME_CODE: &str = "UPDATE auth_codes SET consumed_at = $2 \
     WHERE code_hash = $1 AND consumed_at IS NULL AND expires_at > $2 RETURNING *";
const CODE_BY_HASH: &str = "SELECT * FROM auth_codes WHERE code_hash = $1";

const INSERT_DEVICE: &str = "INSERT INTO device_codes (device_code_hash, user_code, client_id, \
     scope, created_at, expires_at, poll_interval, last_polled_at, status, user_id, grant_id, \
     granted_scope, session_id, auth_time, decided_at, consumed_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)";
const DEVICE_BY_HASH: &str = "SELECT * FROM device_codes WHERE device_code_hash = $1";
const PENDING_USER_CODE: &str = "SELECT * FROM device_codes \
     WHERE user_code = $1 AND status = 'pending' AND expires_at > $2";
/// Records a decision on a pending, unexpired authorization; the row comes back only to the
/// caller that did.
const DECIDE_DEVICE: &str = "UPDATE device_codes SET decided_at = $2, status = $3, \
     user_id = $4, grant_id = $5, granted_scope = $6, session_id = $7, auth_time = $8 \
     WHERE user_code = $1 AND status = 'pending' AND expires_at > $2 RETURNING *";
/// A poll in time (`$2` now): records it and, when approved, consumes the authorization in
/// the same statement. A returned row with `consumed_at = $2` and status `approved` was
/// consumed by this caller: the `WHERE` required `consumed_at IS NULL`.
const POLL_DEVICE: &str = "UPDATE device_codes SET last_polled_at = $2, \
     consumed_at = CASE WHEN status = 'approved' THEN $2 ELSE NULL END \
     WHERE device_code_hash = $1 AND consumed_at IS NULL AND expires_at > $2 \
     AND (last_polled_at IS NULL OR last_polled_at + poll_interval <= $2) RETURNING *";
/// A poll too soon (RFC 8628 §3.5 `slow_down`): the interval grows by 5 s.
const SLOW_DOWN_DEVICE: &str = "UPDATE device_codes SET last_polled_at = $2, \
     poll_interval = poll_interval + 5 \
     WHERE device_code_hash = $1 AND consumed_at IS NULL AND expires_at > $2 \
     AND last_polled_at IS NOT NULL AND last_polled_at + poll_interval > $2 RETURNING *";

const INSERT_REFRESH: &str = "INSERT INTO refresh_tokens (token_hash, family_id, client_id, \
     user_id, scope, audiences, auth_time, session_id, tenant_id, created_at, expires_at, \
     rotated_at, revoked_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)";
/// Marks a usable token rotated at `$2`; the row comes back only to the caller that did.
const ROTATE_REFRESH: &str = "UPDATE refresh_tokens SET rotated_at = $2 \
     WHERE token_hash = $1 AND rotated_at IS NULL AND revoked_at IS NULL AND expires_at > $2 \
     RETURNING *";
const REFRESH_BY_HASH: &str = "SELECT * FROM refresh_tokens WHERE token_hash = $1";
const REVOKE_FAMILY: &str =
    "UPDATE refresh_tokens SET revoked_at = $2 WHERE family_id = $1 AND revoked_at IS NULL";

const INSERT_GRANT: &str = "INSERT INTO grants (grant_id, client_id, user_id, tenant_id, \
     session_id, offline, created_at, expires_at, revoked_at, amr) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";
const GRANT_BY_ID: &str = "SELECT * FROM grants WHERE grant_id = $1";
/// In a rotation: extends a live grant to `$2` (the successor's expiry). Also the lock that
/// orders a rotation and a revocation of the same grant: whichever updates the row first,
/// the other sees its result.
const EXTEND_GRANT: &str = "UPDATE grants SET expires_at = \
     CASE WHEN expires_at < $2 THEN $2 ELSE expires_at END \
     WHERE grant_id = $1 AND revoked_at IS NULL AND expires_at > $3";

/// The statements about the grants a [`GrantsOf`](super::GrantsOf) selects (`$1` its
/// argument, `$2` now).
pub(super) struct GrantStatements {
    /// The live ones, oldest first.
    pub(super) live: &'static str,
    /// Revokes them (first: it locks the grant rows).
    pub(super) revoke: &'static str,
    /// Revokes their refresh tokens.
    pub(super) revoke_refresh: &'static str,
    /// Consumes their unused codes (a later exchange is then a replay).
    pub(super) consume_codes: &'static str,
}

macro_rules! grant_statements {
    ($cond:literal) => {
        GrantStatements {
            live: concat!(
                "SELECT * FROM grants WHERE ",
                $cond,
                " AND revoked_at IS NULL AND expires_at > $2 ORDER BY created_at, grant_id"
            ),
            revoke: concat!(
                "UPDATE grants SET revoked_at = $2 WHERE ",
                $cond,
                " AND revoked_at IS NULL"
            ),
            revoke_refresh: concat!(
                "UPDATE refresh_tokens SET revoked_at = $2 WHERE revoked_at IS NULL \
                 AND family_id IN (SELECT grant_id FROM grants WHERE ",
                $cond,
                ")"
            ),
            consume_codes: concat!(
                "UPDATE auth_codes SET consumed_at = $2 WHERE consumed_at IS NULL \
                 AND grant_id IN (SELECT grant_id FROM grants WHERE ",
                $cond,
                ")"
            ),
        }
    };
}

/// The statements for `which`, and the value of its `$1`.
fn grant_statements(which: super::GrantsOf<'_>) -> (GrantStatements, &str) {
    use super::GrantsOf;
    match which {
        GrantsOf::Grant(id) => (grant_statements!("grant_id = $1"), id),
        GrantsOf::User(id) => (grant_statements!("user_id = $1"), id),
        GrantsOf::Client(id) => (grant_statements!("client_id = $1"), id),
        GrantsOf::Session(sid) => (grant_statements!("session_id = $1"), sid),
        GrantsOf::SessionOnline(sid) => (
            grant_statements!("session_id = $1 AND offline = FALSE"),
            sid,
        ),
    }
}

const INSERT_SESSION: &str = "INSERT INTO sessions (session_hash, sid, user_id, auth_time, \
     created_at, expires_at, amr) VALUES ($1, $2, $3, $4, $5, $6, $7)";
const LIVE_SESSION: &str = "SELECT * FROM sessions WHERE session_hash = $1 AND expires_at > $2";
const DELETE_SESSION: &str = "DELETE FROM sessions WHERE session_hash = $1";
const DELETE_USER_SESSIONS: &str = "DELETE FROM sessions WHERE user_id = $1 RETURNING *";

const USER_SESSIONS: &str = "SELECT * FROM sessions WHERE user_id = $1 AND expires_at > $2 \
     ORDER BY created_at DESC, sid";

const CONSENT: &str = "SELECT * FROM consents WHERE user_id = $1 AND client_id = $2";
const USER_CONSENTS: &str =
    "SELECT * FROM consents WHERE user_id = $1 ORDER BY granted_at DESC, client_id";
const DELETE_CONSENT: &str = "DELETE FROM consents WHERE user_id = $1 AND client_id = $2";
const PUT_CONSENT: &str = "INSERT INTO consents (user_id, client_id, scope, granted_at) \
     VALUES ($1, $2, $3, $4) ON CONFLICT (user_id, client_id) \
     DO UPDATE SET scope = excluded.scope, granted_at = excluded.granted_at";

const INSERT_ACCOUNT_TOKEN: &str = "INSERT INTO account_tokens \
     (token_hash, purpose, user_id, email, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)";
const TAKE_ACCOUNT_TOKEN: &str = "DELETE FROM account_tokens \
     WHERE token_hash = $1 AND purpose = $2 AND expires_at > $3 RETURNING *";
const DELETE_ACCOUNT_TOKENS: &str =
    "DELETE FROM account_tokens WHERE user_id = $1 AND purpose = $2";

const PROBE_WRITE: &str = "INSERT INTO health (id, checked_at) VALUES (1, $1) \
     ON CONFLICT (id) DO UPDATE SET checked_at = excluded.checked_at";
const REVOKE_ACCESS_TOKEN: &str = "INSERT INTO revoked_access_tokens (jti, expires_at) \
     VALUES ($1, $2) ON CONFLICT (jti) DO UPDATE SET expires_at = excluded.expires_at";
const ACCESS_TOKEN_REVOKED: &str = "SELECT 1 FROM revoked_access_tokens WHERE jti = $1";

/// What `purge_expired` deletes (`$1` is now), in one write transaction.
const PURGES: [&str; 7] = [
    "DELETE FROM account_tokens WHERE expires_at <= $1",
    "DELETE FROM auth_codes WHERE expires_at <= $1",
    "DELETE FROM device_codes WHERE expires_at <= $1",
    "DELETE FROM refresh_tokens WHERE expires_at <= $1",
    "DELETE FROM grants WHERE expires_at <= $1",
    "DELETE FROM sessions WHERE expires_at <= $1",
    "DELETE FROM revoked_access_tokens WHERE expires_at <= $1",
];

#[cfg(test)]
mod tests;
