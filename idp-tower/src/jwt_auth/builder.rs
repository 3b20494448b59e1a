//! The named constructors of [`JwtAuthLayer`] (one per way of checking a token) and
//! [`JwtAuthLayerBuilder`], which holds what is not a validation rule.

use std::fmt;
use std::marker::PhantomData;
use std::sync::atomic::AtomicI64;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use idp_client::{Client, Discovery, HttpClient, JwksCache, WellKnown};
use idp_core::{Clock, NoExtra, SystemClock, ValidationPolicy, VerificationKeys};

use super::JwtAuthLayer;
use super::cache::{DEFAULT_MAX_ENTRIES, DEFAULT_MAX_TTL, TokenCache};
use super::introspect::Introspector;
use super::layer::{Shared, Verifier};
use crate::Error;
use crate::keys::{Discovered, KeySource};

/// How long an introspection answer is reused, by default.
const DEFAULT_INTROSPECTION_TTL: Duration = Duration::from_secs(10);

/// The validation rules (issuer, audiences, algorithms, leeway, `typ`) are a
/// [`ValidationPolicy`], defined once and passed to the constructor that names how tokens are
/// checked:
///
/// | constructor | tokens are checked | against keys from |
/// |---|---|---|
/// | [`discover`](Self::discover) | by signature | the issuer's discovery document, then its `jwks_uri` |
/// | [`jwks_uri`](Self::jwks_uri) | by signature | this JWK Set URL |
/// | [`jwks_cache`](Self::jwks_cache) | by signature | a [`JwksCache`] you built or share |
/// | [`keys`](Self::keys) | by signature | a fixed key set (no HTTP) |
/// | [`introspection`](Self::introspection) | by the provider (RFC 7662) | — |
///
/// The [`JwtAuthLayerBuilder`] they return holds the rest: realm, anonymous access, caches,
/// the claims type, HTTP client and clock.
impl JwtAuthLayer {
    /// Keys from the issuer's discovery document
    /// (`{issuer}/.well-known/openid-configuration`, or the RFC 8414 one with
    /// [`well_known`](JwtAuthLayerBuilder::well_known)), fetched on the first request and
    /// cached. `build` fails when the policy accepts any issuer: there is nothing to discover.
    ///
    /// ```
    /// use idp_tower::idp_core::{Algorithm, ValidationPolicy};
    /// use idp_tower::JwtAuthLayer;
    ///
    /// let policy = ValidationPolicy::builder()
    ///     .issuer("https://id.example.com")
    ///     .audience("orders-api")
    ///     .algorithms([Algorithm::ES256])
    ///     .build()
    ///     .unwrap();
    /// let layer = JwtAuthLayer::discover(policy).realm("orders").build().unwrap();
    /// assert_eq!(layer.realm(), "orders");
    /// ```
    pub fn discover(policy: ValidationPolicy) -> JwtAuthLayerBuilder {
        JwtAuthLayerBuilder::new(policy, Source::Discover(WellKnown::OpenIdConfiguration))
    }

    /// Keys from this JWK Set URL, without discovery.
    pub fn jwks_uri(policy: ValidationPolicy, jwks_uri: impl Into<String>) -> JwtAuthLayerBuilder {
        JwtAuthLayerBuilder::new(policy, Source::JwksUri(jwks_uri.into()))
    }

    /// Keys from an existing JWK Set cache (e.g. one shared with an [`idp_client::Client`],
    /// or tuned through [`JwksCache::builder`]); the cache's own HTTP client and clock fetch
    /// and expire them.
    pub fn jwks_cache(policy: ValidationPolicy, cache: JwksCache) -> JwtAuthLayerBuilder {
        JwtAuthLayerBuilder::new(policy, Source::Cache(cache))
    }

    /// A fixed key set: no HTTP at all. For keys distributed out of band, and for tests.
    /// Build it with [`VerificationKeys::from_jwks`]; `build` fails when it holds no usable
    /// key.
    pub fn keys(policy: ValidationPolicy, keys: VerificationKeys) -> JwtAuthLayerBuilder {
        JwtAuthLayerBuilder::new(policy, Source::Static(keys))
    }

