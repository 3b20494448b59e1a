//! The other half of `bench/run`: everything the benchmark measures the provider against.
//!
//! ```text
//! idp-bench serve HELLO_ADDR CEILING_ADDR API_ADDR ISSUER   # three servers, until killed
//! idp-bench crypto                                         # single-threaded rates, JSON
//! idp-bench mint ISSUER CLIENT SECRET COUNT FILE           # COUNT service tokens, one per line
//! idp-bench drive ISSUER CONNS SECONDS TOKEN_FILE          # stateful endpoints (drive.rs)
//! idp-bench burst ISSUER CLIENT SECRET COUNT               # COUNT token requests at once
//! ```
//!
//! - `HELLO_ADDR`: `GET /` answers `hello` (the HTTP stack alone).
//! - `CEILING_ADDR`: `POST /token` signs one ES256 JWT shaped like an access token and
//!   answers it as a token response: no authentication, no storage; the most a token
//!   endpoint can do with that key type on this machine.
//! - `API_ADDR`: `GET /open` and `GET /protected` answer the same small JSON; the second is
//!   behind `JwtAuthLayer` with the provider's JWKS (audience `bench-api`);
//!   `GET /protected-uncached` the same without the verified-token cache.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod drive;

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED, ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair,
    RSA_PKCS1_2048_8192_SHA256, RSA_PKCS1_SHA256, RsaKeyPair, UnparsedPublicKey,
};
use axum::Router;
use axum::routing::{get, post};
use idp_core::{Algorithm, JwsSigner, encode_jws};

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

struct Es256(EcdsaKeyPair);

impl JwsSigner for Es256 {
    fn algorithm(&self) -> Algorithm {
        Algorithm::ES256
    }
    fn key_id(&self) -> Option<&str> {
        Some("ceiling")
    }
    fn sign(&self, input: &[u8]) -> Result<Vec<u8>, idp_core::Error> {
        Ok(self
            .0
            .sign(&SystemRandom::new(), input)
            .unwrap()
            .as_ref()
            .to_vec())
    }
}

/// One access token's worth of claims and signature, as the provider's would be.
fn ceiling_token(key: &Es256) -> String {
    let iat = now();
    let claims = serde_json::json!({
        "iss": "http://127.0.0.1/ceiling", "sub": "bench", "aud": "bench-api",
        "exp": iat + 900, "iat": iat, "jti": iat.to_string(), "client_id": "bench",
        "scope": "read", "token_use": "service",
    });
    encode_jws(key, Some("at+jwt"), &claims).unwrap()
}

async fn serve(hello: String, ceiling: String, api: String, issuer: String) {
    let key = Arc::new(Es256(
        EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap(),
    ));
    let hello_app = Router::new().route("/", get(|| async { "hello" }));
    let ceiling_app = Router::new().route(
        "/token",
        post(move || {
            let key = Arc::clone(&key);
            async move {
                axum::Json(serde_json::json!({
                    "access_token": ceiling_token(&key),
                    "token_type": "Bearer",
                    "expires_in": 900,
                }))
            }
        }),
    );
    let builder = || {
        let policy = idp_core::ValidationPolicy::builder()
            .issuer(issuer.clone())
            .audience("bench-api")
            .algorithms([Algorithm::ES256])
            .build()
            .unwrap();
        idp_tower::JwtAuthLayer::jwks_uri(policy, format!("{issuer}/.well-known/jwks.json"))
    };
    let auth = builder().build().unwrap();
    // Every token verified: what distinct tokens cost once none is in the cache.
    let verify_all = builder().no_token_cache().build().unwrap();
    let answer = || async { axum::Json(serde_json::json!({"orders": [1, 2, 3]})) };
    let api_app = Router::new()
        .route("/protected", get(answer).layer(auth))
        .route("/protected-uncached", get(answer).layer(verify_all))
        .route("/open", get(answer));
    let listen = |addr: String, app: Router| async move {
        let l = tokio::net::TcpListener::bind(&addr).await.unwrap();
        tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
    };
    listen(hello, hello_app).await;
    listen(ceiling, ceiling_app).await;
    listen(api, api_app).await;
    println!("ready");
    std::future::pending::<()>().await;
}

/// Operations per second of `op`, run for about a second on this thread.
fn rate(mut op: impl FnMut()) -> f64 {
    op();
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < Duration::from_secs(1) {
        op();
        n += 1;
    }
    n as f64 / start.elapsed().as_secs_f64()
}

