//! The one place that does I/O. A [`Transport`] sends one `http::Request` and returns its
//! response: the reqwest one ([`ReqwestTransport`], feature `reqwest`, on by default), or any
//! async closure. [`HttpClient`] wraps a transport with the policy every provider call
//! follows (scheme check, timeout, bounded bodies). Everything else in the crate builds
//! requests and parses responses as pure functions over `http` types.

use std::fmt;
use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use idp_core::{ErrorCode, ErrorResponse};
use serde::de::DeserializeOwned;
use url::Url;

use crate::error::{Error, TransportError};

const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const DEFAULT_MAX_RESPONSE_BYTES: usize = 1024 * 1024;
#[cfg(feature = "reqwest")]
const USER_AGENT: &str = concat!("idp-client/", env!("CARGO_PKG_VERSION"));

/// The future a [`Transport`] returns.
pub type TransportFuture =
    Pin<Box<dyn Future<Output = Result<Response<Vec<u8>>, TransportError>> + Send + 'static>>;

/// Sends one HTTP request to the provider and returns its whole response (the model is
/// oauth2-rs's `AsyncHttpClient`). Object-safe: the crate keeps an `Arc<dyn Transport>`.
///
/// Implementations must not follow redirects (the crate turns a 3xx into
/// [`Error::Redirect`]), and should bound what they read: [`HttpClient`] refuses bodies over
/// its limit, but only once they have been read. Timeouts and the `https` check are applied
/// by [`HttpClient`] around any transport.
///
/// Any `Fn(Request<Vec<u8>>) -> Future<Output = Result<Response<Vec<u8>>, E>>` is a
/// transport (`E` any error; wrapped with [`TransportError::new`]), which makes canned
/// responders, counters and other middleware one closure:
///
/// ```
/// use std::sync::Arc;
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use idp_client::{HttpClient, TransportError};
///
/// let calls = Arc::new(AtomicUsize::new(0));
/// let counted = calls.clone();
/// let http = HttpClient::with_transport(move |req: http::Request<Vec<u8>>| {
///     counted.fetch_add(1, Ordering::SeqCst);
///     async move {
///         assert_eq!(req.uri().path(), "/.well-known/openid-configuration");
///         Ok::<_, TransportError>(http::Response::new(br#"{"issuer":"https://id.example.com"}"#.to_vec()))
///     }
/// });
/// # let _ = http;
/// ```
pub trait Transport: Send + Sync + 'static {
    /// Sends `request` and reads the response.
    fn send(&self, request: Request<Vec<u8>>) -> TransportFuture;
}

impl<F, Fut, E> Transport for F
where
    F: Fn(Request<Vec<u8>>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Response<Vec<u8>>, E>> + Send + 'static,
    E: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    fn send(&self, request: Request<Vec<u8>>) -> TransportFuture {
        let fut = self(request);
        Box::pin(async move { fut.await.map_err(TransportError::new) })
    }
}

/// The reqwest [`Transport`] (feature `reqwest`): reads bodies up to a bound (default
/// 1 MiB) and refuses a response that reqwest reached by following a redirect. Cheap to
/// clone.
///
/// ```
/// let client = reqwest::Client::builder()
///     .redirect(reqwest::redirect::Policy::none())
///     .build()
///     .unwrap();
/// let http = idp_client::HttpClient::with_transport(idp_client::ReqwestTransport::new(client));
/// # let _ = http;
/// ```
#[cfg(feature = "reqwest")]
#[derive(Debug, Clone)]
pub struct ReqwestTransport {
    client: reqwest::Client,
    max_response_bytes: usize,
}

#[cfg(feature = "reqwest")]
impl ReqwestTransport {
    /// A transport over `client`, configured as you need (proxy, root certificates,
    /// timeouts). Build it with `redirect(reqwest::redirect::Policy::none())`: a response
    /// reached through a redirect is refused.
    pub fn new(client: reqwest::Client) -> Self {
        Self {
            client,
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
        }
    }

