//! Hot-path benchmarks: a warm `ServiceTokenCache::get` and a warm JWKS key lookup (target:
//! under 1 µs each), and a whole warm `JwksCache::validate` of an ES256 access token (parse,
//! key lookup, signature, claims). A tiny provider on 127.0.0.1:0 serves the one token and key set the
//! caches fetch while warming up; the measured calls do no I/O.
//!
//! Run with `cargo bench -p idp-client`.

#![allow(clippy::unwrap_used, clippy::expect_used)]
// `criterion_group!` generates an undocumented `pub fn`.
#![allow(missing_docs)]

use std::hint::black_box;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use axum::Router;
use axum::routing::{get, post};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use criterion::{Criterion, criterion_group, criterion_main};
use futures_util::FutureExt;
use idp_client::idp_core::{
    AccessTokenClaims, Algorithm, Jwk, JwkSet, ProviderMetadata, ValidationPolicy,
};
use idp_client::{Client, ClientAuth, JwksCache, ServiceTokenCache, ServiceTokenRequest};

/// An ES256 access token for `issuer`, signed by `key` under kid `k1`.
fn token(key: &EcdsaKeyPair, issuer: &str) -> String {
    let header = r#"{"alg":"ES256","typ":"at+jwt","kid":"k1"}"#;
    let claims = serde_json::json!({
        "iss": issuer, "sub": "user-1", "aud": "orders-api", "exp": 4_000_000_000_i64,
        "iat": 1_700_000_000, "jti": "j1", "client_id": "svc", "scope": "orders:read",
    });
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let sig = key.sign(&SystemRandom::new(), input.as_bytes()).unwrap();
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig.as_ref()))
}

fn provider(rt: &tokio::runtime::Runtime) -> (String, EcdsaKeyPair) {
    let key = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap();
    let point = key.public_key().as_ref().to_vec();
    let jwk = Jwk::ec("P-256", &point[1..33], &point[33..65])
        .with_kid("k1")
        .for_signing(Algorithm::ES256);
    let jwks = serde_json::to_string(&JwkSet::new(vec![jwk])).unwrap();
    let app = Router::new()
        .route("/jwks", get(move || async move { jwks }))
        .route(
            "/token",
            post(|| async {
                r#"{"access_token":"bench-token","token_type":"Bearer","expires_in":86400}"#
            }),
        );
    let issuer = rt.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        format!("http://{addr}")
    });
    (issuer, key)
}

fn hot_path(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let (issuer, key) = provider(&rt);

    let mut metadata = ProviderMetadata::new(issuer.clone());
    metadata.token_endpoint = Some(format!("{issuer}/token"));
    let client = rt.block_on(async {
        Client::builder(metadata, "svc")
            .auth(ClientAuth::basic("secret"))
            .build()
            .unwrap()
    });
    let cache = ServiceTokenCache::new(client).unwrap();
    let request = ServiceTokenRequest::new()
        .scope("orders:read orders:write".parse().unwrap())
        .audience("orders-api");
    rt.block_on(cache.get(&request)).unwrap();

    let jwks = JwksCache::builder(format!("{issuer}/jwks"))
        .build()
        .unwrap();
    rt.block_on(jwks.keys_for(Some("k1"))).unwrap();

    // The warm paths complete without suspending, so they are polled once, outside any
    // runtime: what is measured is the cache, not an executor.
    c.bench_function("service_token_cache_get_warm", |b| {
        b.iter(|| {
            let t = cache
                .get(black_box(&request))
                .now_or_never()
                .expect("warm get does not suspend")
                .unwrap();
            black_box(t);
        })
    });
    c.bench_function("jwks_key_lookup_warm", |b| {
        b.iter(|| {
            let k = jwks
                .keys_for(black_box(Some("k1")))
                .now_or_never()
                .expect("warm lookup does not suspend")
                .unwrap();
            black_box(k);
        })
    });

    let policy = ValidationPolicy::builder()
        .issuer(issuer.clone())
        .audience("orders-api")
        .algorithms([Algorithm::ES256])
        .required_typ("at+jwt")
        .build()
        .unwrap();
    let token = token(&key, &issuer);
    rt.block_on(jwks.validate::<AccessTokenClaims>(&policy, &token))
        .unwrap();
    c.bench_function("jwks_validate_warm", |b| {
        b.iter(|| {
            let v = jwks
                .validate::<AccessTokenClaims>(black_box(&policy), black_box(&token))
                .now_or_never()
                .expect("warm validation does not suspend")
                .unwrap();
            black_box(v);
        })
    });
    // The same token with an all-zero signature: refused by ECDSA at once, so what is
    // measured is mostly parsing and the key lookup.
    let (input, _) = token.rsplit_once('.').unwrap();
    let forged = format!("{input}.{}", URL_SAFE_NO_PAD.encode([0u8; 64]));
    c.bench_function("jwks_validate_bad_signature_warm", |b| {
        b.iter(|| {
            let e = jwks
                .validate::<AccessTokenClaims>(black_box(&policy), black_box(&forged))
                .now_or_never()
                .expect("warm validation does not suspend")
                .unwrap_err();
            black_box(e);
        })
    });
}

criterion_group!(benches, hot_path);
criterion_main!(benches);
