//! The authorization endpoint with any query string: the query decoder, the request checks
//! and the error pages. Never a panic, never a 5xx, never a redirect off the registered URI.
#![no_main]

use std::sync::{Arc, OnceLock};

use axum::body::Body;
use http::Request;
use idp_server::Provider;
use idp_server::manage::NewClient;
use idp_server::store::MemoryStore;
use libfuzzer_sys::fuzz_target;
use tower::ServiceExt;

const REDIRECT: &str = "http://localhost:3000/callback";

fn setup() -> &'static (tokio::runtime::Runtime, axum::Router) {
    static S: OnceLock<(tokio::runtime::Runtime, axum::Router)> = OnceLock::new();
    S.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let router = rt.block_on(async {
            let p = Provider::builder()
                .issuer("http://localhost:4000")
                .store(Arc::new(MemoryStore::new()))
                .encryption_key("fuzzing encryption key of 32+ bytes")
                .rate_limits(idp_server::RateLimits::insecure_none())
                .build()
                .await
                .unwrap();
            p.clients()
                .insert(NewClient {
                    client_id: "web".into(),
                    secret: Some("web-secret".into()),
                    redirect_uris: vec![REDIRECT.into()],
                    allowed_scopes: vec!["openid".into()],
                    ..Default::default()
                })
                .await
                .unwrap();
            p.router()
        });
        (rt, router)
    })
}

fuzz_target!(|data: &[u8]| {
    let (rt, router) = setup();
    let Ok(query) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(req) =
        Request::get(format!("/oauth/authorize?client_id=web&{query}")).body(Body::empty())
    else {
        return;
    };
    let resp = rt.block_on(router.clone().oneshot(req)).unwrap();
    assert!(resp.status().as_u16() < 500, "{}", resp.status());
    if let Some(l) = resp.headers().get("location") {
        assert!(l.to_str().unwrap_or("").starts_with(REDIRECT), "{l:?}");
    }
});
