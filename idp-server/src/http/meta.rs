//! Discovery, JWKS and health.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use idp_core::ProviderMetadata;

use super::paths;
use crate::provider::Inner;

fn json_bytes(body: bytes::Bytes, cache: String) -> Response {
    let mut resp = body.into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Ok(v) = HeaderValue::from_str(&cache) {
        h.insert(header::CACHE_CONTROL, v);
    }
    resp
}

/// The discovery document of the implemented features, serialised once.
pub(crate) fn discovery_document(inner: &Inner) -> bytes::Bytes {
    let s = &inner.settings;
    let mut m = ProviderMetadata::new(s.issuer.clone());
    m.token_endpoint = Some(s.endpoint(paths::TOKEN));
    m.jwks_uri = Some(s.endpoint(paths::JWKS));
    m.introspection_endpoint = Some(s.endpoint(paths::INTROSPECT));
    m.revocation_endpoint = Some(s.endpoint(paths::REVOKE));
    m.scopes_supported = Some(s.scopes_supported.iter().map(String::from).collect());
    // No authorization endpoint yet, so no response type is supported.
    m.response_types_supported = Some(Vec::new());
    m.grant_types_supported = Some(vec!["client_credentials".into()]);
    let auth = vec![
        "client_secret_basic".to_owned(),
        "client_secret_post".to_owned(),
    ];
    m.token_endpoint_auth_methods_supported = Some(auth.clone());
    m.introspection_endpoint_auth_methods_supported = Some(auth.clone());
    m.revocation_endpoint_auth_methods_supported = Some(auth);
    m.subject_types_supported = Some(vec!["public".into()]);
    match serde_json::to_vec(&m) {
        Ok(v) => bytes::Bytes::from(v),
        Err(_) => bytes::Bytes::from_static(b"{}"),
    }
}

pub(crate) async fn discovery(State(inner): super::State) -> Response {
    json_bytes(inner.discovery.clone(), "public, max-age=3600".into())
}

pub(crate) async fn jwks(State(inner): super::State) -> Response {
    let snap = inner.keys.snapshot();
    json_bytes(
        snap.jwks_json.clone(),
        format!("public, max-age={}", inner.settings.jwks_max_age),
    )
}

pub(crate) async fn live() -> &'static str {
    "ok"
}

pub(crate) async fn ready(State(inner): super::State) -> Response {
    match inner.store.get_client("\u{0}readiness-probe").await {
        Ok(_) => "ok".into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            (StatusCode::SERVICE_UNAVAILABLE, "storage unavailable").into_response()
        }
    }
}