    /// **Introspection mode** (RFC 7662): every token, JWT or opaque, is checked by the
    /// provider's introspection endpoint with `client` (a confidential client of the
    /// provider, allowed to introspect tokens for this API), instead of by its signature.
    ///
    /// A revoked token is refused at once — within the
    /// [`introspection_cache_ttl`](JwtAuthLayerBuilder::introspection_cache_ttl), 10 s by
    /// default — at the price of one request to the provider per new token. The answer
    /// must be active, for one of the policy's audiences, from its issuer (when the answer
    /// names one) and unexpired; the policy's algorithms and `typ` do not apply (the
    /// provider checked the token). 401 and 403 answers are the same as with signatures,
    /// and a provider that cannot be asked is a 503. Only the standard introspection
    /// members reach the claims (custom claims `C` must be optional).
    ///
    /// The same policy serves both modes, so switching an API between them is a change of
    /// constructor.
    pub fn introspection(policy: ValidationPolicy, client: Client) -> JwtAuthLayerBuilder {
        JwtAuthLayerBuilder::new(policy, Source::Introspection(client))
    }
}

/// How tokens are checked: the constructor that started the builder.
enum Source {
    Discover(WellKnown),
    JwksUri(String),
    Cache(JwksCache),
    Static(VerificationKeys),
    Introspection(Client),
}

impl Source {
    fn name(&self) -> &'static str {
        match self {
            Self::Discover(_) => "discover",
            Self::JwksUri(_) => "jwks_uri",
            Self::Cache(_) => "jwks_cache",
            Self::Static(_) => "keys",
            Self::Introspection(_) => "introspection",
        }
    }
}

/// The settings of a [`JwtAuthLayer`] that are not validation rules; start with one of
/// [`JwtAuthLayer`]'s constructors ([`discover`](JwtAuthLayer::discover),
/// [`jwks_uri`](JwtAuthLayer::jwks_uri), [`jwks_cache`](JwtAuthLayer::jwks_cache),
/// [`keys`](JwtAuthLayer::keys), [`introspection`](JwtAuthLayer::introspection)).
///
/// A setting that cannot apply to the chosen constructor (an HTTP client for a fixed key
/// set, say) makes `build` fail rather than be ignored.
///
/// ```
/// use std::time::Duration;
/// use idp_tower::idp_core::{Algorithm, ValidationPolicy};
/// use idp_tower::JwtAuthLayer;
///
/// #[derive(Clone, serde::Deserialize)]
/// struct Tenant {
///     tenant_plan: String,
/// }
///
/// let policy = ValidationPolicy::builder()
///     .issuer("https://id.example.com")
///     .audiences(["orders-api", "https://api.example.com"])
///     .algorithms([Algorithm::ES256, Algorithm::RS256])
///     .leeway(Duration::from_secs(30))
///     .required_typ("at+jwt")
///     .build()
///     .unwrap();
/// let layer = JwtAuthLayer::jwks_uri(policy.clone(), "https://id.example.com/jwks")
///     .realm("orders")
///     .claims::<Tenant>()
///     .build()
///     .unwrap();
/// assert_eq!(layer.realm(), "orders");
///
/// // The introspection cache has no meaning for signature checks.
/// let err = JwtAuthLayer::discover(policy)
///     .introspection_cache_ttl(Duration::from_secs(5))
///     .build()
///     .unwrap_err();
/// assert!(err.to_string().contains("introspection"));
/// ```
pub struct JwtAuthLayerBuilder<C = NoExtra> {
    policy: ValidationPolicy,
    source: Source,
    realm: Option<String>,
    allow_anonymous: bool,
    /// Set through `well_known` (only for discovery).
    well_known_set: bool,
    http: Option<HttpClient>,
    clock: Option<Arc<dyn Clock>>,
    /// The bound of the verified-token cache; `None`: no cache.
    token_cache: Option<u64>,
    token_cache_max_ttl: Duration,
    /// Whether a token-cache setting was called (they do not apply to introspection).
    token_cache_set: bool,
    introspection_ttl: Option<Duration>,
    _claims: PhantomData<fn() -> C>,
}

