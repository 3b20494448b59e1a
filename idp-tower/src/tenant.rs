//! The tenant guard: [`TenantGuardLayer`] (configuration), [`TenantGuard`] (the service),
//! [`TenantGuardFuture`] (its response future) and [`Tenant`], what it leaves in the request's
//! extensions.
//!
//! The example that builds a stack and asserts the status codes is on [`TenantGuardLayer`],
//! where rustdoc shows it. The parsers (`tenant_from_host`, `tenant_from_header`) are pure
//! functions over `http` types, tested at the bottom of this file.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::header::{HOST, HeaderName};
use http::{HeaderMap, Request, Response, Uri};
use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;

use crate::Error;
use crate::challenge::{AuthState, Rejection};

/// The longest host name (RFC 1035 §2.3.4, without the trailing dot).
const MAX_HOST_LEN: usize = 253;
/// The longest label of a host name (RFC 1035 §2.3.4).
const MAX_LABEL_LEN: usize = 63;
/// The longest `Host` value looked at: a host, its trailing dot, `:` and a five-digit port.
const MAX_AUTHORITY_LEN: usize = MAX_HOST_LEN + 1 + 6;
/// The longest tenant taken from a header.
const MAX_HEADER_TENANT_LEN: usize = 256;

/// Requires the verified token to be for the tenant the request is addressed to: the
/// `tenant` claim of the token that [`JwtAuthLayer`](crate::JwtAuthLayer) verified must be
/// the tenant named by the request's host or by a header, chosen at construction.
///
/// - [`from_host`](Self::from_host): the first label of the host, `acme` for
///   `acme.app.example.com`; [`from_host_under`](Self::from_host_under) also requires the
///   rest of the host to be the given parent domain.
/// - [`from_header`](Self::from_header): the whole value of a header, `X-Tenant-Id: acme`.
///
/// On success the tenant goes into the request's extensions as a [`Tenant`] (with the
/// `axum` feature, [`Tenant`] is also an extractor), and the inner service is called.
///
/// | request | response |
/// |---|---|
/// | the token's `tenant` is the request's tenant | the inner service's |
/// | the token's `tenant` is another tenant, or the token has none | `403`, `WWW-Authenticate: Bearer realm="…", error="insufficient_scope", error_description="token not valid for this tenant"` |
/// | no host or header, repeated, malformed; an IP address or a host without a tenant label; a host not under the parent domain | `400`, `error="invalid_request"` with a short description |
/// | anonymous (the auth layer [allows it](crate::JwtAuthLayerBuilder::allow_anonymous)), tenant source well-formed | `401`, `WWW-Authenticate: Bearer realm="…"` |
/// | no [`JwtAuthLayer`](crate::JwtAuthLayer) in front | `500`, no detail: a server bug, logged as an error |
///
/// The checks run in this order: the wiring (`500`), the tenant source (`400`: a request that
/// names no tenant is malformed whoever sends it), then the token (`401`, `403`). A host that
/// is not under the parent domain is a `400`, not a `403`: no token could make it succeed.
///
/// # Comparison
///
/// Host names are case-insensitive, so a tenant taken from the host matches the claim
/// ignoring ASCII case (`Acme` in the token matches `acme.app.example.com`). A tenant taken
/// from a header is an opaque value and must equal the claim byte for byte. Either way the
/// [`Tenant`] put into the extensions is the token's claim, as the provider spelled it.
///
/// # Which host
///
/// The authority of the request URI (HTTP/2's `:authority`, or an HTTP/1 absolute-form
/// target) or else the `Host` header (HTTP/1). When both are present they must name the same
/// host; more than one `Host` header is refused (RFC 9112 §3.2). The host is lower-cased, its
/// port and one trailing dot are removed; then it must be a DNS name: labels of 1 to 63
/// letters, digits and hyphens (not at either end), 253 characters at most. IP literals
/// (`127.0.0.1`, `[::1]`, a numeric last label) are refused; punycode labels (`xn--…`) are
/// kept as they are. Without a parent domain the host needs at least two labels
/// (`localhost` names no tenant, `acme.localhost` does); with one, exactly one label before
/// it.
///
/// `Forwarded` and `X-Forwarded-Host` are not read: any client can send them. Behind a proxy
/// that rewrites `Host`, have it pass the original host on, or set a header of its own and
/// use [`from_header`](Self::from_header) (and make sure the proxy overwrites that header).
///
/// Put it *inside* the auth layer, like [`RequireScopesLayer`](crate::RequireScopesLayer).
///
/// # Example
///
/// ```
/// # use aws_lc_rs::{rand::SystemRandom, signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING}};
/// # use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD as B64};
/// use std::convert::Infallible;
/// use http::{Request, Response, StatusCode};
/// use idp_tower::idp_core::{Algorithm, Jwk, JwkSet, ValidationPolicy, VerificationKeys};
/// use idp_tower::{JwtAuthLayer, Tenant, TenantGuardLayer};
/// use tower::{Layer, ServiceBuilder, ServiceExt, service_fn};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let key = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING)?;
/// # let point = key.public_key().as_ref();
/// # let jwk = Jwk::ec("P-256", &point[1..33], &point[33..65]).with_kid("k1").for_signing(Algorithm::ES256);
/// # let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs();
/// # let input = format!("{}.{}",
/// #     B64.encode(r#"{"alg":"ES256","kid":"k1"}"#),
/// #     B64.encode(serde_json::json!({"iss": "https://id.example.com", "sub": "road",
/// #         "aud": "orders-api", "iat": now, "exp": now + 300, "jti": "j1",
/// #         "client_id": "acme-web", "scope": "read:orders", "tenant": "acme"}).to_string()));
/// # let sig = key.sign(&SystemRandom::new(), input.as_bytes()).map_err(|_| "sign")?;
/// # let acme_token = format!("{input}.{}", B64.encode(sig.as_ref()));
/// let handler = service_fn(|req: Request<String>| async move {
///     let tenant = req.extensions().get::<Tenant>().map(Tenant::as_str).unwrap_or_default();
///     Ok::<_, Infallible>(Response::new(format!("orders of {tenant}")))
/// });
/// let policy = ValidationPolicy::builder()
///     .issuer("https://id.example.com")
///     .audience("orders-api")
///     .algorithms([Algorithm::ES256])
///     .build()?;
/// let keys = VerificationKeys::from_jwks(&JwkSet::new(vec![jwk]));
/// let auth = JwtAuthLayer::keys(policy, keys)
///     .build()?;
/// let app = ServiceBuilder::new()
///     .layer(auth)
///     .layer(TenantGuardLayer::from_host_under("app.example.com")?)
///     .service(handler.clone());
/// let request = |host: &str| {
///     Request::get("/orders")
///         .header("host", host)
///         .header("authorization", format!("Bearer {acme_token}"))
///         .body(String::new())
/// };
///
/// // `acme_token` carries `"tenant": "acme"`.
/// let res = app.clone().oneshot(request("acme.app.example.com")?).await?;
/// assert_eq!(res.status(), StatusCode::OK);
/// assert_eq!(res.body(), "orders of acme");
///
/// let res = app.clone().oneshot(request("globex.app.example.com")?).await?;
/// assert_eq!(res.status(), StatusCode::FORBIDDEN);
/// assert_eq!(
///     res.headers()["www-authenticate"],
///     r#"Bearer realm="orders-api", error="insufficient_scope", error_description="token not valid for this tenant""#
/// );
///
/// // Not a host of this API.
/// let res = app.oneshot(request("acme.evil.example")?).await?;
/// assert_eq!(res.status(), StatusCode::BAD_REQUEST);
///
/// // The guard alone, without the auth layer in front: a server bug.
/// let misconfigured = TenantGuardLayer::from_host().layer(handler);
/// let res = misconfigured.oneshot(request("acme.app.example.com")?).await?;
/// assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct TenantGuardLayer {
    source: Source,
}

