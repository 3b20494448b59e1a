//! [`JwtAuthLayer`]: the configuration, shared by every service it builds.

use std::fmt;
use std::sync::Arc;

use idp_core::{AccessTokenClaims, NoExtra, ValidationPolicy};
use tower_layer::Layer;

use super::JwtAuth;
use super::cache::{TokenCache, TokenKey};
use super::introspect::Introspector;
use crate::keys::KeySource;

/// What every clone of a layer and of its services shares.
pub(crate) struct Shared<C> {
    pub(crate) policy: ValidationPolicy,
    pub(crate) verifier: Verifier,
    pub(crate) realm: Arc<str>,
    pub(crate) allow_anonymous: bool,
    /// Verified tokens; `None` when turned off (and in introspection mode, whose answers
    /// have their own cache).
    pub(crate) tokens: Option<TokenCache<C>>,
}

/// How tokens are checked.
pub(crate) enum Verifier {
    /// By signature, against these keys.
    Keys(KeySource),
    /// By the provider's introspection endpoint.
    Introspection(Introspector),
}

impl fmt::Debug for Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Keys(k) => k.fmt(f),
            Self::Introspection(_) => f.write_str("Introspection"),
        }
    }
}

impl<C> Shared<C>
where
    C: Clone + Send + Sync + 'static,
{
    /// The key of `token` in the cache; `None` when the cache is off.
    pub(crate) fn token_key(&self, token: &str) -> Option<TokenKey> {
        self.tokens.as_ref().map(|_| TokenKey::of(token))
    }

    /// The claims of a token validated before and still within its `nbf`..`exp`.
    pub(crate) fn cached(&self, key: Option<&TokenKey>) -> Option<AccessTokenClaims<C>> {
        self.tokens.as_ref()?.get(key?)
    }

    /// Caches the claims of a token that has just passed validation.
    pub(crate) fn remember(&self, key: Option<TokenKey>, claims: &AccessTokenClaims<C>) {
        if let (Some(tokens), Some(key)) = (&self.tokens, key) {
            tokens.insert(key, claims);
        }
    }
}

impl<C> fmt::Debug for Shared<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Shared")
            .field("policy", &self.policy)
            .field("verifier", &self.verifier)
            .field("realm", &self.realm)
            .field("allow_anonymous", &self.allow_anonymous)
            .field("tokens", &self.tokens)
            .finish()
    }
}

