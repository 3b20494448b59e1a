//! `RequireScopesLayer` behind `JwtAuthLayer`, and without it.

use std::convert::Infallible;

use http::{Request, Response, StatusCode};
use idp_tower::{JwtAuthLayer, RequireScopesLayer};
use serde_json::json;
use tower::{ServiceBuilder, ServiceExt, service_fn};

use crate::support::*;

async fn guarded(
    auth: Option<&JwtAuthLayer>,
    required: &[&str],
    req: Request<String>,
) -> Response<String> {
    let handler = service_fn(|_req: Request<String>| async {
        Ok::<_, Infallible>(Response::new("ok".to_owned()))
    });
    let guard = RequireScopesLayer::new(required);
    match auth {
        Some(auth) => ServiceBuilder::new()
            .layer(auth.clone())
            .layer(guard)
            .service(handler)
            .oneshot(req)
            .await
            .unwrap(),
        None => ServiceBuilder::new()
            .layer(guard)
            .service(handler)
            .oneshot(req)
            .await
            .unwrap(),
    }
}

fn with_scope(scope: Option<&str>) -> Request<String> {
    let mut c = claims();
    match scope {
        Some(s) => c["scope"] = json!(s),
        None => {
            c.as_object_mut().unwrap().remove("scope");
        }
    }
    request(&[&format!("Bearer {}", sign("k1", &c))])
}

#[tokio::test]
async fn granted_scopes_pass() {
    let auth = builder().build().unwrap();
    let res = guarded(
        Some(&auth),
        &["read:orders"],
        with_scope(Some("read:orders")),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    let res = guarded(
        Some(&auth),
        &["read:orders", "write:orders"],
        with_scope(Some("openid write:orders read:orders")),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_missing_scope_is_403_naming_the_required_scope() {
    let auth = builder().build().unwrap();
    let res = guarded(
        Some(&auth),
        &["write:orders read:orders"],
        with_scope(Some("read:orders")),
    )
    .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        www_authenticate(&res).unwrap(),
        r#"Bearer realm="orders-api", error="insufficient_scope", scope="read:orders write:orders""#
    );
    assert!(res.body().is_empty());
    // No scope claim at all.
    let res = guarded(Some(&auth), &["read:orders"], with_scope(None)).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn the_auth_layer_answers_first() {
    let auth = builder().build().unwrap();
    let res = guarded(Some(&auth), &["read:orders"], request(&[])).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let res = guarded(Some(&auth), &["read:orders"], request(&["Bearer garbage"])).await;
    assert_invalid_token(&res, "malformed token");
}

#[tokio::test]
async fn anonymous_requests_get_a_challenge() {
    let auth = builder().allow_anonymous().build().unwrap();
    let res = guarded(Some(&auth), &["read:orders"], request(&[])).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        www_authenticate(&res).unwrap(),
        r#"Bearer realm="orders-api""#
    );
}

#[tokio::test]
async fn without_the_auth_layer_it_is_a_server_error() {
    let res = guarded(None, &["read:orders"], with_scope(Some("read:orders"))).await;
    assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert!(www_authenticate(&res).is_none());
    assert!(res.body().is_empty());
}

#[tokio::test]
async fn scopes_from_configuration() {
    let auth = builder().build().unwrap();
    let scope = "read:orders".parse().unwrap();
    let guard = RequireScopesLayer::from_scope(scope);
    let svc = ServiceBuilder::new()
        .layer(auth)
        .layer(guard)
        .service(service_fn(|_req: Request<String>| async {
            Ok::<_, Infallible>(Response::new(String::new()))
        }));
    let res = svc.oneshot(with_scope(Some("read:orders"))).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
}