    /// Largest response body read (default 1 MiB); a larger one is a [`TransportError`].
    pub fn max_response_size(mut self, bytes: usize) -> Self {
        self.max_response_bytes = bytes;
        self
    }

    async fn execute(
        client: reqwest::Client,
        max: usize,
        req: Request<Vec<u8>>,
    ) -> Result<Response<Vec<u8>>, TransportError> {
        let req = reqwest::Request::try_from(req).map_err(TransportError::from_reqwest)?;
        let sent_to = req.url().clone();
        let mut resp = client
            .execute(req)
            .await
            .map_err(TransportError::from_reqwest)?;
        if *resp.url() != sent_to {
            return Err(TransportError::new(
                "the reqwest client followed a redirect; build it with redirect::Policy::none()",
            ));
        }
        let too_large = || TransportError::new("response body too large");
        if resp.content_length().is_some_and(|len| len > max as u64) {
            return Err(too_large());
        }
        let status = resp.status();
        let headers = std::mem::take(resp.headers_mut());
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(TransportError::from_reqwest)? {
            if body.len() + chunk.len() > max {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        let mut out = Response::new(body);
        *out.status_mut() = status;
        *out.headers_mut() = headers;
        Ok(out)
    }
}

#[cfg(feature = "reqwest")]
impl Transport for ReqwestTransport {
    fn send(&self, request: Request<Vec<u8>>) -> TransportFuture {
        Box::pin(Self::execute(
            self.client.clone(),
            self.max_response_bytes,
            request,
        ))
    }
}

/// The HTTP client every provider call goes through: a [`Transport`] and the policy around
/// it. Cheap to clone (clones share the transport and its connection pool).
///
/// Redirects are never followed, every request has a timeout, response bodies larger than
/// [`HttpClientBuilder::max_response_size`] are refused, and plain `http` is allowed only for
/// loopback hosts (`localhost`, `127.0.0.0/8`, `::1`) unless
/// [`HttpClientBuilder::insecure_allow_http`] says otherwise.
///
/// ```
/// use std::time::Duration;
/// let http = idp_client::HttpClient::builder()
///     .timeout(Duration::from_secs(5))
///     .build()
///     .unwrap();
/// # let _ = http;
/// ```
#[derive(Clone)]
pub struct HttpClient {
    transport: Arc<dyn Transport>,
    timeout: Duration,
    max_response_bytes: usize,
    allow_http: bool,
}

impl fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpClient")
            .field("timeout", &self.timeout)
            .field("max_response_bytes", &self.max_response_bytes)
            .field("allow_http", &self.allow_http)
            .finish_non_exhaustive()
    }
}

/// Builder for [`HttpClient`].
pub struct HttpClientBuilder {
    transport: Option<Arc<dyn Transport>>,
    timeout: Duration,
    connect_timeout: Duration,
    max_response_bytes: usize,
    allow_http: bool,
}

impl fmt::Debug for HttpClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpClientBuilder")
            .field("custom_transport", &self.transport.is_some())
            .field("timeout", &self.timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("max_response_bytes", &self.max_response_bytes)
            .field("allow_http", &self.allow_http)
            .finish()
    }
}

impl HttpClient {
    /// A client with the defaults: the reqwest transport, 10 s per request, 5 s to connect,
    /// 1 MiB responses. Without the `reqwest` feature, an [`Error::Config`]: use
    /// [`with_transport`](Self::with_transport).
    pub fn new() -> Result<Self, Error> {
        Self::builder().build()
    }

    /// A client over `transport` with the default policy (10 s per request, 1 MiB
    /// responses, `https` except to loopback).
    pub fn with_transport(transport: impl Transport) -> Self {
        Self {
            transport: Arc::new(transport),
            timeout: DEFAULT_TIMEOUT,
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
            allow_http: false,
        }
    }

