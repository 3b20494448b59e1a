//! Storage: the records the provider keeps and the [`Store`] trait every backend implements.
//!
//! Three backends share one conformance suite (`tests/it/storage.rs`): [`MemoryStore`] for
//! tests, `SqliteStore` (the embedded default, Cargo feature `sqlite`) and `PostgresStore`
//! (replicas sharing one database, Cargo feature `postgres`); [`connect`] opens the one a
//! database URL names. Every time is whole seconds since the Unix epoch. Opaque tokens
//! (codes, refresh tokens, session ids) are stored only as SHA-256 hashes
//! (`idp_core::sha256_b64url`).

mod memory;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod sql;

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use idp_core::{Algorithm, GrantType, Jwk, Scope};
use serde_json::{Map, Value};

pub use memory::MemoryStore;
#[cfg(feature = "postgres")]
pub use sql::PostgresStore;
#[cfg(feature = "sqlite")]
pub use sql::SqliteStore;

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

/// A password or client-secret hash (PHC string). `Debug` is redacted.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretHash(String);

impl SecretHash {
    /// Wraps a PHC string.
    pub fn new(phc: impl Into<String>) -> Self {
        Self(phc.into())
    }

    /// The PHC string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretHash([redacted])")
    }
}

/// A user account.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct User {
    /// Stable id (the `sub` claim).
    pub id: String,
    /// Tenant, for multi-tenant deployments.
    pub tenant_id: Option<String>,
    /// E-mail address, stored as given; unique per tenant ignoring ASCII case.
    pub email: String,
    /// Whether the e-mail address is verified.
    pub email_verified: bool,
    /// argon2id hash of the password; `None` means password sign-in is impossible.
    pub password_hash: Option<SecretHash>,
    /// Full name.
    pub name: Option<String>,
    /// Given name.
    pub given_name: Option<String>,
    /// Family name.
    pub family_name: Option<String>,
    /// Picture URL.
    pub picture: Option<String>,
    /// Locale.
    pub locale: Option<String>,
    /// Disabled users cannot sign in and their refresh tokens stop working.
    pub active: bool,
    /// Scopes this user may be granted; `None` means no restriction.
    pub allowed_scopes: Option<Scope>,
    /// Custom attributes.
    pub attributes: Map<String, Value>,
    /// Creation time.
    pub created_at: i64,
    /// Last update.
    pub updated_at: i64,
}

/// How a client authenticates at the token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AuthMethod {
    /// HTTP Basic with client_id and secret.
    ClientSecretBasic,
    /// client_id and client_secret in the form body.
    ClientSecretPost,
    /// A public client: no secret (PKCE required).
    None,
}

impl AuthMethod {
    /// The registered name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ClientSecretBasic => "client_secret_basic",
            Self::ClientSecretPost => "client_secret_post",
            Self::None => "none",
        }
    }

    /// Parses a registered name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "client_secret_basic" => Some(Self::ClientSecretBasic),
            "client_secret_post" => Some(Self::ClientSecretPost),
            "none" => Some(Self::None),
            _ => None,
        }
    }
}

/// A registered OAuth client.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Client {
    /// The client id.
    pub client_id: String,
    /// Tenant, for multi-tenant deployments.
    pub tenant_id: Option<String>,
    /// Display name (shown on the consent page).
    pub name: Option<String>,
    /// Hash of the secret; `None` for public clients.
    pub secret_hash: Option<SecretHash>,
    /// Registered redirect URIs (exact match).
    pub redirect_uris: Vec<String>,
    /// Registered post-logout redirect URIs.
    pub post_logout_redirect_uris: Vec<String>,
    /// Scopes the client may request; also its default for client_credentials.
    pub allowed_scopes: Scope,
    /// Grant types the client may use.
    pub grant_types: Vec<GrantType>,
    /// Token endpoint authentication method.
    pub token_endpoint_auth_method: AuthMethod,
    /// Audiences (resource servers) the client may get tokens for; the first is the default.
    pub audiences: Vec<String>,
    /// First-party clients skip the consent page.
    pub first_party: bool,
    /// Disabled clients get `invalid_client`.
    pub active: bool,
    /// Custom attributes.
    pub attributes: Map<String, Value>,
    /// Creation time.
    pub created_at: i64,
    /// Last update.
    pub updated_at: i64,
}

impl Client {
    /// Whether the client may use `grant`.
    pub fn allows_grant(&self, grant: &GrantType) -> bool {
        self.grant_types.contains(grant)
    }

    /// Whether this is a public client.
    pub fn is_public(&self) -> bool {
        self.token_endpoint_auth_method == AuthMethod::None
    }
}

/// A signing key, its private half encrypted at rest.
#[derive(Clone, PartialEq)]
#[non_exhaustive]
pub struct SigningKeyRecord {
    /// Key id (RFC 7638 thumbprint).
    pub kid: String,
    /// Algorithm.
    pub alg: Algorithm,
    /// AES-256-GCM sealed PKCS#8 private key (nonce || ciphertext || tag).
    pub private_key_sealed: Vec<u8>,
    /// The public JWK as published.
    pub public_jwk: Jwk,
    /// Creation (and publication) time.
    pub created_at: i64,
    /// From when the key signs; publication precedes it.
    pub activates_at: i64,
    /// When the key stopped signing (a newer key took over), if it has.
    pub retired_at: Option<i64>,
    /// After this time the key leaves the JWKS: every token it signed has expired.
    pub expires_at: Option<i64>,
}

