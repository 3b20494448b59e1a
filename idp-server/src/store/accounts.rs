//! The records of accounts: users and clients.

use std::fmt;

use idp_core::{GrantType, Scope};
use serde_json::{Map, Value};

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
    /// Where the provider POSTs a `logout_token` when a session the client got tokens in
    /// ends (OpenID Connect Back-Channel Logout 1.0).
    pub backchannel_logout_uri: Option<String>,
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

/// A tenant: its look on the sign-in and consent pages, and the scopes its users and
/// clients may be granted. Users and clients name their tenant by id; a tenant id with no
/// record is still a tenant, without a look or a scope restriction.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Tenant {
    /// Identifier (`acme`): what users, clients and tokens (`tenant` claim) carry.
    pub id: String,
    /// The name shown on the sign-in and consent pages.
    pub display_name: Option<String>,
    /// A logo shown on those pages (an `https` URL, or `http` on loopback).
    pub logo_url: Option<String>,
    /// The scopes the tenant's users and clients may be granted (`None`: no restriction;
    /// OpenID Connect's own scopes are always allowed).
    pub allowed_scopes: Option<Scope>,
    /// Created at (Unix seconds).
    pub created_at: i64,
    /// Updated at (Unix seconds).
    pub updated_at: i64,
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
            backchannel_logout_uri: None,
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

impl Tenant {
    /// A tenant with no display name, logo or scope restriction, created and updated at
    /// `now`.
    pub fn new(id: impl Into<String>, now: i64) -> Self {
        Self {
            id: id.into(),
            display_name: None,
            logo_url: None,
            allowed_scopes: None,
            created_at: now,
            updated_at: now,
        }
    }
}
