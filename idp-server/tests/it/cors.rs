//! CORS of the token, userinfo and revocation endpoints: localhost apps as `idp serve --dev`
//! allows them (`cors_allow_localhost`, the builder flag the binary sets), `"*"`, listed
//! origins with credentials, and what is refused.

use std::sync::Arc;

use idp_server::store::MemoryStore;
use reqwest::header::HeaderMap;

use crate::common::{KEY, TestServer};

async fn preflight(s: &TestServer, path: &str, origin: &str, headers: &str) -> (u16, HeaderMap) {
    let resp = s
        .http
        .request(reqwest::Method::OPTIONS, s.url(path))
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", headers)
        .send()
        .await
        .unwrap();
    (resp.status().as_u16(), resp.headers().clone())
}

/// A client_credentials request to the token endpoint sent by a page at `origin`.
async fn token_post(s: &TestServer, origin: &str) -> (u16, HeaderMap) {
    let resp = s
        .http
        .post(s.url("/oauth/token"))
        .header("origin", origin)
        .basic_auth("svc", Some("svc-secret"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    (resp.status().as_u16(), resp.headers().clone())
}

fn header<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).map(|v| v.to_str().unwrap())
}

/// The comma-separated values of `name`, lower-cased.
fn list(h: &HeaderMap, name: &str) -> Vec<String> {
    h.get_all(name)
        .iter()
        .flat_map(|v| v.to_str().unwrap().split(','))
        .map(|v| v.trim().to_ascii_lowercase())
        .filter(|v| !v.is_empty())
        .collect()
}

async fn dev_like() -> TestServer {
    let s =
        TestServer::start_with(Arc::new(MemoryStore::new()), |b| b.cors_allow_localhost()).await;
    s.service_client("svc").await;
    s
}

#[tokio::test]
async fn dev_mode_allows_localhost_apps_on_any_port() {
    let s = dev_like().await;
    for origin in [
        "http://localhost:3000",
        "http://localhost:5173",
        "http://127.0.0.1:8080",
        "http://[::1]:3000",
        "http://localhost",
    ] {
        let (status, h) = preflight(&s, "/oauth/token", origin, "authorization,content-type").await;
        assert!((200..300).contains(&status), "{origin}: {status}");
        assert_eq!(header(&h, "access-control-allow-origin"), Some(origin));
        let methods = list(&h, "access-control-allow-methods");
        assert!(methods.contains(&"post".into()), "{methods:?}");
        let allowed = list(&h, "access-control-allow-headers");
        for name in ["authorization", "content-type"] {
            assert!(allowed.contains(&name.into()), "{allowed:?}");
        }
        assert!(!allowed.contains(&"dpop".into()));
        assert_eq!(header(&h, "access-control-max-age"), Some("600"));
        assert!(list(&h, "vary").contains(&"origin".into()), "{h:?}");
        assert_eq!(header(&h, "access-control-allow-credentials"), None);

        let (status, h) = token_post(&s, origin).await;
        assert_eq!(status, 200);
        assert_eq!(header(&h, "access-control-allow-origin"), Some(origin));
        assert!(list(&h, "vary").contains(&"origin".into()), "{h:?}");
        assert_eq!(header(&h, "cache-control"), Some("no-store"));
    }
    // Userinfo and revocation are in the same group; a 401's challenge is readable.
    let resp = s
        .http
        .get(s.url("/oauth/userinfo"))
        .header("origin", "http://localhost:3000")
        .bearer_auth("not-a-token")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    let h = resp.headers();
    assert_eq!(
        header(h, "access-control-allow-origin"),
        Some("http://localhost:3000")
    );
    assert!(list(h, "access-control-expose-headers").contains(&"www-authenticate".into()));
    let (_, h) = preflight(&s, "/oauth/revoke", "http://127.0.0.1:4200", "content-type").await;
    assert_eq!(
        header(&h, "access-control-allow-origin"),
        Some("http://127.0.0.1:4200")
    );
    // Not the endpoints a page must not call: introspection has no CORS.
    let (_, h) = preflight(
        &s,
        "/oauth/introspect",
        "http://localhost:3000",
        "content-type",
    )
    .await;
    assert_eq!(header(&h, "access-control-allow-origin"), None);
    s.stop().await;
}