    /// Starts a builder with the defaults.
    pub fn builder() -> HttpClientBuilder {
        HttpClientBuilder {
            transport: None,
            timeout: DEFAULT_TIMEOUT,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
            allow_http: false,
        }
    }

    /// Sends a request through the transport, within the policy.
    pub(crate) async fn send(&self, req: Request<Vec<u8>>) -> Result<Response<Bytes>, Error> {
        let url = Url::parse(&req.uri().to_string())
            .map_err(|_| Error::InvalidUrl("request URI".into()))?;
        check_scheme(&url, self.allow_http)?;
        tracing::debug!(method = %req.method(), url = %redact(&url), "provider request");
        let resp = tokio::time::timeout(self.timeout, self.transport.send(req))
            .await
            .map_err(|_| Error::Transport(TransportError::new("request timed out").timed_out()))?
            .map_err(Error::Transport)?;
        if resp.body().len() > self.max_response_bytes {
            return Err(Error::invalid_response("response body too large"));
        }
        tracing::debug!(status = resp.status().as_u16(), url = %redact(&url), "provider response");
        Ok(resp.map(Bytes::from))
    }
}

impl HttpClientBuilder {
    /// Sends through `transport` instead of the built-in reqwest one. The timeout, the
    /// response bound and the scheme check still apply; `connect_timeout` does not.
    pub fn transport(mut self, transport: impl Transport) -> Self {
        self.transport = Some(Arc::new(transport));
        self
    }

    /// Total time allowed for one request, body included (default 10 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Time allowed to establish a connection (default 5 s), for the built-in transport.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Largest response body accepted (default 1 MiB).
    pub fn max_response_size(mut self, bytes: usize) -> Self {
        self.max_response_bytes = bytes;
        self
    }

    /// Allows plain `http` to hosts that are not loopback. Tokens and client secrets then
    /// cross the network in clear: only for test networks.
    pub fn insecure_allow_http(mut self) -> Self {
        self.allow_http = true;
        self
    }

    /// Builds the client.
    pub fn build(self) -> Result<HttpClient, Error> {
        if self.timeout.is_zero() || self.connect_timeout.is_zero() {
            return Err(Error::Config("timeouts must be greater than zero"));
        }
        let transport = match self.transport {
            Some(t) => t,
            None => default_transport(self.timeout, self.connect_timeout, self.max_response_bytes)?,
        };
        Ok(HttpClient {
            transport,
            timeout: self.timeout,
            max_response_bytes: self.max_response_bytes,
            allow_http: self.allow_http,
        })
    }
}

#[cfg(feature = "reqwest")]
fn default_transport(
    timeout: Duration,
    connect_timeout: Duration,
    max_response_bytes: usize,
) -> Result<Arc<dyn Transport>, Error> {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(timeout)
        .connect_timeout(connect_timeout)
        .user_agent(USER_AGENT)
        .build()
        .map_err(|e| Error::Transport(TransportError::from_reqwest(e)))?;
    Ok(Arc::new(
        ReqwestTransport::new(client).max_response_size(max_response_bytes),
    ))
}

#[cfg(not(feature = "reqwest"))]
fn default_transport(
    _timeout: Duration,
    _connect_timeout: Duration,
    _max_response_bytes: usize,
) -> Result<Arc<dyn Transport>, Error> {
    Err(Error::Config(
        "no HTTP transport: enable the `reqwest` feature or give one",
    ))
}

/// The URL without query and fragment, for logs.
fn redact(url: &Url) -> String {
    let mut u = url.clone();
    u.set_query(None);
    u.set_fragment(None);
    let _ = u.set_password(None);
    u.to_string()
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    }
}

