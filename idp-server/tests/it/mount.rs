//! Mounting the provider inside an application: `nest` / `merge` into an axum Router, and
//! the Tower layer in front of a plain service. Discovery must report the configured issuer
//! and endpoint URLs in every case.

use std::convert::Infallible;
use std::sync::Arc;

use axum::routing::get;
use idp_server::Provider;
use idp_server::manage::NewClient;
use idp_server::store::MemoryStore;
use tower::ServiceBuilder;

use crate::common::KEY;

async fn provider(issuer: &str) -> Provider {
    let p = Provider::builder()
        .issuer(issuer)
        .store(Arc::new(MemoryStore::new()))
        .encryption_key(KEY)
        .build()
        .await
        .unwrap();
    p.clients()
        .insert(NewClient {
            client_id: "worker".into(),
            secret: Some("worker-secret".into()),
            grant_types: vec!["client_credentials".into()],
            ..Default::default()
        })
        .await
        .unwrap();
    p.clients()
        .insert(NewClient {
            client_id: "web".into(),
            secret: Some("web-secret".into()),
            redirect_uris: vec!["http://127.0.0.1:9/cb".into()],
            allowed_scopes: vec!["openid".into()],
            first_party: true,
            ..Default::default()
        })
        .await
        .unwrap();
    p
}

async fn check(base: &str, issuer: &str) {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let path = issuer.strip_prefix(base).unwrap();
    let d: serde_json::Value = http
        .get(format!("{issuer}/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(d["issuer"], issuer);
    assert_eq!(d["token_endpoint"], format!("{issuer}/oauth/token"));
    assert_eq!(
        d["authorization_endpoint"],
        format!("{issuer}/oauth/authorize")
    );
    assert_eq!(d["jwks_uri"], format!("{issuer}/.well-known/jwks.json"));
    let jwks = http
        .get(d["jwks_uri"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(jwks.status(), 200);
    let token = http
        .post(d["token_endpoint"].as_str().unwrap())
        .basic_auth("worker", Some("worker-secret"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(token.status(), 200);
    // The login page posts back under the prefix; its cookies stay under it.
    let page = http
        .get(format!(
            "{issuer}/oauth/authorize?client_id=web&response_type=code&scope=openid"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let cookie = page.headers()["set-cookie"].to_str().unwrap().to_owned();
    let want_path = if path.is_empty() { "/" } else { path };
    assert!(cookie.contains(&format!("Path={want_path};")), "{cookie}");
    let body = page.text().await.unwrap();
    let action = format!("{issuer}/oauth/authorize").replace('/', "&#x2f;");
    assert!(body.contains(&format!(r#"action="{action}""#)), "{body}");
    // The application's own routes still answer.
    let app = http.get(format!("{base}/hello")).send().await.unwrap();
    assert_eq!(app.text().await.unwrap(), "hello from the app");
}

#[tokio::test]
async fn nested_under_a_prefix_and_merged_at_the_root() {
    for prefix in ["/idp", ""] {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let issuer = format!("{base}{prefix}");
        let p = provider(&issuer).await;
        let app = axum::Router::new().route("/hello", get(|| async { "hello from the app" }));
        let app = if prefix.is_empty() {
            app.merge(p.router())
        } else {
            app.nest(prefix, p.router())
        };
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        check(&base, &issuer).await;
    }
}

#[tokio::test]
async fn tower_layer_in_front_of_a_plain_service() {
    for prefix in ["/auth", ""] {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let issuer = format!("{base}{prefix}");
        let p = provider(&issuer).await;
        let app = tower::service_fn(|req: http::Request<axum::body::Body>| async move {
            let body = if req.uri().path() == "/hello" {
                "hello from the app"
            } else {
                "not found in the app"
            };
            Ok::<_, Infallible>(http::Response::new(axum::body::Body::from(body)))
        });
        let svc = ServiceBuilder::new().layer(p.layer()).service(app);
        let router = axum::Router::new().fallback_service(svc);
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        check(&base, &issuer).await;
        // RFC 8414 §3.1: the metadata of an issuer with a path, at the path-inserted URL.
        if !prefix.is_empty() {
            let m: serde_json::Value = reqwest::get(format!(
                "{base}/.well-known/oauth-authorization-server{prefix}"
            ))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
            assert_eq!(m["issuer"], issuer);
        }
        // Paths outside the provider's set go to the app even under the prefix.
        let r = reqwest::get(format!("{issuer}/oauth/unknown"))
            .await
            .unwrap();
        assert_eq!(r.text().await.unwrap(), "not found in the app");
    }
}
