//! The management API: `provider.users().insert(NewUser { .. })` and friends.

mod clients;
mod keys;
mod users;
mod validate;

use std::sync::Arc;

use idp_core::{ClientSecret, Clock, Password};
use serde_json::{Map, Value};

use crate::attributes::Schemas;
use crate::client_cache::ClientCache;
use crate::hashing::HashBudget;
use crate::keys::KeyRing;
use crate::revocation::Revoker;
use crate::store::{Client, Store};

pub use clients::Clients;
pub use keys::Keys;
pub use users::Users;

/// A hook that may adjust or reject a new user before it is stored.
pub type UserHook = Arc<dyn Fn(&mut NewUser) -> Result<(), String> + Send + Sync>;
/// A hook that may adjust or reject a new client before it is stored.
pub type ClientHook = Arc<dyn Fn(&mut NewClient) -> Result<(), String> + Send + Sync>;

/// The `before_insert` hooks of a provider.
#[derive(Clone, Default)]
pub(crate) struct Hooks {
    pub(crate) user: Option<UserHook>,
    pub(crate) client: Option<ClientHook>,
}

impl std::fmt::Debug for Hooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hooks")
            .field("user", &self.user.is_some())
            .field("client", &self.client.is_some())
            .finish()
    }
}

/// What the management facades work on: the provider's store, clock, keys and hooks.
#[derive(Clone, Copy)]
pub(crate) struct Ctx<'a> {
    pub(crate) store: &'a dyn Store,
    pub(crate) clock: &'a dyn Clock,
    pub(crate) revoker: Revoker<'a>,
    pub(crate) client_cache: &'a ClientCache,
    pub(crate) keys: &'a KeyRing,
    pub(crate) hooks: &'a Hooks,
    pub(crate) hashing: &'a HashBudget,
    /// `insecure_allow_http_redirect_uris` of the configuration.
    pub(crate) insecure_http_redirect_uris: bool,
    /// The attribute schemas of users and clients.
    pub(crate) schemas: &'a Schemas,
}

impl std::fmt::Debug for Ctx<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ctx")
            .field("store", &self.store)
            .finish_non_exhaustive()
    }
}

impl Ctx<'_> {
    fn now(&self) -> i64 {
        self.clock.unix_now()
    }
}

/// A user to create. Construct with struct-update syntax:
///
/// ```
/// use idp_server::manage::NewUser;
/// let u = NewUser {
///     email: "ada@example.com".into(),
///     password: Some("correct horse battery".into()),
///     name: Some("Ada".into()),
///     ..Default::default()
/// };
/// # let _ = u;
/// ```
#[derive(Debug, Clone, Default)]
pub struct NewUser {
    /// E-mail address (required).
    pub email: String,
    /// Password (at least 8 characters); `None` creates a user who cannot sign in with one.
    pub password: Option<Password>,
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
    /// Whether the e-mail address is verified.
    pub email_verified: bool,
    /// Tenant.
    pub tenant_id: Option<String>,
    /// Scopes this user may be granted (`None`: no restriction).
    pub allowed_scopes: Option<Vec<String>>,
    /// Custom attributes, checked against the provider's user attribute schema (and the
    /// tenant's); defaults fill what is missing.
    pub attributes: Map<String, Value>,
}

/// A client to register.
#[derive(Debug, Clone, Default)]
pub struct NewClient {
    /// Client id (required): 1–128 visible ASCII characters.
    pub client_id: String,
    /// The secret for a confidential client; `None` generates one (returned once).
    pub secret: Option<ClientSecret>,
    /// A public client (no secret; PKCE required).
    pub public: bool,
    /// Display name.
    pub name: Option<String>,
    /// Redirect URIs.
    pub redirect_uris: Vec<String>,
    /// Post-logout redirect URIs.
    pub post_logout_redirect_uris: Vec<String>,
    /// Back-channel logout URI (`https`, or `http` on loopback).
    pub backchannel_logout_uri: Option<String>,
    /// Scopes the client may request.
    pub allowed_scopes: Vec<String>,
    /// Grant types (`authorization_code`, `refresh_token`, `client_credentials`).
    pub grant_types: Vec<String>,
    /// `client_secret_basic` (default for confidential clients) or `client_secret_post`.
    pub token_endpoint_auth_method: Option<String>,
    /// Audiences the client may get tokens for.
    pub audiences: Vec<String>,
    /// Skip the consent page.
    pub first_party: bool,
    /// Tenant.
    pub tenant_id: Option<String>,
    /// Custom attributes, checked against the provider's client attribute schema (and the
    /// tenant's); defaults fill what is missing.
    pub attributes: Map<String, Value>,
}

/// A registered client and, when the provider generated it, its secret (shown only once).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct CreatedClient {
    /// The client.
    pub client: Client,
    /// The generated secret.
    pub generated_secret: Option<ClientSecret>,
}

/// Changes to a user; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct UserUpdate {
    /// New e-mail address.
    pub email: Option<String>,
    /// New name.
    pub name: Option<String>,
    /// New given name.
    pub given_name: Option<String>,
    /// New family name.
    pub family_name: Option<String>,
    /// New picture URL.
    pub picture: Option<String>,
    /// New locale.
    pub locale: Option<String>,
    /// New verification state.
    pub email_verified: Option<bool>,
    /// New allowed scopes.
    pub allowed_scopes: Option<Vec<String>>,
    /// Attributes to set, merged into the existing ones (a `null` removes one); the result
    /// is checked against the schema.
    pub attributes: Option<Map<String, Value>>,
}
