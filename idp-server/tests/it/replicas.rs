//! Several provider replicas on one PostgreSQL database (runs when `IDP_TEST_POSTGRES_URL`
//! is set): keys, clients, tokens, revocations, sessions and codes are shared.

use std::sync::Arc;
use std::time::Duration;

use idp_core::FixedClock;
use idp_server::store::PostgresStore;

use crate::browser::{Browser, PASSWORD, REDIRECT, setup};
use crate::common::TestServer;
use crate::storage::{PgScratch, postgres_url};

const ISSUER: &str = "https://id.example.com";

async fn kids(s: &TestServer) -> Vec<String> {
    let (_, _, jwks) = s.get_json("/.well-known/jwks.json").await;
    let mut k: Vec<String> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect();
    k.sort();
    k
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_share_keys_tokens_sessions_and_codes() {
    let Some(base) = postgres_url() else {
        return;
    };
    let scratch = PgScratch::new(&base).await;
    let clock = Arc::new(FixedClock::now_frozen());
    let replica = |clock: Arc<FixedClock>| {
        let url = scratch.url();
        async move {
            TestServer::start_full(
                Arc::new(PostgresStore::connect(&url).await.unwrap()),
                clock,
                |b| b.issuer(ISSUER).key_publish_ahead(Duration::from_secs(60)),
            )
            .await
        }
    };
    let a = replica(clock.clone()).await;
    let b = replica(clock.clone()).await;
    assert_eq!(
        kids(&a).await,
        kids(&b).await,
        "replicas publish different keys"
    );

    // A client registered through one replica gets tokens from the other; a revocation at
    // one is seen by the other.
    a.service_client("worker").await;
    let token = b.cc_token("worker", &[]).await;
    let auth = Some(("worker", "worker-secret"));
    let (_, _, body) = a
        .post_form("/oauth/introspect", auth, &[("token", &token)])
        .await;
    assert_eq!(body["active"], true);
    a.post_form("/oauth/revoke", auth, &[("token", &token)])
        .await;
    let (_, _, body) = b
        .post_form("/oauth/introspect", auth, &[("token", &token)])
        .await;
    assert_eq!(body["active"], false);

    // A rotation at one replica reaches the other at its next maintenance run.
    a.provider.keys().rotate().await.unwrap();
    b.provider.maintenance().await.unwrap();
    assert_eq!(kids(&a).await, kids(&b).await);
    assert_eq!(kids(&b).await.len(), 4);
    clock.advance(Duration::from_secs(61));
    let t_b = b.cc_token("worker", &[]).await;
    let t_a = a.cc_token("worker", &[]).await;
    let kid = |t: &str| jsonwebtoken::decode_header(t).unwrap().kid.unwrap();
    assert_eq!(kid(&t_a), kid(&t_b), "replicas sign with different keys");

    // Sign in at one replica, get a code from the other without the form (the session is
    // shared), and exchange it at the first.
    setup(&a).await;
    let browser = Browser::new();
    let params = [
        ("client_id", "web"),
        ("redirect_uri", REDIRECT),
        ("response_type", "code"),
        ("scope", "openid"),
    ];
    let login = browser.authorize(&a, &params).await;
    browser.login(&a, &login, "ada@example.com", PASSWORD).await;
    let page = browser.authorize(&b, &params).await;
    assert!(!page.is_login_form(), "the session is not shared");
    let code = page.code();
    let (status, _, body) = a
        .post_form(
            "/oauth/token",
            Some(("web", "web-secret")),
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", REDIRECT),
            ],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    a.stop().await;
    b.stop().await;
}
