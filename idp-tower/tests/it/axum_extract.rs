//! The axum extractors and a full axum router behind the layers.

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::routing::{get, post};
use http::{Request, StatusCode};
use idp_tower::{Claims, InsufficientScope, RequireScopesLayer};
use serde_json::json;
use tower::ServiceExt;

use crate::support::*;

#[derive(Debug, Clone, serde::Deserialize)]
struct Tenant {
    tenant_plan: String,
}

async fn me(claims: Claims) -> String {
    claims.into_inner().sub
}

async fn maybe_option(claims: Option<Claims>) -> String {
    claims.map_or("anonymous".to_owned(), |c| c.sub.clone())
}

async fn tenant(claims: Claims<Tenant>) -> String {
    claims.extra.tenant_plan.clone()
}

async fn write(claims: Claims) -> Result<&'static str, InsufficientScope> {
    claims.require_scopes(["write:orders"])?;
    Ok("written")
}

fn app(layer: idp_tower::JwtAuthLayer) -> Router {
    Router::new()
        .route("/me", get(me))
        .route("/maybe", get(maybe_option))
        .route("/maybe-option", get(maybe_option))
        .route("/tenant", get(tenant))
        .route("/write", post(write))
        .route(
            "/orders",
            get(me).route_layer(RequireScopesLayer::new(["read:orders"])),
        )
        .route(
            "/admin",
            get(me).route_layer(RequireScopesLayer::new(["admin"])),
        )
        .layer(layer)
}

async fn call(
    app: &Router,
    method: &str,
    uri: &str,
    token: Option<&str>,
) -> (StatusCode, String, Option<String>) {
    let mut b = Request::builder().method(method).uri(uri);
    if let Some(t) = token {
        b = b.header("authorization", format!("Bearer {t}"));
    }
    let res = app
        .clone()
        .oneshot(b.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = res.status();
    let challenge = www_authenticate(&res).map(str::to_owned);
    let body = to_bytes(res.into_body(), 4096).await.unwrap();
    (status, String::from_utf8(body.to_vec()).unwrap(), challenge)
}

#[tokio::test]
async fn claims_reach_handlers() {
    let app = app(builder().build().unwrap());
    let t = sign("k1", &claims());
    assert_eq!(call(&app, "GET", "/me", Some(&t)).await.1, "user-1");
    assert_eq!(call(&app, "GET", "/maybe", Some(&t)).await.1, "user-1");
    assert_eq!(
        call(&app, "GET", "/maybe-option", Some(&t)).await.1,
        "user-1"
    );
    assert_eq!(
        call(&app, "GET", "/orders", Some(&t)).await.0,
        StatusCode::OK
    );
    let (status, _, challenge) = call(&app, "GET", "/admin", Some(&t)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        challenge.unwrap(),
        r#"Bearer realm="orders-api", error="insufficient_scope", scope="admin""#
    );
}

#[tokio::test]
async fn the_router_answers_401_and_503_like_the_layer() {
    let app = app(builder().build().unwrap());
    let (status, body, challenge) = call(&app, "GET", "/me", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(body.is_empty());
    assert_eq!(challenge.unwrap(), r#"Bearer realm="orders-api""#);
    let t = sign("k1", &claims_with("exp", json!(T0 - 3600)));
    let (status, _, challenge) = call(&app, "GET", "/me", Some(&t)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(
        challenge
            .unwrap()
            .contains(r#"error_description="token expired""#)
    );
}

#[tokio::test]
async fn scope_check_in_a_handler() {
    let app = app(builder().build().unwrap());
    let t = sign("k1", &claims());
    let (status, _, challenge) = call(&app, "POST", "/write", Some(&t)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // One 403 shape: the same challenge as RequireScopesLayer's, realm included.
    assert_eq!(
        challenge.unwrap(),
        r#"Bearer realm="orders-api", error="insufficient_scope", scope="write:orders""#
    );
    let t = sign(
        "k1",
        &claims_with("scope", json!("read:orders write:orders")),
    );
    assert_eq!(call(&app, "POST", "/write", Some(&t)).await.1, "written");
}

#[tokio::test]
async fn anonymous_requests_with_optional_claims() {
    let app = app(builder().allow_anonymous().build().unwrap());
    assert_eq!(call(&app, "GET", "/maybe", None).await.1, "anonymous");
    assert_eq!(
        call(&app, "GET", "/maybe-option", None).await.1,
        "anonymous"
    );
    // A handler that needs claims challenges the anonymous caller.
    let (status, _, challenge) = call(&app, "GET", "/me", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(challenge.unwrap(), r#"Bearer realm="orders-api""#);
    let (status, _, _) = call(&app, "GET", "/orders", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // A bad token is still refused.
    let (status, _, _) = call(&app, "GET", "/maybe", Some("garbage")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn extractors_without_the_layer_are_a_server_error() {
    let bare = Router::new()
        .route("/me", get(me))
        .route("/maybe", get(maybe_option))
        .route("/maybe-option", get(maybe_option));
    let t = sign("k1", &claims());
    for uri in ["/me", "/maybe", "/maybe-option"] {
        let (status, body, challenge) = call(&bare, "GET", uri, Some(&t)).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{uri}");
        assert!(body.is_empty());
        assert!(challenge.is_none());
    }
}

#[tokio::test]
async fn a_claims_type_other_than_the_layers_is_a_server_error() {
    // The layer deserialises `NoExtra`; the handler asks for `Claims<Tenant>`.
    let app = app(builder().build().unwrap());
    let t = sign("k1", &claims_with("tenant_plan", json!("acme")));
    assert_eq!(
        call(&app, "GET", "/tenant", Some(&t)).await.0,
        StatusCode::INTERNAL_SERVER_ERROR
    );
    // With the matching layer type it works.
    let app = Router::new()
        .route("/tenant", get(tenant))
        .layer(builder().claims::<Tenant>().build().unwrap());
    assert_eq!(call(&app, "GET", "/tenant", Some(&t)).await.1, "acme");
}