/// Where the request's tenant comes from.
#[derive(Debug, Clone)]
enum Source {
    /// The first label of the host; with a parent domain (lower-case, no trailing dot), the
    /// only label before it.
    Host { parent: Option<Arc<str>> },
    /// The value of this header.
    Header(HeaderName),
}

impl TenantGuardLayer {
    /// The tenant is the first label of the request's host: `acme` for
    /// `acme.app.example.com` or `acme.localhost:3000`. Any host with at least two labels is
    /// accepted; use [`from_host_under`](Self::from_host_under) where the API answers only
    /// under one domain.
    pub fn from_host() -> Self {
        Self {
            source: Source::Host { parent: None },
        }
    }

    /// The tenant is the one label before `parent` in the request's host: `acme` for
    /// `acme.app.example.com` under `app.example.com`. Other hosts, `parent` itself and
    /// deeper names (`x.acme.app.example.com`) are refused with `400`.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] if `parent` is not a DNS name (the rules of the host, on the
    /// layer's documentation; case and one trailing dot do not matter).
    pub fn from_host_under(parent: &str) -> Result<Self, Error> {
        let parent = normalize_host(parent)
            .map_err(|_| Error::Config("the parent domain is not a DNS name"))?;
        Ok(Self {
            source: Source::Host {
                parent: Some(Arc::from(parent)),
            },
        })
    }

