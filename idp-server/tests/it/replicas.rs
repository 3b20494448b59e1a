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
#[cfg_attr(not(idp_test_postgres), ignore = "needs IDP_TEST_POSTGRES_URL")]
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

/// The status of a client_credentials request of `id` with `secret` at `s`.
async fn status(s: &TestServer, id: &str, secret: String) -> u16 {
    s.post_form(
        "/oauth/token",
        Some((id, &secret)),
        &[("grant_type", "client_credentials")],
    )
    .await
    .0
}

/// The client cache across replicas (PostgreSQL `LISTEN/NOTIFY`): a secret rotated, a client
/// disabled or registered at one replica is seen at the other within a second, although the
/// other had the client (or its absence) in memory.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(idp_test_postgres), ignore = "needs IDP_TEST_POSTGRES_URL")]
async fn client_changes_reach_the_other_replicas_cache_within_a_second() {
    let Some(base) = postgres_url() else {
        return;
    };
    let scratch = PgScratch::new(&base).await;
    let replica = || {
        let url = scratch.url();
        async move {
            TestServer::start_with(Arc::new(PostgresStore::connect(&url).await.unwrap()), |b| {
                // Long enough that only an announcement can explain a change seen in time.
                b.issuer(ISSUER).client_cache_ttl(Duration::from_secs(300))
            })
            .await
        }
    };
    let a = replica().await;
    let b = replica().await;
    /// Polls `probe` every 50 ms for up to a second until it returns `want`.
    async fn within_a_second<F, Fut>(want: u16, mut probe: F) -> bool
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = u16>,
    {
        for _ in 0..20 {
            if probe().await == want {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        false
    }

    a.service_client("svc").await;
    assert_eq!(
        status(&b, "svc", "svc-secret".into()).await,
        200,
        "b caches svc"
    );
    let new = a.provider.clients().rotate_secret("svc").await.unwrap();
    let new = new.secret().to_owned();
    assert!(
        within_a_second(401, || status(&b, "svc", "svc-secret".into())).await,
        "the old secret still works at the other replica"
    );
    assert_eq!(status(&b, "svc", new.clone()).await, 200);
    a.provider.clients().disable("svc").await.unwrap();
    assert!(
        within_a_second(401, || status(&b, "svc", new.clone())).await,
        "the disabled client still works at the other replica"
    );

    // An unknown id is remembered as unknown, until it is registered elsewhere.
    assert_eq!(status(&b, "late", "late-secret".into()).await, 401);
    a.service_client("late").await;
    assert!(
        within_a_second(200, || status(&b, "late", "late-secret".into())).await,
        "the new client is unknown at the other replica"
    );
    a.stop().await;
    b.stop().await;
}

/// Tenant changes across replicas, as client changes: a tenant's allowed scopes narrowed at
/// one replica bind at the other within a second, although the other had the tenant in
/// memory for five minutes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(idp_test_postgres), ignore = "needs IDP_TEST_POSTGRES_URL")]
async fn tenant_changes_reach_the_other_replicas_cache_within_a_second() {
    use idp_server::manage::{NewClient, NewTenant, TenantUpdate};
    let Some(base) = postgres_url() else {
        return;
    };
    let scratch = PgScratch::new(&base).await;
    let replica = || {
        let url = scratch.url();
        async move {
            TestServer::start_with(Arc::new(PostgresStore::connect(&url).await.unwrap()), |b| {
                b.issuer(ISSUER).client_cache_ttl(Duration::from_secs(300))
            })
            .await
        }
    };
    let a = replica().await;
    let b = replica().await;
    a.provider
        .tenants()
        .insert(NewTenant {
            id: "acme".into(),
            allowed_scopes: Some(vec!["read".into(), "write".into()]),
            ..Default::default()
        })
        .await
        .unwrap();
    a.provider
        .clients()
        .insert(NewClient {
            client_id: "acme-svc".into(),
            secret: Some("acme-secret".into()),
            tenant_id: Some("acme".into()),
            allowed_scopes: vec!["read".into(), "write".into()],
            grant_types: vec!["client_credentials".into()],
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(write(&b).await, 200, "b caches the tenant");
    a.provider
        .tenants()
        .update(
            "acme",
            TenantUpdate {
                allowed_scopes: Some(Some(vec!["read".into()])),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let mut narrowed = false;
    for _ in 0..20 {
        if write(&b).await == 400 {
            narrowed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(narrowed, "the other replica still allows the dropped scope");
    a.stop().await;
    b.stop().await;
}

/// The status of a client_credentials request for scope `write` by acme's client at `s`.
async fn write(s: &TestServer) -> u16 {
    s.post_form(
        "/oauth/token",
        Some(("acme-svc", "acme-secret")),
        &[("grant_type", "client_credentials"), ("scope", "write")],
    )
    .await
    .0
}
