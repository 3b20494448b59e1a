//! A cached JWK Set: keys by `kid`, refreshed on expiry and on unknown key ids, rate-limited,
//! stale-tolerant.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::Response;
use idp_core::{
    Clock, JwkSet, SystemClock, TokenError, UnverifiedJwt, Validated, ValidationPolicy,
    VerificationKey, VerificationKeys,
};
use serde::de::DeserializeOwned;
use url::Url;

use crate::Error;
use crate::flight::SingleFlight;
use crate::transport::{self, HttpClient, Transport};

/// A provider's signing keys, fetched from its `jwks_uri` and cached by `kid`.
///
/// * **Expiry.** A fetched set is fresh for the response's `Cache-Control: max-age`,
///   clamped to [`min_ttl`](JwksCacheBuilder::min_ttl) ..= [`max_ttl`](JwksCacheBuilder::max_ttl)
///   ([`default_ttl`](JwksCacheBuilder::default_ttl) without the header). Time is read from
///   the injected [`Clock`].
/// * **Rotation.** A token whose `kid` is not cached triggers a refetch, at most one per
///   [`refetch_cooldown`](JwksCacheBuilder::refetch_cooldown) (default 30 s), so a flood of
///   made-up key ids costs the provider one request per cooldown. Concurrent callers that
///   need a fetch share one request and all see its outcome.
/// * **Outages.** When a refresh fails, the last good keys keep being used for
///   [`max_stale`](JwksCacheBuilder::max_stale) (default 1 h) past their expiry; after that,
///   lookups fail with [`Error::JwksUnavailable`].
/// * **Bad keys.** Keys that do not parse or cannot verify (`oct`, `use: enc`, unknown
///   curves, short RSA moduli) are skipped; a set with no usable key counts as a failed
///   fetch.
/// * **Hot path.** A lookup of a cached key reads an atomic and a [moka](https://docs.rs/moka)
///   cache; it takes no lock that a fetch holds.
///
/// Cheap to clone; clones share the cache.
///
/// ```no_run
/// # async fn run(token: &str) -> Result<(), idp_client::Error> {
/// use idp_client::JwksCache;
/// use idp_core::{AccessTokenClaims, Algorithm, ValidationPolicy};
///
/// let jwks = JwksCache::builder("https://id.example.com/.well-known/jwks.json").build()?;
/// let policy = ValidationPolicy::builder()
///     .issuer("https://id.example.com")
///     .audience("orders-api")
///     .algorithms([Algorithm::ES256])
///     .build()?;
/// let validated = jwks.validate::<AccessTokenClaims>(&policy, token).await?;
/// println!("subject: {}", validated.claims.sub);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct JwksCache {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Config {
    min_ttl: Duration,
    max_ttl: Duration,
    default_ttl: Duration,
    cooldown: Duration,
    max_stale: Duration,
    max_keys: usize,
}