/// `https`, or `http` to a loopback host (or anywhere when `allow_http`).
pub(crate) fn check_scheme(url: &Url, allow_http: bool) -> Result<(), Error> {
    match url.scheme() {
        "https" => Ok(()),
        "http" if allow_http || is_loopback(url) => Ok(()),
        "http" => Err(Error::InvalidUrl(format!(
            "{} uses plain http to a non-loopback host",
            redact(url)
        ))),
        _ => Err(Error::InvalidUrl(format!(
            "{} is not an http(s) URL",
            redact(url)
        ))),
    }
}

/// Parses an endpoint URL from metadata or configuration.
pub(crate) fn parse_url(s: &str) -> Result<Url, Error> {
    let url = Url::parse(s).map_err(|_| Error::InvalidUrl(truncate(s, 200)))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(Error::InvalidUrl(truncate(s, 200)));
    }
    Ok(url)
}

fn truncate(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}

// ---------------------------------------------------------------------------------------
// Request building (pure)
// ---------------------------------------------------------------------------------------

/// A `GET` with `Accept: application/json`.
pub(crate) fn get_json(url: &Url) -> Result<Request<Vec<u8>>, Error> {
    Request::builder()
        .method(Method::GET)
        .uri(url.as_str())
        .header(header::ACCEPT, "application/json")
        .body(Vec::new())
        .map_err(|_| Error::InvalidUrl(redact(url)))
}

/// A form `POST` with `Accept: application/json`.
pub(crate) fn post_form(
    url: &Url,
    form: &[(&str, &str)],
    authorization: Option<HeaderValue>,
) -> Result<Request<Vec<u8>>, Error> {
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form)
        .finish()
        .into_bytes();
    let mut req = Request::builder()
        .method(Method::POST)
        .uri(url.as_str())
        .header(header::ACCEPT, "application/json")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(body)
        .map_err(|_| Error::InvalidUrl(redact(url)))?;
    if let Some(v) = authorization {
        req.headers_mut().insert(header::AUTHORIZATION, v);
    }
    Ok(req)
}

// ---------------------------------------------------------------------------------------
// Response parsing (pure)
// ---------------------------------------------------------------------------------------

/// Parses a 2xx JSON body into `T`; any other status becomes an error.
pub(crate) fn parse_json<T: DeserializeOwned, B: AsRef<[u8]>>(
    resp: &Response<B>,
    now: SystemTime,
    what: &str,
) -> Result<T, Error> {
    if !resp.status().is_success() {
        return Err(error_from_response(resp, now));
    }
    serde_json::from_slice(resp.body().as_ref())
        .map_err(|e| Error::invalid_response(format!("{what}: {}", json_error_summary(&e))))
}

/// serde_json messages may quote provider input; keep only the category and position.
fn json_error_summary(e: &serde_json::Error) -> String {
    let kind = match e.classify() {
        serde_json::error::Category::Io => "I/O error",
        serde_json::error::Category::Syntax => "not JSON",
        serde_json::error::Category::Data => "unexpected JSON shape",
        serde_json::error::Category::Eof => "truncated JSON",
    };
    format!("{kind} at line {} column {}", e.line(), e.column())
}

/// The error for a non-2xx response: the provider's OAuth error body when it sent one.
pub(crate) fn error_from_response<B: AsRef<[u8]>>(resp: &Response<B>, now: SystemTime) -> Error {
    let status = resp.status();
    if status.is_redirection() {
        return Error::Redirect {
            status: status.as_u16(),
        };
    }
    let retry_after = retry_after(resp.headers(), now);
    let body = serde_json::from_slice::<ErrorResponse>(resp.body().as_ref())
        .ok()
        .or_else(|| bearer_error(resp.headers()));
    match body {
        Some(body) => Error::OAuth {
            status: status.as_u16(),
            response: sanitize(body),
            retry_after,
        },
        None => Error::Status {
            status: status.as_u16(),
            retry_after,
        },
    }
}

