//! The token endpoint with any body and any `Authorization` header: the form decoder, the
//! Basic-credentials parser and the grant dispatch. Never a panic, never a 5xx.
#![no_main]

use std::sync::{Arc, OnceLock};

use axum::body::Body;
use http::Request;
use idp_server::Provider;
use idp_server::store::MemoryStore;
use libfuzzer_sys::fuzz_target;
use tower::ServiceExt;

fn setup() -> &'static (tokio::runtime::Runtime, axum::Router) {
    static S: OnceLock<(tokio::runtime::Runtime, axum::Router)> = OnceLock::new();
    S.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let router = rt.block_on(async {
            Provider::builder()
                .issuer("http://localhost:4000")
                .store(Arc::new(MemoryStore::new()))
                .encryption_key("fuzzing encryption key of 32+ bytes")
                .rate_limits(idp_server::RateLimits::insecure_none())
                .build()
                .await
                .unwrap()
                .router()
        });
        (rt, router)
    })
}

fuzz_target!(|data: &[u8]| {
    let (rt, router) = setup();
    // The first line is the Authorization header, the rest the body.
    let split = data.iter().position(|b| *b == b'\n').unwrap_or(data.len());
    let (auth, body) = data.split_at(split);
    let mut req =
        Request::post("/oauth/token").header("content-type", "application/x-www-form-urlencoded");
    if let Ok(v) = http::HeaderValue::from_bytes(auth) {
        req = req.header("authorization", v);
    }
    let Ok(req) = req.body(Body::from(body.get(1..).unwrap_or_default().to_vec())) else {
        return;
    };
    let status = rt.block_on(router.clone().oneshot(req)).unwrap().status();
    assert!(status.as_u16() < 500, "{status}");
});
