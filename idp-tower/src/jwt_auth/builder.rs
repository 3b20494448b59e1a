//! [`JwtAuthLayerBuilder`]: checks the configuration and chooses the key source.

use std::fmt;
use std::marker::PhantomData;
use std::sync::atomic::AtomicI64;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use idp_client::{Client, Discovery, HttpClient, JwksCache, WellKnown};
use idp_core::{Algorithm, Clock, NoExtra, SystemClock, ValidationPolicy, VerificationKeys};

use super::JwtAuthLayer;
use super::cache::{DEFAULT_MAX_ENTRIES, DEFAULT_MAX_TTL, TokenCache};
use super::introspect::Introspector;
use super::layer::Shared;

/// How long an introspection answer is reused, by default.
const DEFAULT_INTROSPECTION_TTL: Duration = Duration::from_secs(10);
use crate::Error;
use crate::keys::{Discovered, KeySource};

impl JwtAuthLayer {
    /// Starts a configuration. Required: [`issuer`](JwtAuthLayerBuilder::issuer), at least
    /// one [`audience`](JwtAuthLayerBuilder::audience) and the
    /// [`algorithms`](JwtAuthLayerBuilder::algorithms) the provider signs with.
    pub fn builder() -> JwtAuthLayerBuilder {
        JwtAuthLayerBuilder {
            issuer: None,
            audiences: Vec::new(),
            algorithms: Vec::new(),
            leeway: None,
            typ: None,
            realm: None,
            allow_anonymous: false,
            keys: KeysConfig::Discover,
            well_known: WellKnown::OpenIdConfiguration,
            http: None,
            clock: None,
            token_cache: Some(DEFAULT_MAX_ENTRIES),
            token_cache_max_ttl: DEFAULT_MAX_TTL,
            introspection: None,
            introspection_ttl: DEFAULT_INTROSPECTION_TTL,
            _claims: PhantomData,
        }
    }
}

/// Where the keys come from.
enum KeysConfig {
    /// The issuer's discovery document names the `jwks_uri`.
    Discover,
    JwksUri(String),
    Cache(JwksCache),
    Static(VerificationKeys),
}

/// Builder for [`JwtAuthLayer`]; start with [`JwtAuthLayer::builder`].
///
/// The key source is the last of [`jwks_uri`](Self::jwks_uri),
/// [`jwks_cache`](Self::jwks_cache) and [`static_keys`](Self::static_keys) called, and the
/// issuer's discovery document when none is.
///
/// ```
/// use std::time::Duration;
/// use idp_tower::idp_core::Algorithm;
/// use idp_tower::JwtAuthLayer;
///
/// #[derive(Clone, serde::Deserialize)]
/// struct Tenant {
///     tenant_plan: String,
/// }
///
/// let layer = JwtAuthLayer::builder()
///     .issuer("https://id.example.com")
///     .audiences(["orders-api", "https://api.example.com"])
///     .algorithms([Algorithm::ES256, Algorithm::RS256])
///     .leeway(Duration::from_secs(30))
///     .required_typ("at+jwt")
///     .realm("orders")
///     .claims::<Tenant>()
///     .build()
///     .unwrap();
/// assert_eq!(layer.realm(), "orders");
///
/// // An algorithm allow-list is required.
/// let err = JwtAuthLayer::builder()
///     .issuer("https://id.example.com")
///     .audience("orders-api")
///     .build()
///     .unwrap_err();
/// assert!(err.to_string().contains("algorithm"));
/// ```
pub struct JwtAuthLayerBuilder<C = NoExtra> {
    issuer: Option<String>,
    audiences: Vec<String>,
    algorithms: Vec<Algorithm>,
    leeway: Option<Duration>,
    typ: Option<String>,
    realm: Option<String>,
    allow_anonymous: bool,
    keys: KeysConfig,
    well_known: WellKnown,
    http: Option<HttpClient>,
    clock: Option<Arc<dyn Clock>>,
    /// The bound of the verified-token cache; `None`: no cache.
    token_cache: Option<u64>,
    token_cache_max_ttl: Duration,
    /// Introspection mode: the client that asks the provider about each token.
    introspection: Option<Client>,
    introspection_ttl: Duration,
    _claims: PhantomData<fn() -> C>,
}