/// The `error` of a `WWW-Authenticate: Bearer error="..."` challenge (RFC 6750 §3).
fn bearer_error(headers: &HeaderMap) -> Option<ErrorResponse> {
    let v = headers.get(header::WWW_AUTHENTICATE)?.to_str().ok()?;
    let rest = v.trim_start();
    if !rest.get(..6)?.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let param = |name: &str| -> Option<String> {
        let key = format!("{name}=\"");
        let start = rest.find(&key)? + key.len();
        let end = rest[start..].find('"')?;
        Some(rest[start..start + end].to_owned())
    };
    let code = param("error")?;
    let mut e = ErrorResponse::new(ErrorCode::parse(&code));
    if let Some(d) = param("error_description") {
        e = e.with_description(d);
    }
    Some(e)
}

/// Bounds what a provider can put into our error messages (and so into logs).
fn sanitize(mut e: ErrorResponse) -> ErrorResponse {
    let clean = |s: &str, n: usize| -> String {
        s.chars()
            .filter(|c| c.is_ascii_graphic() || *c == ' ')
            .take(n)
            .collect()
    };
    if let ErrorCode::Other(code) = &e.error {
        e.error = ErrorCode::Other(clean(code, 64));
    }
    if let Some(d) = e.error_description.take() {
        e = e.with_description(d);
    }
    e.error_uri = e.error_uri.as_deref().map(|u| clean(u, 256));
    e
}

/// `Retry-After` as delta-seconds or an HTTP-date (RFC 9110 §10.2.3); dates are measured
/// against `now` (the injected clock). At most one day.
pub(crate) fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let v = headers.get(header::RETRY_AFTER)?.to_str().ok()?.trim();
    let d = if let Ok(secs) = v.parse::<u64>() {
        Duration::from_secs(secs)
    } else {
        let at = httpdate::parse_http_date(v).ok()?;
        at.duration_since(now).unwrap_or(Duration::ZERO)
    };
    Some(d.min(Duration::from_secs(86_400)))
}

/// The `max-age` of a `Cache-Control` header; `Some(0)` for `no-store` / `no-cache`.
pub(crate) fn max_age(headers: &HeaderMap) -> Option<Duration> {
    let mut found = None;
    for v in headers.get_all(header::CACHE_CONTROL) {
        let Ok(v) = v.to_str() else { continue };
        for directive in v.split(',') {
            let directive = directive.trim();
            let (name, value) = match directive.split_once('=') {
                Some((n, v)) => (n.trim(), Some(v.trim().trim_matches('"'))),
                None => (directive, None),
            };
            if name.eq_ignore_ascii_case("no-store") || name.eq_ignore_ascii_case("no-cache") {
                return Some(Duration::ZERO);
            }
            if name.eq_ignore_ascii_case("max-age")
                && let Some(secs) = value.and_then(|v| v.parse::<u64>().ok())
            {
                found = Some(Duration::from_secs(secs));
            }
        }
    }
    found
}

