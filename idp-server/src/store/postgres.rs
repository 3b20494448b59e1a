//! PostgreSQL store (sqlx): several provider replicas sharing one database.
//!
//! The schema lives in `migrations/postgres/` and is embedded in the binary;
//! [`PostgresStore::connect`] applies whatever migrations the database has not seen yet, under
//! sqlx's advisory lock so that replicas starting together do not race. Column encodings:
//! times are BIGINT Unix seconds, booleans BOOLEAN, a [`Scope`] its space-delimited string,
//! lists (redirect URIs, grant types, audiences) and attribute maps JSON held as TEXT (JSONB
//! would rewrite numbers, so a round trip would not be exact), an [`Algorithm`] its name, the
//! public [`Jwk`] its JSON and the sealed private key BYTEA.
//!
//! Consuming a code is one conditional `UPDATE … RETURNING`; rotating a refresh token is one
//! transaction (insert the successor, conditionally mark the old token rotated). Neither reads
//! first and writes after: under READ COMMITTED, a second concurrent `UPDATE` of the same row
//! waits for the first to commit and then re-checks its `WHERE` clause against the new
//! version, so exactly one caller sees the row come back.
//!
//! PostgreSQL `text` cannot hold a NUL character. Lookups by a key containing one answer
//! "not found" without asking the database (no stored row can match, and a request must not
//! turn into a backend error); writing such a value is a [`StoreError::Backend`].

use std::str::FromStr;

use async_trait::async_trait;
use idp_core::{Algorithm, GrantType, Jwk, Scope};
use serde::Serialize;
use serde::de::DeserializeOwned;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPoolOptions, PgRow};
use sqlx::{Connection, Postgres, Row};

use super::{
    AuthCodeRecord, AuthMethod, Client, ConsentRecord, ConsumeOutcome, RefreshTokenRecord,
    SecretHash, SessionRecord, SigningKeyRecord, Store, StoreError, User,
};

/// Connections in the pool of one replica.
const MAX_CONNECTIONS: u32 = 10;

/// SQLSTATE `unique_violation`.
const UNIQUE_VIOLATION: &str = "23505";

/// The primary key of `users` (PostgreSQL's default name for it).
const USERS_PKEY: &str = "users_pkey";

/// A [`Store`] in a PostgreSQL database, shareable by several provider replicas.
///
/// Each store keeps a pool of up to ten connections; the embedded migrations are applied on
/// connect. Cloning is cheap: clones share one pool. Tables live in the first schema of the
/// connection's `search_path` (normally `public`); to use another schema, add
/// `options[search_path]=NAME` to the URL (the schema must exist).
///
/// # Example
///
/// ```no_run
/// use idp_server::store::{PostgresStore, Store};
///
/// # async fn open() -> Result<(), idp_server::store::StoreError> {
/// let store = PostgresStore::connect("postgres://idp@db.internal:5432/idp").await?;
/// assert!(store.get_user("no-such-user").await?.is_none());
/// store.close().await;
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct PostgresStore {
    pool: sqlx::PgPool,
}

