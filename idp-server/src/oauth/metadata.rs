//! Discovery, JWKS and health.

use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use idp_core::ProviderMetadata;

use crate::issuer::{Issuer, paths};
use crate::state::State;
use crate::web::AppState;

/// A JSON document rendered once, with its `Cache-Control` (also built once).
fn json_bytes(body: bytes::Bytes, cache: HeaderValue) -> Response {
    let mut resp = body.into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    h.insert(header::CACHE_CONTROL, cache);
    resp
}

/// The `Cache-Control` of the JWKS: `max-age` from the configuration.
pub(crate) fn jwks_cache_control(max_age_secs: u64) -> HeaderValue {
    HeaderValue::from_str(&format!("public, max-age={max_age_secs}"))
        .unwrap_or_else(|_| HeaderValue::from_static("public, max-age=300"))
}

/// The discovery document of the implemented features, serialised once when the provider
/// is built.
pub(crate) fn discovery_document(state: &State) -> bytes::Bytes {
    let s: &Issuer = &state.issuer;
    let mut m = ProviderMetadata::new(s.as_str().to_owned());
    m.authorization_endpoint = Some(s.endpoint(paths::AUTHORIZE));
    m.token_endpoint = Some(s.endpoint(paths::TOKEN));
    m.userinfo_endpoint = Some(s.endpoint(paths::USERINFO));
    m.jwks_uri = Some(s.endpoint(paths::JWKS));
    m.end_session_endpoint = Some(s.endpoint(paths::LOGOUT));
    m.introspection_endpoint = Some(s.endpoint(paths::INTROSPECT));
    m.revocation_endpoint = Some(s.endpoint(paths::REVOKE));
    m.device_authorization_endpoint = Some(s.endpoint(paths::DEVICE_AUTHORIZATION));
    m.scopes_supported = Some(state.scopes_supported.iter().map(String::from).collect());
    m.response_types_supported = Some(vec!["code".into()]);
    m.response_modes_supported = Some(vec!["query".into()]);
    m.grant_types_supported = Some(vec![
        "authorization_code".into(),
        "refresh_token".into(),
        "client_credentials".into(),
        idp_core::GrantType::DeviceCode.as_str().into(),
    ]);
    let auth = vec![
        "client_secret_basic".to_owned(),
        "client_secret_post".to_owned(),
    ];
    let mut token_auth = auth.clone();
    token_auth.push("none".into());
    m.token_endpoint_auth_methods_supported = Some(token_auth);
    m.introspection_endpoint_auth_methods_supported = Some(auth.clone());
    // Public clients revoke their own tokens at logout (RFC 7009 §2.1); only confidential
    // clients may introspect.
    let mut revoke_auth = auth;
    revoke_auth.push("none".into());
    m.revocation_endpoint_auth_methods_supported = Some(revoke_auth);
    m.subject_types_supported = Some(vec!["public".into()]);
    m.id_token_signing_alg_values_supported =
        Some(vec![state.config.id_token_alg.as_str().to_owned()]);
    m.code_challenge_methods_supported = Some(vec!["S256".into()]);
    m.authorization_response_iss_parameter_supported = Some(true);
    m.claims_parameter_supported = Some(false);
    m.request_parameter_supported = Some(false);
    m.request_uri_parameter_supported = Some(false);
    m.claims_supported = Some(
        [
            "sub",
            "iss",
            "aud",
            "exp",
            "iat",
            "auth_time",
            "nonce",
            "azp",
            "at_hash",
            "sid",
            "amr",
            "name",
            "given_name",
            "family_name",
            "picture",
            "locale",
            "updated_at",
            "email",
            "email_verified",
            "tenant",
        ]
        .map(String::from)
        .to_vec(),
    );
    m.other.insert(
        "prompt_values_supported".into(),
        serde_json::json!(["none", "login", "consent"]),
    );
    // OpenID Connect Back-Channel Logout 1.0 §2.1: logout tokens carry `sid`.
    m.other
        .insert("backchannel_logout_supported".into(), true.into());
    m.other
        .insert("backchannel_logout_session_supported".into(), true.into());
    match serde_json::to_vec(&m) {
        Ok(v) => bytes::Bytes::from(v),
        Err(_) => bytes::Bytes::from_static(b"{}"),
    }
}

pub(crate) async fn discovery(axum::extract::State(app): AppState) -> Response {
    json_bytes(
        app.discovery.clone(),
        HeaderValue::from_static("public, max-age=3600"),
    )
}

pub(crate) async fn jwks(axum::extract::State(app): AppState) -> Response {
    let snap = app.keys.snapshot();
    json_bytes(snap.jwks_json.clone(), app.jwks_cache_control.clone())
}

/// The pages' stylesheet. Its URL carries a version of its contents, so browsers may keep
/// it for a year.
pub(crate) async fn stylesheet(axum::extract::State(app): AppState) -> Response {
    let mut resp = app.templates.stylesheet().into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/css; charset=utf-8"),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=31536000, immutable"),
    );
    resp
}

pub(crate) async fn live() -> &'static str {
    "ok"
}

pub(crate) async fn ready(axum::extract::State(app): AppState) -> Response {
    if app.ready().await {
        "ok".into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not ready").into_response()
    }
}

/// `GET /metrics`: the provider's metrics as OpenMetrics text (Prometheus scrapes it).
pub(crate) async fn metrics(axum::extract::State(app): AppState) -> Response {
    let mut resp = app.render_metrics().into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(crate::metrics::CONTENT_TYPE),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}
