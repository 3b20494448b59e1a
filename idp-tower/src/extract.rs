//! axum extractors for the claims [`JwtAuthLayer`](crate::JwtAuthLayer) verified and the
//! tenant [`TenantGuardLayer`](crate::TenantGuardLayer) matched (feature `axum`).

use std::fmt;
use std::ops::{Deref, DerefMut};
use std::sync::Arc;

use axum_core::body::Body;
use axum_core::extract::{FromRequestParts, OptionalFromRequestParts};
use axum_core::response::{IntoResponse, Response};
use http::request::Parts;
use idp_core::{AccessTokenClaims, NoExtra};

use crate::Tenant;
use crate::challenge::{AuthState, Rejection};

/// The verified access-token claims, extracted in an axum handler.
///
/// Answers `500` (a server bug, logged) when no [`JwtAuthLayer`](crate::JwtAuthLayer) ran
/// in front of the handler or when `C` is not the layer's claims type, and `401` when the
/// layer [allows anonymous requests](crate::JwtAuthLayerBuilder::allow_anonymous) and this
/// one had no token. `Option<Claims<C>>` is `None` for an anonymous request (and still
/// `500` without the layer).
///
/// ```
/// # use aws_lc_rs::{rand::SystemRandom, signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING}};
/// # use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD as B64};
/// use axum::{Router, body::Body, routing::get};
/// use http::{Request, StatusCode};
/// use idp_tower::idp_core::{Algorithm, Jwk, JwkSet, ValidationPolicy, VerificationKeys};
/// use idp_tower::{Claims, InsufficientScope, JwtAuthLayer};
/// use tower::ServiceExt;
///
/// #[derive(Clone, serde::Deserialize)]
/// struct Roles {
///     #[serde(default)]
///     roles: Vec<String>,
/// }
///
/// async fn me(claims: Claims<Roles>) -> String {
///     format!("{} {:?}", claims.sub, claims.extra.roles)
/// }
///
/// async fn delete(claims: Claims<Roles>) -> Result<&'static str, InsufficientScope> {
///     claims.require_scopes(["delete:orders"])?;
///     Ok("deleted")
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let key = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING)?;
/// # let point = key.public_key().as_ref();
/// # let jwk = Jwk::ec("P-256", &point[1..33], &point[33..65]).with_kid("k1").for_signing(Algorithm::ES256);
/// # let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs();
/// # let input = format!("{}.{}",
/// #     B64.encode(r#"{"alg":"ES256","kid":"k1"}"#),
/// #     B64.encode(serde_json::json!({"iss": "https://id.example.com", "sub": "ada",
/// #         "aud": "orders-api", "iat": now, "exp": now + 300, "jti": "j1",
/// #         "client_id": "web", "scope": "read:orders", "roles": ["admin"]}).to_string()));
/// # let sig = key.sign(&SystemRandom::new(), input.as_bytes()).map_err(|_| "sign")?;
/// # let token = format!("{input}.{}", B64.encode(sig.as_ref()));
/// let policy = ValidationPolicy::builder()
///     .issuer("https://id.example.com")
///     .audience("orders-api")
///     .algorithms([Algorithm::ES256])
///     .build()?;
/// let keys = VerificationKeys::from_jwks(&JwkSet::new(vec![jwk]));
/// let auth = JwtAuthLayer::keys(policy, keys)
///     .claims::<Roles>()
///     .build()?;
/// let app = Router::new()
///     .route("/me", get(me))
///     .route("/orders", axum::routing::delete(delete))
///     .layer(auth);
///
/// let req = |method, uri| {
///     Request::builder().method(method).uri(uri)
///         .header("authorization", format!("Bearer {token}"))
///         .body(Body::empty())
/// };
/// let res = app.clone().oneshot(req("GET", "/me")?).await?;
/// assert_eq!(res.status(), StatusCode::OK);
/// let body = axum::body::to_bytes(res.into_body(), 1024).await?;
/// assert_eq!(body, r#"ada ["admin"]"#);
///
/// let res = app.oneshot(req("DELETE", "/orders")?).await?;
/// assert_eq!(res.status(), StatusCode::FORBIDDEN);
/// // The same challenge as `RequireScopesLayer`'s, realm included.
/// assert_eq!(
///     res.headers()["www-authenticate"],
///     r#"Bearer realm="orders-api", error="insufficient_scope", scope="delete:orders""#
/// );
/// # Ok(()) }
/// ```
///
/// The claims are reached through `Deref` (`claims.sub`, `claims.extra`), or taken with
/// [`into_inner`](Self::into_inner).
#[derive(Debug, Clone)]
pub struct Claims<C = NoExtra> {
    claims: AccessTokenClaims<C>,
    /// The realm of the layer that verified them, for the challenges of
    /// [`require_scopes`](Self::require_scopes).
    realm: Option<Arc<str>>,
}