impl PostgresStore {
    /// Connects to the database at `url` and applies the migrations.
    ///
    /// `url` is `postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?PARAMS]` (or
    /// `postgresql://...`), with libpq-style parameters such as `sslmode` and
    /// `options[search_path]=SCHEMA`. The database must exist; the tables are created if
    /// missing. Replicas connecting at the same time are safe: the migrations run under an
    /// advisory lock on the database, and a replica that waited finds them applied.
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`] if the URL is not a PostgreSQL URL, the server cannot be
    /// reached or refuses the connection, or a migration fails.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return Err(StoreError::Backend(
                "not a PostgreSQL URL (expected postgres://... or postgresql://...)".into(),
            ));
        }
        // sqlx's URL errors name the offending part, never the password.
        let options = PgConnectOptions::from_str(url)
            .map_err(|e| StoreError::Backend(format!("invalid PostgreSQL URL: {e}")))?;
        // One connection first, for the migrations: it fails fast on an unreachable server
        // (the pool would retry until its acquire timeout), and closing it releases the
        // migration lock whatever happened.
        // Its notices ("relation _sqlx_migrations already exists, skipping" on every start)
        // are noise: sqlx would log them at INFO.
        let migration_options = options
            .clone()
            .options([("client_min_messages", "warning")]);
        let mut conn = PgConnection::connect_with(&migration_options)
            .await
            .map_err(|e| StoreError::Backend(format!("cannot connect to PostgreSQL: {e}")))?;
        // The migrator takes `pg_advisory_lock` (keyed by the database name) before it looks
        // at `_sqlx_migrations` and releases it when done, so replicas starting together apply
        // each migration once; the others wait, then find it applied. On failure it returns
        // without unlocking: ending the session releases the lock.
        let migrated = sqlx::migrate!("./migrations/postgres")
            .run(&mut conn)
            .await
            .map_err(|e| StoreError::Backend(format!("PostgreSQL migration failed: {e}")));
        // A failed close is only a connection that did not say goodbye.
        let _ = conn.close().await;
        migrated?;

        let pool = PgPoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .connect_with(options)
            .await
            .map_err(|e| StoreError::Backend(format!("cannot connect to PostgreSQL: {e}")))?;
        Ok(Self { pool })
    }

    /// Closes every connection of the pool (shared with clones). Operations after this fail
    /// with [`StoreError::Backend`].
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// Whether `key` can be stored in (and so found in) a `text` column.
fn storable(key: &str) -> bool {
    !key.contains('\0')
}

// ---- errors ----

fn backend(e: sqlx::Error) -> StoreError {
    // A database error displays its message only (not its DETAIL, which may quote a row).
    StoreError::Backend(e.to_string())
}

fn is_unique_violation(e: &sqlx::Error) -> bool {
    e.as_database_error()
        .and_then(|d| d.code())
        .is_some_and(|code| code == UNIQUE_VIOLATION)
}

/// `Conflict(message)` for a unique-constraint violation, `Backend` for anything else.
fn conflict_or_backend(e: sqlx::Error, message: &str) -> StoreError {
    if is_unique_violation(&e) {
        StoreError::Conflict(message.to_owned())
    } else {
        backend(e)
    }
}

/// Users have two unique constraints: the id and the e-mail within the tenant.
fn user_write_error(e: sqlx::Error) -> StoreError {
    let id_taken = is_unique_violation(&e)
        && e.as_database_error()
            .and_then(|d| d.constraint())
            .is_some_and(|c| c == USERS_PKEY);
    if id_taken {
        StoreError::Conflict("user id already exists".into())
    } else {
        conflict_or_backend(e, "email already registered")
    }
}

fn to_json<T: Serialize + ?Sized>(value: &T, what: &str) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|_| StoreError::Backend(format!("cannot encode {what}")))
}

// ---- decoding ----

super::rows::row_decoders!(PgRow, Postgres);

// ---- SQL ----

const INSERT_USER: &str = "INSERT INTO users (id, tenant_id, email, email_verified, \
     password_hash, name, given_name, family_name, picture, locale, active, allowed_scopes, \
     attributes, created_at, updated_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)";
const UPDATE_USER: &str = "UPDATE users SET tenant_id = $2, email = $3, email_verified = $4, \
     password_hash = $5, name = $6, given_name = $7, family_name = $8, picture = $9, \
     locale = $10, active = $11, allowed_scopes = $12, attributes = $13, created_at = $14, \
     updated_at = $15 WHERE id = $1";
// The two lookups by e-mail use the expressions of the two partial unique indexes of the
// migration; `lower` under the "C" collation folds ASCII letters only.
const FIND_USER_IN_TENANT: &str = "SELECT * FROM users WHERE tenant_id = $1 \
     AND lower(email COLLATE \"C\") = lower($2 COLLATE \"C\")";
const FIND_USER_NO_TENANT: &str = "SELECT * FROM users WHERE tenant_id IS NULL \
     AND lower(email COLLATE \"C\") = lower($1 COLLATE \"C\")";
const USERS_OF_TENANT: &str = "SELECT * FROM users WHERE tenant_id = $1 ORDER BY created_at, id";
const ALL_USERS: &str = "SELECT * FROM users ORDER BY created_at, id";

const INSERT_CLIENT: &str = "INSERT INTO clients (client_id, tenant_id, name, secret_hash, \
     redirect_uris, post_logout_redirect_uris, allowed_scopes, grant_types, \
     token_endpoint_auth_method, audiences, first_party, active, attributes, created_at, \
     updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)";
const UPDATE_CLIENT: &str = "UPDATE clients SET tenant_id = $2, name = $3, secret_hash = $4, \
     redirect_uris = $5, post_logout_redirect_uris = $6, allowed_scopes = $7, \
     grant_types = $8, token_endpoint_auth_method = $9, audiences = $10, first_party = $11, \
     active = $12, attributes = $13, created_at = $14, updated_at = $15 WHERE client_id = $1";
const CLIENTS_OF_TENANT: &str =
    "SELECT * FROM clients WHERE tenant_id = $1 ORDER BY created_at, client_id";
const ALL_CLIENTS: &str = "SELECT * FROM clients ORDER BY created_at, client_id";

const CONSUME_CODE: &str = "UPDATE auth_codes SET consumed_at = $2 \
     WHERE code_hash = $1 AND consumed_at IS NULL AND expires_at > $2 RETURNING *";
const ROTATE_REFRESH: &str = "UPDATE refresh_tokens SET rotated_at = $2 \
     WHERE token_hash = $1 AND rotated_at IS NULL AND revoked_at IS NULL AND expires_at > $2 \
     RETURNING *";
const INSERT_REFRESH: &str = "INSERT INTO refresh_tokens (token_hash, family_id, client_id, \
     user_id, scope, audiences, auth_time, session_id, tenant_id, created_at, expires_at, \
     rotated_at, revoked_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)";
const REVOKE_FAMILY: &str =
    "UPDATE refresh_tokens SET revoked_at = $2 WHERE family_id = $1 AND revoked_at IS NULL";

type PgQuery = sqlx::query::Query<'static, Postgres, sqlx::postgres::PgArguments>;

/// Binds a user's columns in the order of [`INSERT_USER`] / [`UPDATE_USER`].
fn bind_user(sql: &'static str, u: &User) -> Result<PgQuery, StoreError> {
    Ok(sqlx::query(sql)
        .bind(u.id.as_str())
        .bind(u.tenant_id.as_deref())
        .bind(u.email.as_str())
        .bind(u.email_verified)
        .bind(u.password_hash.as_ref().map(SecretHash::as_str))
        .bind(u.name.as_deref())
        .bind(u.given_name.as_deref())
        .bind(u.family_name.as_deref())
        .bind(u.picture.as_deref())
        .bind(u.locale.as_deref())
        .bind(u.active)
        .bind(u.allowed_scopes.as_ref().map(Scope::to_string))
        .bind(to_json(&u.attributes, "user attributes")?)
        .bind(u.created_at)
        .bind(u.updated_at))
}

/// Binds a client's columns in the order of [`INSERT_CLIENT`] / [`UPDATE_CLIENT`].
fn bind_client(sql: &'static str, c: &Client) -> Result<PgQuery, StoreError> {
    Ok(sqlx::query(sql)
        .bind(c.client_id.as_str())
        .bind(c.tenant_id.as_deref())
        .bind(c.name.as_deref())
        .bind(c.secret_hash.as_ref().map(SecretHash::as_str))
        .bind(to_json(&c.redirect_uris, "redirect URIs")?)
        .bind(to_json(
            &c.post_logout_redirect_uris,
            "post-logout redirect URIs",
        )?)
        .bind(c.allowed_scopes.to_string())
        .bind(to_json(&c.grant_types, "grant types")?)
        .bind(c.token_endpoint_auth_method.as_str())
        .bind(to_json(&c.audiences, "audiences")?)
        .bind(c.first_party)
        .bind(c.active)
        .bind(to_json(&c.attributes, "client attributes")?)
        .bind(c.created_at)
        .bind(c.updated_at))
}

fn bind_refresh(t: &RefreshTokenRecord) -> Result<PgQuery, StoreError> {
    Ok(sqlx::query(INSERT_REFRESH)
        .bind(t.token_hash.as_str())
        .bind(t.family_id.as_str())
        .bind(t.client_id.as_str())
        .bind(t.user_id.as_str())
        .bind(t.scope.to_string())
        .bind(to_json(&t.audiences, "audiences")?)
        .bind(t.auth_time)
        .bind(t.session_id.as_deref())
        .bind(t.tenant_id.as_deref())
        .bind(t.created_at)
        .bind(t.expires_at)
        .bind(t.rotated_at)
        .bind(t.revoked_at))
}

#[async_trait]
impl Store for PostgresStore {
    async fn insert_user(&self, user: &User) -> Result<(), StoreError> {
        bind_user(INSERT_USER, user)?
            .execute(&self.pool)
            .await
            .map_err(user_write_error)?;
        Ok(())
    }

    async fn get_user(&self, id: &str) -> Result<Option<User>, StoreError> {
        if !storable(id) {
            return Ok(None);
        }
        sqlx::query("SELECT * FROM users WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?
            .as_ref()
            .map(user_from_row)
            .transpose()
    }

    async fn find_user_by_email(
        &self,
        tenant_id: Option<&str>,
        email: &str,
    ) -> Result<Option<User>, StoreError> {
        if !storable(email) || !tenant_id.is_none_or(storable) {
            return Ok(None);
        }
        let query = match tenant_id {
            Some(tenant) => sqlx::query(FIND_USER_IN_TENANT).bind(tenant).bind(email),
            None => sqlx::query(FIND_USER_NO_TENANT).bind(email),
        };
        query
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?
            .as_ref()
            .map(user_from_row)
            .transpose()
    }

    async fn list_users(&self, tenant_id: Option<&str>) -> Result<Vec<User>, StoreError> {
        if !tenant_id.is_none_or(storable) {
            return Ok(Vec::new());
        }
        let query = match tenant_id {
            Some(tenant) => sqlx::query(USERS_OF_TENANT).bind(tenant),
            None => sqlx::query(ALL_USERS),
        };
        let rows = query.fetch_all(&self.pool).await.map_err(backend)?;
        decode_all(rows, user_from_row)
    }

    async fn update_user(&self, user: &User) -> Result<(), StoreError> {
        if !storable(&user.id) {
            return Err(StoreError::NotFound);
        }
        let done = bind_user(UPDATE_USER, user)?
            .execute(&self.pool)
            .await
            .map_err(user_write_error)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn delete_user(&self, id: &str) -> Result<bool, StoreError> {
        if !storable(id) {
            return Ok(false);
        }
        let done = sqlx::query("DELETE FROM users WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        Ok(done.rows_affected() > 0)
    }

    async fn insert_client(&self, client: &Client) -> Result<(), StoreError> {
        bind_client(INSERT_CLIENT, client)?
            .execute(&self.pool)
            .await
            .map_err(|e| conflict_or_backend(e, "client_id already exists"))?;
        Ok(())
    }

    async fn get_client(&self, client_id: &str) -> Result<Option<Client>, StoreError> {
        if !storable(client_id) {
            return Ok(None);
        }
        sqlx::query("SELECT * FROM clients WHERE client_id = $1")
            .bind(client_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?
            .as_ref()
            .map(client_from_row)
            .transpose()
    }

    async fn list_clients(&self, tenant_id: Option<&str>) -> Result<Vec<Client>, StoreError> {
        if !tenant_id.is_none_or(storable) {
            return Ok(Vec::new());
        }
        let query = match tenant_id {
            Some(tenant) => sqlx::query(CLIENTS_OF_TENANT).bind(tenant),
            None => sqlx::query(ALL_CLIENTS),
        };
        let rows = query.fetch_all(&self.pool).await.map_err(backend)?;
        decode_all(rows, client_from_row)
    }

    async fn update_client(&self, client: &Client) -> Result<(), StoreError> {
        if !storable(&client.client_id) {
            return Err(StoreError::NotFound);
        }
        let done = bind_client(UPDATE_CLIENT, client)?
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn delete_client(&self, client_id: &str) -> Result<bool, StoreError> {
        if !storable(client_id) {
            return Ok(false);
        }
        let done = sqlx::query("DELETE FROM clients WHERE client_id = $1")
            .bind(client_id)
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        Ok(done.rows_affected() > 0)
    }

    async fn insert_key(&self, key: &SigningKeyRecord) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO signing_keys (kid, alg, private_key_sealed, public_jwk, created_at, \
             activates_at, retired_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(key.kid.as_str())
        .bind(key.alg.as_str())
        .bind(key.private_key_sealed.as_slice())
        .bind(to_json(&key.public_jwk, "public JWK")?)
        .bind(key.created_at)
        .bind(key.activates_at)
        .bind(key.retired_at)
        .bind(key.expires_at)
        .execute(&self.pool)
        .await
        .map_err(|e| conflict_or_backend(e, "kid already exists"))?;
        Ok(())
    }

    async fn list_keys(&self) -> Result<Vec<SigningKeyRecord>, StoreError> {
        let rows = sqlx::query("SELECT * FROM signing_keys ORDER BY created_at, kid")
            .fetch_all(&self.pool)
            .await
            .map_err(backend)?;
        decode_all(rows, key_from_row)
    }

    async fn retire_key(
        &self,
        kid: &str,
        retired_at: i64,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        if !storable(kid) {
            return Err(StoreError::NotFound);
        }
        let done =
            sqlx::query("UPDATE signing_keys SET retired_at = $2, expires_at = $3 WHERE kid = $1")
                .bind(kid)
                .bind(retired_at)
                .bind(expires_at)
                .execute(&self.pool)
                .await
                .map_err(backend)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn delete_expired_keys(&self, now: i64) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "DELETE FROM signing_keys WHERE expires_at IS NOT NULL AND expires_at < $1",
        )
        .bind(now)
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        Ok(done.rows_affected())
    }

    async fn insert_code(&self, code: &AuthCodeRecord) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO auth_codes (code_hash, client_id, user_id, redirect_uri, scope, nonce, \
             code_challenge, auth_time, session_id, grant_id, created_at, expires_at, \
             consumed_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
        )
        .bind(code.code_hash.as_str())
        .bind(code.client_id.as_str())
        .bind(code.user_id.as_str())
        .bind(code.redirect_uri.as_str())
        .bind(code.scope.to_string())
        .bind(code.nonce.as_deref())
        .bind(code.code_challenge.as_deref())
        .bind(code.auth_time)
        .bind(code.session_id.as_deref())
        .bind(code.grant_id.as_str())
        .bind(code.created_at)
        .bind(code.expires_at)
        .bind(code.consumed_at)
        .execute(&self.pool)
        .await
        .map_err(|e| conflict_or_backend(e, "code exists"))?;
        Ok(())
    }

    async fn consume_code(
        &self,
        code_hash: &str,
        now: i64,
    ) -> Result<ConsumeOutcome<AuthCodeRecord>, StoreError> {
        if !storable(code_hash) {
            return Ok(ConsumeOutcome::NotFound);
        }
        // The conditional UPDATE is the whole decision: of concurrent callers, exactly one
        // sees a row come back (the others wait for its row lock, then re-check the WHERE
        // clause against the committed row and find `consumed_at` set).
        let consumed = sqlx::query(CONSUME_CODE)
            .bind(code_hash)
            .bind(now)
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?;
        if let Some(row) = consumed {
            return Ok(ConsumeOutcome::Consumed(code_from_row(&row)?));
        }
        // Nothing was updated: tell a replay from an unknown or expired code. `consumed_at`
        // never goes back to NULL, so this read cannot contradict the UPDATE.
        let row = sqlx::query("SELECT * FROM auth_codes WHERE code_hash = $1")
            .bind(code_hash)
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?;
        match row.as_ref().map(code_from_row).transpose()? {
            Some(code) if code.consumed_at.is_some() => Ok(ConsumeOutcome::AlreadyUsed(code)),
            _ => Ok(ConsumeOutcome::NotFound),
        }
    }

    async fn insert_refresh_token(&self, token: &RefreshTokenRecord) -> Result<(), StoreError> {
        bind_refresh(token)?
            .execute(&self.pool)
            .await
            .map_err(|e| conflict_or_backend(e, "refresh token exists"))?;
        Ok(())
    }

    async fn get_refresh_token(
        &self,
        token_hash: &str,
    ) -> Result<Option<RefreshTokenRecord>, StoreError> {
        if !storable(token_hash) {
            return Ok(None);
        }
        sqlx::query("SELECT * FROM refresh_tokens WHERE token_hash = $1")
            .bind(token_hash)
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?
            .as_ref()
            .map(refresh_from_row)
            .transpose()
    }

    async fn rotate_refresh_token(
        &self,
        token_hash: &str,
        successor: &RefreshTokenRecord,
        now: i64,
    ) -> Result<ConsumeOutcome<RefreshTokenRecord>, StoreError> {
        if !storable(token_hash) {
            return Ok(ConsumeOutcome::NotFound);
        }
        // READ COMMITTED: the conditional UPDATE below waits for any concurrent rotation of
        // the same token to finish and then re-checks its condition, so exactly one
        // transaction marks the token rotated. A transaction dropped on an early return
        // rolls back.
        let mut tx = self.pool.begin().await.map_err(backend)?;
        // The successor first, as the in-memory store checks it first: a taken successor
        // hash is a Conflict whatever the state of the old token.
        bind_refresh(successor)?
            .execute(&mut *tx)
            .await
            .map_err(|e| conflict_or_backend(e, "refresh token exists"))?;
        let rotated = sqlx::query(ROTATE_REFRESH)
            .bind(token_hash)
            .bind(now)
            .fetch_optional(&mut *tx)
            .await
            .map_err(backend)?;
        if let Some(row) = rotated {
            let old = refresh_from_row(&row)?;
            tx.commit().await.map_err(backend)?;
            return Ok(ConsumeOutcome::Consumed(old));
        }
        // Not usable: read it inside the same transaction, then drop the successor.
        let row = sqlx::query("SELECT * FROM refresh_tokens WHERE token_hash = $1")
            .bind(token_hash)
            .fetch_optional(&mut *tx)
            .await
            .map_err(backend)?;
        let old = row.as_ref().map(refresh_from_row).transpose();
        tx.rollback().await.map_err(backend)?;
        match old? {
            Some(t) if t.rotated_at.is_some() || t.revoked_at.is_some() => {
                Ok(ConsumeOutcome::AlreadyUsed(t))
            }
            _ => Ok(ConsumeOutcome::NotFound),
        }
    }

    async fn revoke_refresh_family(&self, family_id: &str, now: i64) -> Result<u64, StoreError> {
        if !storable(family_id) {
            return Ok(0);
        }
        let done = sqlx::query(REVOKE_FAMILY)
            .bind(family_id)
            .bind(now)
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        Ok(done.rows_affected())
    }

    async fn insert_session(&self, session: &SessionRecord) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO sessions (session_hash, sid, user_id, auth_time, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(session.session_hash.as_str())
        .bind(session.sid.as_str())
        .bind(session.user_id.as_str())
        .bind(session.auth_time)
        .bind(session.created_at)
        .bind(session.expires_at)
        .execute(&self.pool)
        .await
        .map_err(|e| conflict_or_backend(e, "session exists"))?;
        Ok(())
    }

    async fn get_session(
        &self,
        session_hash: &str,
        now: i64,
    ) -> Result<Option<SessionRecord>, StoreError> {
        if !storable(session_hash) {
            return Ok(None);
        }
        sqlx::query("SELECT * FROM sessions WHERE session_hash = $1 AND expires_at > $2")
            .bind(session_hash)
            .bind(now)
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?
            .as_ref()
            .map(session_from_row)
            .transpose()
    }

    async fn delete_session(&self, session_hash: &str) -> Result<bool, StoreError> {
        if !storable(session_hash) {
            return Ok(false);
        }
        let done = sqlx::query("DELETE FROM sessions WHERE session_hash = $1")
            .bind(session_hash)
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        Ok(done.rows_affected() > 0)
    }

    async fn get_consent(
        &self,
        user_id: &str,
        client_id: &str,
    ) -> Result<Option<ConsentRecord>, StoreError> {
        if !storable(user_id) || !storable(client_id) {
            return Ok(None);
        }
        sqlx::query("SELECT * FROM consents WHERE user_id = $1 AND client_id = $2")
            .bind(user_id)
            .bind(client_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?
            .as_ref()
            .map(consent_from_row)
            .transpose()
    }

    async fn put_consent(&self, consent: &ConsentRecord) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO consents (user_id, client_id, scope, granted_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (user_id, client_id) \
             DO UPDATE SET scope = excluded.scope, granted_at = excluded.granted_at",
        )
        .bind(consent.user_id.as_str())
        .bind(consent.client_id.as_str())
        .bind(consent.scope.to_string())
        .bind(consent.granted_at)
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        Ok(())
    }

    async fn revoke_access_token(&self, jti: &str, expires_at: i64) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO revoked_access_tokens (jti, expires_at) VALUES ($1, $2) \
             ON CONFLICT (jti) DO UPDATE SET expires_at = excluded.expires_at",
        )
        .bind(jti)
        .bind(expires_at)
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        Ok(())
    }

    async fn is_access_token_revoked(&self, jti: &str) -> Result<bool, StoreError> {
        if !storable(jti) {
            return Ok(false);
        }
        let row = sqlx::query("SELECT 1 FROM revoked_access_tokens WHERE jti = $1")
            .bind(jti)
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?;
        Ok(row.is_some())
    }

    async fn purge_expired(&self, now: i64) -> Result<u64, StoreError> {
        const PURGES: [&str; 4] = [
            "DELETE FROM auth_codes WHERE expires_at <= $1",
            "DELETE FROM refresh_tokens WHERE expires_at <= $1",
            "DELETE FROM sessions WHERE expires_at <= $1",
            "DELETE FROM revoked_access_tokens WHERE expires_at <= $1",
        ];
        let mut tx = self.pool.begin().await.map_err(backend)?;
        let mut purged = 0;
        for sql in PURGES {
            purged += sqlx::query(sql)
                .bind(now)
                .execute(&mut *tx)
                .await
                .map_err(backend)?
                .rows_affected();
        }
        tx.commit().await.map_err(backend)?;
        Ok(purged)
    }
}

#[cfg(test)]
mod tests {
    //! Checks that need the pool; they run only with `IDP_TEST_POSTGRES_URL` set (see
    //! `tests/it/storage.rs` for the conformance suite).

    use sqlx::AssertSqlSafe;

    use super::*;

    /// A store in a fresh schema of the test database; the schema is dropped with it.
    struct Scratch {
        store: PostgresStore,
        base_url: String,
        schema: String,
    }

    impl Scratch {
        async fn new(tag: &str) -> Option<Self> {
            let Ok(base_url) = std::env::var("IDP_TEST_POSTGRES_URL") else {
                println!("skipped: IDP_TEST_POSTGRES_URL not set");
                return None;
            };
            let mut nonce = uuid::Uuid::new_v4().simple().to_string();
            nonce.truncate(12);
            let schema = format!("idp_unit_{tag}_{}_{nonce}", std::process::id());
            let mut conn = PgConnection::connect(&base_url).await.unwrap();
            sqlx::query(AssertSqlSafe(format!("CREATE SCHEMA \"{schema}\"")))
                .execute(&mut conn)
                .await
                .unwrap();
            conn.close().await.unwrap();
            let sep = if base_url.contains('?') { '&' } else { '?' };
            // The application name lets the cleanup find connections a failed test left.
            let url =
                format!("{base_url}{sep}options[search_path]={schema}&application_name={schema}");
            let store = PostgresStore::connect(&url).await.unwrap();
            Some(Self {
                store,
                base_url,
                schema,
            })
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let (base_url, schema) = (self.base_url.clone(), self.schema.clone());
            let dropped = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .ok()?;
                rt.block_on(async {
                    let mut conn = PgConnection::connect(&base_url).await.ok()?;
                    sqlx::query(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                         WHERE application_name = $1 AND pid <> pg_backend_pid()",
                    )
                    .bind(&schema)
                    .execute(&mut conn)
                    .await
                    .ok()?;
                    sqlx::query("SET lock_timeout = '10s'")
                        .execute(&mut conn)
                        .await
                        .ok()?;
                    sqlx::query(AssertSqlSafe(format!(
                        "DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"
                    )))
                    .execute(&mut conn)
                    .await
                    .ok()?;
                    conn.close().await.ok()
                })
            })
            .join();
            if !matches!(dropped, Ok(Some(()))) {
                eprintln!("could not drop test schema {}", self.schema);
            }
        }
    }

    /// The plan of `sql` with sequential scans disabled (the tables are tiny), as text.
    async fn plan(store: &PostgresStore, sql: &str, binds: &[&str], ints: &[i64]) -> String {
        let mut tx = store.pool.begin().await.unwrap();
        sqlx::query("SET LOCAL enable_seqscan = off")
            .execute(&mut *tx)
            .await
            .unwrap();
        let mut query = sqlx::query(AssertSqlSafe(format!("EXPLAIN {sql}")));
        for b in binds {
            query = query.bind(*b);
        }
        for i in ints {
            query = query.bind(*i);
        }
        let rows = query.fetch_all(&mut *tx).await.unwrap();
        tx.rollback().await.unwrap();
        rows.iter()
            .map(|r| r.get::<String, _>(0))
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[tokio::test]
    async fn lookups_use_indexes() {
        let Some(s) = Scratch::new("plans").await else {
            return;
        };
        let mail = "a@example.com";
        let p = plan(&s.store, FIND_USER_IN_TENANT, &["t1", mail], &[]).await;
        assert!(p.contains("users_tenant_email"), "{p}");
        let p = plan(&s.store, FIND_USER_NO_TENANT, &[mail], &[]).await;
        assert!(p.contains("users_no_tenant_email"), "{p}");
        let p = plan(&s.store, USERS_OF_TENANT, &["t1"], &[]).await;
        assert!(p.contains("users_tenant_created"), "{p}");
        assert!(!p.contains("Sort"), "{p}");
        let p = plan(&s.store, CLIENTS_OF_TENANT, &["t1"], &[]).await;
        assert!(p.contains("clients_tenant_created"), "{p}");
        assert!(!p.contains("Sort"), "{p}");
        let p = plan(&s.store, REVOKE_FAMILY, &["f1"], &[1]).await;
        assert!(p.contains("refresh_tokens_family"), "{p}");
    }

    #[tokio::test]
    async fn corrupt_rows_are_backend_errors() {
        let Some(s) = Scratch::new("corrupt").await else {
            return;
        };
        let store = &s.store;
        sqlx::query(
            "INSERT INTO users (id, email, email_verified, active, allowed_scopes, attributes, \
             created_at, updated_at) \
             VALUES ('u1', 'a@example.com', false, true, 'bad\"scope', '{}', 1, 1)",
        )
        .execute(&store.pool)
        .await
        .unwrap();
        sqlx::query(
            "INSERT INTO users (id, email, email_verified, active, attributes, created_at, \
             updated_at) VALUES ('u2', 'b@example.com', false, true, '[1, 2]', 1, 1)",
        )
        .execute(&store.pool)
        .await
        .unwrap();
        for id in ["u1", "u2"] {
            match store.get_user(id).await {
                Err(StoreError::Backend(msg)) => assert!(msg.contains("users"), "{msg}"),
                other => panic!("expected a backend error, got {other:?}"),
            }
        }
        assert!(matches!(
            store.list_users(None).await,
            Err(StoreError::Backend(_))
        ));
        sqlx::query(
            "INSERT INTO signing_keys (kid, alg, private_key_sealed, public_jwk, created_at, \
             activates_at) VALUES ('k1', 'HS256', '\\x00', '{}', 1, 1)",
        )
        .execute(&store.pool)
        .await
        .unwrap();
        assert!(matches!(
            store.list_keys().await,
            Err(StoreError::Backend(_))
        ));
        sqlx::query(
            "INSERT INTO clients (client_id, redirect_uris, post_logout_redirect_uris, \
             allowed_scopes, grant_types, token_endpoint_auth_method, audiences, first_party, \
             active, attributes, created_at, updated_at) \
             VALUES ('c1', '[]', '[]', '', '[]', 'private_key_jwt', '[]', false, true, '{}', 1, 1)",
        )
        .execute(&store.pool)
        .await
        .unwrap();
        match store.get_client("c1").await {
            Err(StoreError::Backend(msg)) => {
                assert!(msg.contains("token_endpoint_auth_method"), "{msg}")
            }
            other => panic!("expected a backend error, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn unique_violations_name_the_constraint() {
        let Some(s) = Scratch::new("unique").await else {
            return;
        };
        let store = &s.store;
        store
            .insert_user(&User::new("u1", "a@example.com", 1))
            .await
            .unwrap();
        // Both the id and the e-mail are taken: the id is reported, as by the other stores.
        match store
            .insert_user(&User::new("u1", "A@example.com", 1))
            .await
        {
            Err(StoreError::Conflict(m)) => assert_eq!(m, "user id already exists"),
            other => panic!("expected a conflict, got {other:?}"),
        }
        match store
            .insert_user(&User::new("u2", "A@example.com", 1))
            .await
        {
            Err(StoreError::Conflict(m)) => assert_eq!(m, "email already registered"),
            other => panic!("expected a conflict, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn rejects_other_urls() {
        for url in [
            "sqlite://idp.db",
            "memory:",
            "mysql://localhost/idp",
            "postgres:/x",
        ] {
            match PostgresStore::connect(url).await {
                Err(StoreError::Backend(m)) => assert!(m.contains("not a PostgreSQL URL"), "{m}"),
                other => panic!("{url}: expected a backend error, got {other:?}"),
            }
        }
    }

    #[tokio::test]
    async fn connection_errors_do_not_show_the_password() {
        // Nothing listens on port 1.
        let url = "postgres://idp:s3cret-pw@127.0.0.1:1/idp";
        match PostgresStore::connect(url).await {
            Err(StoreError::Backend(m)) => {
                assert!(m.starts_with("cannot connect to PostgreSQL"), "{m}");
                assert!(!m.contains("s3cret-pw"), "{m}");
            }
            other => panic!("expected a backend error, got {other:?}"),
        }
    }
}