impl fmt::Debug for SigningKeyRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKeyRecord")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .field("created_at", &self.created_at)
            .field("activates_at", &self.activates_at)
            .field("retired_at", &self.retired_at)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// An authorization code (stored by hash).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct AuthCodeRecord {
    /// SHA-256 of the code.
    pub code_hash: String,
    /// The client it was issued to.
    pub client_id: String,
    /// The user.
    pub user_id: String,
    /// The redirect_uri of the authorization request.
    pub redirect_uri: String,
    /// Granted scope.
    pub scope: Scope,
    /// OIDC nonce.
    pub nonce: Option<String>,
    /// PKCE S256 challenge.
    pub code_challenge: Option<String>,
    /// When the user authenticated.
    pub auth_time: i64,
    /// The SSO session (the `sid` claim).
    pub session_id: Option<String>,
    /// Grant id: ties the code to the tokens issued from it.
    pub grant_id: String,
    /// Creation time.
    pub created_at: i64,
    /// Expiry (creation + 60 s).
    pub expires_at: i64,
    /// When it was exchanged, if it was.
    pub consumed_at: Option<i64>,
}

/// The outcome of [`Store::consume_code`].
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ConsumeOutcome<T> {
    /// This call consumed the record.
    Consumed(T),
    /// The record had already been consumed (a replay).
    AlreadyUsed(T),
    /// No such record.
    NotFound,
}

/// A refresh token (stored by hash). Tokens of one grant share a `family_id`.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct RefreshTokenRecord {
    /// SHA-256 of the token.
    pub token_hash: String,
    /// The family (one per grant); reuse of a rotated token revokes it whole.
    pub family_id: String,
    /// Client.
    pub client_id: String,
    /// User.
    pub user_id: String,
    /// Granted scope.
    pub scope: Scope,
    /// Audiences of the access tokens it yields.
    pub audiences: Vec<String>,
    /// When the user authenticated.
    pub auth_time: i64,
    /// SSO session.
    pub session_id: Option<String>,
    /// Tenant.
    pub tenant_id: Option<String>,
    /// Creation time.
    pub created_at: i64,
    /// Expiry.
    pub expires_at: i64,
    /// When it was exchanged for a successor.
    pub rotated_at: Option<i64>,
    /// When it (or its family) was revoked.
    pub revoked_at: Option<i64>,
}

impl RefreshTokenRecord {
    /// Whether the token can be used at `now`.
    pub fn is_usable(&self, now: i64) -> bool {
        self.rotated_at.is_none() && self.revoked_at.is_none() && now < self.expires_at
    }
}

/// An SSO session (stored by hash of the cookie value).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct SessionRecord {
    /// SHA-256 of the session cookie value.
    pub session_hash: String,
    /// Public session id (the `sid` claim), unrelated to the cookie value.
    pub sid: String,
    /// User.
    pub user_id: String,
    /// When the user authenticated.
    pub auth_time: i64,
    /// Creation time.
    pub created_at: i64,
    /// Expiry.
    pub expires_at: i64,
}

/// A remembered consent decision.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ConsentRecord {
    /// User.
    pub user_id: String,
    /// Client.
    pub client_id: String,
    /// Scope consented to.
    pub scope: Scope,
    /// When.
    pub granted_at: i64,
}

/// The storage every provider backend implements. Consuming a code and rotating a refresh
/// token are single atomic operations, never read-then-write.
#[async_trait]
pub trait Store: Send + Sync + fmt::Debug + 'static {
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
    /// Replaces a client; `NotFound` if absent.
    async fn update_client(&self, client: &Client) -> Result<(), StoreError>;
    /// Deletes a client; whether it existed.
    async fn delete_client(&self, client_id: &str) -> Result<bool, StoreError>;

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
    /// the old record. A token already rotated or revoked is `AlreadyUsed` (the caller then
    /// revokes the family); an unknown or expired one `NotFound`.
    async fn rotate_refresh_token(
        &self,
        token_hash: &str,
        successor: &RefreshTokenRecord,
        now: i64,
    ) -> Result<ConsumeOutcome<RefreshTokenRecord>, StoreError>;
    /// Revokes every token of a family; how many were newly revoked.
    async fn revoke_refresh_family(&self, family_id: &str, now: i64) -> Result<u64, StoreError>;

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

    // ---- consents ----
    /// The consent a user gave a client, if any.
    async fn get_consent(
        &self,
        user_id: &str,
        client_id: &str,
    ) -> Result<Option<ConsentRecord>, StoreError>;
    /// Stores (or replaces) a consent.
    async fn put_consent(&self, consent: &ConsentRecord) -> Result<(), StoreError>;

    // ---- revoked access tokens ----
    /// Records a revoked access-token id until `expires_at`.
    async fn revoke_access_token(&self, jti: &str, expires_at: i64) -> Result<(), StoreError>;
    /// Whether an access-token id is revoked.
    async fn is_access_token_revoked(&self, jti: &str) -> Result<bool, StoreError>;

    // ---- housekeeping ----
    /// Deletes expired codes, refresh tokens, sessions and revocation entries; how many rows.
    async fn purge_expired(&self, now: i64) -> Result<u64, StoreError>;
}

