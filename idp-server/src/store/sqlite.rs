//! SQLite store (sqlx): the embedded default, one file with WAL.
//!
//! The schema lives in `migrations/sqlite/` and is embedded in the binary; [`SqliteStore::connect`]
//! applies whatever migrations the file has not seen yet. Column encodings: times are INTEGER
//! Unix seconds, booleans INTEGER 0/1, a [`Scope`] its space-delimited string, lists
//! (redirect URIs, grant types, audiences) and attribute maps JSON text, an [`Algorithm`] its
//! name and the public [`Jwk`] its JSON.
//!
//! Consuming a code is one conditional `UPDATE … RETURNING`; rotating a refresh token is one
//! `BEGIN IMMEDIATE` transaction (insert the successor, conditionally mark the old token
//! rotated). Neither reads first and writes after.

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use idp_core::{Algorithm, GrantType, Jwk, Scope};
use serde::Serialize;
use serde::de::DeserializeOwned;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow, SqliteSynchronous,
};
use sqlx::{Row, Sqlite};

use super::{
    AuthCodeRecord, AuthMethod, Client, ConsentRecord, ConsumeOutcome, RefreshTokenRecord,
    SecretHash, SessionRecord, SigningKeyRecord, Store, StoreError, User,
};

/// How long a statement waits for another connection's write lock before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Connections in the pool of a file database (WAL: many readers, one writer at a time).
const MAX_FILE_CONNECTIONS: u32 = 8;

/// A [`Store`] in one SQLite file.
///
/// The file is opened in WAL mode with `synchronous = NORMAL`, foreign keys on and a busy
/// timeout of five seconds, and the embedded migrations are applied on connect. Cloning is
/// cheap: clones share one connection pool.
///
/// # Example
///
/// ```
/// use idp_server::store::{SqliteStore, Store};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), idp_server::store::StoreError> {
/// // An in-memory database, e.g. for tests; use `sqlite://path/to/idp.db` for a file.
/// let store = SqliteStore::connect("sqlite::memory:").await?;
/// assert!(store.get_user("no-such-user").await?.is_none());
/// assert!(!store.is_access_token_revoked("some-jti").await?);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: sqlx::SqlitePool,
}

impl SqliteStore {
    /// Opens (creating it if missing) the database at `url` and applies the migrations.
    ///
    /// `url` is `sqlite://path/to/file.db` (relative to the working directory),
    /// `sqlite:///absolute/path.db`, or `sqlite::memory:` for a private in-memory database
    /// that lives as long as the returned store (and its clones).
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`] if the URL is not a SQLite URL, the file cannot be opened or
    /// created (a missing parent directory is not created), or a migration fails.
    ///
    /// # Example
    ///
    /// ```no_run
    /// use idp_server::store::SqliteStore;
    ///
    /// # async fn open() -> Result<(), idp_server::store::StoreError> {
    /// let store = SqliteStore::connect("sqlite://data/idp.db").await?;
    /// // ... serve requests ...
    /// store.close().await; // checkpoints the WAL on a clean shutdown
    /// # Ok(())
    /// # }
    /// ```
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        if !url.starts_with("sqlite:") {
            return Err(StoreError::Backend(
                "not a SQLite URL (expected sqlite://PATH or sqlite::memory:)".into(),
            ));
        }
        let options = SqliteConnectOptions::from_str(url)
            .map_err(|e| StoreError::Backend(format!("invalid SQLite URL: {e}")))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT);
        let in_memory = is_in_memory(url);
        let pool_options = if in_memory {
            // An in-memory database disappears with its last connection, and several
            // shared-cache connections fail with SQLITE_LOCKED instead of waiting: use one
            // connection that is never closed for idleness or age.
            SqlitePoolOptions::new()
                .max_connections(1)
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None)
        } else {
            SqlitePoolOptions::new().max_connections(MAX_FILE_CONNECTIONS)
        };
        let pool = pool_options
            .connect_with(options)
            .await
            .map_err(|e| StoreError::Backend(format!("cannot open SQLite database: {e}")))?;

        sqlx::migrate!("./migrations/sqlite")
            .run(&pool)
            .await
            .map_err(|e| StoreError::Backend(format!("SQLite migration failed: {e}")))?;

        Ok(Self { pool })
    }

    /// Closes every connection of the pool (shared with clones), checkpointing the WAL.
    /// Operations after this fail with [`StoreError::Backend`].
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// Whether `url` names an in-memory database, by the rules of sqlx's SQLite URL parser
/// (`sqlite::memory:`, `sqlite://:memory:`, or `mode=memory` among the parameters).
fn is_in_memory(url: &str) -> bool {
    let rest = url
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:");
    let (database, params) = rest.split_once('?').unwrap_or((rest, ""));
    database == ":memory:"
        || form_urlencoded::parse(params.as_bytes()).any(|(k, v)| k == "mode" && v == "memory")
}

