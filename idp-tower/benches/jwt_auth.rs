//! `JwtAuthLayer` on the request path, with static keys (no I/O, the layer's synchronous
//! path), with and without the verified-token cache:
//!
//! - `repeated_token/*`: the same ES256 access token on every request, the common case of a
//!   client calling an API many times within its token's lifetime (a cache hit: a SHA-256 of
//!   the token, a lookup and a clone of the claims, against a full verification: header
//!   decode, key selection, ECDSA P-256 verification, claims parsing);
//! - `new_token/*`: a token never seen before on every request (a cache miss: the full
//!   verification plus the hash and the insertion, against the full verification alone).
//!
//! Each iteration builds the request outside the measurement and polls the layer's future
//! once (it is ready at once with static keys).
//!
//! Run with `cargo bench -p idp-tower --bench jwt_auth`.

#![allow(clippy::unwrap_used, clippy::expect_used)]
// `criterion_group!` generates an undocumented `pub fn`.
#![allow(missing_docs)]

use std::convert::Infallible;
use std::future::{Future, poll_fn};
use std::hint::black_box;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use http::{Request, Response};
use idp_tower::JwtAuthLayer;
use idp_tower::idp_core::{
    AccessTokenClaims, Algorithm, Jwk, JwkSet, ValidationPolicy, VerificationKeys,
};
use tower::{Layer, Service, service_fn};

const ISS: &str = "https://id.example.com";

/// An ES256 access token signed by `key` under kid `k1`, valid until 2096; `jti` makes it
/// unique (the signature is randomised anyway).
fn token(key: &EcdsaKeyPair, jti: u64) -> String {
    let header = r#"{"alg":"ES256","typ":"at+jwt","kid":"k1"}"#;
    let claims = serde_json::json!({
        "iss": ISS, "sub": "user-1", "aud": "orders-api", "exp": 4_000_000_000_i64,
        "iat": 1_700_000_000, "jti": format!("j{jti}"), "client_id": "web",
        "scope": "read:orders write:orders", "token_use": "user",
    });
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let sig = key.sign(&SystemRandom::new(), input.as_bytes()).unwrap();
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig.as_ref()))
}

fn layer(key: &EcdsaKeyPair, cache: bool) -> JwtAuthLayer {
    let point = key.public_key().as_ref();
    let jwk = Jwk::ec("P-256", &point[1..33], &point[33..65])
        .with_kid("k1")
        .for_signing(Algorithm::ES256);
    let policy = ValidationPolicy::builder()
        .issuer(ISS)
        .audience("orders-api")
        .algorithms([Algorithm::ES256])
        .required_typ("at+jwt")
        .build()
        .unwrap();
    let builder = JwtAuthLayer::keys(policy, VerificationKeys::from_jwks(&JwkSet::new(vec![jwk])));
    let builder = if cache {
        builder
    } else {
        builder.no_token_cache()
    };
    builder.build().unwrap()
}

fn request(token: &str) -> Request<String> {
    Request::get("/orders")
        .header("authorization", format!("Bearer {token}"))
        .body(String::new())
        .unwrap()
}

/// Polls a future that must be ready at once (static keys, a ready handler).
fn now<F: Future>(f: F) -> F::Output {
    let mut cx = Context::from_waker(Waker::noop());
    match pin!(f).poll(&mut cx) {
        Poll::Ready(out) => out,
        Poll::Pending => panic!("the layer went asynchronous with static keys"),
    }
}

/// One request through `svc`: `poll_ready`, `call`, the response future.
fn serve<S>(svc: &mut S, req: Request<String>) -> S::Response
where
    S: Service<Request<String>>,
    S::Error: std::fmt::Debug,
{
    now(poll_fn(|cx| svc.poll_ready(cx))).unwrap();
    now(svc.call(req)).unwrap()
}

fn bench(c: &mut Criterion) {
    let key = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap();
    let handler = service_fn(|req: Request<String>| async move {
        let claims = req.extensions().get::<AccessTokenClaims>().unwrap();
        Ok::<_, Infallible>(Response::new(claims.sub.len()))
    });
    let repeated = token(&key, 0);

    let mut group = c.benchmark_group("repeated_token");
    for (name, cache) in [("cache", true), ("no_cache", false)] {
        let mut svc = layer(&key, cache).layer(handler);
        let res = serve(&mut svc, request(&repeated));
        assert_eq!(res.status(), 200);
        group.bench_function(name, |b| {
            b.iter_batched(
                || request(&repeated),
                |req| black_box(serve(&mut svc, req)),
                BatchSize::SmallInput,
            );
        });
    }
    group.finish();

    let mut group = c.benchmark_group("new_token");
    group.sample_size(20);
    for (name, cache) in [("cache", true), ("no_cache", false)] {
        let mut svc = layer(&key, cache).layer(handler);
        let mut jti = 0;
        group.bench_function(name, |b| {
            b.iter_batched(
                || {
                    jti += 1;
                    request(&token(&key, jti))
                },
                |req| black_box(serve(&mut svc, req)),
                BatchSize::SmallInput,
            );
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
