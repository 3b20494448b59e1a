//! The records of keys, codes, tokens, sessions and consent.

use std::fmt;

use idp_core::{Algorithm, Jwk, Scope};

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

/// The outcome of [`Store::consume_code`](super::Store::consume_code).
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

/// A grant: the result of one authorization (code → tokens → refreshes). Every access and
/// refresh token issued for it names it (`gid` claim, refresh `family_id`); revoking the
/// grant ends them all.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct GrantRecord {
    /// Grant id (the refresh-token family id, the access tokens' `gid`).
    pub grant_id: String,
    /// The client it was granted to.
    pub client_id: String,
    /// The user who granted it.
    pub user_id: String,
    /// The user's tenant.
    pub tenant_id: Option<String>,
    /// The SSO session (`sid`) it was granted in.
    pub session_id: Option<String>,
    /// Whether `offline_access` was granted: the grant then survives the end of its
    /// browser session (not a password change, nor a disabled user or client).
    pub offline: bool,
    /// Creation time.
    pub created_at: i64,
    /// After this time nothing issued for it is valid (extended by each refresh).
    pub expires_at: i64,
    /// When it was revoked, if it was.
    pub revoked_at: Option<i64>,
    /// How the user authenticated in the session it was granted in (the ID token's `amr`,
    /// RFC 8176): `["pwd"]`, or `["pwd", "otp"]` with a second factor.
    pub amr: Vec<String>,
}

impl GrantRecord {
    /// Whether tokens of the grant are valid at `now`.
    pub fn is_live(&self, now: i64) -> bool {
        self.revoked_at.is_none() && now < self.expires_at
    }
}

/// Which grants a [`Store::grants`](super::Store::grants) or
/// [`Store::revoke_grants`](super::Store::revoke_grants) call is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum GrantsOf<'a> {
    /// One grant, by id.
    Grant(&'a str),
    /// Every grant of a user.
    User(&'a str),
    /// Every grant to a client.
    Client(&'a str),
    /// Every grant given in an SSO session (by `sid`).
    Session(&'a str),
    /// The grants of an SSO session without `offline_access`: what ends with the session.
    SessionOnline(&'a str),
}

/// Where a device authorization (RFC 8628) stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DeviceStatus {
    /// The user has not decided yet.
    Pending,
    /// The user approved: the record names the user and the grant.
    Approved,
    /// The user denied.
    Denied,
}

impl DeviceStatus {
    /// The column value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Approved => "approved",
            Self::Denied => "denied",
        }
    }

    /// Parses a column value.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "pending" => Some(Self::Pending),
            "approved" => Some(Self::Approved),
            "denied" => Some(Self::Denied),
            _ => None,
        }
    }
}

/// A device authorization (RFC 8628): the device code (stored by hash) and the user code
/// (stored normalised: upper case, without the dash), from the request until the device
/// collects its tokens.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct DeviceCodeRecord {
    /// SHA-256 of the device code.
    pub device_code_hash: String,
    /// The user code, normalised (`BCDFGHJK`); unique among stored records.
    pub user_code: String,
    /// The client that asked.
    pub client_id: String,
    /// The scope it asked for.
    pub scope: Scope,
    /// Creation time.
    pub created_at: i64,
    /// Expiry of both codes.
    pub expires_at: i64,
    /// Seconds the device must wait between polls (grows by 5 with each `slow_down`).
    pub interval: i64,
    /// When the device last polled.
    pub last_polled_at: Option<i64>,
    /// Pending, approved or denied.
    pub status: DeviceStatus,
    /// The user who decided.
    pub user_id: Option<String>,
    /// The grant an approval created.
    pub grant_id: Option<String>,
    /// The scope granted (the asked scope narrowed to the user).
    pub granted_scope: Option<Scope>,
    /// The SSO session (`sid`) the decision was made in.
    pub session_id: Option<String>,
    /// When the user authenticated.
    pub auth_time: Option<i64>,
    /// When the user decided.
    pub decided_at: Option<i64>,
    /// When the device collected its tokens.
    pub consumed_at: Option<i64>,
}

/// An approval or a denial of a device authorization, for
/// [`Store::decide_device_code`](super::Store::decide_device_code).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct DeviceDecision {
    /// Approved or denied (`Pending` decides nothing).
    pub status: DeviceStatus,
    /// The user who decided.
    pub user_id: String,
    /// The grant an approval created.
    pub grant_id: Option<String>,
    /// The scope granted.
    pub granted_scope: Option<Scope>,
    /// The SSO session (`sid`) of the decision.
    pub session_id: Option<String>,
    /// When the user authenticated.
    pub auth_time: Option<i64>,
}

impl DeviceDecision {
    /// An approval by `user_id` through `grant_id`, of `granted_scope`.
    pub fn approve(
        user_id: impl Into<String>,
        grant_id: impl Into<String>,
        granted_scope: Scope,
    ) -> Self {
        Self {
            status: DeviceStatus::Approved,
            user_id: user_id.into(),
            grant_id: Some(grant_id.into()),
            granted_scope: Some(granted_scope),
            session_id: None,
            auth_time: None,
        }
    }

