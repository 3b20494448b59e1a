//! `TenantGuardLayer` behind `JwtAuthLayer` (static keys, the token cache, keys fetched from a
//! provider), and without it; the `Tenant` extractor in an axum router.

use std::convert::Infallible;

use http::{Request, Response, StatusCode};
use idp_tower::{JwtAuthLayer, Tenant, TenantGuardLayer};
use serde_json::{Value, json};
use tower::{ServiceBuilder, ServiceExt, service_fn};

use crate::provider::Provider;
use crate::support::*;

const WRONG_TENANT: &str = r#"Bearer realm="orders-api", error="insufficient_scope", error_description="token not valid for this tenant""#;

/// Sends `req` through `auth` (if any) and `guard` to a handler that answers `200` with the
/// `Tenant` it finds in the extensions (`Debug`), or "none".
async fn guarded(
    auth: Option<&JwtAuthLayer>,
    guard: TenantGuardLayer,
    req: Request<String>,
) -> Response<String> {
    let handler = service_fn(|req: Request<String>| async move {
        let tenant = req
            .extensions()
            .get::<Tenant>()
            .map_or("none".to_owned(), |t| format!("{t:?}"));
        Ok::<_, Infallible>(Response::new(tenant))
    });
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

fn tenant_claims(tenant: Option<&str>) -> Value {
    let mut c = claims();
    if let Some(t) = tenant {
        c["tenant"] = json!(t);
    }
    c
}

/// A token of tenant `tenant` (none for `None`).
fn token(tenant: Option<&str>) -> String {
    sign("k1", &tenant_claims(tenant))
}

/// `GET /orders` with this token and these extra headers.
fn req(token: &str, headers: &[(&str, &str)]) -> Request<String> {
    let mut b = Request::get("/orders").header("authorization", format!("Bearer {token}"));
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    b.body(String::new()).unwrap()
}

fn on_host(token: &str, host: &str) -> Request<String> {
    req(token, &[("host", host)])
}

fn under() -> TenantGuardLayer {
    TenantGuardLayer::from_host_under("app.example.com").unwrap()
}

fn header() -> TenantGuardLayer {
    TenantGuardLayer::from_header("x-tenant-id").unwrap()
}

fn assert_invalid_request(res: &Response<String>, description: &str) {
    assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{description}");
    assert_eq!(
        www_authenticate(res).unwrap(),
        format!(
            r#"Bearer realm="{AUD}", error="invalid_request", error_description="{description}""#
        )
    );
    assert!(res.body().is_empty());
}

#[tokio::test]
async fn the_tenants_own_host_passes_and_the_handler_sees_the_tenant() {
    let auth = builder().build().unwrap();
    let a = token(Some("a"));
    for guard in [TenantGuardLayer::from_host(), under()] {
        let res = guarded(Some(&auth), guard, on_host(&a, "a.app.example.com")).await;
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(res.body(), r#"Tenant("a")"#);
    }
    // Host names are case-insensitive; port and trailing dot do not matter.
    for host in [
        "A.App.Example.Com",
        "a.app.example.com:8443",
        "a.app.example.com.",
    ] {
        let res = guarded(Some(&auth), under(), on_host(&a, host)).await;
        assert_eq!(res.status(), StatusCode::OK, "{host}");
    }
    // The claim's own spelling is what the handler sees.
    let res = guarded(
        Some(&auth),
        under(),
        on_host(&token(Some("A")), "a.app.example.com"),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.body(), r#"Tenant("A")"#);
}

#[tokio::test]
async fn the_authority_of_an_http2_request() {
    // HTTP/2 has no Host header: the host is the URI's authority (`:authority`).
    let auth = builder().build().unwrap();
    let request = |uri: &str| {
        Request::get(uri)
            .header("authorization", format!("Bearer {}", token(Some("a"))))
            .body(String::new())
            .unwrap()
    };
    let res = guarded(
        Some(&auth),
        under(),
        request("https://a.app.example.com/orders"),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.body(), r#"Tenant("a")"#);
    let res = guarded(
        Some(&auth),
        under(),
        request("https://b.app.example.com/orders"),
    )
    .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    // An authority and a Host header that disagree.
    let mut r = request("https://a.app.example.com/orders");
    r.headers_mut()
        .insert("host", "b.app.example.com".parse().unwrap());
    let res = guarded(Some(&auth), under(), r).await;
    assert_invalid_request(&res, "Host header differs from the request target");
}

#[tokio::test]
async fn another_tenants_host_is_403() {
    let auth = builder().build().unwrap();
    let a = token(Some("a"));
    for guard in [TenantGuardLayer::from_host(), under()] {
        let res = guarded(Some(&auth), guard, on_host(&a, "b.app.example.com")).await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN);
        assert_eq!(www_authenticate(&res).unwrap(), WRONG_TENANT);
        assert!(res.body().is_empty());
    }
    // A tenant whose name starts with the other's, or contains it.
    for host in ["ab.app.example.com", "xa.app.example.com"] {
        let res = guarded(Some(&auth), under(), on_host(&a, host)).await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{host}");
    }
}

#[tokio::test]
async fn a_token_without_a_tenant_is_403() {
    let auth = builder().build().unwrap();
    let res = guarded(
        Some(&auth),
        under(),
        on_host(&token(None), "a.app.example.com"),
    )
    .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(www_authenticate(&res).unwrap(), WRONG_TENANT);
    let res = guarded(
        Some(&auth),
        header(),
        req(&token(None), &[("x-tenant-id", "a")]),
    )
    .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    // An explicit `null` is no tenant either.
    let t = sign("k1", &claims_with("tenant", Value::Null));
    let res = guarded(Some(&auth), under(), on_host(&t, "a.app.example.com")).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn hosts_that_name_no_tenant_are_400() {
    let auth = builder().build().unwrap();
    let a = token(Some("a"));
    for (host, description) in [
        ("app.example.com", "host not under the tenant domain"),
        ("a.example.com", "host not under the tenant domain"),
        ("x.a.app.example.com", "host not under the tenant domain"),
        (
            "a.app.example.com.evil.net",
            "host not under the tenant domain",
        ),
        ("127.0.0.1:8080", "IP address host"),
        ("[::1]:8080", "IP address host"),
        ("a..app.example.com", "malformed host"),
        ("a.app.example.com:", "malformed host"),
        ("a_b.app.example.com", "malformed host"),
    ] {
        let res = guarded(Some(&auth), under(), on_host(&a, host)).await;
        assert_invalid_request(&res, description);
    }
    let res = guarded(
        Some(&auth),
        TenantGuardLayer::from_host(),
        on_host(&a, "localhost:3000"),
    )
    .await;
    assert_invalid_request(&res, "no tenant label in the host");
    let long = format!("a.{}.com", "x".repeat(10_000));
    let res = guarded(
        Some(&auth),
        TenantGuardLayer::from_host(),
        on_host(&a, &long),
    )
    .await;
    assert_invalid_request(&res, "host too long");
    // No Host at all, or two.
    let res = guarded(Some(&auth), under(), req(&a, &[])).await;
    assert_invalid_request(&res, "no Host header");
    let res = guarded(
        Some(&auth),
        under(),
        req(
            &a,
            &[("host", "a.app.example.com"), ("host", "a.app.example.com")],
        ),
    )
    .await;
    assert_invalid_request(&res, "more than one Host header");
}

#[tokio::test]
async fn tenant_from_a_header() {
    let auth = builder().build().unwrap();
    let a = token(Some("a"));
    let res = guarded(Some(&auth), header(), req(&a, &[("x-tenant-id", "a")])).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.body(), r#"Tenant("a")"#);
    // The header's name is case-insensitive; the host is not looked at.
    let res = guarded(
        Some(&auth),
        header(),
        req(&a, &[("X-Tenant-ID", "a"), ("host", "b.app.example.com")]),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    // The value is compared exactly.
    for other in ["b", "A", "a.", "aa"] {
        let res = guarded(Some(&auth), header(), req(&a, &[("x-tenant-id", other)])).await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{other}");
        assert_eq!(www_authenticate(&res).unwrap(), WRONG_TENANT);
    }
}

#[tokio::test]
async fn a_missing_or_malformed_tenant_header_is_400() {
    let auth = builder().build().unwrap();
    let a = token(Some("a"));
    let res = guarded(Some(&auth), header(), req(&a, &[])).await;
    assert_invalid_request(&res, "no tenant header");
    let res = guarded(
        Some(&auth),
        header(),
        req(&a, &[("x-tenant-id", "a"), ("x-tenant-id", "a")]),
    )
    .await;
    assert_invalid_request(&res, "more than one tenant header");
    let long = "a".repeat(257);
    for bad in ["", "a b", long.as_str()] {
        let res = guarded(Some(&auth), header(), req(&a, &[("x-tenant-id", bad)])).await;
        assert_invalid_request(&res, "malformed tenant header");
    }
}

#[tokio::test]
async fn the_auth_layer_answers_first() {
    let auth = builder().build().unwrap();
    let res = guarded(
        Some(&auth),
        under(),
        Request::get("/")
            .header("host", "a.app.example.com")
            .body(String::new())
            .unwrap(),
    )
    .await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        www_authenticate(&res).unwrap(),
        r#"Bearer realm="orders-api""#
    );
    let res = guarded(
        Some(&auth),
        under(),
        on_host("garbage", "a.app.example.com"),
    )
    .await;
    assert_invalid_token(&res, "malformed token");
}

#[tokio::test]
async fn anonymous_requests_get_a_challenge() {
    let auth = builder().allow_anonymous().build().unwrap();
    let anonymous = |host: &str| {
        Request::get("/")
            .header("host", host)
            .body(String::new())
            .unwrap()
    };
    let res = guarded(Some(&auth), under(), anonymous("a.app.example.com")).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        www_authenticate(&res).unwrap(),
        r#"Bearer realm="orders-api""#
    );
    // A request that names no tenant is malformed, token or not.
    let res = guarded(Some(&auth), under(), anonymous("127.0.0.1")).await;
    assert_invalid_request(&res, "IP address host");
}

#[tokio::test]
async fn without_the_auth_layer_it_is_a_server_error() {
    let a = token(Some("a"));
    for (guard, r) in [
        (under(), on_host(&a, "a.app.example.com")),
        (header(), req(&a, &[("x-tenant-id", "a")])),
        // Even for a request that would be refused: the wiring is checked first.
        (under(), req(&a, &[])),
    ] {
        let res = guarded(None, guard, r).await;
        assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(www_authenticate(&res).is_none());
        assert!(res.body().is_empty());
    }
}

#[tokio::test]
async fn a_cached_token_keeps_its_tenant() {
    // The second request is answered from the verified-token cache.
    let auth = builder().build().unwrap();
    let a = token(Some("a"));
    for _ in 0..2 {
        let res = guarded(Some(&auth), under(), on_host(&a, "a.app.example.com")).await;
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(res.body(), r#"Tenant("a")"#);
        let res = guarded(Some(&auth), under(), on_host(&a, "b.app.example.com")).await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN);
    }
}

#[tokio::test]
async fn keys_fetched_from_a_provider() {
    // The asynchronous path of the auth layer (keys behind a JWKS cache, no token cache).
    let p = Provider::start().await;
    let auth = p.layer_builder().no_token_cache().build().unwrap();
    let t = sign(
        "k1",
        &json!({
            "iss": p.issuer, "sub": "user-1", "aud": AUD, "exp": T0 + 86_400, "iat": T0,
            "jti": "j1", "client_id": "web", "tenant": "a"
        }),
    );
    let res = guarded(Some(&auth), under(), on_host(&t, "a.app.example.com")).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.body(), r#"Tenant("a")"#);
    let res = guarded(Some(&auth), under(), on_host(&t, "b.app.example.com")).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
}

#[cfg(feature = "axum")]
mod axum_router {
    use axum::Router;
    use axum::body::{Body, to_bytes};
    use axum::routing::get;
    use http::{Request, StatusCode};
    use idp_tower::{Claims, Tenant};
    use tower::ServiceExt;

    use super::{WRONG_TENANT, token, under};
    use crate::support::*;

    async fn orders(tenant: Tenant, claims: Claims) -> String {
        format!("{tenant:?} {}", claims.sub)
    }

    async fn tenant_only(tenant: Tenant) -> String {
        tenant.to_string()
    }

    async fn call(
        app: &Router,
        uri: &str,
        host: &str,
        token: Option<&str>,
    ) -> (StatusCode, String, Option<String>) {
        let mut b = Request::get(uri).header("host", host);
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

    fn app(auth: idp_tower::JwtAuthLayer) -> Router {
        Router::new()
            .route("/orders", get(orders).route_layer(under()))
            // A handler that wants a tenant on a route without the guard.
            .route("/unguarded", get(tenant_only))
            .layer(auth)
    }

    #[tokio::test]
    async fn the_extractor_sees_the_guards_tenant() {
        let app = app(builder().build().unwrap());
        let a = token(Some("a"));
        let (status, body, _) = call(&app, "/orders", "a.app.example.com", Some(&a)).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body, r#"Tenant("a") user-1"#);
        let (status, body, challenge) = call(&app, "/orders", "b.app.example.com", Some(&a)).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert!(body.is_empty());
        assert_eq!(challenge.unwrap(), WRONG_TENANT);
        let (status, _, challenge) = call(&app, "/orders", "app.example.com", Some(&a)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(challenge.unwrap().contains(r#"error="invalid_request""#));
    }

    #[tokio::test]
    async fn the_extractor_without_the_guard_is_a_server_error() {
        let app = app(builder().build().unwrap());
        let a = token(Some("a"));
        let (status, body, challenge) =
            call(&app, "/unguarded", "a.app.example.com", Some(&a)).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(body.is_empty());
        assert!(challenge.is_none());
        // Without any layer.
        let bare = Router::new().route("/unguarded", get(tenant_only));
        let (status, _, challenge) = call(&bare, "/unguarded", "a.app.example.com", Some(&a)).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(challenge.is_none());
    }

    #[tokio::test]
    async fn the_extractor_challenges_anonymous_requests() {
        let app = app(builder().allow_anonymous().build().unwrap());
        // Without the guard: the extractor answers 401.
        let (status, _, challenge) = call(&app, "/unguarded", "a.app.example.com", None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(challenge.unwrap(), r#"Bearer realm="orders-api""#);
        // With it: the guard does.
        let (status, _, challenge) = call(&app, "/orders", "a.app.example.com", None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(challenge.unwrap(), r#"Bearer realm="orders-api""#);
    }
}