fn crypto() {
    let rng = SystemRandom::new();
    let msg = b"eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJiZW5jaCJ9";
    let ec = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap();
    let ec_sig = ec.sign(&rng, msg).unwrap();
    let ec_pub =
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, ec.public_key().as_ref().to_vec());
    let rsa = RsaKeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
    let mut rsa_sig = vec![0; rsa.public_modulus_len()];
    rsa.sign(&RSA_PKCS1_SHA256, &rng, msg, &mut rsa_sig)
        .unwrap();
    let rsa_pub = UnparsedPublicKey::new(
        &RSA_PKCS1_2048_8192_SHA256,
        rsa.public_key().as_ref().to_vec(),
    );
    let argon = argon2::Argon2::new(
        argon2::Algorithm::Argon2id,
        argon2::Version::V0x13,
        argon2::Params::new(19 * 1024, 2, 1, Some(32)).unwrap(),
    );
    let mut out = [0u8; 32];
    // Working memory reused, as the provider's hashing threads do.
    let mut blocks = vec![argon2::Block::default(); argon.params().block_count()];
    let out_json = serde_json::json!({
        "es256_sign": rate(|| { ec.sign(&rng, msg).unwrap(); }),
        "es256_verify": rate(|| ec_pub.verify(msg, ec_sig.as_ref()).unwrap()),
        "rs256_sign": rate(|| rsa.sign(&RSA_PKCS1_SHA256, &rng, msg, &mut rsa_sig).unwrap()),
        "rs256_verify": rate(|| rsa_pub.verify(msg, &rsa_sig).unwrap()),
        "argon2id_verify": rate(|| argon.hash_password_into_with_memory(b"correct horse battery", b"saltsaltsaltsalt", &mut out, &mut blocks[..]).unwrap()),
    });
    println!("{out_json}");
}

async fn mint(issuer: String, client: String, secret: String, count: usize, file: String) {
    let http = reqwest::Client::new();
    let mut tokens = Vec::with_capacity(count);
    for chunk in 0..count.div_ceil(16) {
        let batch = (chunk * 16..((chunk + 1) * 16).min(count)).map(|_| {
            http.post(format!("{issuer}/oauth/token"))
                .basic_auth(&client, Some(&secret))
                .form(&[
                    ("grant_type", "client_credentials"),
                    ("resource", "bench-api"),
                ])
                .send()
        });
        for resp in futures_join(batch).await {
            let v: serde_json::Value = resp.unwrap().json().await.unwrap();
            tokens.push(v["access_token"].as_str().unwrap().to_owned());
        }
    }
    std::fs::write(file, tokens.join("\n") + "\n").unwrap();
}

/// `count` client_credentials requests sent at once (a cold start under load); prints how
/// many succeeded.
async fn burst(issuer: String, client: String, secret: String, count: usize) {
    let http = reqwest::Client::new();
    let reqs = (0..count).map(|_| {
        http.post(format!("{issuer}/oauth/token"))
            .basic_auth(&client, Some(&secret))
            .form(&[
                ("grant_type", "client_credentials"),
                ("resource", "bench-api"),
            ])
            .send()
    });
    let ok = futures_join(reqs)
        .await
        .into_iter()
        .filter(|r| r.as_ref().is_ok_and(|r| r.status().is_success()))
        .count();
    println!("{ok}/{count} succeeded");
}

/// Awaits every future of `futs`, concurrently (a tiny `join_all`).
async fn futures_join<F>(futs: impl Iterator<Item = F>) -> Vec<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futs.map(tokio::spawn).collect();
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.unwrap());
    }
    out
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize| {
        args.get(i)
            .cloned()
            .expect("missing argument (see the doc comment)")
    };
    match args.first().map(String::as_str) {
        Some("serve") => serve(arg(1), arg(2), arg(3), arg(4)).await,
        Some("crypto") => crypto(),
        Some("mint") => mint(arg(1), arg(2), arg(3), arg(4).parse().unwrap(), arg(5)).await,
        Some("drive") => {
            drive::drive(
                arg(1),
                arg(2).parse().unwrap(),
                arg(3).parse().unwrap(),
                arg(4),
            )
            .await;
        }
        Some("burst") => burst(arg(1), arg(2), arg(3), arg(4).parse().unwrap()).await,
        _ => eprintln!("usage: idp-bench serve|crypto|mint … (see src/main.rs)"),
    }
}