struct Inner {
    url: Url,
    http: HttpClient,
    clock: Arc<dyn Clock>,
    config: Config,
    /// Keys by `kid` (a provider may publish two keys under one id, for two algorithms).
    by_kid: moka::sync::Cache<String, Arc<VerificationKeys>>,
    /// The whole set, for tokens without a `kid`.
    all: moka::sync::Cache<(), Arc<VerificationKeys>>,
    /// Unix time until which the cached set is fresh; `i64::MIN` before the first fetch.
    fresh_until: AtomicI64,
    /// Unix time the last fetch started; `i64::MIN` before the first.
    last_attempt: AtomicI64,
    /// Why the last fetch failed (read only on the error path).
    last_error: Mutex<Option<Error>>,
    flight: SingleFlight<(), ()>,
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwksCache")
            .field("url", &self.url.as_str())
            .field("config", &self.config)
            .field("keys", &self.by_kid.entry_count())
            .field("fresh_until", &self.fresh_until.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

/// Builder for [`JwksCache`].
#[derive(Debug)]
pub struct JwksCacheBuilder {
    url: String,
    http: Option<HttpClient>,
    clock: Option<Arc<dyn Clock>>,
    config: Config,
}

fn secs(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}

impl JwksCache {
    /// Starts a builder for the key set at `jwks_uri`.
    pub fn builder(jwks_uri: impl Into<String>) -> JwksCacheBuilder {
        JwksCacheBuilder {
            url: jwks_uri.into(),
            http: None,
            clock: None,
            config: Config {
                min_ttl: Duration::from_secs(60),
                max_ttl: Duration::from_secs(24 * 3600),
                default_ttl: Duration::from_secs(15 * 60),
                cooldown: Duration::from_secs(30),
                max_stale: Duration::from_secs(3600),
                max_keys: 64,
            },
        }
    }

    /// The key set's URL.
    pub fn jwks_uri(&self) -> &Url {
        &self.inner.url
    }

    /// The keys to verify a token whose header names `kid` (or, with `None`, the whole set).
    ///
    /// Fetches the set first if it was never fetched or has expired; fetches it again if
    /// `kid` is unknown and the cooldown allows. An id still unknown after that is
    /// [`TokenError::UnknownKey`] (wrapped in [`Error::Token`]).
    pub async fn keys_for(&self, kid: Option<&str>) -> Result<Arc<VerificationKeys>, Error> {
        let inner = &self.inner;
        let now = inner.clock.unix_now();
        if now < inner.fresh_until.load(Ordering::Acquire) {
            if let Some(keys) = inner.lookup(kid) {
                return Ok(keys);
            }
            // Fresh set, unknown id: perhaps the provider has rotated.
            if let Some(Err(e)) = self.fetch(now, false).await {
                tracing::warn!(error = %e, "JWKS refetch for an unknown key id failed");
            }
            return inner.lookup(kid).ok_or_else(unknown_key);
        }
        // Never fetched, or expired.
        let fetched = self.fetch(now, false).await;
        if let Some(Err(e)) = &fetched {
            tracing::warn!(error = %e, "JWKS refresh failed");
        }
        let fresh_until = inner.fresh_until.load(Ordering::Acquire);
        let usable_until = fresh_until.saturating_add(secs(inner.config.max_stale));
        if fresh_until == i64::MIN || now >= usable_until {
            let last = inner
                .last_error
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone();
            return Err(Error::JwksUnavailable(last.map(Box::new)));
        }
        inner.lookup(kid).ok_or_else(unknown_key)
    }

    /// Validates `token` with `policy` against the cached keys, refetching once (within the
    /// cooldown) if its `kid` is unknown. Tokens that no key could make valid (`alg: none`,
    /// HMAC or another algorithm outside the policy, malformed) are refused without a fetch.
    ///
    /// The same as [`UnverifiedJwt::parse`] then [`JwksCache::verify`].
    pub async fn validate<C: DeserializeOwned>(
        &self,
        policy: &ValidationPolicy,
        token: &str,
    ) -> Result<Validated<C>, Error> {
        let jwt = UnverifiedJwt::parse(token)?;
        self.verify(policy, &jwt).await
    }

    /// Verifies a token already parsed (its header is not decoded again) with `policy`
    /// against the cached keys for its `kid`, refetching once (within the cooldown) if the
    /// `kid` is unknown.
    ///
    /// [`ValidationPolicy::precheck`] runs first: a token it refuses (an algorithm outside
    /// the policy, no signature) costs no fetch, and since the pre-check is the key-free
    /// prefix of [`ValidationPolicy::verify`], it is refused with the error that keys would
    /// not have changed.
    pub async fn verify<C: DeserializeOwned>(
        &self,
        policy: &ValidationPolicy,
        jwt: &UnverifiedJwt<'_>,
    ) -> Result<Validated<C>, Error> {
        policy.precheck(jwt)?;
        let keys = self.keys_for(jwt.kid()).await?;
        Ok(policy.verify::<C>(jwt, &keys, &*self.inner.clock)?)
    }

    /// Fetches the set now (sharing a fetch already in flight), ignoring the cooldown.
    pub async fn refresh(&self) -> Result<(), Error> {
        let now = self.inner.clock.unix_now();
        self.fetch(now, true)
            .await
            .unwrap_or(Err(Error::Config("JWKS refresh was not started")))
    }

    /// Joins the fetch in flight, or starts one if `force` or the cooldown allows. `None`:
    /// no fetch (cooldown).
    async fn fetch(&self, now: i64, force: bool) -> Option<Result<(), Error>> {
        let inner = self.inner.clone();
        self.inner
            .flight
            .run(&(), move || {
                let last = inner.last_attempt.load(Ordering::Acquire);
                let cooldown = secs(inner.config.cooldown);
                if !force && last != i64::MIN && now < last.saturating_add(cooldown) {
                    return None;
                }
                inner.last_attempt.store(now, Ordering::Release);
                Some(async move { inner.fetch_now().await })
            })
            .await
    }
}

fn unknown_key() -> Error {
    Error::Token(idp_core::Error::InvalidToken(TokenError::UnknownKey))
}

impl Inner {
    fn lookup(&self, kid: Option<&str>) -> Option<Arc<VerificationKeys>> {
        match kid {
            Some(kid) => self.by_kid.get(kid),
            None => self.all.get(&()),
        }
    }

    async fn fetch_now(&self) -> Result<(), Error> {
        let result = async {
            let req = transport::get_json(&self.url)?;
            let resp = self.http.send(req).await?;
            parse_jwks_response(&resp, self.clock.now(), &self.config)
        }
        .await;
        match result {
            Ok((keys, ttl)) => {
                self.install(keys, ttl);
                *self
                    .last_error
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner) = None;
                Ok(())
            }
            Err(e) => {
                *self
                    .last_error
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner) = Some(e.clone());
                Err(e)
            }
        }
    }