// ---- constructors ----
//
// The records are `#[non_exhaustive]`, so code outside this crate (the `idp` binary, the
// integration tests, embedders) cannot use struct literals: it starts from `new` and sets the
// public fields it needs.

impl User {
    /// An active user with no tenant, no password, an unverified e-mail, no profile claims,
    /// no scope restriction and no attributes, created and updated at `now`.
    pub fn new(id: impl Into<String>, email: impl Into<String>, now: i64) -> Self {
        Self {
            id: id.into(),
            tenant_id: None,
            email: email.into(),
            email_verified: false,
            password_hash: None,
            name: None,
            given_name: None,
            family_name: None,
            picture: None,
            locale: None,
            active: true,
            allowed_scopes: None,
            attributes: Map::new(),
            created_at: now,
            updated_at: now,
        }
    }
}

impl Client {
    /// An active, third-party client with no tenant, name, secret, redirect URIs, scopes,
    /// grant types, audiences or attributes, created and updated at `now`.
    pub fn new(
        client_id: impl Into<String>,
        token_endpoint_auth_method: AuthMethod,
        now: i64,
    ) -> Self {
        Self {
            client_id: client_id.into(),
            tenant_id: None,
            name: None,
            secret_hash: None,
            redirect_uris: Vec::new(),
            post_logout_redirect_uris: Vec::new(),
            allowed_scopes: Scope::new(),
            grant_types: Vec::new(),
            token_endpoint_auth_method,
            audiences: Vec::new(),
            first_party: false,
            active: true,
            attributes: Map::new(),
            created_at: now,
            updated_at: now,
        }
    }
}

impl SigningKeyRecord {
    /// A key created at `now` that signs from `now` on, neither retired nor expiring.
    pub fn new(
        kid: impl Into<String>,
        alg: Algorithm,
        private_key_sealed: Vec<u8>,
        public_jwk: Jwk,
        now: i64,
    ) -> Self {
        Self {
            kid: kid.into(),
            alg,
            private_key_sealed,
            public_jwk,
            created_at: now,
            activates_at: now,
            retired_at: None,
            expires_at: None,
        }
    }
}

impl AuthCodeRecord {
    /// An unconsumed code created at `now` for a user who authenticated at `now`, with an
    /// empty scope and no nonce, PKCE challenge or session.
    pub fn new(
        code_hash: impl Into<String>,
        client_id: impl Into<String>,
        user_id: impl Into<String>,
        redirect_uri: impl Into<String>,
        grant_id: impl Into<String>,
        now: i64,
        expires_at: i64,
    ) -> Self {
        Self {
            code_hash: code_hash.into(),
            client_id: client_id.into(),
            user_id: user_id.into(),
            redirect_uri: redirect_uri.into(),
            scope: Scope::new(),
            nonce: None,
            code_challenge: None,
            auth_time: now,
            session_id: None,
            grant_id: grant_id.into(),
            created_at: now,
            expires_at,
            consumed_at: None,
        }
    }
}

impl RefreshTokenRecord {
    /// A usable token created at `now` for a user who authenticated at `now`, with an empty
    /// scope and no audiences, session or tenant.
    pub fn new(
        token_hash: impl Into<String>,
        family_id: impl Into<String>,
        client_id: impl Into<String>,
        user_id: impl Into<String>,
        now: i64,
        expires_at: i64,
    ) -> Self {
        Self {
            token_hash: token_hash.into(),
            family_id: family_id.into(),
            client_id: client_id.into(),
            user_id: user_id.into(),
            scope: Scope::new(),
            audiences: Vec::new(),
            auth_time: now,
            session_id: None,
            tenant_id: None,
            created_at: now,
            expires_at,
            rotated_at: None,
            revoked_at: None,
        }
    }
}

impl SessionRecord {
    /// A session created at `now` for a user who authenticated at `now`.
    pub fn new(
        session_hash: impl Into<String>,
        sid: impl Into<String>,
        user_id: impl Into<String>,
        now: i64,
        expires_at: i64,
    ) -> Self {
        Self {
            session_hash: session_hash.into(),
            sid: sid.into(),
            user_id: user_id.into(),
            auth_time: now,
            created_at: now,
            expires_at,
        }
    }
}

impl ConsentRecord {
    /// A consent to `scope` given at `granted_at`.
    pub fn new(
        user_id: impl Into<String>,
        client_id: impl Into<String>,
        scope: Scope,
        granted_at: i64,
    ) -> Self {
        Self {
            user_id: user_id.into(),
            client_id: client_id.into(),
            scope,
            granted_at,
        }
    }
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