impl<C> Claims<C> {
    /// The claims.
    pub fn into_inner(self) -> AccessTokenClaims<C> {
        self.claims
    }

    /// `Ok` if the token grants every scope token of `scopes` (each item may hold several,
    /// space-separated); otherwise an [`InsufficientScope`] to return from the handler:
    /// `403` naming all of `scopes`, with the same challenge (realm included) as
    /// [`RequireScopesLayer`](crate::RequireScopesLayer), of which this is the per-handler
    /// form.
    pub fn require_scopes<I, T>(&self, scopes: I) -> Result<(), InsufficientScope>
    where
        I: IntoIterator<Item = T>,
        T: AsRef<str>,
    {
        let required: Vec<String> = scopes
            .into_iter()
            .flat_map(|s| {
                s.as_ref()
                    .split(' ')
                    .filter(|t| !t.is_empty())
                    .map(str::to_owned)
                    .collect::<Vec<_>>()
            })
            .collect();
        if required.iter().all(|s| self.claims.has_scope(s)) {
            Ok(())
        } else {
            Err(InsufficientScope {
                required: required.join(" "),
                realm: self.realm.clone(),
            })
        }
    }
}

impl<C> Deref for Claims<C> {
    type Target = AccessTokenClaims<C>;
    fn deref(&self) -> &Self::Target {
        &self.claims
    }
}

impl<C> DerefMut for Claims<C> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.claims
    }
}

/// What [`Claims`] and `Option<Claims>` answer when they cannot extract: `401` with a
/// `WWW-Authenticate` challenge for an anonymous request, `500` when the auth layer is
/// missing or has another claims type.
#[derive(Debug, Clone)]
pub struct ClaimsRejection {
    rejection: Rejection,
    realm: Option<Arc<str>>,
}

impl fmt::Display for ClaimsRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.rejection {
            Rejection::Missing => f.write_str("no bearer token"),
            _ => f.write_str("no verified claims of this type (is JwtAuthLayer in front?)"),
        }
    }
}

impl std::error::Error for ClaimsRejection {}

impl IntoResponse for ClaimsRejection {
    fn into_response(self) -> Response {
        self.rejection.into_response::<Body>(self.realm.as_deref())
    }
}

/// A handler's answer when the token lacks scope: `403` with `WWW-Authenticate: Bearer
/// realm="…", error="insufficient_scope", scope="…"`, as from
/// [`RequireScopesLayer`](crate::RequireScopesLayer). Returned by [`Claims::require_scopes`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InsufficientScope {
    required: String,
    realm: Option<Arc<str>>,
}

impl InsufficientScope {
    /// The scope the resource needs (space-separated).
    pub fn required(&self) -> &str {
        &self.required
    }
}

impl fmt::Display for InsufficientScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "insufficient scope: {} required", self.required)
    }
}

impl std::error::Error for InsufficientScope {}

impl IntoResponse for InsufficientScope {
    fn into_response(self) -> Response {
        Rejection::InsufficientScope(self.required).into_response::<Body>(self.realm.as_deref())
    }
}

/// The realm of the auth layer that ran for this request, if one did.
fn realm_of(parts: &Parts) -> Option<Arc<str>> {
    parts
        .extensions
        .get::<AuthState>()
        .map(|s| s.realm().clone())
}