/// Validates the bearer token of every request and puts its claims into the request's
/// extensions.
///
/// The token is read from the `Authorization: Bearer` header only (RFC 6750 §2.1; the
/// scheme is matched case-insensitively), never from the query string or a form body. It is
/// checked by idp-core's validator: signature with an algorithm allow-list (never `none`,
/// never HMAC), `iss`, `aud`, `exp`/`nbf` with leeway, and `typ` when required. On success
/// the request reaches the inner service carrying an
/// [`AccessTokenClaims<C>`](idp_core::AccessTokenClaims) extension; on failure the layer
/// answers itself:
///
/// | request | response |
/// |---|---|
/// | no bearer token (no `Authorization`, or another scheme) | `401`, `WWW-Authenticate: Bearer realm="…"` |
/// | two `Authorization` headers, empty credentials | `400`, `error="invalid_request"` |
/// | expired, wrong `aud`/`iss`/`typ`, `alg: none`, bad signature, garbage, unknown `kid` | `401`, `error="invalid_token", error_description="…"` |
/// | no signing keys obtainable (provider down and nothing cached) | `503`, no detail |
///
/// Rejections are responses with an empty body of the inner service's body type (the
/// challenge header carries the error), so the inner service's error type is kept. The
/// rules are one [`ValidationPolicy`]; the constructor names where the keys come from
/// ([`discover`](Self::discover), [`jwks_uri`](Self::jwks_uri),
/// [`jwks_cache`](Self::jwks_cache), [`keys`](Self::keys)) or that the provider checks each
/// token instead ([`introspection`](Self::introspection)).
///
/// A token seen again is served from a cache of verified tokens, without a second
/// verification, until its `exp` at the latest; see
/// [`token_cache`](crate::JwtAuthLayerBuilder::token_cache) for its guarantees and its one
/// trade-off.
///
/// Cheap to clone; clones share the key cache and the token cache.
///
/// # Example
///
/// A stack with static keys (no network), one good and two bad requests:
///
/// ```
/// # use aws_lc_rs::{rand::SystemRandom, signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING}};
/// # use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD as B64};
/// use std::convert::Infallible;
/// use http::{Request, Response, StatusCode};
/// use idp_tower::idp_core::{AccessTokenClaims, Algorithm, Jwk, JwkSet, ValidationPolicy, VerificationKeys};
/// use idp_tower::JwtAuthLayer;
/// use tower::{ServiceBuilder, ServiceExt, service_fn};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let key = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING)?;
/// # let point = key.public_key().as_ref();
/// # let jwk = Jwk::ec("P-256", &point[1..33], &point[33..65]).with_kid("k1").for_signing(Algorithm::ES256);
/// # let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs();
/// # let input = format!("{}.{}",
/// #     B64.encode(r#"{"alg":"ES256","kid":"k1","typ":"at+jwt"}"#),
/// #     B64.encode(serde_json::json!({"iss": "https://id.example.com", "sub": "user-1",
/// #         "aud": "orders-api", "iat": now, "exp": now + 300, "jti": "j1",
/// #         "client_id": "web", "scope": "read:orders"}).to_string()));
/// # let sig = key.sign(&SystemRandom::new(), input.as_bytes()).map_err(|_| "sign")?;
/// # let token = format!("{input}.{}", B64.encode(sig.as_ref()));
/// // `jwk` is the provider's public key; `token` an access token it signed.
/// let policy = ValidationPolicy::builder()
///     .issuer("https://id.example.com")
///     .audience("orders-api")
///     .algorithms([Algorithm::ES256])
///     .required_typ("at+jwt")
///     .build()?;
/// let keys = VerificationKeys::from_jwks(&JwkSet::new(vec![jwk]));
/// let auth = JwtAuthLayer::keys(policy, keys)
///     .build()?;
/// let api = ServiceBuilder::new().layer(auth).service(service_fn(|req: Request<String>| async move {
///     let claims = req.extensions().get::<AccessTokenClaims>().expect("set by JwtAuth");
///     Ok::<_, Infallible>(Response::new(format!("hello {}", claims.sub)))
/// }));
///
/// let good = Request::get("/orders").header("authorization", format!("Bearer {token}"));
/// let res = api.clone().oneshot(good.body(String::new())?).await?;
/// assert_eq!(res.status(), StatusCode::OK);
/// assert_eq!(res.body(), "hello user-1");
///
/// let res = api.clone().oneshot(Request::get("/orders").body(String::new())?).await?;
/// assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
/// assert_eq!(res.headers()["www-authenticate"], r#"Bearer realm="orders-api""#);
///
/// let bad = Request::get("/orders").header("authorization", "Bearer not-a-jwt");
/// let res = api.oneshot(bad.body(String::new())?).await?;
/// assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
/// assert_eq!(
///     res.headers()["www-authenticate"],
///     r#"Bearer realm="orders-api", error="invalid_token", error_description="malformed token""#
/// );
/// # Ok(()) }
/// ```
pub struct JwtAuthLayer<C = NoExtra> {
    pub(crate) shared: Arc<Shared<C>>,
}

impl<C> Clone for JwtAuthLayer<C> {
    fn clone(&self) -> Self {
        Self {
            shared: self.shared.clone(),
        }
    }
}

impl<C> fmt::Debug for JwtAuthLayer<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtAuthLayer")
            .field("policy", &self.shared.policy)
            .field("verifier", &self.shared.verifier)
            .field("realm", &self.shared.realm)
            .field("allow_anonymous", &self.shared.allow_anonymous)
            .field("token_cache", &self.shared.tokens)
            .field("claims", &std::any::type_name::<C>())
            .finish()
    }
}

impl<C> JwtAuthLayer<C> {
    /// The validation policy (issuer, audiences, algorithms, leeway, `typ`).
    pub fn policy(&self) -> &ValidationPolicy {
        &self.shared.policy
    }

    /// The realm named in `WWW-Authenticate` challenges.
    pub fn realm(&self) -> &str {
        &self.shared.realm
    }
}

impl<S, C> Layer<S> for JwtAuthLayer<C> {
    type Service = JwtAuth<S, C>;

    fn layer(&self, inner: S) -> Self::Service {
        JwtAuth::new(inner, self.clone())
    }
}

impl<C> JwtAuthLayer<C> {
    pub(super) fn from_shared(shared: Shared<C>) -> Self {
        Self {
            shared: Arc::new(shared),
        }
    }
}
