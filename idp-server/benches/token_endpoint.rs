//! What a client_credentials request costs, against the two costs it could be dominated by:
//! an argon2id secret check (which the verified-secret cache removes from the hot path) and
//! the raw ES256 signature; and what a 60 KB parameter bomb costs at the token and
//! authorization endpoints (refused after the 64th parameter).
//!
//! Run with `cargo bench -p idp-server --bench token_endpoint`.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
use base64::Engine;
use criterion::{Criterion, criterion_group, criterion_main};
use http::Request;
use idp_server::Provider;
use idp_server::manage::NewClient;
use idp_server::store::MemoryStore;
use tower::ServiceExt;

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let provider = rt.block_on(async {
        let p = Provider::builder()
            .issuer("http://localhost:4000")
            .store(Arc::new(MemoryStore::new()))
            .encryption_key("benchmark encryption key of 32+ bytes")
            .build()
            .await
            .unwrap();
        p.clients()
            .insert(NewClient {
                client_id: "worker".into(),
                secret: Some("worker-secret".into()),
                grant_types: vec!["client_credentials".into()],
                allowed_scopes: vec!["read".into()],
                audiences: vec!["api".into()],
                ..Default::default()
            })
            .await
            .unwrap();
        p
    });
    let router = provider.router();
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("worker:worker-secret")
    );
    let request = || {
        Request::post("/oauth/token")
            .header("content-type", "application/x-www-form-urlencoded")
            .header("authorization", &basic)
            .body(axum::body::Body::from(
                "grant_type=client_credentials&scope=read",
            ))
            .unwrap()
    };
    // Warm the verified-secret cache, and check the request works.
    let status = rt
        .block_on(router.clone().oneshot(request()))
        .unwrap()
        .status();
    assert_eq!(status, 200);

    let mut g = c.benchmark_group("client_credentials");
    g.bench_function("token_endpoint_warm_secret_cache", |b| {
        b.iter(|| rt.block_on(router.clone().oneshot(request())).unwrap())
    });

    // The parameter bomb: 12,000 parameters in a 60 KB body or query, refused at the 65th.
    let bomb: String = vec!["xy=z"; 12_000].join("&");
    let token_bomb = || {
        Request::post("/oauth/token")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(axum::body::Body::from(format!(
                "grant_type=client_credentials&{bomb}"
            )))
            .unwrap()
    };
    let authorize_bomb = || {
        Request::get(format!("/oauth/authorize?client_id=worker&{bomb}"))
            .body(axum::body::Body::empty())
            .unwrap()
    };
    let status = rt
        .block_on(router.clone().oneshot(token_bomb()))
        .unwrap()
        .status();
    assert_eq!(status, 400);
    let status = rt
        .block_on(router.clone().oneshot(authorize_bomb()))
        .unwrap()
        .status();
    assert_eq!(status, 400);
    g.bench_function("param_bomb_60kb_token", |b| {
        b.iter(|| rt.block_on(router.clone().oneshot(token_bomb())).unwrap())
    });
    g.bench_function("param_bomb_60kb_authorize", |b| {
        b.iter(|| {
            rt.block_on(router.clone().oneshot(authorize_bomb()))
                .unwrap()
        })
    });

    let argon = argon2::Argon2::default(); // argon2id, 19 MiB, 2 passes: what we store
    let salt = SaltString::encode_b64(b"0123456789abcdef").unwrap();
    let phc = argon
        .hash_password(b"worker-secret", &salt)
        .unwrap()
        .to_string();
    g.bench_function("argon2id_verify_baseline", |b| {
        b.iter(|| {
            let parsed = PasswordHash::new(&phc).unwrap();
            argon.verify_password(b"worker-secret", &parsed).unwrap()
        })
    });

    let key = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap();
    let rng = SystemRandom::new();
    let msg = vec![b'x'; 400];
    g.bench_function("es256_sign_baseline", |b| {
        b.iter(|| key.sign(&rng, &msg).unwrap())
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).measurement_time(std::time::Duration::from_secs(4));
    targets = bench
}
criterion_main!(benches);