// ---- errors ----

fn backend(e: sqlx::Error) -> StoreError {
    StoreError::Backend(e.to_string())
}

fn is_unique_violation(e: &sqlx::Error) -> bool {
    e.as_database_error()
        .is_some_and(|d| d.is_unique_violation())
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
    let id_taken = e
        .as_database_error()
        .is_some_and(|d| d.is_unique_violation() && d.message().contains("users.id"));
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

super::rows::row_decoders!(SqliteRow, Sqlite);

// ---- SQL ----

const INSERT_USER: &str = "INSERT INTO users (id, tenant_id, email, email_verified, \
     password_hash, name, given_name, family_name, picture, locale, active, allowed_scopes, \
     attributes, created_at, updated_at) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)";
const UPDATE_USER: &str = "UPDATE users SET tenant_id = ?2, email = ?3, email_verified = ?4, \
     password_hash = ?5, name = ?6, given_name = ?7, family_name = ?8, picture = ?9, \
     locale = ?10, active = ?11, allowed_scopes = ?12, attributes = ?13, created_at = ?14, \
     updated_at = ?15 WHERE id = ?1";
// The two lookups by e-mail match the two partial unique indexes of the migration.
const FIND_USER_IN_TENANT: &str =
    "SELECT * FROM users WHERE tenant_id = ?1 AND lower(email) = lower(?2)";
const FIND_USER_NO_TENANT: &str =
    "SELECT * FROM users WHERE tenant_id IS NULL AND lower(email) = lower(?1)";

const INSERT_CLIENT: &str = "INSERT INTO clients (client_id, tenant_id, name, secret_hash, \
     redirect_uris, post_logout_redirect_uris, allowed_scopes, grant_types, \
     token_endpoint_auth_method, audiences, first_party, active, attributes, created_at, \
     updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)";
const UPDATE_CLIENT: &str = "UPDATE clients SET tenant_id = ?2, name = ?3, secret_hash = ?4, \
     redirect_uris = ?5, post_logout_redirect_uris = ?6, allowed_scopes = ?7, \
     grant_types = ?8, token_endpoint_auth_method = ?9, audiences = ?10, first_party = ?11, \
     active = ?12, attributes = ?13, created_at = ?14, updated_at = ?15 WHERE client_id = ?1";

const CONSUME_CODE: &str = "UPDATE auth_codes SET consumed_at = ?2 \
     WHERE code_hash = ?1 AND consumed_at IS NULL AND expires_at > ?2 RETURNING *";
const ROTATE_REFRESH: &str = "UPDATE refresh_tokens SET rotated_at = ?2 \
     WHERE token_hash = ?1 AND rotated_at IS NULL AND revoked_at IS NULL AND expires_at > ?2 \
     RETURNING *";
const INSERT_REFRESH: &str = "INSERT INTO refresh_tokens (token_hash, family_id, client_id, \
     user_id, scope, audiences, auth_time, session_id, tenant_id, created_at, expires_at, \
     rotated_at, revoked_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)";

type SqliteQuery = sqlx::query::Query<'static, Sqlite, sqlx::sqlite::SqliteArguments>;

/// Binds a user's columns in the order of [`INSERT_USER`] / [`UPDATE_USER`].
fn bind_user(sql: &'static str, u: &User) -> Result<SqliteQuery, StoreError> {
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
fn bind_client(sql: &'static str, c: &Client) -> Result<SqliteQuery, StoreError> {
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

fn bind_refresh(t: &RefreshTokenRecord) -> Result<SqliteQuery, StoreError> {
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
impl Store for SqliteStore {
    async fn insert_user(&self, user: &User) -> Result<(), StoreError> {
        bind_user(INSERT_USER, user)?
            .execute(&self.pool)
            .await
            .map_err(user_write_error)?;
        Ok(())
    }

    async fn get_user(&self, id: &str) -> Result<Option<User>, StoreError> {
        sqlx::query("SELECT * FROM users WHERE id = ?1")
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
        let query = match tenant_id {
            Some(tenant) => {
                sqlx::query("SELECT * FROM users WHERE tenant_id = ?1 ORDER BY created_at, id")
                    .bind(tenant)
            }
            None => sqlx::query("SELECT * FROM users ORDER BY created_at, id"),
        };
        let rows = query.fetch_all(&self.pool).await.map_err(backend)?;
        decode_all(rows, user_from_row)
    }

    async fn update_user(&self, user: &User) -> Result<(), StoreError> {
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
        let done = sqlx::query("DELETE FROM users WHERE id = ?1")
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
        sqlx::query("SELECT * FROM clients WHERE client_id = ?1")
            .bind(client_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?
            .as_ref()
            .map(client_from_row)
            .transpose()
    }

    async fn list_clients(&self, tenant_id: Option<&str>) -> Result<Vec<Client>, StoreError> {
        let query = match tenant_id {
            Some(tenant) => sqlx::query(
                "SELECT * FROM clients WHERE tenant_id = ?1 ORDER BY created_at, client_id",
            )
            .bind(tenant),
            None => sqlx::query("SELECT * FROM clients ORDER BY created_at, client_id"),
        };
        let rows = query.fetch_all(&self.pool).await.map_err(backend)?;
        decode_all(rows, client_from_row)
    }

    async fn update_client(&self, client: &Client) -> Result<(), StoreError> {
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
        let done = sqlx::query("DELETE FROM clients WHERE client_id = ?1")
            .bind(client_id)
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        Ok(done.rows_affected() > 0)
    }

    async fn insert_key(&self, key: &SigningKeyRecord) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO signing_keys (kid, alg, private_key_sealed, public_jwk, created_at, \
             activates_at, retired_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
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
        let done =
            sqlx::query("UPDATE signing_keys SET retired_at = ?2, expires_at = ?3 WHERE kid = ?1")
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
            "DELETE FROM signing_keys WHERE expires_at IS NOT NULL AND expires_at < ?1",
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
             consumed_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
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
        // The conditional UPDATE is the whole decision: of concurrent callers, exactly one
        // sees a row come back.
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
        let row = sqlx::query("SELECT * FROM auth_codes WHERE code_hash = ?1")
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
        sqlx::query("SELECT * FROM refresh_tokens WHERE token_hash = ?1")
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
        // IMMEDIATE takes the write lock up front (waiting up to the busy timeout), so the
        // transaction never has to upgrade a stale read snapshot.
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(backend)?;
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
        let row = sqlx::query("SELECT * FROM refresh_tokens WHERE token_hash = ?1")
            .bind(token_hash)
            .fetch_optional(&mut *tx)
            .await
            .map_err(backend)?;
        let old = row.as_ref().map(refresh_from_row).transpose()?;
        tx.rollback().await.map_err(backend)?;
        match old {
            Some(t) if t.rotated_at.is_some() || t.revoked_at.is_some() => {
                Ok(ConsumeOutcome::AlreadyUsed(t))
            }
            _ => Ok(ConsumeOutcome::NotFound),
        }
    }

    async fn revoke_refresh_family(&self, family_id: &str, now: i64) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "UPDATE refresh_tokens SET revoked_at = ?2 WHERE family_id = ?1 AND revoked_at IS NULL",
        )
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
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
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
        sqlx::query("SELECT * FROM sessions WHERE session_hash = ?1 AND expires_at > ?2")
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
        let done = sqlx::query("DELETE FROM sessions WHERE session_hash = ?1")
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
        sqlx::query("SELECT * FROM consents WHERE user_id = ?1 AND client_id = ?2")
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
            "INSERT INTO consents (user_id, client_id, scope, granted_at) VALUES (?1, ?2, ?3, ?4) \
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
            "INSERT INTO revoked_access_tokens (jti, expires_at) VALUES (?1, ?2) \
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
        let row = sqlx::query("SELECT 1 FROM revoked_access_tokens WHERE jti = ?1")
            .bind(jti)
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?;
        Ok(row.is_some())
    }

    async fn purge_expired(&self, now: i64) -> Result<u64, StoreError> {
        const PURGES: [&str; 4] = [
            "DELETE FROM auth_codes WHERE expires_at <= ?1",
            "DELETE FROM refresh_tokens WHERE expires_at <= ?1",
            "DELETE FROM sessions WHERE expires_at <= ?1",
            "DELETE FROM revoked_access_tokens WHERE expires_at <= ?1",
        ];
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(backend)?;
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
    use super::*;

    async fn plan(store: &SqliteStore, sql: &'static str, binds: &[&str]) -> String {
        let mut query = sqlx::query(sql);
        for b in binds {
            query = query.bind(*b);
        }
        let rows = query.fetch_all(&store.pool).await.unwrap();
        rows.iter()
            .map(|r| r.get::<String, _>("detail"))
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[tokio::test]
    async fn tenant_lookups_use_indexes() {
        let store = SqliteStore::connect("sqlite::memory:").await.unwrap();
        let mail = "a@example.com";
        let p = plan(&store, explain::IN_TENANT, &["t1", mail]).await;
        assert!(p.contains("users_tenant_email"), "{p}");
        let p = plan(&store, explain::NO_TENANT, &[mail]).await;
        assert!(p.contains("users_no_tenant_email"), "{p}");
        let p = plan(&store, explain::USERS_OF_TENANT, &["t1"]).await;
        assert!(p.contains("users_tenant_created"), "{p}");
        assert!(!p.contains("TEMP B-TREE"), "{p}");
        let p = plan(&store, explain::CLIENTS_OF_TENANT, &["t1"]).await;
        assert!(p.contains("clients_tenant_created"), "{p}");
        assert!(!p.contains("TEMP B-TREE"), "{p}");
        let p = plan(&store, explain::FAMILY, &["f1"]).await;
        assert!(p.contains("refresh_tokens_family"), "{p}");
    }

    /// The statements the store runs, behind `EXPLAIN QUERY PLAN`.
    mod explain {
        pub(super) const IN_TENANT: &str = "EXPLAIN QUERY PLAN \
             SELECT * FROM users WHERE tenant_id = ?1 AND lower(email) = lower(?2)";
        pub(super) const NO_TENANT: &str = "EXPLAIN QUERY PLAN \
             SELECT * FROM users WHERE tenant_id IS NULL AND lower(email) = lower(?1)";
        pub(super) const USERS_OF_TENANT: &str = "EXPLAIN QUERY PLAN \
             SELECT * FROM users WHERE tenant_id = ?1 ORDER BY created_at, id";
        pub(super) const CLIENTS_OF_TENANT: &str = "EXPLAIN QUERY PLAN \
             SELECT * FROM clients WHERE tenant_id = ?1 ORDER BY created_at, client_id";
        pub(super) const FAMILY: &str = "EXPLAIN QUERY PLAN \
             UPDATE refresh_tokens SET revoked_at = 1 WHERE family_id = ?1 AND revoked_at IS NULL";
    }

    #[tokio::test]
    async fn corrupt_rows_are_backend_errors() {
        let store = SqliteStore::connect("sqlite::memory:").await.unwrap();
        sqlx::query(
            "INSERT INTO users (id, email, email_verified, active, allowed_scopes, attributes, \
             created_at, updated_at) VALUES ('u1', 'a@example.com', 0, 1, 'bad\"scope', '{}', 1, 1)",
        )
        .execute(&store.pool)
        .await
        .unwrap();
        sqlx::query(
            "INSERT INTO users (id, email, email_verified, active, attributes, created_at, \
             updated_at) VALUES ('u2', 'b@example.com', 0, 1, '[1, 2]', 1, 1)",
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
             activates_at) VALUES ('k1', 'HS256', x'00', '{}', 1, 1)",
        )
        .execute(&store.pool)
        .await
        .unwrap();
        assert!(matches!(
            store.list_keys().await,
            Err(StoreError::Backend(_))
        ));
    }

    #[test]
    fn recognises_in_memory_urls() {
        for url in [
            "sqlite::memory:",
            "sqlite://:memory:",
            "sqlite://?mode=memory",
            "sqlite:shared?mode=memory&cache=shared",
        ] {
            assert!(is_in_memory(url), "{url}");
        }
        for url in [
            "sqlite://idp.db",
            "sqlite:///tmp/idp.db",
            "sqlite://idp.db?mode=rwc",
        ] {
            assert!(!is_in_memory(url), "{url}");
        }
    }

    #[tokio::test]
    async fn rejects_other_urls() {
        assert!(matches!(
            SqliteStore::connect("postgres://localhost/idp").await,
            Err(StoreError::Backend(_))
        ));
    }

    #[tokio::test]
    async fn file_database_is_in_wal_mode() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("idp.db").display());
        let store = SqliteStore::connect(&url).await.unwrap();
        let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
            .fetch_one(&store.pool)
            .await
            .unwrap();
        assert_eq!(mode, "wal");
        let fk: i64 = sqlx::query_scalar("PRAGMA foreign_keys")
            .fetch_one(&store.pool)
            .await
            .unwrap();
        assert_eq!(fk, 1);
        let sync: i64 = sqlx::query_scalar("PRAGMA synchronous")
            .fetch_one(&store.pool)
            .await
            .unwrap();
        assert_eq!(sync, 1, "NORMAL");
    }
}