impl<C> fmt::Debug for JwtAuthLayerBuilder<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtAuthLayerBuilder")
            .field("policy", &self.policy)
            .field("source", &self.source.name())
            .field("realm", &self.realm)
            .field("allow_anonymous", &self.allow_anonymous)
            .field("token_cache", &self.token_cache)
            .field("token_cache_max_ttl", &self.token_cache_max_ttl)
            .field("introspection_ttl", &self.introspection_ttl)
            .finish_non_exhaustive()
    }
}

impl JwtAuthLayerBuilder {
    fn new(policy: ValidationPolicy, source: Source) -> Self {
        Self {
            policy,
            source,
            realm: None,
            allow_anonymous: false,
            well_known_set: false,
            http: None,
            clock: None,
            token_cache: Some(DEFAULT_MAX_ENTRIES),
            token_cache_max_ttl: DEFAULT_MAX_TTL,
            token_cache_set: false,
            introspection_ttl: None,
            _claims: PhantomData,
        }
    }
}

impl<C> JwtAuthLayerBuilder<C> {
    /// The `realm` of `WWW-Authenticate` challenges (default: the policy's first audience).
    pub fn realm(mut self, realm: impl Into<String>) -> Self {
        self.realm = Some(realm.into());
        self
    }

    /// Lets requests without a bearer token through, without claims, for routes that serve
    /// anonymous and signed-in callers differently (read them with `Option<Claims>`, or look
    /// for the extension). A token that is present must still be valid, and
    /// [`RequireScopes`](crate::RequireScopes) and the `Claims` extractor answer `401` to an
    /// anonymous request.
    pub fn allow_anonymous(mut self) -> Self {
        self.allow_anonymous = true;
        self
    }

    /// Reads the RFC 8414 document (`/.well-known/oauth-authorization-server`) instead of
    /// the OpenID Connect one. Only with [`discover`](JwtAuthLayer::discover).
    pub fn well_known(mut self, which: WellKnown) -> Self {
        if let Source::Discover(w) = &mut self.source {
            *w = which;
        }
        self.well_known_set = true;
        self
    }

    /// The HTTP client for discovery and the JWK Set (default: [`HttpClient::new`]). Only
    /// with [`discover`](JwtAuthLayer::discover) and [`jwks_uri`](JwtAuthLayer::jwks_uri):
    /// a [`JwksCache`] and an introspecting [`Client`] have their own.
    pub fn http_client(mut self, http: HttpClient) -> Self {
        self.http = Some(http);
        self
    }

