//! Storage: the records the provider keeps and the [`Store`] trait every backend implements.
//!
//! Three backends share one conformance suite (`tests/it/storage.rs`): [`MemoryStore`] for
//! tests, `SqliteStore` (the embedded default, Cargo feature `sqlite`) and `PostgresStore`
//! (replicas sharing one database, Cargo feature `postgres`); [`connect`] opens the one a
//! database URL names. Every time is whole seconds since the Unix epoch. Opaque tokens
//! (codes, refresh tokens, session ids) are stored only as SHA-256 hashes
//! (`idp_core::sha256_b64url`).

mod accounts;
mod memory;
mod memory_two_factor;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod sql;
mod tokens;
mod two_factor;

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;

pub use accounts::{AuthMethod, Client, SecretHash, Tenant, User};
pub use memory::MemoryStore;
#[cfg(feature = "postgres")]
pub use sql::PostgresStore;
#[cfg(feature = "sqlite")]
pub use sql::SqliteStore;
pub(crate) use tokens::password_amr;
pub use tokens::{
    AccountTokenPurpose, AccountTokenRecord, AuthCodeRecord, ConsentRecord, ConsumeOutcome,
    DeviceCodeRecord, DeviceDecision, DevicePoll, DeviceStatus, GrantRecord, GrantsOf,
    RefreshTokenRecord, SessionRecord, SigningKeyRecord,
};
pub use two_factor::{PendingSignIn, TwoFactorRecord, TwoFactorStore};

/// Why a storage operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// A unique constraint would be violated (e.g. an e-mail already used in the tenant).
    #[error("conflict: {0}")]
    Conflict(String),
    /// The record to update does not exist.
    #[error("not found")]
    NotFound,
    /// The backend failed (I/O, connection, corrupt row). Detail goes to logs, not clients.
    #[error("storage backend error: {0}")]
    Backend(String),
    /// [`connect`] was given a URL whose scheme this build cannot open: an unknown one, or
    /// one whose Cargo feature is off. The message names the scheme, never the rest of the
    /// URL (it may hold a password).
    #[error("{0}")]
    UnsupportedUrl(String),
}

/// A change to clients or tenants that another process announced (see
/// [`Store::client_changes`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClientChange {
    /// The client with this id changed (or was added or deleted).
    Client(String),
    /// The tenant with this id changed (or was added).
    Tenant(String),
    /// Announcements may have been missed (the connection that listens was lost): any
    /// client or tenant may have changed.
    All,
}

/// Opens the store a database URL names: `memory:` (a [`MemoryStore`]),
/// `sqlite:PATH`, `sqlite://PATH` or `sqlite::memory:` (a `SqliteStore`, Cargo feature
/// `sqlite`), `postgres://…` or `postgresql://…` (a `PostgresStore`, Cargo feature
/// `postgres`). A SQL store applies its migrations on connect.
///
/// # Errors
///
/// [`StoreError::UnsupportedUrl`] for any other scheme, or one whose Cargo feature is off;
/// otherwise whatever the backend's `connect` returns.
///
/// # Example
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), idp_server::store::StoreError> {
/// let store = idp_server::store::connect("memory:").await?;
/// assert!(store.get_user("no-such-user").await?.is_none());
/// # Ok(())
/// # }
/// ```
pub async fn connect(url: &str) -> Result<Arc<dyn Store>, StoreError> {
    if url == "memory:" {
        return Ok(Arc::new(MemoryStore::new()));
    }
    if url.starts_with("sqlite:") {
        #[cfg(feature = "sqlite")]
        return Ok(Arc::new(SqliteStore::connect(url).await?));
        #[cfg(not(feature = "sqlite"))]
        return Err(feature_off("sqlite", "sqlite"));
    }
    // Scheme "postgres:" without "//" goes on too: PostgresStore says what it expects.
    let scheme = url.split_once(':').map_or("", |(s, _)| s);
    if scheme == "postgres" || scheme == "postgresql" {
        #[cfg(feature = "postgres")]
        return Ok(Arc::new(PostgresStore::connect(url).await?));
        #[cfg(not(feature = "postgres"))]
        return Err(feature_off(scheme, "postgres"));
    }
    // Only the scheme: the rest of a mistyped URL may hold a password.
    Err(StoreError::UnsupportedUrl(format!(
        "unsupported database URL (scheme {scheme:?}): use {}",
        supported_urls()
    )))
}

/// The URLs this build can open, for error messages.
fn supported_urls() -> &'static str {
    match (cfg!(feature = "sqlite"), cfg!(feature = "postgres")) {
        (true, true) => "sqlite://PATH, postgres://USER@HOST/DB (or postgresql://...) or memory:",
        (true, false) => "sqlite://PATH or memory:",
        (false, true) => "postgres://USER@HOST/DB (or postgresql://...) or memory:",
        (false, false) => "memory:",
    }
}