    /// The tenant is the value of the header `name` (case-insensitive), e.g. `x-tenant-id`.
    /// The value must be present once, 1 to 256 visible ASCII characters.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] if `name` is not a valid header name.
    pub fn from_header(name: &str) -> Result<Self, Error> {
        let name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| Error::Config("invalid tenant header name"))?;
        Ok(Self {
            source: Source::Header(name),
        })
    }
}

impl<S> Layer<S> for TenantGuardLayer {
    type Service = TenantGuard<S>;

    fn layer(&self, inner: S) -> Self::Service {
        TenantGuard::new(inner, self.clone())
    }
}

/// The tenant a request was admitted for, in its extensions once [`TenantGuard`] matched it
/// with the verified token: the token's `tenant` claim.
///
/// Only the guard creates it, so its presence proves the check ran. With the `axum`
/// feature it is an extractor, which answers `500` when the guard is missing (a server bug)
/// and `401` for an anonymous request.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Tenant(String);

impl Tenant {
    /// The tenant id.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Tenant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Answers `403` unless the verified token is for the request's tenant; built by
/// [`TenantGuardLayer`], which documents the responses.
#[derive(Debug, Clone)]
pub struct TenantGuard<S> {
    inner: S,
    layer: TenantGuardLayer,
}

impl<S> TenantGuard<S> {
    /// Wraps `inner` with the check of `layer` (the same as `layer.layer(inner)`).
    pub fn new(inner: S, layer: TenantGuardLayer) -> Self {
        Self { inner, layer }
    }

    /// The layer (configuration) this service was built with.
    pub fn layer(&self) -> &TenantGuardLayer {
        &self.layer
    }