    fn install(&self, keys: Vec<VerificationKey>, ttl: Duration) {
        let mut by_kid: HashMap<String, Vec<VerificationKey>> = HashMap::new();
        for k in &keys {
            if let Some(kid) = k.kid() {
                by_kid.entry(kid.to_owned()).or_default().push(k.clone());
            }
        }
        let new_kids: HashSet<String> = by_kid.keys().cloned().collect();
        for (kid, ks) in by_kid {
            self.by_kid.insert(kid, Arc::new(ks.into_iter().collect()));
        }
        // Keys the provider no longer publishes are retired.
        let retired: Vec<Arc<String>> = self
            .by_kid
            .iter()
            .map(|(k, _)| k)
            .filter(|k| !new_kids.contains(k.as_str()))
            .collect();
        for kid in retired {
            self.by_kid.invalidate(kid.as_str());
        }
        self.by_kid.run_pending_tasks();
        tracing::debug!(
            keys = keys.len(),
            ttl_secs = ttl.as_secs(),
            "JWKS installed"
        );
        self.all.insert((), Arc::new(keys.into_iter().collect()));
        let until = self.clock.unix_now().saturating_add(secs(ttl));
        self.fresh_until.store(until, Ordering::Release);
    }
}

/// Parses a JWK Set response into usable keys and their time to live (pure).
fn parse_jwks_response(
    resp: &Response<Bytes>,
    now: SystemTime,
    config: &Config,
) -> Result<(Vec<VerificationKey>, Duration), Error> {
    if !resp.status().is_success() {
        return Err(transport::error_from_response(resp, now));
    }
    let set = JwkSet::from_json_lenient(resp.body())
        .map_err(|_| Error::invalid_response("JWK Set: not an object with a keys array"))?;
    let mut keys = Vec::new();
    for jwk in &set.keys {
        match jwk.verification_key() {
            Ok(k) => keys.push(k),
            Err(e) => tracing::debug!(kid = ?jwk.kid, error = %e, "skipping unusable JWK"),
        }
        if keys.len() == config.max_keys {
            tracing::warn!(
                max = config.max_keys,
                "JWK Set has more keys than max_keys; ignoring the rest"
            );
            break;
        }
    }
    if keys.is_empty() {
        return Err(Error::invalid_response("JWK Set has no usable signing key"));
    }
    let ttl = transport::max_age(resp.headers())
        .unwrap_or(config.default_ttl)
        .clamp(config.min_ttl, config.max_ttl);
    Ok((keys, ttl))
}

impl JwksCacheBuilder {
    /// Sends every request through `transport`, with the default policy of
    /// [`HttpClient::with_transport`] (timeout, bounded bodies, `https` except to loopback).
    pub fn http(self, transport: impl Transport) -> Self {
        self.http_client(HttpClient::with_transport(transport))
    }

    /// The HTTP client: a transport and its policy (default: [`HttpClient::new`]).
    pub fn http_client(mut self, http: HttpClient) -> Self {
        self.http = Some(http);
        self
    }