    /// The clock for `exp`/`nbf`, for the key caches this builder creates and for the
    /// token cache (default: [`SystemClock`]).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = Some(clock);
        self
    }

    /// Bounds the verified-token cache to `max_entries` tokens (default 10,000; on by
    /// default).
    ///
    /// The layer remembers the claims of every token it has validated, keyed by the SHA-256
    /// of the whole token (the token itself is not kept), so that the next request with the
    /// same token skips the header decode, the key lookup, the signature check and the
    /// claims' deserialisation. The cache changes what is accepted in no way but one, stated
    /// last:
    ///
    /// - a token that differs in any byte (header, payload or signature) is another key, and
    ///   is validated from scratch;
    /// - only successes are cached: a refused token is evaluated again on every request
    ///   (the key set may have changed), and cannot take room in the cache;
    /// - a cached token is used only while the [clock](Self::clock) shows a time before its
    ///   `exp` (without leeway: from `exp` on, the validator decides again, with its
    ///   [leeway](ValidationPolicy::leeway)), not before its `nbf` (a token accepted only thanks to the
    ///   leeway on `nbf` is not cached), and for at most
    ///   [`token_cache_max_ttl`](Self::token_cache_max_ttl) (default 5 minutes) after it was
    ///   validated; then it is validated again;
    /// - it leaves memory by then too, or earlier when more than `max_entries` tokens
    ///   compete for room;
    /// - **the one difference:** a cached token no longer depends on the key set. If the
    ///   provider removes the key that signed it from its JWK Set, or the key set can no
    ///   longer be obtained, it stays accepted while it is cached (at most the maximum TTL,
    ///   never past its `exp`), where without the cache it would be refused (or answered
    ///   `503`) once the layer's copy of the key set is refreshed or given up, which
    ///   itself takes minutes. Lower the maximum TTL, or turn the cache off with
    ///   [`no_token_cache`](Self::no_token_cache), if that matters to you.
    ///
    /// Revocation is unchanged: a resource server that validates JWTs locally accepts a
    /// revoked token until its `exp`, with or without the cache, and the cache never extends
    /// a token's `exp`. Use short-lived access tokens (or introspection) where that matters.
    ///
    /// `build` fails if `max_entries` is 0 (use [`no_token_cache`](Self::no_token_cache)),
    /// and in [introspection mode](JwtAuthLayer::introspection), which has a cache of its
    /// own.
    pub fn token_cache(mut self, max_entries: u64) -> Self {
        self.token_cache = Some(max_entries);
        self.token_cache_set = true;
        self
    }

    /// The longest a verified token stays cached, whatever its `exp` (default 5 minutes;
    /// `build` fails if it is under a second). See [`token_cache`](Self::token_cache).
    pub fn token_cache_max_ttl(mut self, max_ttl: Duration) -> Self {
        self.token_cache_max_ttl = max_ttl;
        self.token_cache_set = true;
        self
    }

    /// Turns the verified-token cache off: every request's token is verified in full. See
    /// [`token_cache`](Self::token_cache) for what the cache does.
    pub fn no_token_cache(mut self) -> Self {
        self.token_cache = None;
        self.token_cache_set = true;
        self
    }

    /// Deserialises your own claims `C2` (flattened next to the standard ones) into
    /// [`AccessTokenClaims<C2>`](idp_core::AccessTokenClaims). A token whose claims do not
    /// fit `C2` is rejected as malformed.
    pub fn claims<C2>(self) -> JwtAuthLayerBuilder<C2> {
        JwtAuthLayerBuilder {
            policy: self.policy,
            source: self.source,
            realm: self.realm,
            allow_anonymous: self.allow_anonymous,
            well_known_set: self.well_known_set,
            http: self.http,
            clock: self.clock,
            token_cache: self.token_cache,
            token_cache_max_ttl: self.token_cache_max_ttl,
            token_cache_set: self.token_cache_set,
            introspection_ttl: self.introspection_ttl,
            _claims: PhantomData,
        }
    }

    /// How long an introspection answer is reused (default 10 s; never past the token's
    /// `exp`). Only with [`introspection`](JwtAuthLayer::introspection).
    pub fn introspection_cache_ttl(mut self, ttl: Duration) -> Self {
        self.introspection_ttl = Some(ttl);
        self
    }

    /// Checks the settings and builds the layer. Nothing is fetched until the first request.
    pub fn build(self) -> Result<JwtAuthLayer<C>, Error>
    where
        C: Clone + Send + Sync + 'static,
    {
        let policy = self.policy;
        if policy.accepts_expired() {
            return Err(Error::Config(
                "the policy accepts expired tokens, which must never grant access",
            ));
        }
        let introspecting = matches!(self.source, Source::Introspection(_));
        if self.well_known_set && !matches!(self.source, Source::Discover(_)) {
            return Err(Error::Config("well_known applies only to discover"));
        }
        if self.http.is_some() && !matches!(self.source, Source::Discover(_) | Source::JwksUri(_)) {
            return Err(Error::Config(
                "http_client applies only to discover and jwks_uri (a JWK Set cache and a client \
                 have their own)",
            ));
        }
        if self.introspection_ttl.is_some() && !introspecting {
            return Err(Error::Config(
                "introspection_cache_ttl applies only to introspection",
            ));
        }
        if self.token_cache_set && introspecting {
            return Err(Error::Config(
                "the token cache does not apply to introspection (see introspection_cache_ttl)",
            ));
        }
        let clock = self.clock.unwrap_or_else(|| Arc::new(SystemClock));
        let tokens = match self.token_cache {
            None => None,
            Some(_) if introspecting => None,
            Some(0) => {
                return Err(Error::Config(
                    "a token cache of 0 entries (turn it off with no_token_cache)",
                ));
            }
            // The clock counts whole seconds: a shorter TTL would never let an entry be used.
            Some(_) if self.token_cache_max_ttl < Duration::from_secs(1) => {
                return Err(Error::Config("a token cache maximum TTL under one second"));
            }
            Some(max_entries) => Some(TokenCache::new(
                max_entries,
                self.token_cache_max_ttl,
                clock.clone(),
            )),
        };
        let http = |h: Option<HttpClient>| match h {
            Some(h) => Ok(h),
            None => HttpClient::new().map_err(Error::Client),
        };
        let verifier = match self.source {
            Source::Static(keys) => {
                if keys.is_empty() {
                    return Err(Error::Config("the static key set has no usable key"));
                }
                Verifier::Keys(KeySource::Static {
                    keys: Arc::new(keys),
                    clock,
                })
            }
            Source::Cache(cache) => Verifier::Keys(KeySource::Jwks(cache)),
            Source::JwksUri(uri) => Verifier::Keys(KeySource::Jwks(
                JwksCache::builder(uri)
                    .http_client(http(self.http)?)
                    .clock(clock)
                    .build()
                    .map_err(Error::Client)?,
            )),
            Source::Discover(well_known) => {
                let issuer = policy.issuer().ok_or(Error::Config(
                    "discover needs the policy's issuer (it accepts any issuer)",
                ))?;
                let http = http(self.http)?;
                let discovery = Discovery::builder(issuer)
                    .well_known(well_known)
                    .http_client(http.clone())
                    .clock(clock.clone())
                    .build()
                    .map_err(Error::Client)?;
                Verifier::Keys(KeySource::Discovery(Discovered {
                    discovery,
                    http,
                    clock,
                    cache: OnceLock::new(),
                    retry_at: AtomicI64::new(i64::MIN),
                }))
            }
            Source::Introspection(client) => Verifier::Introspection(Introspector::new(
                client,
                &policy,
                clock,
                self.introspection_ttl.unwrap_or(DEFAULT_INTROSPECTION_TTL),
                DEFAULT_MAX_ENTRIES,
            )),
        };
        let realm = self
            .realm
            .or_else(|| policy.audiences().first().cloned())
            .unwrap_or_default();
        Ok(JwtAuthLayer::from_shared(Shared {
            policy,
            verifier,
            realm: realm.into(),
            allow_anonymous: self.allow_anonymous,
            tokens,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use idp_core::Algorithm;

    fn policy() -> ValidationPolicy {
        ValidationPolicy::builder()
            .issuer("https://id.example.com")
            .audience("api")
            .algorithms([Algorithm::ES256])
            .build()
            .unwrap()
    }

    fn base() -> JwtAuthLayerBuilder {
        JwtAuthLayer::discover(policy())
    }

    fn client() -> Client {
        let mut m = idp_core::ProviderMetadata::new("https://id.example.com");
        m.introspection_endpoint = Some("https://id.example.com/oauth/introspect".into());
        Client::builder(m, "api").build().unwrap()
    }

    #[test]
    fn a_policy_that_accepts_expired_tokens_is_refused() {
        let lax = ValidationPolicy::builder()
            .issuer("https://id.example.com")
            .audience("api")
            .algorithms([Algorithm::ES256])
            .insecure_allow_expired()
            .build()
            .unwrap();
        assert!(matches!(
            JwtAuthLayer::discover(lax).build(),
            Err(Error::Config(_))
        ));
    }

    #[test]
    fn key_sources() {
        assert!(base().build().is_ok());
        assert!(matches!(
            JwtAuthLayer::keys(policy(), VerificationKeys::default()).build(),
            Err(Error::Config(_))
        ));
        assert!(matches!(
            JwtAuthLayer::jwks_uri(policy(), "not a url").build(),
            Err(Error::Client(_))
        ));
        // Plain http is refused for a non-loopback issuer when the request is made, but a
        // malformed issuer is refused now.
        let bad_issuer = ValidationPolicy::builder()
            .issuer("id.example.com")
            .audience("api")
            .algorithms([Algorithm::ES256])
            .build()
            .unwrap();
        assert!(matches!(
            JwtAuthLayer::discover(bad_issuer).build(),
            Err(Error::Client(_))
        ));
        // Discovery needs an issuer to discover.
        let any_issuer = ValidationPolicy::builder()
            .insecure_any_issuer()
            .audience("api")
            .algorithms([Algorithm::ES256])
            .build()
            .unwrap();
        assert!(matches!(
            JwtAuthLayer::discover(any_issuer.clone()).build(),
            Err(Error::Config(_))
        ));
        assert!(
            JwtAuthLayer::jwks_uri(any_issuer, "https://id.example.com/jwks")
                .build()
                .is_ok()
        );
    }

    #[test]
    fn settings_that_cannot_apply_are_refused_not_ignored() {
        let http = HttpClient::new().unwrap();
        let cache = JwksCache::builder("https://id.example.com/jwks")
            .build()
            .unwrap();
        let config_error = |b: JwtAuthLayerBuilder| matches!(b.build(), Err(Error::Config(_)));
        assert!(config_error(
            JwtAuthLayer::jwks_cache(policy(), cache.clone()).http_client(http.clone())
        ));
        assert!(config_error(
            JwtAuthLayer::jwks_uri(policy(), "https://id.example.com/jwks")
                .well_known(WellKnown::OAuthAuthorizationServer)
        ));
        assert!(config_error(
            base().introspection_cache_ttl(Duration::from_secs(1))
        ));
        assert!(config_error(
            JwtAuthLayer::introspection(policy(), client()).token_cache(5)
        ));
        assert!(config_error(
            JwtAuthLayer::introspection(policy(), client()).http_client(http.clone())
        ));
        // And what does apply is accepted.
        assert!(
            JwtAuthLayer::jwks_uri(policy(), "https://id.example.com/jwks")
                .http_client(http.clone())
                .build()
                .is_ok()
        );
        assert!(
            base()
                .well_known(WellKnown::OAuthAuthorizationServer)
                .http_client(http)
                .build()
                .is_ok()
        );
        let l = JwtAuthLayer::introspection(policy(), client())
            .introspection_cache_ttl(Duration::ZERO)
            .build()
            .unwrap();
        assert!(l.shared.tokens.is_none());
        assert!(JwtAuthLayer::jwks_cache(policy(), cache).build().is_ok());
    }

    #[test]
    fn token_cache_settings() {
        let on = base().build().unwrap();
        let tokens = on.shared.tokens.as_ref().unwrap();
        assert_eq!(tokens.max_entries(), Some(DEFAULT_MAX_ENTRIES));
        let small = base().token_cache(4).build().unwrap();
        assert_eq!(small.shared.tokens.as_ref().unwrap().max_entries(), Some(4));
        assert!(format!("{small:?}").contains("max_entries: Some(4)"));
        let off = base().token_cache(4).no_token_cache().build().unwrap();
        assert!(off.shared.tokens.is_none());
        assert!(matches!(
            base().token_cache(0).build(),
            Err(Error::Config(_))
        ));
        for short in [Duration::ZERO, Duration::from_millis(999)] {
            assert!(matches!(
                base().token_cache_max_ttl(short).build(),
                Err(Error::Config(_))
            ));
        }
        // A zero TTL does not matter when there is no cache.
        assert!(
            base()
                .token_cache_max_ttl(Duration::ZERO)
                .no_token_cache()
                .build()
                .is_ok()
        );
    }

    #[test]
    fn realm_defaults_to_the_first_audience() {
        let two = ValidationPolicy::builder()
            .issuer("https://id.example.com")
            .audiences(["api", "other"])
            .algorithms([Algorithm::ES256])
            .build()
            .unwrap();
        let l = JwtAuthLayer::discover(two).build().unwrap();
        assert_eq!(l.realm(), "api");
        let l = base().realm("orders").build().unwrap();
        assert_eq!(l.realm(), "orders");
        assert!(format!("{l:?}").contains("orders"));
    }
}
