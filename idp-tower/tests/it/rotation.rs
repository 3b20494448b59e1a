//! `JwtAuthLayer` against a provider over HTTP: discovery, an explicit `jwks_uri`, a shared
//! `JwksCache`, a key rotated while the API runs, and keys that cannot be obtained.

use std::time::Duration;

use http::StatusCode;
use idp_tower::JwtAuthLayer;
use idp_tower::idp_core::{Algorithm, ValidationPolicy};
use serde_json::{Value, json};

use crate::provider::Provider;
use crate::support::*;

fn claims_for(p: &Provider) -> Value {
    claims_with("iss", json!(p.issuer))
}

fn token(p: &Provider, kid: &str) -> String {
    sign(kid, &claims_for(p))
}

fn assert_unavailable(res: &http::Response<String>) {
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(res.headers().is_empty(), "{:?}", res.headers());
    assert!(res.body().is_empty());
}

#[tokio::test]
async fn keys_are_discovered_from_the_issuer_and_cached() {
    let p = Provider::start().await;
    let layer = p.layer_builder().build().unwrap();
    assert_eq!(
        (p.discovery_hits(), p.jwks_hits()),
        (0, 0),
        "nothing fetched at build"
    );
    for _ in 0..3 {
        let res = send_token(&layer, &token(&p, "k1")).await;
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(res.body(), "user-1");
    }
    assert_eq!((p.discovery_hits(), p.jwks_hits()), (1, 1));
}

#[tokio::test]
async fn keys_from_an_explicit_jwks_uri() {
    let p = Provider::start().await;
    let layer = p.jwks_uri_layer_builder().build().unwrap();
    let res = send_token(&layer, &token(&p, "k1")).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!((p.discovery_hits(), p.jwks_hits()), (0, 1));
}

#[tokio::test]
async fn keys_from_an_existing_jwks_cache() {
    let p = Provider::start().await;
    let cache = p.jwks_cache();
    let layer = JwtAuthLayer::jwks_cache(p.policy(), cache.clone())
        .build()
        .unwrap();
    let res = send_token(&layer, &token(&p, "k1")).await;
    assert_eq!(res.status(), StatusCode::OK);
    // The cache is shared: it already holds the keys.
    assert!(cache.keys_for(Some("k1")).await.is_ok());
    assert_eq!(p.jwks_hits(), 1);
}

#[tokio::test]
async fn a_key_rotated_at_the_provider_while_the_api_runs() {
    let p = Provider::start().await;
    let layer = p.layer_builder().build().unwrap();
    assert_eq!(
        send_token(&layer, &token(&p, "k1")).await.status(),
        StatusCode::OK
    );
    assert_eq!(p.jwks_hits(), 1);

    // The provider publishes k2 next to k1 and starts signing with it.
    p.publish(&["k1", "k2"]);
    p.advance(31); // past the cache's refetch cooldown
    let res = send_token(&layer, &token(&p, "k2")).await;
    assert_eq!(res.status(), StatusCode::OK, "{:?}", res.headers());
    assert_eq!(p.jwks_hits(), 2, "one refetch for the new kid");
    // Tokens signed before the rotation stay valid while k1 is published.
    assert_eq!(
        send_token(&layer, &token(&p, "k1")).await.status(),
        StatusCode::OK
    );
    assert_eq!(p.jwks_hits(), 2);

    // The provider retires k1; once the cached set expires (15 min without max-age), tokens
    // signed by k1 are refused and k2 keeps working.
    p.publish(&["k2"]);
    p.advance(16 * 60);
    assert_eq!(
        send_token(&layer, &token(&p, "k2")).await.status(),
        StatusCode::OK
    );
    assert_eq!(p.jwks_hits(), 3);
    p.advance(31);
    let res = send_token(&layer, &token(&p, "k1")).await;
    assert_invalid_token(&res, "unknown key id");
    assert_eq!(p.discovery_hits(), 1, "discovery is not repeated");
}

#[tokio::test]
async fn an_unknown_kid_after_a_refetch_is_401_and_floods_cost_one_fetch() {
    let p = Provider::start().await;
    let layer = p.layer_builder().build().unwrap();
    assert_eq!(
        send_token(&layer, &token(&p, "k1")).await.status(),
        StatusCode::OK
    );
    p.advance(31);
    for i in 0..20 {
        let res = send_token(&layer, &token(&p, &format!("made-up-{i}"))).await;
        assert_invalid_token(&res, "unknown key id");
    }
    assert_eq!(p.jwks_hits(), 2, "one refetch per cooldown");
}

#[tokio::test]
async fn garbage_and_alg_none_never_reach_the_provider() {
    let p = Provider::start().await;
    let layer = p.layer_builder().build().unwrap();
    let none = sign_with(
        &json!({"alg": "none", "kid": "fresh"}),
        &claims_for(&p),
        None,
    );
    assert_invalid_token(&send_token(&layer, &none).await, "algorithm not allowed");
    assert_invalid_token(&send_token(&layer, "garbage").await, "malformed token");
    let hs = sign_with(
        &json!({"alg": "HS256", "kid": "fresh"}),
        &claims_for(&p),
        Some(b"secret"),
    );
    assert_invalid_token(&send_token(&layer, &hs).await, "algorithm not allowed");
    assert_eq!((p.discovery_hits(), p.jwks_hits()), (0, 0));
}