    /// The clock for expiry, cooldown and staleness (default: [`SystemClock`]).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = Some(clock);
        self
    }

    /// Shortest time a fetched set is considered fresh, whatever `max-age` says (default
    /// 60 s).
    pub fn min_ttl(mut self, ttl: Duration) -> Self {
        self.config.min_ttl = ttl;
        self
    }

    /// Longest time a fetched set is considered fresh (default 24 h).
    pub fn max_ttl(mut self, ttl: Duration) -> Self {
        self.config.max_ttl = ttl;
        self
    }

    /// Freshness when the response has no `Cache-Control: max-age` (default 15 min; then
    /// clamped like `max-age`).
    pub fn default_ttl(mut self, ttl: Duration) -> Self {
        self.config.default_ttl = ttl;
        self
    }

    /// Least time between two fetches not forced by [`JwksCache::refresh`]: bounds what
    /// unknown key ids and a failing endpoint cost the provider (default 30 s).
    pub fn refetch_cooldown(mut self, cooldown: Duration) -> Self {
        self.config.cooldown = cooldown;
        self
    }

    /// How long past their expiry the last good keys are still used while fetching fails
    /// (default 1 h).
    pub fn max_stale(mut self, max_stale: Duration) -> Self {
        self.config.max_stale = max_stale;
        self
    }

    /// Most keys kept from one set (default 64); the rest are ignored.
    pub fn max_keys(mut self, max_keys: usize) -> Self {
        self.config.max_keys = max_keys;
        self
    }

    /// Checks the settings and builds the cache. Nothing is fetched until the first lookup.
    pub fn build(self) -> Result<JwksCache, Error> {
        let url = transport::parse_url(&self.url)?;
        let c = &self.config;
        if c.min_ttl > c.max_ttl {
            return Err(Error::Config("JWKS min_ttl is greater than max_ttl"));
        }
        if c.max_keys == 0 {
            return Err(Error::Config("JWKS max_keys is zero"));
        }
        let http = match self.http {
            Some(h) => h,
            None => HttpClient::new()?,
        };
        let capacity = u64::try_from(c.max_keys.saturating_mul(2)).unwrap_or(u64::MAX);
        Ok(JwksCache {
            inner: Arc::new(Inner {
                url,
                http,
                clock: self.clock.unwrap_or_else(|| Arc::new(SystemClock)),
                by_kid: moka::sync::Cache::new(capacity),
                all: moka::sync::Cache::new(1),
                fresh_until: AtomicI64::new(i64::MIN),
                last_attempt: AtomicI64::new(i64::MIN),
                last_error: Mutex::new(None),
                flight: SingleFlight::default(),
                config: self.config,
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::StatusCode;
    use std::time::UNIX_EPOCH;

    const RFC7517_A1: &str = r#"{"keys":[
        {"kty":"EC","crv":"P-256","x":"MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4",
         "y":"4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM","use":"enc","kid":"1"},
        {"kty":"RSA","n":"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
         "e":"AQAB","alg":"RS256","kid":"2011-04-29"},
        {"kty":"oct","k":"AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ","kid":"hmac"},
        {"kty":"RSA","kid":"no-n"},
        "not even an object"
    ]}"#;

    fn config() -> Config {
        Config {
            min_ttl: Duration::from_secs(60),
            max_ttl: Duration::from_secs(3600),
            default_ttl: Duration::from_secs(600),
            cooldown: Duration::from_secs(30),
            max_stale: Duration::from_secs(3600),
            max_keys: 64,
        }
    }

    fn resp(body: &str, cache_control: Option<&str>) -> Response<Bytes> {
        let mut r = Response::new(Bytes::from(body.to_owned()));
        if let Some(cc) = cache_control {
            r.headers_mut()
                .insert(http::header::CACHE_CONTROL, cc.parse().unwrap());
        }
        r
    }

    #[test]
    fn unusable_keys_are_skipped() {
        let (keys, ttl) =
            parse_jwks_response(&resp(RFC7517_A1, None), UNIX_EPOCH, &config()).unwrap();
        assert_eq!(keys.len(), 1);
        assert_eq!(keys[0].kid(), Some("2011-04-29"));
        assert_eq!(ttl, Duration::from_secs(600));
    }

    #[test]
    fn ttl_is_clamped() {
        let c = config();
        let ttl = |cc| {
            parse_jwks_response(&resp(RFC7517_A1, Some(cc)), UNIX_EPOCH, &c)
                .unwrap()
                .1
        };
        assert_eq!(ttl("max-age=5"), Duration::from_secs(60));
        assert_eq!(ttl("max-age=300"), Duration::from_secs(300));
        assert_eq!(ttl("max-age=999999"), Duration::from_secs(3600));
        assert_eq!(ttl("no-store"), Duration::from_secs(60));
    }

    #[test]
    fn empty_or_broken_sets_fail() {
        let c = config();
        assert!(parse_jwks_response(&resp(r#"{"keys":[]}"#, None), UNIX_EPOCH, &c).is_err());
        assert!(parse_jwks_response(&resp(r#"[]"#, None), UNIX_EPOCH, &c).is_err());
        let mut r = resp(RFC7517_A1, None);
        *r.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
        assert!(matches!(
            parse_jwks_response(&r, UNIX_EPOCH, &c),
            Err(Error::Status { status: 500, .. })
        ));
    }

    /// What `peek_kid` did before the front door: the `kid` comes from the one parse.
    #[test]
    fn kid_is_read_from_the_header() {
        use base64::Engine;
        let b64 = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
        let h = b64(r#"{"alg":"ES256","kid":"k1"}"#);
        let t = format!("{h}.e30.sig");
        assert_eq!(UnverifiedJwt::parse(&t).unwrap().kid(), Some("k1"));
        let h = b64(r#"{"alg":"ES256"}"#);
        let t = format!("{h}.e30.sig");
        assert_eq!(UnverifiedJwt::parse(&t).unwrap().kid(), None);
        assert!(UnverifiedJwt::parse("%%%.x.y").is_err());
        assert!(UnverifiedJwt::parse("").is_err());
    }
}
