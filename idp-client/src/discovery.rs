//! Provider discovery: OpenID Connect Discovery 1.0 and RFC 8414.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use http::{Request, Response};
use idp_core::{Clock, ProviderMetadata, SystemClock};
use url::Url;

use crate::Error;
use crate::flight::SingleFlight;
use crate::transport::{self, HttpClient, Transport};

/// Seconds before a failed refresh is retried while a cached document is served.
const RETRY_AFTER_FAILURE: i64 = 30;

/// Which well-known document to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum WellKnown {
    /// `{issuer}/.well-known/openid-configuration` (OpenID Connect Discovery 1.0 §4).
    OpenIdConfiguration,
    /// `{origin}/.well-known/oauth-authorization-server{issuer path}` (RFC 8414 §3).
    OAuthAuthorizationServer,
}

/// Fetches and caches a provider's metadata, checking that its `issuer` is exactly the
/// configured one (OIDC Discovery §4.3, RFC 8414 §3.3). Cheap to clone.
///
/// The document is cached for [`DiscoveryBuilder::ttl`] (default one hour, measured on the
/// injected clock); concurrent callers on a miss share one request; when a refresh fails the
/// last good document keeps being served and the refresh is retried 30 s later.
///
/// ```no_run
/// # async fn run() -> Result<(), idp_client::Error> {
/// let discovery = idp_client::Discovery::builder("https://id.example.com").build()?;
/// let metadata = discovery.metadata().await?;
/// println!("token endpoint: {:?}", metadata.token_endpoint);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Discovery {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    issuer: String,
    url: Url,
    http: HttpClient,
    clock: Arc<dyn Clock>,
    ttl: Duration,
    cached: Mutex<Option<Arc<ProviderMetadata>>>,
    fresh_until: AtomicI64,
    flight: SingleFlight<(), Arc<ProviderMetadata>>,
}

/// Builder for [`Discovery`].
#[derive(Debug)]
pub struct DiscoveryBuilder {
    issuer: String,
    well_known: WellKnown,
    http: Option<HttpClient>,
    clock: Option<Arc<dyn Clock>>,
    ttl: Duration,
}

impl Discovery {
    /// Starts a builder for the provider whose issuer identifier is `issuer`.
    pub fn builder(issuer: impl Into<String>) -> DiscoveryBuilder {
        DiscoveryBuilder {
            issuer: issuer.into(),
            well_known: WellKnown::OpenIdConfiguration,
            http: None,
            clock: None,
            ttl: Duration::from_secs(3600),
        }
    }

    /// The configured issuer.
    pub fn issuer(&self) -> &str {
        &self.inner.issuer
    }

    /// The URL of the metadata document.
    pub fn url(&self) -> &Url {
        &self.inner.url
    }

    /// The provider's metadata: from the cache while fresh, else fetched (and checked).
    pub async fn metadata(&self) -> Result<Arc<ProviderMetadata>, Error> {
        let now = self.inner.clock.unix_now();
        let cached = self.cached();
        if let Some(m) = &cached
            && now < self.inner.fresh_until.load(Ordering::Acquire)
        {
            return Ok(m.clone());
        }
        match self.refresh().await {
            Ok(m) => Ok(m),
            Err(e) => match cached {
                Some(m) => {
                    tracing::warn!(error = %e, issuer = %self.inner.issuer, "discovery refresh failed; serving the cached document");
                    // Try again after a pause, not on every call.
                    self.inner
                        .fresh_until
                        .store(now.saturating_add(RETRY_AFTER_FAILURE), Ordering::Release);
                    Ok(m)
                }
                None => Err(e),
            },
        }
    }

    /// Fetches the document now, whatever the cache holds.
    pub async fn refresh(&self) -> Result<Arc<ProviderMetadata>, Error> {
        let inner = self.inner.clone();
        self.inner
            .flight
            .run(&(), move || {
                Some(async move {
                    let req = discovery_request(&inner.url)?;
                    let resp = inner.http.send(req).await?;
                    let m = Arc::new(parse_discovery_response(
                        &inner.issuer,
                        &resp,
                        inner.clock.now(),
                    )?);
                    *inner.cached.lock().unwrap_or_else(PoisonError::into_inner) = Some(m.clone());
                    let ttl = i64::try_from(inner.ttl.as_secs()).unwrap_or(i64::MAX);
                    inner.fresh_until.store(
                        inner.clock.unix_now().saturating_add(ttl),
                        Ordering::Release,
                    );
                    Ok(m)
                })
            })
            .await
            .unwrap_or(Err(Error::Config("discovery refresh was not started")))
    }

