//! A real provider on 127.0.0.1:0, and helpers to talk to it.

use std::sync::Arc;

use idp_core::{Clock, FixedClock};
use idp_server::Provider;
use idp_server::manage::NewClient;
use idp_server::store::{MemoryStore, Store};
use serde_json::Value;

pub const KEY: &str = "test encryption key, at least 32 bytes long";

pub struct TestServer {
    pub base: String,
    pub provider: Provider,
    pub http: reqwest::Client,
    pub clock: Arc<FixedClock>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl TestServer {
    /// A provider on a memory store with a fixed clock, issuer = its own address.
    pub async fn start() -> Self {
        Self::start_with(Arc::new(MemoryStore::new()), |b| b).await
    }

    pub async fn start_with(
        store: Arc<dyn Store>,
        configure: impl FnOnce(idp_server::ProviderBuilder) -> idp_server::ProviderBuilder,
    ) -> Self {
        let clock = Arc::new(FixedClock::now_frozen());
        Self::start_full(store, clock, configure).await
    }

    pub async fn start_full(
        store: Arc<dyn Store>,
        clock: Arc<FixedClock>,
        configure: impl FnOnce(idp_server::ProviderBuilder) -> idp_server::ProviderBuilder,
    ) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let builder = Provider::builder()
            .issuer(base.clone())
            .store(store)
            .clock(clock.clone() as Arc<dyn Clock>)
            .encryption_key(KEY);
        let provider = configure(builder).build().await.unwrap();
        let router = provider.router();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            // With the peer address, as `idp serve` runs it: rate limits key on it.
            let app = router.into_make_service_with_connect_info::<std::net::SocketAddr>();
            axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await
                .unwrap();
        });
        Self {
            base,
            provider,
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            clock,
            shutdown: Some(tx),
            task: Some(task),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// Stops serving and waits for the server task to end.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.task.take() {
            let _ = t.await;
        }
    }

    /// Registers a client_credentials client with scopes `read write` and audience `api`;
    /// returns its secret.
    pub async fn service_client(&self, id: &str) -> String {
        self.provider
            .clients()
            .insert(NewClient {
                client_id: id.into(),
                secret: Some(format!("{id}-secret").as_str().into()),
                grant_types: vec!["client_credentials".into()],
                allowed_scopes: vec!["read".into(), "write".into()],
                audiences: vec!["api".into(), "other-api".into()],
                ..Default::default()
            })
            .await
            .unwrap();
        format!("{id}-secret")
    }

    pub async fn post_form(
        &self,
        path: &str,
        basic: Option<(&str, &str)>,
        form: &[(&str, &str)],
    ) -> (u16, reqwest::header::HeaderMap, Value) {
        let mut req = self.http.post(self.url(path)).form(form);
        if let Some((u, p)) = basic {
            req = req.basic_auth(u, Some(p));
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = resp.text().await.unwrap();
        let json = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        (status, headers, json)
    }

    /// A client_credentials token for `client` (secret `"{client}-secret"`).
    pub async fn cc_token(&self, client: &str, extra: &[(&str, &str)]) -> String {
        let secret = format!("{client}-secret");
        let mut form = vec![("grant_type", "client_credentials")];
        form.extend_from_slice(extra);
        let (status, _, body) = self
            .post_form("/oauth/token", Some((client, &secret)), &form)
            .await;
        assert_eq!(status, 200, "{body}");
        body["access_token"].as_str().unwrap().to_owned()
    }

    pub async fn get_json(&self, path: &str) -> (u16, reqwest::header::HeaderMap, Value) {
        let resp = self.http.get(self.url(path)).send().await.unwrap();
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        (status, headers, resp.json().await.unwrap_or(Value::Null))
    }
}

/// Verifies `token` with jsonwebtoken (not our validator) against the server's JWKS.
pub async fn verify_with_jsonwebtoken(server: &TestServer, token: &str, aud: &str) -> Value {
    let (_, _, jwks) = server.get_json("/.well-known/jwks.json").await;
    let set: jsonwebtoken::jwk::JwkSet = serde_json::from_value(jwks).unwrap();
    let header = jsonwebtoken::decode_header(token).unwrap();
    let kid = header.kid.clone().expect("token has a kid");
    let jwk = set.find(&kid).expect("kid is published");
    let key = jsonwebtoken::DecodingKey::from_jwk(jwk).unwrap();
    let mut v = jsonwebtoken::Validation::new(header.alg);
    v.set_issuer(&[server.provider.issuer()]);
    v.set_audience(&[aud]);
    // The server runs on a frozen clock close to real time; jsonwebtoken reads the system
    // clock, which is at most a few seconds later.
    jsonwebtoken::decode::<Value>(token, &key, &v)
        .unwrap()
        .claims
}