    /// A denial by `user_id`.
    pub fn deny(user_id: impl Into<String>) -> Self {
        Self {
            status: DeviceStatus::Denied,
            user_id: user_id.into(),
            grant_id: None,
            granted_scope: None,
            session_id: None,
            auth_time: None,
        }
    }
}

/// What a poll of the token endpoint with a device code found, from
/// [`Store::poll_device_code`](super::Store::poll_device_code). Every outcome but
/// `NotFound` carries the record as the poll left it.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum DevicePoll {
    /// No such device code.
    NotFound,
    /// Expired (`expires_at <= now`) before the device collected its tokens.
    Expired(DeviceCodeRecord),
    /// Polled before `interval` seconds had passed since the last poll: the interval has
    /// grown by 5 s, nothing else changed.
    SlowDown(DeviceCodeRecord),
    /// The user has not decided yet.
    Pending(DeviceCodeRecord),
    /// The user denied.
    Denied(DeviceCodeRecord),
    /// Approved, and this poll consumed it: issue the tokens.
    Consumed(DeviceCodeRecord),
    /// Approved and already consumed by an earlier poll.
    AlreadyUsed(DeviceCodeRecord),
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
    /// How the user authenticated (RFC 8176 `amr` values): `["pwd"]`, or `["pwd", "otp"]`
    /// with a second factor.
    pub amr: Vec<String>,
}

/// The `amr` of a password sign-in, what records made before `amr` was stored carry.
pub(crate) fn password_amr() -> Vec<String> {
    vec!["pwd".to_owned()]
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

/// What a single-use link sent by e-mail is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AccountTokenPurpose {
    /// Proves the address it was sent to (after registration or an address change).
    VerifyEmail,
    /// Lets its holder choose a new password.
    ResetPassword,
}

impl AccountTokenPurpose {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::VerifyEmail => "verify_email",
            Self::ResetPassword => "reset_password",
        }
    }

    /// The purpose of a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "verify_email" => Some(Self::VerifyEmail),
            "reset_password" => Some(Self::ResetPassword),
            _ => None,
        }
    }
}

/// A single-use token sent by e-mail (a verification or password-reset link), stored only
/// as the SHA-256 of its value.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AccountTokenRecord {
    /// SHA-256 of the token.
    pub token_hash: String,
    /// What it is for.
    pub purpose: AccountTokenPurpose,
    /// The user it acts on.
    pub user_id: String,
    /// The address it was sent to (for a verification: the address it proves).
    pub email: String,
    /// Creation time.
    pub created_at: i64,
    /// Expiry.
    pub expires_at: i64,
}

impl AccountTokenRecord {
    /// A token created at `now`.
    pub fn new(
        token_hash: impl Into<String>,
        purpose: AccountTokenPurpose,
        user_id: impl Into<String>,
        email: impl Into<String>,
        now: i64,
        expires_at: i64,
    ) -> Self {
        Self {
            token_hash: token_hash.into(),
            purpose,
            user_id: user_id.into(),
            email: email.into(),
            created_at: now,
            expires_at,
        }
    }
}

// ---- constructors ----
//
// The records are `#[non_exhaustive]`, so code outside this crate (the `idp` binary, the
// integration tests, embedders) cannot use struct literals: it starts from `new` and sets the
// public fields it needs.

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

impl GrantRecord {
    /// A live grant created at `now`, without session, tenant or offline access.
    pub fn new(
        grant_id: impl Into<String>,
        client_id: impl Into<String>,
        user_id: impl Into<String>,
        now: i64,
        expires_at: i64,
    ) -> Self {
        Self {
            grant_id: grant_id.into(),
            client_id: client_id.into(),
            user_id: user_id.into(),
            tenant_id: None,
            session_id: None,
            offline: false,
            created_at: now,
            expires_at,
            revoked_at: None,
            amr: password_amr(),
        }
    }
}

impl SessionRecord {
    /// A session created at `now` for a user who authenticated at `now` with a password.
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
            amr: password_amr(),
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

impl DeviceCodeRecord {
    /// A pending authorization created at `now` for `client_id`, with an empty scope.
    pub fn new(
        device_code_hash: impl Into<String>,
        user_code: impl Into<String>,
        client_id: impl Into<String>,
        now: i64,
        expires_at: i64,
        interval: i64,
    ) -> Self {
        Self {
            device_code_hash: device_code_hash.into(),
            user_code: user_code.into(),
            client_id: client_id.into(),
            scope: Scope::new(),
            created_at: now,
            expires_at,
            interval,
            last_polled_at: None,
            status: DeviceStatus::Pending,
            user_id: None,
            grant_id: None,
            granted_scope: None,
            session_id: None,
            auth_time: None,
            decided_at: None,
            consumed_at: None,
        }
    }
}
