//! A cache of `client_credentials` tokens for service-to-service calls.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use idp_core::{AccessToken, Clock, Scope, TokenResponse};

use crate::flight::SingleFlight;
use crate::transport::is_retryable;
use crate::{Client, ClientAuth, Error};

/// What to ask for: a scope and an audience. Two requests with the same scopes in any order
/// and the same audience share a cached token. Cheap to clone.
///
/// ```
/// use idp_client::ServiceTokenRequest;
/// let a = ServiceTokenRequest::new().scope("read:orders write:orders".parse().unwrap()).audience("orders-api");
/// let b = ServiceTokenRequest::new().scope("write:orders read:orders".parse().unwrap()).audience("orders-api");
/// assert_eq!(a, b);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct ServiceTokenRequest {
    parts: Arc<RequestParts>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
struct RequestParts {
    scope: Scope,
    audience: Option<String>,
}

impl ServiceTokenRequest {
    /// A request with no scope and no audience (the provider's defaults for the client).
    pub fn new() -> Self {
        Self::default()
    }

    /// The scope to request.
    pub fn scope(mut self, scope: Scope) -> Self {
        Arc::make_mut(&mut self.parts).scope = scope;
        self
    }

    /// The API the token is for: sent as RFC 8707 `resource` (the standard), or as the
    /// provider-specific `audience=` when the cache is built with
    /// [`AudienceParameter::ProviderAudience`].
    pub fn resource(mut self, resource: impl Into<String>) -> Self {
        Arc::make_mut(&mut self.parts).audience = Some(resource.into());
        self
    }

    /// The same as [`resource`](Self::resource) (the name other SDKs use).
    pub fn audience(self, audience: impl Into<String>) -> Self {
        self.resource(audience)
    }
}

/// How the API a token is for is named at the token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum AudienceParameter {
    /// `resource=...` (RFC 8707 resource indicators): the standard, and the default.
    #[default]
    Resource,
    /// `audience=...`: not standardised; providers such as Auth0 want it (and idp accepts
    /// it). A standard provider ignores it.
    ProviderAudience,
}

#[derive(Clone, PartialEq, Eq, Hash)]
struct CacheKey {
    client_id: Arc<str>,
    request: ServiceTokenRequest,
}

struct Cached {
    response: TokenResponse,
    /// Unix time from which the token is fetched anew.
    refresh_at: i64,
}

/// Caches `client_credentials` tokens (pattern 4: service to service).
///
/// * Keyed by client id, sorted scopes and audience.
/// * A token is served while `now < expires_at - margin` (margin default 60 s). A token
///   whose lifetime is under two margins is served for half its lifetime. `now` is read
///   from the client's [`Clock`].
/// * On a miss, concurrent callers for one key cause exactly one token request; its error,
///   if any, is returned to every one of them and is not cached.
/// * `429` and `503` are retried after `Retry-After` (or an exponential backoff), at most
///   [`max_retries`](ServiceTokenCacheBuilder::max_retries) times, never waiting longer than
///   [`max_backoff`](ServiceTokenCacheBuilder::max_backoff) at once: a provider asking for a
///   longer wait gets its error returned instead.
/// * Cheap to clone; clones share the cache.
///
/// ```no_run
/// # async fn run(client: idp_client::Client) -> Result<(), idp_client::Error> {
/// use idp_client::{ServiceTokenCache, ServiceTokenRequest};
///
/// let cache = ServiceTokenCache::new(client)?;
/// let request = ServiceTokenRequest::new()
///     .scope("read:orders".parse()?)
///     .audience("orders-api");
/// let token = cache.get(&request).await?;
/// // send `Authorization: Bearer {token.secret()}`
/// # let _ = token;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct ServiceTokenCache {
    inner: Arc<Inner>,
}

struct Inner {
    client: Client,
    client_id: Arc<str>,
    margin: i64,
    default_lifetime: Duration,
    max_retries: u32,
    initial_backoff: Duration,
    max_backoff: Duration,
    audience_parameter: AudienceParameter,
    tokens: moka::sync::Cache<CacheKey, Arc<Cached>>,
    flight: SingleFlight<CacheKey, Arc<Cached>>,
}

