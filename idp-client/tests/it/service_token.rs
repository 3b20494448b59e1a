//! The service-token cache: single flight, expiry margins on the injected clock, errors
//! shared and never cached, 429/503 retries.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use idp_client::idp_core::{ErrorCode, Scope};
use idp_client::{AudienceParameter, ClientAuth, Error, ServiceTokenCache, ServiceTokenRequest};
use serde_json::json;

use crate::fake::{Fake, Reply};

fn cache(fake: &Fake) -> ServiceTokenCache {
    ServiceTokenCache::new(fake.client(ClientAuth::basic("svc-secret"))).unwrap()
}

fn req(scope: &str) -> ServiceTokenRequest {
    ServiceTokenRequest::new()
        .scope(scope.parse::<Scope>().unwrap())
        .audience("orders-api")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hundred_concurrent_gets_on_a_cold_cache_make_one_request() {
    let fake = Fake::start().await;
    fake.state.token_delay_ms.store(200, Ordering::SeqCst);
    let c = cache(&fake);
    let r = req("orders:read");
    let mut tasks = Vec::new();
    for _ in 0..100 {
        let (c, r) = (c.clone(), r.clone());
        tasks.push(tokio::spawn(async move { c.get(&r).await }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap().unwrap().secret(), "svc-token-1");
    }
    assert_eq!(fake.token_hits(), 1);
    let form = fake.state.last_token_form();
    assert_eq!(form["grant_type"], "client_credentials");
    assert_eq!(form["scope"], "orders:read");
    // RFC 8707 by default.
    assert_eq!(form["resource"], "orders-api");
    assert!(!form.contains_key("audience"));
    assert!(!form.contains_key("client_secret"));
    assert!(fake.state.last_token_auth().unwrap().starts_with("Basic "));
}

#[tokio::test]
async fn a_300_second_token_is_refreshed_after_240_seconds() {
    let fake = Fake::start().await;
    let c = cache(&fake);
    let r = req("orders:read");
    assert_eq!(c.get(&r).await.unwrap().secret(), "svc-token-1");
    fake.advance(239);
    assert_eq!(c.get(&r).await.unwrap().secret(), "svc-token-1");
    assert_eq!(fake.token_hits(), 1);
    fake.advance(1);
    assert_eq!(c.get(&r).await.unwrap().secret(), "svc-token-2");
    assert_eq!(fake.token_hits(), 2);
}

#[tokio::test]
async fn short_lifetimes_are_refreshed_at_half_life() {
    let fake = Fake::start().await;
    fake.state.expires_in.store(100, Ordering::SeqCst);
    let c = cache(&fake);
    let r = req("a");
    c.get(&r).await.unwrap();
    fake.advance(49);
    c.get(&r).await.unwrap();
    assert_eq!(fake.token_hits(), 1);
    fake.advance(1);
    c.get(&r).await.unwrap();
    assert_eq!(fake.token_hits(), 2);
}

#[tokio::test]
async fn the_margin_is_configurable() {
    let fake = Fake::start().await;
    let c = ServiceTokenCache::builder(fake.client(ClientAuth::basic("s")))
        .margin(Duration::from_secs(10))
        .build()
        .unwrap();
    let r = req("a");
    c.get(&r).await.unwrap();
    fake.advance(289);
    c.get(&r).await.unwrap();
    assert_eq!(fake.token_hits(), 1);
    fake.advance(1);
    c.get(&r).await.unwrap();
    assert_eq!(fake.token_hits(), 2);
}

#[tokio::test]
async fn keys_are_client_sorted_scopes_and_audience() {
    let fake = Fake::start().await;
    let c = cache(&fake);
    let a = c.get(&req("b a")).await.unwrap();
    let b = c.get(&req("a b")).await.unwrap();
    assert_eq!(a, b);
    assert_eq!(fake.token_hits(), 1);
    c.get(&req("a")).await.unwrap();
    c.get(
        &ServiceTokenRequest::new()
            .scope("a b".parse().unwrap())
            .audience("other"),
    )
    .await
    .unwrap();
    c.get(&ServiceTokenRequest::new()).await.unwrap();
    assert_eq!(fake.token_hits(), 4);
    let form = fake.state.last_token_form();
    assert!(!form.contains_key("scope") && !form.contains_key("audience"));
    c.invalidate(&req("a b"));
    c.get(&req("a b")).await.unwrap();
    assert_eq!(fake.token_hits(), 5);
}

#[tokio::test]
async fn the_provider_specific_audience_parameter_is_opt_in() {
    let fake = Fake::start().await;
    let c = ServiceTokenCache::builder(fake.client(ClientAuth::post("s")))
        .audience_parameter(AudienceParameter::ProviderAudience)
        .build()
        .unwrap();
    let response = c.get_response(&req("a")).await.unwrap();
    assert_eq!(response.expires_in, Some(300));
    let form = fake.state.last_token_form();
    assert_eq!(form["audience"], "orders-api");
    assert_eq!(form["client_secret"], "s");
    assert!(!form.contains_key("resource"));
    // The cached response, whole.
    let again = c.get_response(&req("a")).await.unwrap();
    assert_eq!(again.access_token.secret(), response.access_token.secret());
    assert_eq!(fake.token_hits(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_reach_every_waiter_and_are_not_cached() {
    let fake = Fake::start().await;
    fake.state.token_delay_ms.store(200, Ordering::SeqCst);
    fake.state.script(Reply::json(
        401,
        json!({"error": "invalid_client", "error_description": "bad secret"}),
    ));
    let c = cache(&fake);
    let r = req("a");
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let (c, r) = (c.clone(), r.clone());
        tasks.push(tokio::spawn(async move { c.get(&r).await }));
    }
    for t in tasks {
        let err = t.await.unwrap().unwrap_err();
        let body = err.oauth_error().expect("typed OAuth error");
        assert_eq!(body.error, ErrorCode::InvalidClient);
        assert_eq!(body.error_description.as_deref(), Some("bad secret"));
        assert_eq!(err.status(), Some(401));
    }
    assert_eq!(fake.token_hits(), 1);
    fake.state.token_delay_ms.store(0, Ordering::SeqCst);
    assert_eq!(c.get(&r).await.unwrap().secret(), "svc-token-2");
    assert_eq!(fake.token_hits(), 2);
}

#[tokio::test]
async fn retry_after_2_is_waited_for() {
    let fake = Fake::start().await;
    fake.state
        .script(Reply::json(429, json!({"error": "slow_down"})).header("retry-after", "2"));
    let c = cache(&fake);
    let started = Instant::now();
    let t = c.get(&req("a")).await.unwrap();
    let waited = started.elapsed();
    assert_eq!(t.secret(), "svc-token-2");
    assert_eq!(fake.token_hits(), 2);
    assert!(waited >= Duration::from_secs(2), "{waited:?}");
    assert!(waited < Duration::from_secs(5), "{waited:?}");
}

#[tokio::test]
async fn retry_after_beyond_the_bound_is_returned() {
    let fake = Fake::start().await;
    fake.state.script(
        Reply::json(503, json!({"error": "temporarily_unavailable"})).header("retry-after", "600"),
    );
    let c = cache(&fake);
    let started = Instant::now();
    let err = c.get(&req("a")).await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(err.retry_after(), Some(Duration::from_secs(600)));
    assert_eq!(
        err.oauth_error().unwrap().error,
        ErrorCode::TemporarilyUnavailable
    );
    assert_eq!(fake.token_hits(), 1);
}

#[tokio::test]
async fn backoff_without_retry_after_is_exponential_and_bounded() {
    let fake = Fake::start().await;
    for _ in 0..5 {
        fake.state
            .script(Reply::json(503, json!({"note": "not an oauth body"})));
    }
    let c = ServiceTokenCache::builder(fake.client(ClientAuth::basic("s")))
        .initial_backoff(Duration::from_millis(20))
        .max_backoff(Duration::from_millis(50))
        .max_retries(3)
        .build()
        .unwrap();
    let started = Instant::now();
    let err = c.get(&req("a")).await.unwrap_err();
    // Waits of 20, 40 and 50 (capped) ms, then the fourth 503 is returned.
    assert!(started.elapsed() >= Duration::from_millis(110));
    assert!(matches!(err, Error::Status { status: 503, .. }), "{err:?}");
    assert_eq!(fake.token_hits(), 4);
    // Other errors are not retried.
    fake.state.token_script.lock().unwrap().clear();
    fake.state
        .script(Reply::json(400, json!({"error": "invalid_scope"})));
    assert!(c.get(&req("b")).await.is_err());
    assert_eq!(fake.token_hits(), 5);
}

#[tokio::test]
async fn missing_expires_in_uses_the_default_lifetime() {
    let fake = Fake::start().await;
    fake.state.script(Reply::json(
        200,
        json!({"access_token": "no-exp", "token_type": "Bearer"}),
    ));
    let c = cache(&fake);
    assert_eq!(c.get(&req("a")).await.unwrap().secret(), "no-exp");
    fake.advance(239);
    assert_eq!(c.get(&req("a")).await.unwrap().secret(), "no-exp");
    fake.advance(1);
    assert_eq!(c.get(&req("a")).await.unwrap().secret(), "svc-token-2");
}

#[tokio::test]
async fn public_clients_cannot_build_a_cache_and_debug_is_redacted() {
    let fake = Fake::start().await;
    assert!(ServiceTokenCache::new(fake.client(ClientAuth::None)).is_err());
    let c = cache(&fake);
    let t = c.get(&req("a")).await.unwrap();
    for dbg in [
        format!("{c:?}"),
        format!("{t:?}"),
        format!("{:?}", fake.client(ClientAuth::basic("svc-secret"))),
    ] {
        assert!(
            !dbg.contains("svc-secret") && !dbg.contains("svc-token-1"),
            "{dbg}"
        );
    }
}