/// `Ok(None)` for an anonymous request; `Err` when the layer did not run or has another
/// claims type.
fn extract<C: Clone + Send + Sync + 'static>(
    parts: &Parts,
) -> Result<Option<AccessTokenClaims<C>>, ClaimsRejection> {
    if let Some(claims) = parts.extensions.get::<AccessTokenClaims<C>>() {
        return Ok(Some(claims.clone()));
    }
    match parts.extensions.get::<AuthState>() {
        Some(AuthState::Anonymous { .. }) => Ok(None),
        Some(AuthState::Verified { .. }) => {
            tracing::error!(
                claims = std::any::type_name::<C>(),
                "the claims extractor's type differs from JwtAuthLayer's claims type; \
                 answering 500"
            );
            Err(ClaimsRejection {
                rejection: Rejection::Misconfigured,
                realm: None,
            })
        }
        None => {
            tracing::error!("a claims extractor ran without JwtAuthLayer in front; answering 500");
            Err(ClaimsRejection {
                rejection: Rejection::Misconfigured,
                realm: None,
            })
        }
    }
}

impl<S, C> FromRequestParts<S> for Claims<C>
where
    S: Send + Sync,
    C: Clone + Send + Sync + 'static,
{
    type Rejection = ClaimsRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let realm = realm_of(parts);
        match extract::<C>(parts)? {
            Some(claims) => Ok(Self { claims, realm }),
            None => Err(ClaimsRejection {
                rejection: Rejection::Missing,
                realm,
            }),
        }
    }
}

impl<S, C> OptionalFromRequestParts<S> for Claims<C>
where
    S: Send + Sync,
    C: Clone + Send + Sync + 'static,
{
    type Rejection = ClaimsRejection;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        let realm = realm_of(parts);
        Ok(extract::<C>(parts)?.map(|claims| Self { claims, realm }))
    }
}

/// What the [`Tenant`] extractor answers when the request has no matched tenant: `500` when
/// [`TenantGuardLayer`](crate::TenantGuardLayer) (or the auth layer) is missing in front of
/// the handler, a server bug; `401` with a `WWW-Authenticate` challenge for an anonymous
/// request.
#[derive(Debug, Clone)]
pub struct TenantRejection {
    rejection: Rejection,
    realm: Option<Arc<str>>,
}

impl fmt::Display for TenantRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.rejection {
            Rejection::Missing => f.write_str("no bearer token"),
            _ => f.write_str("no tenant (is TenantGuardLayer in front?)"),
        }
    }
}

impl std::error::Error for TenantRejection {}

impl IntoResponse for TenantRejection {
    fn into_response(self) -> Response {
        self.rejection.into_response::<Body>(self.realm.as_deref())
    }
}

/// The tenant [`TenantGuardLayer`](crate::TenantGuardLayer) matched with the verified token.
///
/// Answers `500` (a server bug, logged) when the guard did not run in front of the handler,
/// and `401` for an anonymous request on a route without the guard.
impl<S> FromRequestParts<S> for Tenant
where
    S: Send + Sync,
{
    type Rejection = TenantRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        if let Some(tenant) = parts.extensions.get::<Tenant>() {
            return Ok(tenant.clone());
        }
        match parts.extensions.get::<AuthState>() {
            Some(AuthState::Anonymous { realm }) => Err(TenantRejection {
                rejection: Rejection::Missing,
                realm: Some(realm.clone()),
            }),
            Some(AuthState::Verified { .. }) => {
                tracing::error!(
                    "the Tenant extractor ran without TenantGuardLayer in front; answering 500"
                );
                Err(TenantRejection {
                    rejection: Rejection::Misconfigured,
                    realm: None,
                })
            }
            None => {
                tracing::error!(
                    "the Tenant extractor ran without JwtAuthLayer and TenantGuardLayer in \
                     front; answering 500"
                );
                Err(TenantRejection {
                    rejection: Rejection::Misconfigured,
                    realm: None,
                })
            }
        }
    }
}
