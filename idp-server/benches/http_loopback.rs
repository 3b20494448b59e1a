//! The real server on 127.0.0.1 over HTTP/1.1 keep-alive, one request at a time, bounded by
//! criterion's sample count: the provider's endpoints against `/health/live` as the
//! baseline (what the HTTP stack alone costs on this machine).
//!
//! Run with `cargo bench -p idp-server --bench http_loopback`.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use idp_server::manage::NewClient;
use idp_server::store::MemoryStore;
use idp_server::{Provider, RateLimits};

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let (base, token) = rt.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let p = Provider::builder()
            .issuer(base.clone())
            .store(Arc::new(MemoryStore::new()))
            .encryption_key("benchmark encryption key of 32+ bytes")
            .rate_limits(RateLimits::insecure_none())
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
        let router = p.router();
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        let t: serde_json::Value = reqwest::Client::new()
            .post(format!("{base}/oauth/token"))
            .basic_auth("worker", Some("worker-secret"))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        (base, t["access_token"].as_str().unwrap().to_owned())
    });
    let http = reqwest::Client::new();
    let mut g = c.benchmark_group("http_loopback");
    g.bench_function("health_live_baseline", |b| {
        b.iter(|| {
            rt.block_on(async {
                http.get(format!("{base}/health/live"))
                    .send()
                    .await
                    .unwrap()
                    .bytes()
                    .await
                    .unwrap()
            })
        })
    });
    g.bench_function("jwks", |b| {
        b.iter(|| {
            rt.block_on(async {
                http.get(format!("{base}/.well-known/jwks.json"))
                    .send()
                    .await
                    .unwrap()
                    .bytes()
                    .await
                    .unwrap()
            })
        })
    });
    g.bench_function("token_client_credentials", |b| {
        b.iter(|| {
            rt.block_on(async {
                let r = http
                    .post(format!("{base}/oauth/token"))
                    .basic_auth("worker", Some("worker-secret"))
                    .form(&[("grant_type", "client_credentials")])
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 200);
                r.bytes().await.unwrap()
            })
        })
    });
    g.bench_function("introspect_access_token", |b| {
        b.iter(|| {
            rt.block_on(async {
                let r = http
                    .post(format!("{base}/oauth/introspect"))
                    .basic_auth("worker", Some("worker-secret"))
                    .form(&[("token", token.as_str())])
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 200);
                r.bytes().await.unwrap()
            })
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30).measurement_time(std::time::Duration::from_secs(3));
    targets = bench
}
criterion_main!(benches);