    fn cached(&self) -> Option<Arc<ProviderMetadata>> {
        self.inner
            .cached
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl DiscoveryBuilder {
    /// Reads the RFC 8414 document (`/.well-known/oauth-authorization-server`) instead of
    /// the OpenID Connect one.
    pub fn well_known(mut self, which: WellKnown) -> Self {
        self.well_known = which;
        self
    }

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

    /// The clock for cache expiry (default: [`SystemClock`]).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = Some(clock);
        self
    }

    /// How long a fetched document is used before it is fetched again (default 1 h).
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    /// Checks the issuer URL and builds the client.
    pub fn build(self) -> Result<Discovery, Error> {
        let url = well_known_url(&self.issuer, self.well_known)?;
        let http = match self.http {
            Some(h) => h,
            None => HttpClient::new()?,
        };
        Ok(Discovery {
            inner: Arc::new(Inner {
                issuer: self.issuer,
                url,
                http,
                clock: self.clock.unwrap_or_else(|| Arc::new(SystemClock)),
                ttl: self.ttl,
                cached: Mutex::new(None),
                fresh_until: AtomicI64::new(i64::MIN),
                flight: SingleFlight::default(),
            }),
        })
    }
}

/// The well-known URL for `issuer`. The issuer must be an `http(s)` URL without query or
/// fragment (OIDC Discovery §2, RFC 8414 §2).
pub(crate) fn well_known_url(issuer: &str, which: WellKnown) -> Result<Url, Error> {
    let url = transport::parse_url(issuer)?;
    if url.query().is_some() || url.fragment().is_some() {
        return Err(Error::InvalidUrl(
            "an issuer has no query or fragment".to_owned(),
        ));
    }
    let path = url.path().trim_end_matches('/');
    let new_path = match which {
        WellKnown::OpenIdConfiguration => format!("{path}/.well-known/openid-configuration"),
        WellKnown::OAuthAuthorizationServer => {
            format!("/.well-known/oauth-authorization-server{path}")
        }
    };
    let mut out = url;
    out.set_path(&new_path);
    Ok(out)
}

/// The metadata request for `url` (sans-I/O): a `GET` with `Accept: application/json`. The
/// URL of an issuer's document is [`Discovery::url`].
pub fn discovery_request(url: &Url) -> Result<Request<Vec<u8>>, Error> {
    transport::get_json(url)
}

/// Parses a metadata response (sans-I/O): a 2xx JSON document whose `issuer` is exactly
/// `expected_issuer` ([`Error::IssuerMismatch`] otherwise), or the provider's error.
///
/// ```
/// use std::time::SystemTime;
/// let resp = http::Response::new(br#"{"issuer":"https://id.example.com"}"#.to_vec());
/// let m = idp_client::parse_discovery_response("https://id.example.com", &resp, SystemTime::now()).unwrap();
/// assert_eq!(m.issuer, "https://id.example.com");
/// assert!(idp_client::parse_discovery_response("https://other.example", &resp, SystemTime::now()).is_err());
/// ```
pub fn parse_discovery_response<B: AsRef<[u8]>>(
    expected_issuer: &str,
    resp: &Response<B>,
    now: SystemTime,
) -> Result<ProviderMetadata, Error> {
    let m: ProviderMetadata = transport::parse_json(resp, now, "provider metadata")?;
    if m.issuer != expected_issuer {
        return Err(Error::IssuerMismatch {
            expected: expected_issuer.to_owned(),
            found: m.issuer.chars().take(200).collect(),
        });
    }
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    #[test]
    fn well_known_urls() {
        let oidc = |i| {
            well_known_url(i, WellKnown::OpenIdConfiguration)
                .unwrap()
                .to_string()
        };
        let oauth = |i| {
            well_known_url(i, WellKnown::OAuthAuthorizationServer)
                .unwrap()
                .to_string()
        };
        assert_eq!(
            oidc("https://id.example.com"),
            "https://id.example.com/.well-known/openid-configuration"
        );
        assert_eq!(
            oidc("https://id.example.com/tenant/"),
            "https://id.example.com/tenant/.well-known/openid-configuration"
        );
        // RFC 8414 §3.1 example.
        assert_eq!(
            oauth("https://example.com/issuer1"),
            "https://example.com/.well-known/oauth-authorization-server/issuer1"
        );
        assert_eq!(
            oauth("https://example.com"),
            "https://example.com/.well-known/oauth-authorization-server"
        );
        assert!(well_known_url("https://x.example?a=b", WellKnown::OpenIdConfiguration).is_err());
        assert!(well_known_url("not a url", WellKnown::OpenIdConfiguration).is_err());
    }

    #[test]
    fn issuer_must_match_exactly() {
        let resp = Response::new(bytes::Bytes::from_static(
            br#"{"issuer":"https://id.example.com/","token_endpoint":"https://id.example.com/t"}"#,
        ));
        let e = parse_discovery_response("https://id.example.com", &resp, UNIX_EPOCH).unwrap_err();
        assert!(matches!(e, Error::IssuerMismatch { .. }));
        let m = parse_discovery_response("https://id.example.com/", &resp, UNIX_EPOCH).unwrap();
        assert_eq!(
            m.token_endpoint.as_deref(),
            Some("https://id.example.com/t")
        );
    }
}