impl<C> fmt::Debug for JwtAuthLayerBuilder<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let keys = match &self.keys {
            KeysConfig::Discover => "discovery",
            KeysConfig::JwksUri(_) => "jwks_uri",
            KeysConfig::Cache(_) => "jwks_cache",
            KeysConfig::Static(_) => "static",
        };
        f.debug_struct("JwtAuthLayerBuilder")
            .field("issuer", &self.issuer)
            .field("audiences", &self.audiences)
            .field("algorithms", &self.algorithms)
            .field("leeway", &self.leeway)
            .field("typ", &self.typ)
            .field("realm", &self.realm)
            .field("allow_anonymous", &self.allow_anonymous)
            .field("keys", &keys)
            .field("token_cache", &self.token_cache)
            .field("token_cache_max_ttl", &self.token_cache_max_ttl)
            .finish_non_exhaustive()
    }
}

impl<C> JwtAuthLayerBuilder<C> {
    /// The issuer: every token's `iss` must equal it exactly, and (unless another key source
    /// is set) its discovery document, `{issuer}/.well-known/openid-configuration`, names the
    /// JWK Set. Required.
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = Some(issuer.into());
        self
    }

    /// Adds an accepted audience: a token must name at least one accepted audience in `aud`.
    /// At least one is required. The first is also the default realm.
    pub fn audience(mut self, aud: impl Into<String>) -> Self {
        self.audiences.push(aud.into());
        self
    }

    /// Adds several accepted audiences.
    pub fn audiences<I, S>(mut self, auds: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.audiences.extend(auds.into_iter().map(Into::into));
        self
    }

    /// The algorithms the provider signs with (required: there is no default allow-list;
    /// `none` and HMAC cannot be named).
    pub fn algorithms<I: IntoIterator<Item = Algorithm>>(mut self, algs: I) -> Self {
        self.algorithms = algs.into_iter().collect();
        self
    }

    /// Clock skew tolerated on `exp` and `nbf` (default 60 s, at most 5 minutes).
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = Some(leeway);
        self
    }

    /// Requires the JOSE header's `typ`, e.g. `at+jwt` for RFC 9068 access tokens (compared
    /// case-insensitively, `application/` optional). Off by default: not every provider
    /// sets it.
    pub fn required_typ(mut self, typ: impl Into<String>) -> Self {
        self.typ = Some(typ.into());
        self
    }

    /// The `realm` of `WWW-Authenticate` challenges (default: the first audience).
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
    /// the OpenID Connect one when discovering the JWK Set.
    pub fn well_known(mut self, which: WellKnown) -> Self {
        self.well_known = which;
        self
    }

    /// Reads the keys from this JWK Set URL, without discovery.
    pub fn jwks_uri(mut self, jwks_uri: impl Into<String>) -> Self {
        self.keys = KeysConfig::JwksUri(jwks_uri.into());
        self
    }

    /// Uses an existing JWK Set cache (e.g. one shared with an
    /// [`idp_client::Client`], or tuned through [`JwksCache::builder`]). Its own HTTP
    /// client and clock are used, not those of this builder.
    pub fn jwks_cache(mut self, cache: JwksCache) -> Self {
        self.keys = KeysConfig::Cache(cache);
        self
    }

    /// Uses a fixed key set: no HTTP at all. For keys distributed out of band, and for tests.
    /// Build it with [`VerificationKeys::from_jwks`].
    pub fn static_keys(mut self, keys: VerificationKeys) -> Self {
        self.keys = KeysConfig::Static(keys);
        self
    }

    /// The HTTP client for discovery and the JWK Set (default: [`HttpClient::new`]).
    pub fn http_client(mut self, http: HttpClient) -> Self {
        self.http = Some(http);
        self
    }

    /// The clock for `exp`/`nbf` with static keys, for the caches this builder creates,
    /// and for the `exp`/`nbf` checks of the [token cache](Self::token_cache) (default:
    /// [`SystemClock`]).
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
    ///   [leeway](Self::leeway)), not before its `nbf` (a token accepted only thanks to the
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
    /// `build` fails if `max_entries` is 0 (use [`no_token_cache`](Self::no_token_cache)).
    pub fn token_cache(mut self, max_entries: u64) -> Self {
        self.token_cache = Some(max_entries);
        self
    }

    /// The longest a verified token stays cached, whatever its `exp` (default 5 minutes;
    /// `build` fails if it is under a second). See [`token_cache`](Self::token_cache).
    pub fn token_cache_max_ttl(mut self, max_ttl: Duration) -> Self {
        self.token_cache_max_ttl = max_ttl;
        self
    }

    /// Turns the verified-token cache off: every request's token is verified in full. See
    /// [`token_cache`](Self::token_cache) for what the cache does.
    pub fn no_token_cache(mut self) -> Self {
        self.token_cache = None;
        self
    }

    /// Deserialises your own claims `C2` (flattened next to the standard ones) into
    /// [`AccessTokenClaims<C2>`](idp_core::AccessTokenClaims). A token whose claims do not
    /// fit `C2` is rejected as malformed.
    pub fn claims<C2>(self) -> JwtAuthLayerBuilder<C2> {
        JwtAuthLayerBuilder {
            issuer: self.issuer,
            audiences: self.audiences,
            algorithms: self.algorithms,
            leeway: self.leeway,
            typ: self.typ,
            realm: self.realm,
            allow_anonymous: self.allow_anonymous,
            keys: self.keys,
            well_known: self.well_known,
            http: self.http,
            clock: self.clock,
            token_cache: self.token_cache,
            token_cache_max_ttl: self.token_cache_max_ttl,
            introspection: self.introspection,
            introspection_ttl: self.introspection_ttl,
            _claims: PhantomData,
        }
    }

    /// **Introspection mode** (RFC 7662): every token, JWT or opaque, is checked by the
    /// provider's introspection endpoint with `client` (a confidential client of the
    /// provider, allowed to introspect tokens for this API), instead of by its signature.
    /// A revoked token is refused at once — within the
    /// [`introspection_cache_ttl`](Self::introspection_cache_ttl), 10 s by default — at the
    /// price of one request to the provider per new token. The answer must be active, for
    /// one of the [`audience`](Self::audience)s, from the [`issuer`](Self::issuer) (when it
    /// names one) and unexpired; 401 and 403 answers are the same as in JWT mode, and a
    /// provider that cannot be asked is a 503. Only the standard introspection members reach
    /// the claims (custom claims `C` must be optional).
    pub fn introspection(mut self, client: Client) -> Self {
        self.introspection = Some(client);
        self
    }

    /// How long an introspection answer is reused (default 10 s; never past the token's
    /// `exp`).
    pub fn introspection_cache_ttl(mut self, ttl: Duration) -> Self {
        self.introspection_ttl = ttl;
        self
    }

    /// Checks the settings and builds the layer. Nothing is fetched until the first request.
    pub fn build(self) -> Result<JwtAuthLayer<C>, Error>
    where
        C: Clone + Send + Sync + 'static,
    {
        let mut policy = ValidationPolicy::builder().audiences(self.audiences.iter().cloned());
        if let Some(issuer) = &self.issuer {
            policy = policy.issuer(issuer.clone());
        }
        policy = policy.algorithms(self.algorithms.iter().copied());
        if let Some(leeway) = self.leeway {
            policy = policy.leeway(leeway);
        }
        if let Some(typ) = &self.typ {
            policy = policy.required_typ(typ.clone());
        }
        let policy = policy.build().map_err(Error::Policy)?;
        let issuer = self.issuer.unwrap_or_default();

        let clock = self.clock.unwrap_or_else(|| Arc::new(SystemClock));
        let issuer_for_introspection = issuer.clone();
        let introspection_clock = Arc::clone(&clock);
        let tokens = match self.token_cache {
            None => None,
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
        let keys = match self.keys {
            KeysConfig::Static(keys) => {
                if keys.is_empty() {
                    return Err(Error::Config("the static key set has no usable key"));
                }
                KeySource::Static {
                    keys: Arc::new(keys),
                    clock,
                }
            }
            KeysConfig::Cache(cache) => KeySource::Jwks(cache),
            KeysConfig::JwksUri(uri) => KeySource::Jwks(
                JwksCache::builder(uri)
                    .http_client(http(self.http)?)
                    .clock(clock)
                    .build()
                    .map_err(Error::Client)?,
            ),
            KeysConfig::Discover => {
                let http = http(self.http)?;
                let discovery = Discovery::builder(issuer)
                    .well_known(self.well_known)
                    .http_client(http.clone())
                    .clock(clock.clone())
                    .build()
                    .map_err(Error::Client)?;
                KeySource::Discovery(Discovered {
                    discovery,
                    http,
                    clock,
                    cache: OnceLock::new(),
                    retry_at: AtomicI64::new(i64::MIN),
                })
            }
        };
        let realm = self
            .realm
            .or_else(|| self.audiences.first().cloned())
            .unwrap_or_default();
        let introspection = self.introspection.map(|client| {
            Introspector::new(
                client,
                issuer_for_introspection,
                self.audiences.clone(),
                introspection_clock,
                self.introspection_ttl,
                DEFAULT_MAX_ENTRIES,
            )
        });
        Ok(JwtAuthLayer::from_shared(Shared {
            policy,
            keys,
            realm: realm.into(),
            allow_anonymous: self.allow_anonymous,
            tokens,
            introspection,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> JwtAuthLayerBuilder {
        JwtAuthLayer::builder()
            .issuer("https://id.example.com")
            .audience("api")
            .algorithms([Algorithm::ES256])
    }

    #[test]
    fn required_settings() {
        assert!(base().build().is_ok());
        let no_issuer = JwtAuthLayer::builder()
            .audience("api")
            .algorithms([Algorithm::ES256]);
        assert!(matches!(no_issuer.build(), Err(Error::Policy(_))));
        let no_aud = JwtAuthLayer::builder()
            .issuer("https://id.example.com")
            .algorithms([Algorithm::ES256]);
        assert!(matches!(no_aud.build(), Err(Error::Policy(_))));
        let long_leeway = base().leeway(Duration::from_secs(301));
        assert!(matches!(long_leeway.build(), Err(Error::Policy(_))));
    }

    #[test]
    fn key_sources() {
        assert!(matches!(
            base().static_keys(VerificationKeys::default()).build(),
            Err(Error::Config(_))
        ));
        assert!(matches!(
            base().jwks_uri("not a url").build(),
            Err(Error::Client(_))
        ));
        // Plain http is refused for a non-loopback issuer when the request is made, but a
        // malformed issuer is refused now.
        let bad_issuer = JwtAuthLayer::builder()
            .issuer("id.example.com")
            .audience("api")
            .algorithms([Algorithm::ES256]);
        assert!(matches!(bad_issuer.build(), Err(Error::Client(_))));
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
        let l = base().audience("other").build().unwrap();
        assert_eq!(l.realm(), "api");
        let l = base().realm("orders").build().unwrap();
        assert_eq!(l.realm(), "orders");
        assert!(format!("{l:?}").contains("orders"));
    }
}