/// Whether the status asks the client to retry later (429, 503).
pub(crate) fn is_retryable(status: u16) -> bool {
    status == StatusCode::TOO_MANY_REQUESTS.as_u16()
        || status == StatusCode::SERVICE_UNAVAILABLE.as_u16()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    fn resp(status: u16, hs: &[(&'static str, &str)], body: &str) -> Response<Bytes> {
        let mut r = Response::new(Bytes::from(body.to_owned()));
        *r.status_mut() = StatusCode::from_u16(status).unwrap();
        *r.headers_mut() = headers(hs);
        r
    }

    #[test]
    fn cache_control_max_age() {
        assert_eq!(
            max_age(&headers(&[(
                "cache-control",
                "public, max-age=3600, must-revalidate"
            )])),
            Some(Duration::from_secs(3600))
        );
        assert_eq!(
            max_age(&headers(&[("cache-control", "Max-Age=\"60\"")])),
            Some(Duration::from_secs(60))
        );
        assert_eq!(
            max_age(&headers(&[
                ("cache-control", "max-age=60"),
                ("cache-control", "no-store")
            ])),
            Some(Duration::ZERO)
        );
        assert_eq!(max_age(&headers(&[("cache-control", "max-age=abc")])), None);
        assert_eq!(max_age(&headers(&[])), None);
    }

    #[test]
    fn retry_after_seconds_and_dates() {
        let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(
            retry_after(&headers(&[("retry-after", "2")]), now),
            Some(Duration::from_secs(2))
        );
        let later = httpdate::fmt_http_date(now + Duration::from_secs(90));
        assert_eq!(
            retry_after(&headers(&[("retry-after", &later)]), now),
            Some(Duration::from_secs(90))
        );
        let past = httpdate::fmt_http_date(now - Duration::from_secs(90));
        assert_eq!(
            retry_after(&headers(&[("retry-after", &past)]), now),
            Some(Duration::ZERO)
        );
        assert_eq!(retry_after(&headers(&[("retry-after", "soon")]), now), None);
        assert_eq!(
            retry_after(&headers(&[("retry-after", "99999999999")]), now),
            Some(Duration::from_secs(86_400))
        );
    }

    #[test]
    fn oauth_error_bodies_are_typed_and_sanitized() {
        let now = UNIX_EPOCH;
        let e = error_from_response(
            &resp(
                400,
                &[],
                r#"{"error":"invalid_grant","error_description":"code\nused \"twice\""}"#,
            ),
            now,
        );
        let body = e.oauth_error().unwrap();
        assert_eq!(body.error, ErrorCode::InvalidGrant);
        assert_eq!(body.error_description.as_deref(), Some("codeused twice"));
        assert_eq!(e.status(), Some(400));

        let e = error_from_response(&resp(502, &[], "<html>bad gateway</html>"), now);
        assert!(matches!(e, Error::Status { status: 502, .. }));

        let e = error_from_response(&resp(302, &[("location", "https://evil")], ""), now);
        assert!(matches!(e, Error::Redirect { status: 302 }));

        let e = error_from_response(
            &resp(
                401,
                &[(
                    "www-authenticate",
                    r#"Bearer realm="x", error="invalid_token", error_description="expired""#,
                )],
                "",
            ),
            now,
        );
        assert_eq!(e.oauth_error().unwrap().error, ErrorCode::InvalidToken);

        let long = format!(r#"{{"error":"{}\u0007"}}"#, "x".repeat(500));
        let e = error_from_response(&resp(400, &[], &long), now);
        assert_eq!(e.oauth_error().unwrap().error.as_str().len(), 64);
    }

    #[test]
    fn json_errors_do_not_echo_the_body() {
        let r = resp(200, &[], r#"{"secret-looking": "value""#);
        let e = parse_json::<serde_json::Value, _>(&r, UNIX_EPOCH, "token response").unwrap_err();
        assert!(!e.to_string().contains("secret-looking"), "{e}");
    }

    #[test]
    fn schemes() {
        let ok = |s: &str| check_scheme(&Url::parse(s).unwrap(), false).is_ok();
        assert!(ok("https://id.example.com"));
        assert!(ok("http://localhost:4000"));
        assert!(ok("http://127.0.0.1:8080/x"));
        assert!(ok("http://[::1]:8080/x"));
        assert!(!ok("http://id.example.com"));
        assert!(!ok("ftp://id.example.com"));
        assert!(check_scheme(&Url::parse("http://id.example.com").unwrap(), true).is_ok());
    }

    #[test]
    fn form_posts_are_urlencoded() {
        let url = Url::parse("https://id.example.com/token").unwrap();
        let r = post_form(&url, &[("a", "x y&z"), ("b", "é")], None).unwrap();
        assert_eq!(r.body(), b"a=x+y%26z&b=%C3%A9");
        assert_eq!(
            r.headers()[header::CONTENT_TYPE],
            "application/x-www-form-urlencoded"
        );
    }
}