    /// The inner service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The inner service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// Consumes `self`, returning the inner service.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

/// The decision for a request, from its URI, its headers and what the auth layer left in its
/// extensions.
fn check_tenant(
    source: &Source,
    state: Option<&AuthState>,
    uri: &Uri,
    headers: &HeaderMap,
) -> Result<Tenant, (Rejection, Option<Arc<str>>)> {
    let Some(state) = state else {
        tracing::error!(
            "a tenant check ran without JwtAuthLayer in front of it; answering 500 (put the \
             tenant guard inside the auth layer)"
        );
        return Err((Rejection::Misconfigured, None));
    };
    let realm = state.realm();
    let reject = |r: Rejection| Err((r, Some(realm.clone())));
    let wanted = match source {
        Source::Host { parent } => {
            tenant_from_host(uri, headers, parent.as_deref()).map(Wanted::Label)
        }
        Source::Header(name) => tenant_from_header(headers, name).map(Wanted::Exact),
    };
    let wanted = match wanted {
        Ok(w) => w,
        Err(why) => {
            tracing::debug!(reason = why, "no tenant in the request");
            return reject(Rejection::InvalidRequest(why));
        }
    };
    let claim = match state {
        AuthState::Anonymous { .. } => return reject(Rejection::Missing),
        AuthState::Verified { tenant, .. } => tenant.as_deref(),
    };
    match claim {
        Some(claim) if wanted.matches(claim) => Ok(Tenant(claim.to_owned())),
        Some(claim) => {
            tracing::debug!(
                token = claim,
                request = wanted.as_str(),
                "token for another tenant"
            );
            reject(Rejection::WrongTenant)
        }
        None => {
            tracing::debug!(request = wanted.as_str(), "token without a tenant");
            reject(Rejection::WrongTenant)
        }
    }
}

/// The tenant a request names, and how a claim is compared with it.
#[derive(Debug, PartialEq, Eq)]
enum Wanted<'a> {
    /// From the host, lower-cased: compared ignoring ASCII case.
    Label(String),
    /// From a header: compared byte for byte.
    Exact(&'a str),
}

impl Wanted<'_> {
    fn matches(&self, claim: &str) -> bool {
        match self {
            Self::Label(label) => claim.eq_ignore_ascii_case(label),
            Self::Exact(value) => claim == *value,
        }
    }

    fn as_str(&self) -> &str {
        match self {
            Self::Label(label) => label,
            Self::Exact(value) => value,
        }
    }
}

/// The tenant label of the request's host, lower case (see [`TenantGuardLayer`], "Which
/// host").
fn tenant_from_host(
    uri: &Uri,
    headers: &HeaderMap,
    parent: Option<&str>,
) -> Result<String, &'static str> {
    let mut values = headers.get_all(HOST).iter();
    let header = values.next();
    if values.next().is_some() {
        return Err("more than one Host header");
    }
    let header = match header {
        Some(v) => Some(normalize_host(
            v.to_str().map_err(|_| "malformed Host header")?,
        )?),
        None => None,
    };
    let host = match (uri.authority(), header) {
        (Some(authority), header) => {
            let host = normalize_host(authority.as_str())?;
            if header.is_some_and(|h| h != host) {
                return Err("Host header differs from the request target");
            }
            host
        }
        (None, Some(header)) => header,
        (None, None) => return Err("no Host header"),
    };
    tenant_label(host, parent)
}

/// The tenant label of a normalized host: the first of at least two labels, or the one
/// label before `parent`.
fn tenant_label(mut host: String, parent: Option<&str>) -> Result<String, &'static str> {
    let end = match parent {
        None => host.find('.').ok_or("no tenant label in the host")?,
        Some(parent) => {
            let label = host
                .strip_suffix(parent)
                .and_then(|h| h.strip_suffix('.'))
                .ok_or("host not under the tenant domain")?;
            // `label` is non-empty: a normalized host has no empty label.
            if label.contains('.') {
                return Err("host not under the tenant domain");
            }
            label.len()
        }
    };
    host.truncate(end);
    Ok(host)
}

