//! A fake provider on 127.0.0.1:0: a discovery document and a JWK Set whose keys the test
//! rotates, and which it can make fail. Counts requests.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use idp_tower::idp_client::{HttpClient, JwksCache};
use idp_tower::idp_core::{Algorithm, FixedClock, ValidationPolicy};
use idp_tower::{JwtAuthLayer, JwtAuthLayerBuilder};
use serde_json::json;

use crate::support::{AUD, clock, jwk};

#[derive(Default)]
pub struct ProviderState {
    pub issuer: Mutex<String>,
    pub kids: Mutex<Vec<String>>,
    pub jwks_fail: AtomicBool,
    pub discovery_fail: AtomicBool,
    pub jwks_hits: AtomicUsize,
    pub discovery_hits: AtomicUsize,
}

pub struct Provider {
    pub issuer: String,
    pub state: Arc<ProviderState>,
    pub clock: Arc<FixedClock>,
}

impl Provider {
    /// Starts a provider publishing `k1`.
    pub async fn start() -> Self {
        let state = Arc::new(ProviderState::default());
        let app = Router::new()
            .route("/.well-known/openid-configuration", get(discovery))
            .route("/jwks", get(jwks))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let issuer = format!("http://{}", listener.local_addr().unwrap());
        *state.issuer.lock().unwrap() = issuer.clone();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        let p = Self {
            issuer,
            state,
            clock: clock(),
        };
        p.publish(&["k1"]);
        p
    }

    pub fn publish(&self, kids: &[&str]) {
        *self.state.kids.lock().unwrap() = kids.iter().map(|k| (*k).to_owned()).collect();
    }

    pub fn jwks_hits(&self) -> usize {
        self.state.jwks_hits.load(Ordering::SeqCst)
    }

    pub fn discovery_hits(&self) -> usize {
        self.state.discovery_hits.load(Ordering::SeqCst)
    }

    pub fn set_jwks_fail(&self, fail: bool) {
        self.state.jwks_fail.store(fail, Ordering::SeqCst);
    }

    pub fn advance(&self, secs: u64) {
        self.clock.advance(std::time::Duration::from_secs(secs));
    }

    pub fn http(&self) -> HttpClient {
        HttpClient::builder()
            .timeout(std::time::Duration::from_secs(5))
            .build()
            .unwrap()
    }

    /// A layer for this provider that discovers its keys, on the provider's clock.
    pub fn layer_builder(&self) -> JwtAuthLayerBuilder {
        JwtAuthLayer::discover(self.policy())
            .http_client(self.http())
            .clock(self.clock.clone())
    }

    /// A layer for this provider that reads its JWK Set URL, on the provider's clock.
    pub fn jwks_uri_layer_builder(&self) -> JwtAuthLayerBuilder {
        JwtAuthLayer::jwks_uri(self.policy(), format!("{}/jwks", self.issuer))
            .http_client(self.http())
            .clock(self.clock.clone())
    }

    /// The validation rules for this provider's tokens.
    pub fn policy(&self) -> ValidationPolicy {
        ValidationPolicy::builder()
            .issuer(self.issuer.clone())
            .audience(AUD)
            .algorithms([Algorithm::ES256])
            .build()
            .unwrap()
    }

    pub fn jwks_cache(&self) -> JwksCache {
        JwksCache::builder(format!("{}/jwks", self.issuer))
            .http_client(self.http())
            .clock(self.clock.clone())
            .build()
            .unwrap()
    }
}

type S = State<Arc<ProviderState>>;

async fn discovery(State(s): S) -> Response {
    s.discovery_hits.fetch_add(1, Ordering::SeqCst);
    if s.discovery_fail.load(Ordering::SeqCst) {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    }
    let issuer = s.issuer.lock().unwrap().clone();
    axum::Json(json!({
        "issuer": issuer,
        "jwks_uri": format!("{issuer}/jwks"),
        "token_endpoint": format!("{issuer}/token"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["ES256"],
    }))
    .into_response()
}

async fn jwks(State(s): S) -> Response {
    s.jwks_hits.fetch_add(1, Ordering::SeqCst);
    if s.jwks_fail.load(Ordering::SeqCst) {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    }
    let keys: Vec<_> = s.kids.lock().unwrap().iter().map(|k| jwk(k)).collect();
    axum::Json(json!({ "keys": keys })).into_response()
}
