//! The records the management API takes and returns.

use idp_core::{ClientSecret, Password};
use serde_json::{Map, Value};

use crate::store::Client;

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

/// A tenant to register.
#[derive(Debug, Clone, Default)]
pub struct NewTenant {
    /// Identifier (required): 1–64 ASCII letters, digits, `-`, `_`, `.`.
    pub id: String,
    /// The name shown on the sign-in and consent pages.
    pub display_name: Option<String>,
    /// A logo for those pages: `https` (or `http` on loopback).
    pub logo_url: Option<String>,
    /// The scopes the tenant's users and clients may be granted (`None`: no restriction;
    /// OpenID Connect's own scopes are always allowed).
    pub allowed_scopes: Option<Vec<String>>,
}

/// Changes to a tenant; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct TenantUpdate {
    /// New display name (`""` clears it).
    pub display_name: Option<String>,
    /// New logo URL (`""` clears it).
    pub logo_url: Option<String>,
    /// New allowed scopes (`Some(None)` lifts the restriction).
    pub allowed_scopes: Option<Option<Vec<String>>>,
}

/// Changes to a client; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct ClientUpdate {
    /// New display name.
    pub name: Option<String>,
    /// New redirect URIs (replacing the old ones).
    pub redirect_uris: Option<Vec<String>>,
    /// New post-logout redirect URIs.
    pub post_logout_redirect_uris: Option<Vec<String>>,
    /// New allowed scopes.
    pub allowed_scopes: Option<Vec<String>>,
    /// New audiences.
    pub audiences: Option<Vec<String>>,
    /// Whether the consent page is skipped.
    pub first_party: Option<bool>,
    /// Attributes to set, merged into the existing ones (a `null` removes one); the result
    /// is checked against the schema.
    pub attributes: Option<Map<String, Value>>,
}
