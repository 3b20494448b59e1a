//! Rate limits, CORS and HSTS.

use std::sync::Arc;

use idp_server::RateLimits;
use idp_server::store::MemoryStore;
use tower::ServiceExt;

use crate::browser::{Browser, PASSWORD, REDIRECT, setup};
use crate::common::{KEY, TestServer};

fn limits(login: u32, client: u32) -> RateLimits {
    RateLimits {
        login_attempts_per_minute: login,
        client_requests_per_second: client,
        ..RateLimits::insecure_none()
    }
}

#[tokio::test]
async fn sign_in_attempts_are_limited_per_account() {
    let s = TestServer::start_with(Arc::new(MemoryStore::new()), |b| {
        b.rate_limits(limits(3, 0))
    })
    .await;
    setup(&s).await;
    let b = Browser::new();
    let login = b
        .authorize(
            &s,
            &[
                ("client_id", "web"),
                ("redirect_uri", REDIRECT),
                ("response_type", "code"),
                ("scope", "openid"),
            ],
        )
        .await;
    for _ in 0..3 {
        let page = b
            .login(&s, &login, "ada@example.com", "wrong password")
            .await;
        assert_eq!(page.status, 401);
    }
    // Even the right password waits now; the page says so and nothing is redirected.
    let page = b.login(&s, &login, "ADA@example.com", PASSWORD).await;
    assert_eq!(page.status, 429);
    assert!(page.location.is_none());
    assert!(
        page.headers["retry-after"]
            .to_str()
            .unwrap()
            .parse::<u64>()
            .unwrap()
            >= 1
    );
    assert!(page.body.contains("Too many sign-in attempts"));
    // Another account is not affected.
    s.provider
        .users()
        .insert(idp_server::manage::NewUser {
            email: "bob@example.com".into(),
            password: Some(PASSWORD.into()),
            ..Default::default()
        })
        .await
        .unwrap();
    let page = b.login(&s, &login, "bob@example.com", PASSWORD).await;
    assert_eq!(page.status, 303);
    s.stop().await;
}

#[tokio::test]
async fn token_requests_are_limited_per_client() {
    let s = TestServer::start_with(Arc::new(MemoryStore::new()), |b| {
        b.rate_limits(limits(0, 1))
    })
    .await;
    s.service_client("worker").await;
    s.service_client("other").await;
    let mut statuses = Vec::new();
    for _ in 0..4 {
        let (status, headers, body) = s
            .post_form(
                "/oauth/token",
                Some(("worker", "worker-secret")),
                &[("grant_type", "client_credentials")],
            )
            .await;
        if status == 429 {
            assert_eq!(body["error"], "temporarily_unavailable");
            assert!(headers.contains_key("retry-after"));
            assert_eq!(headers["cache-control"], "no-store");
        }
        statuses.push(status);
    }
    assert_eq!(&statuses[..2], [200, 200], "burst of two allowed");
    assert!(statuses[2..].contains(&429), "{statuses:?}");
    // Wrong secrets count too (guessing is limited), and other clients are unaffected.
    let (status, _, _) = s
        .post_form(
            "/oauth/token",
            Some(("other", "other-secret")),
            &[("grant_type", "client_credentials")],
        )
        .await;
    assert_eq!(status, 200);
    s.stop().await;
}

#[tokio::test]
async fn cors_public_documents_for_everyone_apis_for_configured_origins() {
    let s = TestServer::start_with(Arc::new(MemoryStore::new()), |b| {
        b.cors_allowed_origins(["https://app.example.com"])
    })
    .await;
    let d = s
        .http
        .get(s.url("/.well-known/jwks.json"))
        .header("origin", "https://anyone.example")
        .send()
        .await
        .unwrap();
    assert_eq!(d.headers()["access-control-allow-origin"], "*");
    for (origin, allowed) in [
        ("https://app.example.com", true),
        ("https://evil.example", false),
    ] {
        let pre = s
            .http
            .request(reqwest::Method::OPTIONS, s.url("/oauth/token"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "content-type")
            .send()
            .await
            .unwrap();
        let acao = pre
            .headers()
            .get("access-control-allow-origin")
            .map(|v| v.to_str().unwrap().to_owned());
        assert_eq!(
            acao.as_deref() == Some(origin),
            allowed,
            "{origin}: {acao:?}"
        );
    }
    s.stop().await;
    let bad = idp_server::Provider::builder()
        .issuer("http://localhost:4000")
        .store(Arc::new(MemoryStore::new()))
        .encryption_key(KEY)
        .cors_allowed_origins(["https://app.example.com/path"])
        .build()
        .await;
    assert!(bad.is_err());
}

#[tokio::test]
async fn https_issuer_sends_hsts_and_secure_cookies() {
    let p = idp_server::Provider::builder()
        .issuer("https://id.example.com")
        .store(Arc::new(MemoryStore::new()))
        .encryption_key(KEY)
        .build()
        .await
        .unwrap();
    crate::browser::web_client_on(&p, "web").await;
    let resp = p
        .router()
        .oneshot(
            http::Request::get("/oauth/authorize?client_id=web&response_type=code&scope=openid")
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.headers()["strict-transport-security"],
        "max-age=31536000; includeSubDomains"
    );
    let cookie = resp.headers()["set-cookie"].to_str().unwrap();
    assert!(cookie.contains("; Secure"), "{cookie}");
}
