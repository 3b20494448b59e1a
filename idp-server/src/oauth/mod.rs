//! The protocol endpoints, one module each: the authorization endpoint, the token
//! endpoint and its grants, introspection and revocation, userinfo, logout, discovery,
//! the JWKS and health; the device authorization endpoint and its verification page.

mod authorize;
mod client_auth;
mod device;
mod grants;
pub(crate) mod logout;
pub(crate) mod metadata;
mod token;
mod tokeninfo;
mod userinfo;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use http::{HeaderValue, Method, header};
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::RequestBodyTimeoutLayer;

use crate::issuer::paths;
use crate::metrics::RequestMetricsLayer;
use crate::web::App;

/// The largest request body any endpoint reads.
const BODY_LIMIT: usize = 64 * 1024;

/// CORS for the public documents (discovery, JWKS): readable from any origin. The answer
/// is the same for every origin and preflight, so there is no `Vary` to send.
fn public_cors() -> CorsLayer {
    CorsLayer::new()
        .allow_origin(AllowOrigin::any())
        .allow_methods([Method::GET])
        .vary([])
}

/// Every endpoint, relative to the issuer's path.
pub(crate) fn routes(app: Arc<App>) -> Router {
    let public = Router::new()
        .route(paths::DISCOVERY, get(metadata::discovery))
        .route(paths::AS_METADATA, get(metadata::discovery))
        .route(paths::JWKS, get(metadata::jwks))
        .layer(public_cors());
    // Endpoints a browser app may call directly, only from configured origins.
    let app_cors = crate::web::cors::browser_apis(&app.config);
    let browser_apis = Router::new()
        .route(paths::TOKEN, post(token::token))
        .route(
            paths::USERINFO,
            get(userinfo::userinfo_get).post(userinfo::userinfo_post),
        )
        .route(paths::REVOKE, post(tokeninfo::revoke))
        .layer(app_cors);
    let mut router = Router::new()
        .merge(public)
        .merge(browser_apis)
        .route(paths::AUTHORIZE, get(authorize::get).post(authorize::post))
        .route(
            paths::LOGOUT,
            get(logout::logout_get).post(logout::logout_post),
        )
        .route(paths::INTROSPECT, post(tokeninfo::introspect))
        .merge(crate::admin::routes())
        .merge(crate::account::settings::routes())
        .route(
            paths::DEVICE_AUTHORIZATION,
            post(device::device_authorization),
        )
        .route(paths::DEVICE, get(device::page_get).post(device::page_post))
        .route(paths::STYLESHEET, get(metadata::stylesheet))
        .route(paths::LIVE, get(metadata::live))
        .route(paths::READY, get(metadata::ready));
    if app.config.metrics() {
        router = router.route(paths::METRICS, get(metadata::metrics));
    }
    let mut router = router
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        // A body that trickles in is cut off; the handlers answer it as a body they could
        // not read (`400 invalid_request` in the endpoint's own shape).
        .layer(RequestBodyTimeoutLayer::new(
            app.config.request_body_timeout(),
        ))
        // JSON, JWKS and plain-text answers too, not only the pages.
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ));
    if app.issuer.is_https() {
        router = router.layer(SetResponseHeaderLayer::if_not_present(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000; includeSubDomains"),
        ));
    }
    // Outermost, so that every answer counts (also those of the layers above); the label
    // is the route template, `other` for a path without a route.
    router
        .layer(RequestMetricsLayer::new(Arc::clone(&app.metrics)))
        .with_state(app)
}

/// `/metrics` alone, for a listener of its own (`metrics_listen`).
pub(crate) fn metrics_routes(app: Arc<App>) -> Router {
    Router::new()
        .route(paths::METRICS, get(metadata::metrics))
        .with_state(app)
}

/// The RFC 8414 §3.1 metadata URL of an issuer with a path
/// (`/.well-known/oauth-authorization-server/idp`), which belongs at the root of the host;
/// empty for an issuer without a path.
pub(crate) fn root_routes(app: Arc<App>) -> Router {
    let path = app.issuer.path().to_owned();
    if path.is_empty() {
        return Router::new();
    }
    Router::new()
        .route(
            &format!("{}{path}", paths::AS_METADATA),
            get(metadata::discovery),
        )
        .layer(public_cors())
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .with_state(app)
}
