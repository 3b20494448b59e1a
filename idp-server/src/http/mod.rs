//! The provider's HTTP endpoints.

mod authorize;
pub(crate) mod error;
mod grants;
pub(crate) mod meta;
pub(crate) mod pages;
mod session_endpoints;
mod token;
mod tokeninfo;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, header};
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::set_header::SetResponseHeaderLayer;

use crate::http::error::OAuthError;
use crate::provider::{Inner, Provider};

/// Paths of the endpoints, relative to the issuer.
pub(crate) mod paths {
    pub(crate) const DISCOVERY: &str = "/.well-known/openid-configuration";
    pub(crate) const AS_METADATA: &str = "/.well-known/oauth-authorization-server";
    pub(crate) const JWKS: &str = "/.well-known/jwks.json";
    pub(crate) const AUTHORIZE: &str = "/oauth/authorize";
    pub(crate) const TOKEN: &str = "/oauth/token";
    pub(crate) const USERINFO: &str = "/oauth/userinfo";
    pub(crate) const LOGOUT: &str = "/oauth/logout";
    pub(crate) const INTROSPECT: &str = "/oauth/introspect";
    pub(crate) const REVOKE: &str = "/oauth/revoke";
    pub(crate) const LIVE: &str = "/health/live";
    pub(crate) const READY: &str = "/health/ready";

    /// Every path the provider answers.
    pub(crate) const ALL: [&str; 11] = [
        DISCOVERY,
        AS_METADATA,
        JWKS,
        AUTHORIZE,
        TOKEN,
        USERINFO,
        LOGOUT,
        INTROSPECT,
        REVOKE,
        LIVE,
        READY,
    ];
}

impl Provider {
    /// The provider's endpoints as an `axum::Router`, to serve alone or to `nest`/`merge`
    /// into an application. URLs in responses come from the configured issuer, so mounting
    /// under a prefix works when the issuer includes that prefix.
    pub fn router(&self) -> Router {
        let state = Arc::clone(&self.inner);
        let settings = &self.inner.settings;
        // Public documents: readable from any origin.
        let public_cors = CorsLayer::new()
            .allow_origin(AllowOrigin::any())
            .allow_methods([Method::GET]);
        let public = Router::new()
            .route(paths::DISCOVERY, get(meta::discovery))
            .route(paths::AS_METADATA, get(meta::discovery))
            .route(paths::JWKS, get(meta::jwks))
            .layer(public_cors);
        // Endpoints a browser app may call directly, only from configured origins.
        let origins: Vec<HeaderValue> = settings
            .cors_allowed_origins
            .iter()
            .filter_map(|o| HeaderValue::from_str(o).ok())
            .collect();
        let app_cors = CorsLayer::new()
            .allow_origin(AllowOrigin::list(origins))
            .allow_methods([Method::GET, Method::POST])
            .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE]);
        let browser_apis = Router::new()
            .route(paths::TOKEN, post(token::token))
            .route(
                paths::USERINFO,
                get(session_endpoints::userinfo_get).post(session_endpoints::userinfo_post),
            )
            .route(paths::REVOKE, post(tokeninfo::revoke))
            .layer(app_cors);
        let mut router = Router::new()
            .merge(public)
            .merge(browser_apis)
            .route(paths::AUTHORIZE, get(authorize::get).post(authorize::post))
            .route(
                paths::LOGOUT,
                get(session_endpoints::logout_get).post(session_endpoints::logout_post),
            )
            .route(paths::INTROSPECT, post(tokeninfo::introspect))
            .route(paths::LIVE, get(meta::live))
            .route(paths::READY, get(meta::ready))
            .layer(DefaultBodyLimit::max(64 * 1024));
        if settings.issuer.starts_with("https://") {
            router = router.layer(SetResponseHeaderLayer::if_not_present(
                header::STRICT_TRANSPORT_SECURITY,
                HeaderValue::from_static("max-age=31536000; includeSubDomains"),
            ));
        }
        router.with_state(state)
    }

    /// Routes that belong at the root of the host rather than under the issuer's path: for
    /// an issuer with a path (`https://example.com/idp`), the RFC 8414 §3.1 metadata URL
    /// `/.well-known/oauth-authorization-server/idp`. Merge it into the application's
    /// root router next to `nest("/idp", provider.router())`; it is empty for an issuer
    /// without a path. [`Provider::layer`] serves it by itself.
    pub fn root_router(&self) -> Router {
        let path = issuer_path(&self.inner.settings.issuer);
        if path.is_empty() {
            return Router::new();
        }
        Router::new()
            .route(
                &format!("{}{path}", paths::AS_METADATA),
                get(meta::discovery),
            )
            .layer(
                CorsLayer::new()
                    .allow_origin(AllowOrigin::any())
                    .allow_methods([Method::GET]),
            )
            .with_state(Arc::clone(&self.inner))
    }
}

/// The issuer's path without a trailing slash (`""` at the root).
pub(crate) fn issuer_path(issuer: &str) -> String {
    url::Url::parse(issuer)
        .map(|u| u.path().trim_end_matches('/').to_owned())
        .unwrap_or_default()
}

pub(crate) type State = axum::extract::State<Arc<Inner>>;

/// Decodes an `application/x-www-form-urlencoded` body into pairs.
pub(crate) fn form_pairs(
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<Vec<(String, String)>, OAuthError> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let mime = ct.split(';').next().unwrap_or("").trim();
    if !mime.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
        return Err(OAuthError::invalid_request(
            "the body must be application/x-www-form-urlencoded",
        ));
    }
    if std::str::from_utf8(body).is_err() {
        return Err(OAuthError::invalid_request("the body is not UTF-8"));
    }
    Ok(decode_pairs(body))
}

/// Decodes `application/x-www-form-urlencoded` pairs (a query string or a form body).
pub(crate) fn decode_pairs(encoded: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(encoded)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// The single value of `name`; `invalid_request` if it is repeated.
pub(crate) fn single<'a>(
    pairs: &'a [(String, String)],
    name: &str,
) -> Result<Option<&'a str>, OAuthError> {
    let mut it = pairs.iter().filter(|(k, _)| k == name);
    let first = it.next().map(|(_, v)| v.as_str());
    if it.next().is_some() {
        return Err(OAuthError::invalid_request(format!(
            "parameter {name} given more than once"
        )));
    }
    Ok(first.filter(|v| !v.is_empty()))
}
