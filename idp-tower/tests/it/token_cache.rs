//! The verified-token cache of `JwtAuthLayer`: a repeated token is verified once, an entry
//! never outlives the token's `exp` (nor serves it before its `nbf`), a token changed in any
//! byte never hits, and failures are never cached.
//!
//! Verifications are counted through idp-core's per-thread count of JOSE header decodes
//! (its `test-support` feature): a request verified in full decodes the header once, a
//! cache hit never.

use std::time::Duration;

use http::StatusCode;
use idp_tower::JwtAuthLayer;
use idp_tower::idp_core::test_support::header_decodes;
use serde_json::json;

use crate::provider::Provider;
use crate::support::*;

/// Sends `token` through `layer`: the status, the body, and whether the token was verified
/// in full (its header decoded) rather than found in the cache.
async fn verified(layer: &JwtAuthLayer, token: &str) -> (StatusCode, String, bool) {
    let before = header_decodes();
    let res = send_token(layer, token).await;
    let decodes = header_decodes() - before;
    assert!(decodes <= 1, "{decodes} decodes");
    (res.status(), res.into_body(), decodes == 1)
}

fn ok(verified: bool) -> (StatusCode, String, bool) {
    (StatusCode::OK, "user-1".to_owned(), verified)
}

/// Replaces the character at `i` by another one of the base64url alphabet.
fn flip(token: &str, i: usize) -> String {
    let mut bytes = token.as_bytes().to_vec();
    bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
    String::from_utf8(bytes).unwrap()
}

#[tokio::test]
async fn a_repeated_token_is_verified_once() {
    let layer = builder().build().unwrap();
    let token = sign("k1", &claims());
    assert_eq!(verified(&layer, &token).await, ok(true));
    for _ in 0..3 {
        assert_eq!(verified(&layer, &token).await, ok(false));
    }
    // Another token (another signature over the same claims) is verified in full.
    let other = sign("k1", &claims());
    assert_eq!(verified(&layer, &other).await, ok(true));
    assert_eq!(verified(&layer, &other).await, ok(false));

    // Without the cache every request verifies.
    let layer = builder().no_token_cache().build().unwrap();
    for _ in 0..3 {
        assert_eq!(verified(&layer, &token).await, ok(true));
    }
}

#[tokio::test]
async fn a_cache_hit_carries_the_same_claims_and_scope() {
    use idp_tower::RequireScopesLayer;
    use tower::{ServiceBuilder, ServiceExt, service_fn};
    let layer = builder().build().unwrap();
    let svc = ServiceBuilder::new()
        .layer(layer)
        .layer(RequireScopesLayer::new(["read:orders"]))
        .service(service_fn(|req: http::Request<String>| async move {
            let c = req
                .extensions()
                .get::<idp_tower::idp_core::AccessTokenClaims>()
                .unwrap();
            Ok::<_, std::convert::Infallible>(http::Response::new(format!("{}/{}", c.sub, c.jti)))
        }));
    let token = sign("k1", &claims());
    for round in 0..2 {
        let before = header_decodes();
        let req = request(&[&format!("Bearer {token}")]);
        let res = svc.clone().oneshot(req).await.unwrap();
        assert_eq!(res.status(), StatusCode::OK, "round {round}");
        assert_eq!(res.body(), "user-1/j1");
        assert_eq!(header_decodes() - before, u64::from(round == 0));
    }
    // The scope guard sees the scope of a cached token too.
    let token = sign("k1", &claims_with("scope", json!("write:orders")));
    for _ in 0..2 {
        let req = request(&[&format!("Bearer {token}")]);
        let res = svc.clone().oneshot(req).await.unwrap();
        assert_eq!(res.status(), StatusCode::FORBIDDEN);
    }
}

#[tokio::test]
async fn an_entry_ends_at_the_tokens_exp() {
    let clock = clock();
    let layer = builder_with(policy().leeway(Duration::from_secs(30)))
        .clock(clock.clone())
        .build()
        .unwrap();
    let token = sign("k1", &claims_with("exp", json!(T0 + 120)));
    assert_eq!(verified(&layer, &token).await, ok(true));
    clock.advance(Duration::from_secs(119));
    assert_eq!(verified(&layer, &token).await, ok(false));
    // At `exp` the cache no longer answers: the validator does, with its leeway, and the
    // token is not cached again.
    clock.advance(Duration::from_secs(1));
    assert_eq!(verified(&layer, &token).await, ok(true));
    assert_eq!(verified(&layer, &token).await, ok(true));
    clock.advance(Duration::from_secs(31));
    let res = send_token(&layer, &token).await;
    assert_invalid_token(&res, "token expired");
}

#[tokio::test]
async fn an_entry_ends_after_the_maximum_ttl() {
    let clock = clock();
    let layer = builder()
        .clock(clock.clone())
        .token_cache_max_ttl(Duration::from_secs(60))
        .build()
        .unwrap();
    let token = sign("k1", &claims());
    assert_eq!(verified(&layer, &token).await, ok(true));
    clock.advance(Duration::from_secs(59));
    assert_eq!(verified(&layer, &token).await, ok(false));
    clock.advance(Duration::from_secs(1));
    // Verified again, and cached again for another minute.
    assert_eq!(verified(&layer, &token).await, ok(true));
    assert_eq!(verified(&layer, &token).await, ok(false));
}

#[tokio::test]
async fn a_token_not_yet_valid_is_not_cached() {
    let clock = clock();
    let layer = builder().clock(clock.clone()).build().unwrap();
    // Accepted within the 60 s leeway on `nbf`, but not cached until `nbf` has passed.
    let token = sign("k1", &claims_with("nbf", json!(T0 + 30)));
    assert_eq!(verified(&layer, &token).await, ok(true));
    assert_eq!(verified(&layer, &token).await, ok(true));
    clock.advance(Duration::from_secs(30));
    assert_eq!(verified(&layer, &token).await, ok(true));
    assert_eq!(verified(&layer, &token).await, ok(false));
}