#[tokio::test]
async fn bad_tokens_through_the_cache() {
    let p = Provider::start().await;
    let layer = p.layer_builder().build().unwrap();
    let with = |k: &str, v: Value| {
        let mut c = claims_for(&p);
        c[k] = v;
        sign("k1", &c)
    };
    for (t, description) in [
        (with("exp", json!(T0 - 3600)), "token expired"),
        (with("aud", json!("billing-api")), "wrong audience"),
        (with("iss", json!(ISS)), "wrong issuer"),
    ] {
        assert_invalid_token(&send_token(&layer, &t).await, description);
    }
    let good = token(&p, "k1");
    let tampered = format!("{}.{}", good.rsplit_once('.').unwrap().0, "AAAA");
    assert_invalid_token(&send_token(&layer, &tampered).await, "bad signature");
    assert_eq!(p.jwks_hits(), 1);
}

#[tokio::test]
async fn no_keys_obtainable_is_503_without_detail_then_recovers() {
    let p = Provider::start().await;
    p.set_jwks_fail(true);
    let layer = p.layer_builder().build().unwrap();
    assert_unavailable(&send_token(&layer, &token(&p, "k1")).await);
    // Within the cooldown the provider is not asked again.
    assert_unavailable(&send_token(&layer, &token(&p, "k1")).await);
    assert_eq!(p.jwks_hits(), 1);
    // A missing token is still 401: no keys are needed to say so.
    let res = send(&layer, request(&[])).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);

    p.set_jwks_fail(false);
    p.advance(31);
    assert_eq!(
        send_token(&layer, &token(&p, "k1")).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn cached_keys_outlive_a_provider_outage() {
    let p = Provider::start().await;
    let layer = p.layer_builder().build().unwrap();
    assert_eq!(
        send_token(&layer, &token(&p, "k1")).await.status(),
        StatusCode::OK
    );
    p.set_jwks_fail(true);
    p.advance(20 * 60); // the set has expired; the refresh fails; stale keys are used
    assert_eq!(
        send_token(&layer, &token(&p, "k1")).await.status(),
        StatusCode::OK
    );
    p.advance(2 * 3600); // past max_stale (1 h)
    assert_unavailable(&send_token(&layer, &token(&p, "k1")).await);
}

#[tokio::test]
async fn failed_discovery_is_503_and_retried_after_a_pause() {
    let p = Provider::start().await;
    p.state
        .discovery_fail
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let layer = p.layer_builder().build().unwrap();
    assert_unavailable(&send_token(&layer, &token(&p, "k1")).await);
    assert_unavailable(&send_token(&layer, &token(&p, "k1")).await);
    assert_eq!(p.discovery_hits(), 1);
    p.state
        .discovery_fail
        .store(false, std::sync::atomic::Ordering::SeqCst);
    p.advance(31);
    assert_eq!(
        send_token(&layer, &token(&p, "k1")).await.status(),
        StatusCode::OK
    );
    assert_eq!(p.discovery_hits(), 2);
}

#[tokio::test]
async fn an_unreachable_provider_is_503() {
    // A port that was just free: nothing listens there.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let issuer = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let http = idp_tower::idp_client::HttpClient::builder()
        .timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    let policy = ValidationPolicy::builder()
        .issuer(issuer.clone())
        .audience(AUD)
        .algorithms([Algorithm::ES256])
        .build()
        .unwrap();
    let layer = JwtAuthLayer::discover(policy)
        .http_client(http)
        .build()
        .unwrap();
    let t = sign("k1", &claims_with("iss", json!(issuer)));
    assert_unavailable(&send_token(&layer, &t).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_requests_share_one_discovery_and_one_fetch() {
    let p = Provider::start().await;
    let layer = p.layer_builder().build().unwrap();
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let (layer, t) = (layer.clone(), token(&p, "k1"));
        tasks.push(tokio::spawn(async move {
            send_token(&layer, &t).await.status()
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), StatusCode::OK);
    }
    assert_eq!(p.jwks_hits(), 1);
    assert!(p.discovery_hits() >= 1);
}

/// A service that must be polled ready before each call; its clones start unready. The auth
/// layer must call the instance that `poll_ready` prepared (clone-and-swap), not a clone.
#[derive(Debug)]
struct MustBeReady {
    ready: bool,
}

impl Clone for MustBeReady {
    fn clone(&self) -> Self {
        Self { ready: false }
    }
}

impl tower::Service<http::Request<String>> for MustBeReady {
    type Response = http::Response<String>;
    type Error = std::convert::Infallible;
    type Future = std::future::Ready<Result<Self::Response, Self::Error>>;

    fn poll_ready(
        &mut self,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        self.ready = true;
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, _req: http::Request<String>) -> Self::Future {
        assert!(self.ready, "called without poll_ready");
        self.ready = false;
        std::future::ready(Ok(http::Response::new("ok".to_owned())))
    }
}

#[tokio::test]
async fn the_inner_service_made_ready_is_the_one_called() {
    use tower::{Layer, Service, ServiceExt};
    let p = Provider::start().await;
    let layer = p.layer_builder().build().unwrap();
    let mut svc = layer.layer(MustBeReady { ready: false });
    for _ in 0..3 {
        let req = request(&[&format!("Bearer {}", token(&p, "k1"))]);
        let res = svc.ready().await.unwrap().call(req).await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
    }
    // A token the cache holds takes the synchronous path too: validated asynchronously
    // once, then served from the cache with the service called in place.
    let t = token(&p, "k1");
    for _ in 0..3 {
        let req = request(&[&format!("Bearer {t}")]);
        let res = svc.ready().await.unwrap().call(req).await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
    }
    // Static keys take the synchronous path, which calls the service in place.
    let mut svc = builder()
        .build()
        .unwrap()
        .layer(MustBeReady { ready: false });
    let req = request(&[&format!("Bearer {}", sign("k1", &claims()))]);
    let res = svc.ready().await.unwrap().call(req).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
}