/// The error for a URL whose backend was left out of this build.
#[cfg(not(all(feature = "sqlite", feature = "postgres")))]
fn feature_off(scheme: &str, feature: &str) -> StoreError {
    StoreError::UnsupportedUrl(format!(
        "unsupported database URL (scheme {scheme:?}): this build has no {feature} store \
         (Cargo feature `{feature}` of idp-server); use {}",
        supported_urls()
    ))
}

/// The storage every provider backend implements (with [`TwoFactorStore`]). Consuming a
/// code and rotating a refresh token are single atomic operations, never read-then-write.
#[async_trait]
pub trait Store: TwoFactorStore + Send + Sync + fmt::Debug + 'static {
    // ---- users ----
    /// Inserts a user; `Conflict` if the id, or the e-mail (ignoring ASCII case) within the
    /// tenant, is taken.
    async fn insert_user(&self, user: &User) -> Result<(), StoreError>;
    /// A user by id.
    async fn get_user(&self, id: &str) -> Result<Option<User>, StoreError>;
    /// A user by e-mail (ignoring ASCII case) within a tenant (`None`: no tenant).
    async fn find_user_by_email(
        &self,
        tenant_id: Option<&str>,
        email: &str,
    ) -> Result<Option<User>, StoreError>;
    /// Users of one tenant (`Some`), or all users (`None`), ordered by creation then id.
    async fn list_users(&self, tenant_id: Option<&str>) -> Result<Vec<User>, StoreError>;
    /// Up to `limit` users (of a tenant, or all) in the order of
    /// [`list_users`](Self::list_users), after the user with id `after` (none: from the
    /// first; an id that is not in the list: none). One page of a long list, read from the
    /// database as such.
    async fn list_users_after(
        &self,
        tenant_id: Option<&str>,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<User>, StoreError>;
    /// Replaces a user; `NotFound` if absent, `Conflict` on a taken e-mail.
    async fn update_user(&self, user: &User) -> Result<(), StoreError>;
    /// Deletes a user; whether it existed.
    async fn delete_user(&self, id: &str) -> Result<bool, StoreError>;

    // ---- clients ----
    /// Inserts a client; `Conflict` if the id is taken.
    async fn insert_client(&self, client: &Client) -> Result<(), StoreError>;
    /// A client by id.
    async fn get_client(&self, client_id: &str) -> Result<Option<Client>, StoreError>;
    /// Clients of one tenant (`Some`), or all clients (`None`), ordered by creation then id.
    async fn list_clients(&self, tenant_id: Option<&str>) -> Result<Vec<Client>, StoreError>;
    /// Up to `limit` clients after the client `after`, as
    /// [`list_users_after`](Self::list_users_after) does for users.
    async fn list_clients_after(
        &self,
        tenant_id: Option<&str>,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<Client>, StoreError>;
    /// Replaces a client; `NotFound` if absent.
    async fn update_client(&self, client: &Client) -> Result<(), StoreError>;
    /// Deletes a client; whether it existed.
    async fn delete_client(&self, client_id: &str) -> Result<bool, StoreError>;

    // ---- tenants ----
    /// Stores a new tenant; `Conflict` if the id exists.
    async fn insert_tenant(&self, tenant: &Tenant) -> Result<(), StoreError>;
    /// A tenant by id.
    async fn get_tenant(&self, id: &str) -> Result<Option<Tenant>, StoreError>;
    /// Every tenant, by id.
    async fn list_tenants(&self) -> Result<Vec<Tenant>, StoreError>;
    /// Replaces a tenant's record; `NotFound` if it does not exist.
    async fn update_tenant(&self, tenant: &Tenant) -> Result<(), StoreError>;

    // ---- signing keys ----
    /// Inserts a key; `Conflict` if the kid is taken.
    async fn insert_key(&self, key: &SigningKeyRecord) -> Result<(), StoreError>;
    /// Every key, oldest first.
    async fn list_keys(&self) -> Result<Vec<SigningKeyRecord>, StoreError>;
    /// Sets a key's `retired_at` and `expires_at`; `NotFound` if absent.
    async fn retire_key(
        &self,
        kid: &str,
        retired_at: i64,
        expires_at: i64,
    ) -> Result<(), StoreError>;
    /// Deletes keys whose `expires_at` is before `now`; how many.
    async fn delete_expired_keys(&self, now: i64) -> Result<u64, StoreError>;

    // ---- authorization codes ----
    /// Stores a new code.
    async fn insert_code(&self, code: &AuthCodeRecord) -> Result<(), StoreError>;
    /// A code by hash, whatever its state (the token endpoint checks the presenter against
    /// it before consuming it).
    async fn get_code(&self, code_hash: &str) -> Result<Option<AuthCodeRecord>, StoreError>;
    /// Atomically marks the code consumed at `now` and returns it. An expired code that
    /// was never used is `NotFound`.
    async fn consume_code(
        &self,
        code_hash: &str,
        now: i64,
    ) -> Result<ConsumeOutcome<AuthCodeRecord>, StoreError>;

    // ---- refresh tokens ----
    /// Stores a new refresh token.
    async fn insert_refresh_token(&self, token: &RefreshTokenRecord) -> Result<(), StoreError>;
    /// A refresh token by hash, whatever its state.
    async fn get_refresh_token(
        &self,
        token_hash: &str,
    ) -> Result<Option<RefreshTokenRecord>, StoreError>;
    /// Atomically marks a usable token rotated at `now` and stores its successor, returning
    /// the old record, and extends the grant (the family) to the successor's expiry. A token
    /// already rotated or revoked is `AlreadyUsed` (the caller then revokes the family); an
    /// unknown or expired one, or one whose grant is revoked, expired or missing, `NotFound`.
    async fn rotate_refresh_token(
        &self,
        token_hash: &str,
        successor: &RefreshTokenRecord,
        now: i64,
    ) -> Result<ConsumeOutcome<RefreshTokenRecord>, StoreError>;
    /// Revokes every token of a family; how many were newly revoked.
    async fn revoke_refresh_family(&self, family_id: &str, now: i64) -> Result<u64, StoreError>;

    // ---- grants ----
    /// Stores a new grant; `Conflict` if the id is taken.
    async fn insert_grant(&self, grant: &GrantRecord) -> Result<(), StoreError>;
    /// A grant by id, whatever its state.
    async fn get_grant(&self, grant_id: &str) -> Result<Option<GrantRecord>, StoreError>;
    /// The grants `which` names that are live at `now`, oldest first.
    async fn grants(&self, which: GrantsOf<'_>, now: i64) -> Result<Vec<GrantRecord>, StoreError>;
    /// Revokes at `now`, in one write, the grants `which` names with everything issued for
    /// them: their refresh tokens are revoked and their unused codes consumed. How many
    /// grants were newly revoked.
    async fn revoke_grants(&self, which: GrantsOf<'_>, now: i64) -> Result<u64, StoreError>;

    // ---- device authorizations (RFC 8628) ----
    /// Stores a new device authorization; `Conflict` if its device code hash or its user
    /// code is taken (the caller draws another user code).
    async fn insert_device_code(&self, device: &DeviceCodeRecord) -> Result<(), StoreError>;
    /// A device authorization by its device code hash, whatever its state.
    async fn get_device_code(
        &self,
        device_code_hash: &str,
    ) -> Result<Option<DeviceCodeRecord>, StoreError>;
    /// A device authorization by its normalised user code, if it is still pending at `now`
    /// (undecided and not expired).
    async fn find_pending_user_code(
        &self,
        user_code: &str,
        now: i64,
    ) -> Result<Option<DeviceCodeRecord>, StoreError>;
    /// Atomically records the user's decision on a pending, unexpired authorization
    /// (one conditional statement) and returns the record as decided; `None` when it was
    /// no longer pending (decided meanwhile, expired or unknown).
    async fn decide_device_code(
        &self,
        user_code: &str,
        decision: &DeviceDecision,
        now: i64,
    ) -> Result<Option<DeviceCodeRecord>, StoreError>;
    /// One poll of the token endpoint at `now`: a poll sooner than `interval` seconds after
    /// the previous one is `SlowDown` (the interval grows by 5 s); otherwise the poll is
    /// recorded and an approved authorization is consumed, once, by one conditional
    /// statement (of concurrent pollers exactly one sees `Consumed`).
    async fn poll_device_code(
        &self,
        device_code_hash: &str,
        now: i64,
    ) -> Result<DevicePoll, StoreError>;

    // ---- sessions ----
    /// Stores a session.
    async fn insert_session(&self, session: &SessionRecord) -> Result<(), StoreError>;
    /// A session by hash, if it has not expired at `now`.
    async fn get_session(
        &self,
        session_hash: &str,
        now: i64,
    ) -> Result<Option<SessionRecord>, StoreError>;
    /// Deletes a session; whether it existed.
    async fn delete_session(&self, session_hash: &str) -> Result<bool, StoreError>;
    /// Deletes every session of a user; the deleted sessions.
    async fn delete_user_sessions(&self, user_id: &str) -> Result<Vec<SessionRecord>, StoreError>;
    /// The sessions of a user that have not expired at `now`, newest first.
    async fn list_user_sessions(
        &self,
        user_id: &str,
        now: i64,
    ) -> Result<Vec<SessionRecord>, StoreError>;

    // ---- consents ----
    /// The consent a user gave a client, if any.
    async fn get_consent(
        &self,
        user_id: &str,
        client_id: &str,
    ) -> Result<Option<ConsentRecord>, StoreError>;
    /// Stores (or replaces) a consent.
    async fn put_consent(&self, consent: &ConsentRecord) -> Result<(), StoreError>;
    /// Every consent a user gave, newest first.
    async fn list_consents(&self, user_id: &str) -> Result<Vec<ConsentRecord>, StoreError>;
    /// Forgets the consent a user gave a client; whether there was one.
    async fn delete_consent(&self, user_id: &str, client_id: &str) -> Result<bool, StoreError>;

    // ---- single-use e-mail tokens ----
    /// Stores a verification or reset token.
    async fn insert_account_token(&self, token: &AccountTokenRecord) -> Result<(), StoreError>;
    /// Takes the token with this hash and purpose if it has not expired at `now`: it is
    /// deleted in the same atomic step, so a second use finds nothing.
    async fn take_account_token(
        &self,
        token_hash: &str,
        purpose: AccountTokenPurpose,
        now: i64,
    ) -> Result<Option<AccountTokenRecord>, StoreError>;
    /// Deletes every token of a user for `purpose` (a new link replaces the old ones; a
    /// new password ends every reset link); how many.
    async fn delete_account_tokens(
        &self,
        user_id: &str,
        purpose: AccountTokenPurpose,
    ) -> Result<u64, StoreError>;

    // ---- revoked access tokens ----
    /// Records a revoked access-token id until `expires_at`.
    async fn revoke_access_token(&self, jti: &str, expires_at: i64) -> Result<(), StoreError>;
    /// Whether an access-token id is revoked.
    async fn is_access_token_revoked(&self, jti: &str) -> Result<bool, StoreError>;

    // ---- other processes on the same database ----
    /// Tells the other processes that share this store that a client changed (PostgreSQL:
    /// `NOTIFY`), so that their client caches forget it at once. The default does nothing:
    /// a store nobody else writes to, or one without such a channel (SQLite), relies on the
    /// caches' short lifetime.
    async fn announce_client_change(&self, _client_id: &str) -> Result<(), StoreError> {
        Ok(())
    }
    /// Tells the other processes that a tenant changed, as
    /// [`announce_client_change`](Self::announce_client_change) does for clients.
    async fn announce_tenant_change(&self, _tenant_id: &str) -> Result<(), StoreError> {
        Ok(())
    }
    /// The client and tenant changes other processes announce, as they arrive (PostgreSQL:
    /// `LISTEN`); `None` (the default) when the store has no such channel.
    async fn client_changes(&self) -> Option<tokio::sync::mpsc::Receiver<ClientChange>> {
        None
    }

    // ---- housekeeping ----
    /// A write that always succeeds on a healthy store (the readiness check calls it): one
    /// row, overwritten.
    async fn probe_write(&self, now: i64) -> Result<(), StoreError>;

    /// Deletes expired codes, device authorizations, refresh tokens, grants, sessions and
    /// revocation entries; how many rows.
    async fn purge_expired(&self, now: i64) -> Result<u64, StoreError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn connect_opens_a_memory_store() {
        let store = connect("memory:").await.unwrap();
        assert!(store.get_user("u1").await.unwrap().is_none());
    }

    #[tokio::test]
    async fn unsupported_urls_name_only_the_scheme() {
        for (url, scheme) in [
            ("postgress://admin:hunter2@db/idp", "\"postgress\""),
            ("mysql://admin:hunter2@db/idp", "\"mysql\""),
            ("admin:hunter2@db", "\"admin\""),
            ("hunter2", "\"\""),
        ] {
            match connect(url).await {
                Err(StoreError::UnsupportedUrl(m)) => {
                    assert!(m.starts_with("unsupported database URL"), "{m}");
                    assert!(m.contains(scheme), "{m}");
                    assert!(!m.contains("hunter2"), "{m}");
                }
                other => panic!("{url}: expected UnsupportedUrl, got {other:?}"),
            }
        }
    }

    #[cfg(not(feature = "sqlite"))]
    #[tokio::test]
    async fn sqlite_urls_name_the_missing_feature() {
        match connect("sqlite://idp.db").await {
            Err(StoreError::UnsupportedUrl(m)) => assert!(m.contains("`sqlite`"), "{m}"),
            other => panic!("expected UnsupportedUrl, got {other:?}"),
        }
    }

    #[cfg(not(feature = "postgres"))]
    #[tokio::test]
    async fn postgres_urls_name_the_missing_feature() {
        match connect("postgresql://idp:hunter2@db/idp").await {
            Err(StoreError::UnsupportedUrl(m)) => {
                assert!(m.contains("`postgres`") && !m.contains("hunter2"), "{m}")
            }
            other => panic!("expected UnsupportedUrl, got {other:?}"),
        }
    }
}