impl fmt::Debug for ServiceTokenCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let i = &self.inner;
        f.debug_struct("ServiceTokenCache")
            .field("client_id", &i.client_id)
            .field("margin_secs", &i.margin)
            .field("max_retries", &i.max_retries)
            .field("cached_tokens", &i.tokens.entry_count())
            .finish_non_exhaustive()
    }
}

/// Builder for [`ServiceTokenCache`].
#[derive(Debug)]
pub struct ServiceTokenCacheBuilder {
    client: Client,
    margin: Duration,
    default_lifetime: Duration,
    max_retries: u32,
    initial_backoff: Duration,
    max_backoff: Duration,
    max_entries: u64,
    audience_parameter: AudienceParameter,
}

impl ServiceTokenCache {
    /// A cache with the defaults for `client`, which must authenticate with a secret.
    pub fn new(client: Client) -> Result<Self, Error> {
        Self::builder(client).build()
    }

    /// Starts a builder for `client`.
    pub fn builder(client: Client) -> ServiceTokenCacheBuilder {
        ServiceTokenCacheBuilder {
            client,
            margin: Duration::from_secs(60),
            default_lifetime: Duration::from_secs(300),
            max_retries: 3,
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(10),
            max_entries: 1024,
            audience_parameter: AudienceParameter::Resource,
        }
    }

    /// A token for `request`: the cached one while it is fresh, else a new one.
    pub async fn get(&self, request: &ServiceTokenRequest) -> Result<AccessToken, Error> {
        Ok(self.get_response(request).await?.access_token)
    }

    /// The whole token response for `request` (granted `scope`, `expires_in` as the
    /// provider sent it…): the cached one while it is fresh, else a new one.
    pub async fn get_response(
        &self,
        request: &ServiceTokenRequest,
    ) -> Result<TokenResponse, Error> {
        let key = CacheKey {
            client_id: self.inner.client_id.clone(),
            request: request.clone(),
        };
        if let Some(t) = self.inner.fresh(&key) {
            return Ok(t.response.clone());
        }
        let inner = self.inner.clone();
        let k = key.clone();
        let fetched = self
            .inner
            .flight
            .run(&key, move || Some(async move { inner.fetch(k).await }))
            .await
            .unwrap_or(Err(Error::Config("token request was not started")))?;
        Ok(fetched.response.clone())
    }

    /// Forgets the cached token for `request` (for instance after an API refused it), so
    /// that the next [`get`](Self::get) fetches a new one.
    pub fn invalidate(&self, request: &ServiceTokenRequest) {
        self.inner.tokens.invalidate(&CacheKey {
            client_id: self.inner.client_id.clone(),
            request: request.clone(),
        });
    }
}

impl Inner {
    fn fresh(&self, key: &CacheKey) -> Option<Arc<Cached>> {
        let t = self.tokens.get(key)?;
        (self.client.clock().unix_now() < t.refresh_at).then_some(t)
    }

    async fn fetch(&self, key: CacheKey) -> Result<Arc<Cached>, Error> {
        // Another flight may have stored a token since the caller looked.
        if let Some(t) = self.fresh(&key) {
            return Ok(t);
        }
        let parts = &key.request.parts;

        let mut attempt = 0u32;
        loop {
            let started = self.client.clock().unix_now();
            let mut request = self.client.client_credentials().scope(parts.scope.clone());
            match (&parts.audience, self.audience_parameter) {
                (Some(a), AudienceParameter::ProviderAudience) => {
                    request = request.audience(a.clone());
                }
                (Some(a), _) => request = request.resource(a.clone()),
                (None, _) => {}
            }
            match request.send().await {
                Ok(resp) => {
                    let lifetime = resp
                        .expires_in
                        .map(Duration::from_secs)
                        .unwrap_or(self.default_lifetime);
                    let cached = Arc::new(Cached {
                        response: resp,
                        refresh_at: started.saturating_add(serve_for(lifetime, self.margin)),
                    });
                    self.tokens.insert(key, cached.clone());
                    return Ok(cached);
                }
                Err(e) => {
                    let Some(wait) = self.retry_wait(&e, attempt) else {
                        return Err(e);
                    };
                    tracing::info!(
                        status = e.status(),
                        wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
                        attempt,
                        "token endpoint asked to retry later"
                    );
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                }
            }
        }
    }