#[tokio::test]
async fn a_token_changed_in_any_byte_never_hits() {
    let layer = builder().build().unwrap();
    let token = sign("k1", &claims());
    assert_eq!(verified(&layer, &token).await, ok(true));
    assert_eq!(verified(&layer, &token).await, ok(false));

    let header_end = token.find('.').unwrap();
    let payload_end = token.rfind('.').unwrap();
    let in_signature = flip(&token, (payload_end + token.len()) / 2);
    let in_payload = flip(&token, (header_end + payload_end) / 2);
    let in_header = flip(&token, header_end / 2);
    let truncated = token[..token.len() - 1].to_owned();
    for (bad, what) in [
        (&in_signature, "signature"),
        (&in_payload, "payload"),
        (&in_header, "header"),
        (&truncated, "truncated signature"),
    ] {
        // Twice: a failure is not cached either.
        for _ in 0..2 {
            let (status, _, verified) = verified(&layer, bad).await;
            assert_eq!(
                (status, verified),
                (StatusCode::UNAUTHORIZED, true),
                "{what}"
            );
        }
    }
    assert_invalid_token(&send_token(&layer, &in_signature).await, "bad signature");
    assert_invalid_token(&send_token(&layer, &in_payload).await, "bad signature");
    // The original is still cached.
    assert_eq!(verified(&layer, &token).await, ok(false));
}

#[tokio::test]
async fn failures_are_not_cached() {
    // A token refused for an unknown key is accepted once the provider publishes the key:
    // the refusal was not remembered.
    let p = Provider::start().await;
    let layer = p.layer_builder().build().unwrap();
    let token = sign("k2", &claims_with("iss", json!(p.issuer)));
    assert_invalid_token(&send_token(&layer, &token).await, "unknown key id");
    p.publish(&["k1", "k2"]);
    p.advance(31); // past the JWKS cache's refetch cooldown
    let res = send_token(&layer, &token).await;
    assert_eq!(res.status(), StatusCode::OK);
    let hits = p.jwks_hits();
    // From now on it is cached: no key lookup, no fetch, no decode.
    assert_eq!(verified(&layer, &token).await, ok(false));
    assert_eq!(p.jwks_hits(), hits);

    // Refused tokens are verified in full on every request, with static keys too.
    let layer = builder().build().unwrap();
    for t in [
        sign("k1", &claims_with("exp", json!(T0 - 3600))),
        sign("k1", &claims_with("aud", json!("billing-api"))),
        sign("k9", &claims()),
    ] {
        for _ in 0..3 {
            let (status, _, verified) = verified(&layer, &t).await;
            assert_eq!((status, verified), (StatusCode::UNAUTHORIZED, true));
        }
    }
}

#[tokio::test]
async fn a_cached_token_outlives_its_key_until_the_maximum_ttl() {
    // The documented trade-off: a token verified before its key left the JWK Set is served
    // from the cache for at most the maximum TTL; a token the layer has not seen is refused.
    let p = Provider::start().await;
    let layer = p
        .layer_builder()
        .token_cache_max_ttl(Duration::from_secs(120))
        .build()
        .unwrap();
    let seen = sign("k1", &claims_with("iss", json!(p.issuer)));
    assert_eq!(verified(&layer, &seen).await, ok(true));

    // The provider drops k1 and signs with k2; the layer refetches for the new kid.
    p.publish(&["k2"]);
    p.advance(31);
    let k2 = sign("k2", &claims_with("iss", json!(p.issuer)));
    assert_eq!(verified(&layer, &k2).await, ok(true));
    assert_eq!(p.jwks_hits(), 2);

    assert_eq!(verified(&layer, &seen).await, ok(false));
    let unseen = sign("k1", &claims_with("iss", json!(p.issuer)));
    assert_invalid_token(&send_token(&layer, &unseen).await, "unknown key id");

    p.advance(120);
    assert_invalid_token(&send_token(&layer, &seen).await, "unknown key id");
    // Without the cache the same token is refused as soon as the key is gone.
    let p = Provider::start().await;
    let layer = p.layer_builder().no_token_cache().build().unwrap();
    let seen = sign("k1", &claims_with("iss", json!(p.issuer)));
    assert_eq!(send_token(&layer, &seen).await.status(), StatusCode::OK);
    p.publish(&["k2"]);
    p.advance(31);
    let k2 = sign("k2", &claims_with("iss", json!(p.issuer)));
    assert_eq!(send_token(&layer, &k2).await.status(), StatusCode::OK);
    assert_invalid_token(&send_token(&layer, &seen).await, "unknown key id");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn many_distinct_tokens_through_a_small_cache() {
    // More distinct tokens than the bound: all are served correctly, whether or not they
    // stay cached (the bound itself is checked in the crate's unit tests, which can see
    // the entry count).
    let layer = builder().token_cache(8).build().unwrap();
    let tokens: Vec<String> = (0..64)
        .map(|i| sign("k1", &claims_with("jti", json!(format!("j{i}")))))
        .collect();
    let mut tasks = Vec::new();
    for round in 0..2 {
        for t in &tokens {
            let (layer, t) = (layer.clone(), t.clone());
            tasks.push(tokio::spawn(async move {
                (round, send_token(&layer, &t).await.status())
            }));
        }
    }
    for t in tasks {
        let (round, status) = t.await.unwrap();
        assert_eq!(status, StatusCode::OK, "round {round}");
    }
}