#[tokio::test]
async fn dev_mode_refuses_look_alike_origins() {
    let s = dev_like().await;
    for origin in [
        "http://localhost.evil.com",
        "http://localhost.evil.com:3000",
        "https://localhost:3000",
        "http://localhost:3000.evil.com",
        "http://evil.com",
        "http://127.0.0.2:3000",
        "null",
    ] {
        let (_, h) = preflight(&s, "/oauth/token", origin, "content-type").await;
        assert_eq!(header(&h, "access-control-allow-origin"), None, "{origin}");
        assert_eq!(header(&h, "access-control-allow-credentials"), None);
        let (_, h) = token_post(&s, origin).await;
        assert_eq!(header(&h, "access-control-allow-origin"), None, "{origin}");
    }
    s.stop().await;
}

#[tokio::test]
async fn without_dev_mode_localhost_is_not_special() {
    let s = TestServer::start().await;
    s.service_client("svc").await;
    let (_, h) = preflight(&s, "/oauth/token", "http://localhost:3000", "content-type").await;
    assert_eq!(header(&h, "access-control-allow-origin"), None);
    let (status, h) = token_post(&s, "http://localhost:3000").await;
    assert_eq!(status, 200);
    assert_eq!(header(&h, "access-control-allow-origin"), None);
    s.stop().await;
}

#[tokio::test]
async fn wildcard_origin_answers_every_origin_the_same() {
    let s = TestServer::start_with(Arc::new(MemoryStore::new()), |b| {
        b.cors_allowed_origins(["*"])
    })
    .await;
    s.service_client("svc").await;
    for origin in ["https://anyone.example", "http://localhost:3000", "null"] {
        let (_, h) = preflight(&s, "/oauth/token", origin, "authorization").await;
        assert_eq!(header(&h, "access-control-allow-origin"), Some("*"));
        assert_eq!(header(&h, "access-control-allow-credentials"), None);
        assert!(!list(&h, "vary").contains(&"origin".into()), "{h:?}");
        let (status, h) = token_post(&s, origin).await;
        assert_eq!(status, 200);
        assert_eq!(header(&h, "access-control-allow-origin"), Some("*"));
    }
    s.stop().await;
}

#[tokio::test]
async fn listed_origins_with_credentials() {
    let s = TestServer::start_with(Arc::new(MemoryStore::new()), |b| {
        b.cors_allowed_origins(["https://app.example.com"])
            .cors_allow_credentials()
    })
    .await;
    s.service_client("svc").await;
    let (_, h) = preflight(
        &s,
        "/oauth/token",
        "https://app.example.com",
        "content-type",
    )
    .await;
    assert_eq!(
        header(&h, "access-control-allow-origin"),
        Some("https://app.example.com")
    );
    assert_eq!(header(&h, "access-control-allow-credentials"), Some("true"));
    let (_, h) = token_post(&s, "https://app.example.com").await;
    assert_eq!(header(&h, "access-control-allow-credentials"), Some("true"));
    let (_, h) = token_post(&s, "https://app.example.com.evil.com").await;
    assert_eq!(header(&h, "access-control-allow-origin"), None);
    s.stop().await;
}

#[tokio::test]
async fn wildcard_with_credentials_is_refused_at_startup() {
    let e = idp_server::Provider::builder()
        .issuer("http://localhost:4000")
        .store(Arc::new(MemoryStore::new()))
        .encryption_key(KEY)
        .cors_allowed_origins(["https://app.example.com", "*"])
        .cors_allow_credentials()
        .build()
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("cors_allowed_origins") && e.contains("cors_allow_credentials"),
        "{e}"
    );
}