/// A `Host` value (or a URI authority, or a configured domain) as a lower-case DNS name
/// without port or trailing dot; IP literals and anything else that is not a host name are
/// refused. Linear in the length of the input, which is capped first.
fn normalize_host(raw: &str) -> Result<String, &'static str> {
    if raw.len() > MAX_AUTHORITY_LEN {
        return Err("host too long");
    }
    if raw.starts_with('[') {
        return Err("IP address host");
    }
    let host = match raw.rsplit_once(':') {
        Some((host, port)) => {
            if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
                return Err("malformed host");
            }
            port.parse::<u16>().map_err(|_| "malformed host")?;
            host
        }
        None => raw,
    };
    let host = host.strip_suffix('.').unwrap_or(host);
    if host.is_empty() {
        return Err("malformed host");
    }
    if host.len() > MAX_HOST_LEN {
        return Err("host too long");
    }
    let host = host.to_ascii_lowercase();
    let mut last = "";
    for label in host.split('.') {
        if !is_ldh_label(label) {
            return Err("malformed host");
        }
        last = label;
    }
    // A numeric last label makes the name an IPv4 address to URL parsers (WHATWG URL "ends
    // in a number": `127.0.0.1`, `0x7f.1`, `2130706433`); no top-level domain is numeric.
    let number = last.strip_prefix("0x").map_or_else(
        || last.bytes().all(|b| b.is_ascii_digit()),
        |hex| hex.bytes().all(|b| b.is_ascii_hexdigit()),
    );
    if number {
        return Err("IP address host");
    }
    Ok(host)
}

/// A host-name label (RFC 1123 §2.1), lower case: 1 to 63 letters, digits and hyphens, no
/// hyphen at either end.
fn is_ldh_label(label: &str) -> bool {
    let bytes = label.as_bytes();
    matches!(bytes.len(), 1..=MAX_LABEL_LEN)
        && bytes
            .iter()
            .all(|&b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && bytes.first() != Some(&b'-')
        && bytes.last() != Some(&b'-')
}

/// The tenant header's value: present once, 1 to 256 visible ASCII characters.
fn tenant_from_header<'h>(
    headers: &'h HeaderMap,
    name: &HeaderName,
) -> Result<&'h str, &'static str> {
    let mut values = headers.get_all(name).iter();
    let Some(value) = values.next() else {
        return Err("no tenant header");
    };
    if values.next().is_some() {
        return Err("more than one tenant header");
    }
    let bytes = value.as_bytes();
    if !matches!(bytes.len(), 1..=MAX_HEADER_TENANT_LEN) || !bytes.iter().all(u8::is_ascii_graphic)
    {
        return Err("malformed tenant header");
    }
    value.to_str().map_err(|_| "malformed tenant header")
}

impl<S, ReqB, ResB> Service<Request<ReqB>> for TenantGuard<S>
where
    S: Service<Request<ReqB>, Response = Response<ResB>>,
    ResB: Default,
{
    type Response = Response<ResB>;
    type Error = S::Error;
    type Future = TenantGuardFuture<S::Future, ResB>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<ReqB>) -> Self::Future {
        let decision = check_tenant(
            &self.layer.source,
            req.extensions().get::<AuthState>(),
            req.uri(),
            req.headers(),
        );
        match decision {
            Ok(tenant) => {
                req.extensions_mut().insert(tenant);
                TenantGuardFuture {
                    state: State::Calling {
                        future: self.inner.call(req),
                    },
                }
            }
            Err((rejection, realm)) => TenantGuardFuture {
                state: State::Rejected {
                    response: Some(rejection.into_response(realm.as_deref())),
                },
            },
        }
    }
}

pin_project! {
    /// Response future of [`TenantGuard`].
    pub struct TenantGuardFuture<F, B> {
        #[pin]
        state: State<F, B>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<F, B> {
        Calling {
            #[pin]
            future: F,
        },
        Rejected {
            response: Option<Response<B>>,
        },
    }
}

impl<F, B, E> Future for TenantGuardFuture<F, B>
where
    F: Future<Output = Result<Response<B>, E>>,
    B: Default,
{
    type Output = Result<Response<B>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().state.project() {
            StateProj::Calling { future } => future.poll(cx),
            StateProj::Rejected { response } => Poll::Ready(Ok(response
                .take()
                // Polled after completion: answer rather than panic.
                .unwrap_or_else(|| Rejection::Misconfigured.into_response(None)))),
        }
    }
}

