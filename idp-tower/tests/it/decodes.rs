//! The JOSE header of a bearer token is decoded exactly once per request that verifies it,
//! whatever the key source, and not at all when the token cache already holds it. idp-core
//! counts its header decodes per thread (its `test-support` feature, on for
//! these tests only); `#[tokio::test]` runs the layer's future on the test's thread.

use http::StatusCode;
use idp_tower::JwtAuthLayer;
use idp_tower::idp_core::test_support::header_decodes;
use serde_json::json;

use crate::provider::Provider;
use crate::support::*;

/// Sends `token` through `layer` and returns the status and how many JOSE headers were
/// decoded on the way.
async fn decodes_for(layer: &JwtAuthLayer, token: &str) -> (StatusCode, u64) {
    let before = header_decodes();
    let res = send_token(layer, token).await;
    (res.status(), header_decodes() - before)
}

/// Tokens refused at each stage: by the parse, by the policy's pre-check, by the keys, by
/// the signature, by the claims.
fn refused(iss: &str) -> Vec<String> {
    let good = claims_with("iss", json!(iss));
    let mut expired = good.clone();
    expired["exp"] = json!(T0 - 3600);
    let signed = sign("k1", &good);
    let (input, _) = signed.rsplit_once('.').unwrap();
    vec![
        "not-a-jwt".to_owned(),
        sign_with(&json!({"alg": "none", "kid": "k1"}), &good, None),
        sign_with(
            &json!({"alg": "HS256", "kid": "k1"}),
            &good,
            Some(b"secret"),
        ),
        sign_with(
            &json!({"alg": "ES256", "kid": "k1", "crit": ["x"]}),
            &good,
            None,
        ),
        format!("{input}."),
        sign("k9", &good),
        format!("{input}.AAAA"),
        sign("k1", &expired),
    ]
}

async fn assert_one_decode_per_request(layer: &JwtAuthLayer, iss: &str) {
    // Two tokens: the first request may fetch discovery and keys, the second finds them
    // cached. (Each ES256 signature is randomised: two tokens, two cache keys.)
    let tokens = [(); 2].map(|()| sign("k1", &claims_with("iss", json!(iss))));
    for (round, token) in tokens.iter().enumerate() {
        assert_eq!(
            decodes_for(layer, token).await,
            (StatusCode::OK, 1),
            "valid token, round {round}"
        );
    }
    // The same token again: the token cache answers, nothing is decoded.
    assert_eq!(
        decodes_for(layer, &tokens[1]).await,
        (StatusCode::OK, 0),
        "cached token"
    );
    for t in refused(iss) {
        let (status, decodes) = decodes_for(layer, &t).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{t:.60}");
        // "not-a-jwt" has no header segment to decode; everything else has one.
        let expected = u64::from(t.contains('.'));
        assert_eq!(decodes, expected, "{t:.60}");
    }
}

#[tokio::test]
async fn static_keys_decode_the_header_once() {
    let layer = builder().build().unwrap();
    assert_one_decode_per_request(&layer, ISS).await;
}

#[tokio::test]
async fn a_jwks_cache_decodes_the_header_once() {
    let p = Provider::start().await;
    let layer = p.jwks_uri_layer_builder().build().unwrap();
    assert_one_decode_per_request(&layer, &p.issuer).await;
}

#[tokio::test]
async fn discovery_decodes_the_header_once() {
    let p = Provider::start().await;
    let layer = p.layer_builder().build().unwrap();
    // A refused token before anything is fetched: decoded once, and no fetch.
    let (status, decodes) = decodes_for(
        &layer,
        &sign_with(&json!({"alg": "none", "kid": "k1"}), &claims(), None),
    )
    .await;
    assert_eq!((status, decodes), (StatusCode::UNAUTHORIZED, 1));
    assert_eq!((p.discovery_hits(), p.jwks_hits()), (0, 0));
    assert_one_decode_per_request(&layer, &p.issuer).await;
    assert_eq!((p.discovery_hits(), p.jwks_hits()), (1, 1));
}