    /// How long to wait before retrying after `e`, or `None` to give up.
    fn retry_wait(&self, e: &Error, attempt: u32) -> Option<Duration> {
        if attempt >= self.max_retries || !e.status().is_some_and(is_retryable) {
            return None;
        }
        let backoff = self
            .initial_backoff
            .saturating_mul(2u32.saturating_pow(attempt))
            .min(self.max_backoff);
        match e.retry_after() {
            Some(ra) if ra > self.max_backoff => None,
            Some(ra) => Some(ra.max(backoff)),
            None => Some(backoff),
        }
    }
}

/// Seconds a token of `lifetime` is served: until `margin` before expiry, or half its
/// lifetime when that is under two margins.
fn serve_for(lifetime: Duration, margin: i64) -> i64 {
    let l = i64::try_from(lifetime.as_secs()).unwrap_or(i64::MAX);
    if l >= margin.saturating_mul(2) {
        l - margin
    } else {
        l / 2
    }
}

impl ServiceTokenCacheBuilder {
    /// How long before expiry a token is replaced (default 60 s).
    pub fn margin(mut self, margin: Duration) -> Self {
        self.margin = margin;
        self
    }

    /// Lifetime assumed when a response has no `expires_in` (default 5 min).
    pub fn default_lifetime(mut self, lifetime: Duration) -> Self {
        self.default_lifetime = lifetime;
        self
    }

    /// Retries after `429`/`503` (default 3).
    pub fn max_retries(mut self, retries: u32) -> Self {
        self.max_retries = retries;
        self
    }

    /// First backoff without `Retry-After`, doubled on each retry (default 500 ms).
    pub fn initial_backoff(mut self, backoff: Duration) -> Self {
        self.initial_backoff = backoff;
        self
    }

    /// Longest single wait, `Retry-After` included (default 10 s).
    pub fn max_backoff(mut self, backoff: Duration) -> Self {
        self.max_backoff = backoff;
        self
    }

    /// Most tokens kept (default 1024).
    pub fn max_entries(mut self, entries: u64) -> Self {
        self.max_entries = entries;
        self
    }

    /// How the audience is sent (default [`AudienceParameter::Resource`]).
    pub fn audience_parameter(mut self, p: AudienceParameter) -> Self {
        self.audience_parameter = p;
        self
    }

    /// Checks the settings and builds the cache.
    pub fn build(self) -> Result<ServiceTokenCache, Error> {
        if self.client.metadata().token_endpoint.is_none() {
            return Err(Error::MissingEndpoint("token_endpoint"));
        }
        if self.client.auth_method() == ClientAuth::None.method() {
            return Err(Error::Config(
                "client_credentials needs a client secret (ClientAuth::None given)",
            ));
        }
        let client_id: Arc<str> = Arc::from(self.client.client_id());
        Ok(ServiceTokenCache {
            inner: Arc::new(Inner {
                client: self.client,
                client_id,
                margin: i64::try_from(self.margin.as_secs()).unwrap_or(i64::MAX),
                default_lifetime: self.default_lifetime,
                max_retries: self.max_retries,
                initial_backoff: self.initial_backoff,
                max_backoff: self.max_backoff,
                audience_parameter: self.audience_parameter,
                tokens: moka::sync::Cache::new(self.max_entries),
                flight: SingleFlight::default(),
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifetimes() {
        let s = |l| serve_for(Duration::from_secs(l), 60);
        assert_eq!(s(300), 240);
        assert_eq!(s(120), 60);
        assert_eq!(s(119), 59);
        assert_eq!(s(60), 30);
        assert_eq!(s(1), 0);
        assert_eq!(s(0), 0);
    }
}