impl<F, B> fmt::Debug for TenantGuardFuture<F, B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match &self.state {
            State::Calling { .. } => "calling",
            State::Rejected { .. } => "rejected",
        };
        f.debug_struct("TenantGuardFuture")
            .field("state", &state)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn headers(name: &str, values: &[&[u8]]) -> HeaderMap {
        let mut h = HeaderMap::new();
        let name = HeaderName::from_bytes(name.as_bytes()).unwrap();
        for v in values {
            h.append(name.clone(), HeaderValue::from_bytes(v).unwrap());
        }
        h
    }

    /// The tenant of a request to `/` with these `Host` headers.
    fn from_host(hosts: &[&str], parent: Option<&str>) -> Result<String, &'static str> {
        let h = headers(
            "host",
            &hosts.iter().map(|h| h.as_bytes()).collect::<Vec<_>>(),
        );
        tenant_from_host(&Uri::from_static("/"), &h, parent)
    }

    fn host(h: &str) -> Result<String, &'static str> {
        from_host(&[h], None)
    }

    #[test]
    fn first_label_of_the_host() {
        assert_eq!(host("acme.app.example.com").unwrap(), "acme");
        assert_eq!(host("acme.localhost").unwrap(), "acme");
        assert_eq!(host("a-1.example.com").unwrap(), "a-1");
        assert_eq!(host("0day.example.com").unwrap(), "0day");
    }

    #[test]
    fn ports_are_stripped() {
        assert_eq!(host("acme.example.com:8443").unwrap(), "acme");
        assert_eq!(host("acme.localhost:3000").unwrap(), "acme");
        assert_eq!(host("acme.example.com:65535").unwrap(), "acme");
        for bad in [
            "acme.example.com:",
            "acme.example.com:65536",
            "acme.example.com:99999999999999999999",
            "acme.example.com:80a",
            "acme.example.com:+80",
            "acme.example.com:80:80",
            "acme.example.com: 80",
        ] {
            assert_eq!(host(bad), Err("malformed host"), "{bad}");
        }
    }

    #[test]
    fn hosts_are_lower_cased() {
        assert_eq!(host("ACME.App.Example.COM").unwrap(), "acme");
        assert_eq!(host("AcMe.example.com:80").unwrap(), "acme");
        let w = Wanted::Label(host("ACME.example.com").unwrap());
        assert!(w.matches("acme") && w.matches("Acme") && w.matches("ACME"));
        assert!(!w.matches("acme2") && !w.matches("acm"));
    }

    #[test]
    fn ip_literals_are_refused() {
        for ip in [
            "127.0.0.1",
            "127.0.0.1:8080",
            "10.0.0.1.",
            "0x7f.1",
            "acme.0x7F",
            "acme.123",
            "2130706433",
            "[::1]",
            "[::1]:8080",
            "[2001:db8::1]",
            "[v1.x]",
        ] {
            assert_eq!(host(ip), Err("IP address host"), "{ip}");
        }
        // An unbracketed IPv6 address is no host at all.
        for bad in ["::1", "2001:db8::1", "fe80::1%eth0"] {
            assert!(host(bad).is_err(), "{bad}");
        }
        // Digits in a label other than the last are fine.
        assert_eq!(host("123.example.com").unwrap(), "123");
        assert_eq!(host("acme.0xzz").unwrap(), "acme");
    }

    #[test]
    fn trailing_dots() {
        assert_eq!(host("acme.example.com.").unwrap(), "acme");
        assert_eq!(host("acme.example.com.:443").unwrap(), "acme");
        for bad in ["acme.example.com..", ".", "..", "acme..com", ".acme.com"] {
            assert_eq!(host(bad), Err("malformed host"), "{bad}");
        }
    }

    #[test]
    fn empty_and_malformed_labels() {
        for bad in [
            "",
            ":443",
            "-acme.example.com",
            "acme-.example.com",
            "ac_me.example.com",
            "ac me.example.com",
            "user@acme.example.com",
            "acme.example.com/x",
            "acme.example.com\t",
            "*.example.com",
        ] {
            assert_eq!(host(bad), Err("malformed host"), "{bad:?}");
        }
        assert_eq!(
            normalize_host("é.example.com"),
            Err("malformed host"),
            "not ASCII (punycode it)"
        );
        assert_eq!(host("localhost"), Err("no tenant label in the host"));
        assert_eq!(host("localhost:3000"), Err("no tenant label in the host"));
    }

    #[test]
    fn punycode_stays_as_is() {
        assert_eq!(host("xn--bcher-kva.example.com").unwrap(), "xn--bcher-kva");
        assert_eq!(host("XN--BCHER-KVA.example.com").unwrap(), "xn--bcher-kva");
    }

    #[test]
    fn length_limits() {
        let label63 = "a".repeat(63);
        assert_eq!(
            host(&format!("{label63}.example.com")).unwrap(),
            label63.as_str()
        );
        assert_eq!(
            host(&format!("{}.example.com", "a".repeat(64))),
            Err("malformed host")
        );
        // 253 characters: four labels of 62 and one of 1, with dots.
        let max = format!("{l}.{l}.{l}.{l}", l = "a".repeat(62)) + ".b";
        assert_eq!(max.len(), 253);
        assert_eq!(host(&max).unwrap(), "a".repeat(62));
        assert_eq!(host(&format!("{max}.:65535")).unwrap(), "a".repeat(62));
        assert_eq!(host(&format!("a{max}")), Err("host too long"));
        // Far too long: refused before any parsing.
        assert_eq!(host(&"a.".repeat(50_000)), Err("host too long"));
        assert_eq!(host(&":".repeat(50_000)), Err("host too long"));
    }

    #[test]
    fn parent_domain() {
        let under = |h: &str| from_host(&[h], Some("app.example.com"));
        assert_eq!(under("acme.app.example.com").unwrap(), "acme");
        assert_eq!(under("ACME.APP.EXAMPLE.COM.:443").unwrap(), "acme");
        for bad in [
            "app.example.com",
            "acme.example.com",
            "acme.app.example.org",
            "acmeapp.example.com",
            "x.acme.app.example.com",
            "acme.app.example.com.evil.net",
        ] {
            assert_eq!(under(bad), Err("host not under the tenant domain"), "{bad}");
        }
    }

    #[test]
    fn configured_parent_domains() {
        let parent = |p: &str| match TenantGuardLayer::from_host_under(p).map(|l| l.source) {
            Ok(Source::Host { parent: Some(p) }) => Ok(p.to_string()),
            Ok(other) => panic!("{other:?}"),
            Err(e) => Err(e.to_string()),
        };
        assert_eq!(parent("App.Example.com.").unwrap(), "app.example.com");
        assert_eq!(parent("localhost").unwrap(), "localhost");
        for bad in ["", ".", "127.0.0.1", "[::1]", "a..b", "-a.com", "a b.com"] {
            assert!(parent(bad).is_err(), "{bad:?}");
        }
        assert!(TenantGuardLayer::from_header("x-tenant-id").is_ok());
        assert!(TenantGuardLayer::from_header("X-Tenant-Id").is_ok());
        assert!(TenantGuardLayer::from_header("x tenant").is_err());
        assert!(TenantGuardLayer::from_header("").is_err());
    }

    #[test]
    fn host_header_and_authority() {
        let uri = Uri::from_static("https://acme.example.com/orders");
        let none = HeaderMap::new();
        // HTTP/2 (`:authority`), or an absolute-form HTTP/1 target.
        assert_eq!(tenant_from_host(&uri, &none, None).unwrap(), "acme");
        // Both: the same host (case, port and trailing dot aside), or a refusal.
        for same in [
            "acme.example.com",
            "ACME.example.com.",
            "acme.example.com:443",
        ] {
            let h = headers("host", &[same.as_bytes()]);
            assert_eq!(tenant_from_host(&uri, &h, None).unwrap(), "acme");
        }
        let h = headers("host", &[b"globex.example.com"]);
        assert_eq!(
            tenant_from_host(&uri, &h, None),
            Err("Host header differs from the request target")
        );
        // Neither.
        assert_eq!(
            tenant_from_host(&Uri::from_static("/orders"), &none, None),
            Err("no Host header")
        );
        // Repeated, or not text.
        assert_eq!(
            from_host(&["acme.example.com", "acme.example.com"], None),
            Err("more than one Host header")
        );
        let h = headers("host", &[b"acme\xff.example.com"]);
        assert_eq!(
            tenant_from_host(&Uri::from_static("/"), &h, None),
            Err("malformed Host header")
        );
        // A URI authority with credentials is no host.
        let uri = Uri::from_static("https://user:pw@acme.example.com/");
        assert!(tenant_from_host(&uri, &none, None).is_err());
    }

    #[test]
    fn tenant_header() {
        let name = HeaderName::from_static("x-tenant-id");
        let get = |values: &[&[u8]]| {
            tenant_from_header(&headers("x-tenant-id", values), &name).map(str::to_owned)
        };
        assert_eq!(get(&[b"acme"]).unwrap(), "acme");
        assert_eq!(get(&[b"Acme-Corp_1:eu"]).unwrap(), "Acme-Corp_1:eu");
        assert_eq!(get(&[]), Err("no tenant header"));
        assert_eq!(get(&[b"a", b"b"]), Err("more than one tenant header"));
        let long = "a".repeat(MAX_HEADER_TENANT_LEN);
        assert_eq!(get(&[long.as_bytes()]).unwrap(), long);
        let too_long = "a".repeat(MAX_HEADER_TENANT_LEN + 1);
        for bad in [
            &b""[..],
            b"ac me",
            b"acme\t",
            b"\xc3\xa9",
            too_long.as_bytes(),
        ] {
            assert_eq!(get(&[bad]), Err("malformed tenant header"), "{bad:?}");
        }
        // Compared exactly.
        let w = Wanted::Exact("acme");
        assert!(w.matches("acme") && !w.matches("Acme") && !w.matches("acme "));
    }

    #[test]
    fn decisions() {
        let realm: Arc<str> = Arc::from("api");
        let verified = |t: Option<&str>| AuthState::Verified {
            realm: realm.clone(),
            scope: "read".parse().unwrap(),
            tenant: t.map(str::to_owned),
        };
        let source = Source::Host { parent: None };
        let uri = Uri::from_static("/");
        let acme = headers("host", &[b"acme.example.com"]);
        let check = |state: Option<&AuthState>, h: &HeaderMap| {
            check_tenant(&source, state, &uri, h).map_err(|(r, _)| r)
        };
        assert_eq!(
            check(Some(&verified(Some("acme"))), &acme).unwrap(),
            Tenant("acme".into())
        );
        // The claim's spelling is kept.
        assert_eq!(
            check(Some(&verified(Some("Acme"))), &acme)
                .unwrap()
                .as_str(),
            "Acme"
        );
        assert_eq!(
            check(Some(&verified(Some("globex"))), &acme),
            Err(Rejection::WrongTenant)
        );
        assert_eq!(
            check(Some(&verified(Some(""))), &acme),
            Err(Rejection::WrongTenant)
        );
        assert_eq!(
            check(Some(&verified(None)), &acme),
            Err(Rejection::WrongTenant)
        );
        assert_eq!(
            check(
                Some(&AuthState::Anonymous {
                    realm: realm.clone()
                }),
                &acme
            ),
            Err(Rejection::Missing)
        );
        assert_eq!(check(None, &acme), Err(Rejection::Misconfigured));
        // The tenant source is checked before the token.
        let none = HeaderMap::new();
        assert_eq!(
            check(Some(&verified(Some("acme"))), &none),
            Err(Rejection::InvalidRequest("no Host header"))
        );
        assert_eq!(
            check(
                Some(&AuthState::Anonymous {
                    realm: realm.clone()
                }),
                &none
            ),
            Err(Rejection::InvalidRequest("no Host header"))
        );
        // ... and after the wiring.
        assert_eq!(check(None, &none), Err(Rejection::Misconfigured));
    }
}
