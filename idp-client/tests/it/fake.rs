//! A small fake provider on 127.0.0.1:0 that does, on demand, what a real one rarely does:
//! rotate keys, fail its JWKS endpoint, answer 429, redirect, stall. It counts requests.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use idp_client::idp_core::{Algorithm, FixedClock, Jwk, ProviderMetadata};
use idp_client::{Client, ClientAuth, HttpClient};
use serde_json::{Value, json};

/// Unix time the tests' clocks start at.
pub(crate) const T0: i64 = 1_800_000_000;

/// A scripted reply of the token endpoint.
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(&'static str, String)>,
    pub(crate) body: String,
}

impl Reply {
    pub(crate) fn json(status: u16, body: Value) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: body.to_string(),
        }
    }

    pub(crate) fn header(mut self, name: &'static str, value: &str) -> Self {
        self.headers.push((name, value.to_owned()));
        self
    }
}

#[derive(Default)]
pub(crate) struct FakeState {
    pub(crate) issuer: Mutex<String>,
    /// Overrides the `issuer` member of the discovery document.
    pub(crate) advertised_issuer: Mutex<Option<String>>,
    pub(crate) published_kids: Mutex<Vec<String>>,
    pub(crate) extra_jwks_entries: Mutex<Vec<Value>>,
    pub(crate) jwks_cache_control: Mutex<Option<String>>,
    pub(crate) jwks_fail: AtomicBool,
    pub(crate) jwks_hits: AtomicUsize,
    pub(crate) discovery_hits: AtomicUsize,
    pub(crate) token_hits: AtomicUsize,
    pub(crate) token_delay_ms: AtomicU64,
    pub(crate) token_script: Mutex<VecDeque<Reply>>,
    pub(crate) expires_in: AtomicU64,
    pub(crate) token_forms: Mutex<Vec<Vec<(String, String)>>>,
    pub(crate) token_auth: Mutex<Vec<Option<String>>>,
    pub(crate) revoke_forms: Mutex<Vec<Vec<(String, String)>>>,
    pub(crate) introspect_forms: Mutex<Vec<Vec<(String, String)>>>,
    /// When set, a token request with `resource` gets a JWT access token (RFC 9068, signed
    /// by "k1", `aud` the resources); without `resource` an opaque one, as some providers do.
    pub(crate) jwt_for_resource: AtomicBool,
    /// `token_endpoint_auth_methods_supported` of the discovery document.
    pub(crate) auth_methods: Mutex<Option<Vec<String>>>,
}

impl FakeState {
    pub(crate) fn last_token_form(&self) -> HashMap<String, String> {
        self.token_forms
            .lock()
            .unwrap()
            .last()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .collect()
    }

    pub(crate) fn last_token_auth(&self) -> Option<String> {
        self.token_auth.lock().unwrap().last().cloned().flatten()
    }

    pub(crate) fn script(&self, reply: Reply) {
        self.token_script.lock().unwrap().push_back(reply);
    }

    pub(crate) fn publish(&self, kids: &[&str]) {
        *self.published_kids.lock().unwrap() = kids.iter().map(|k| (*k).to_owned()).collect();
    }
}

pub(crate) struct Fake {
    pub(crate) issuer: String,
    pub(crate) state: Arc<FakeState>,
    pub(crate) clock: Arc<FixedClock>,
}

impl Fake {
    pub(crate) async fn start() -> Self {
        let state = Arc::new(FakeState::default());
        state.expires_in.store(300, Ordering::SeqCst);
        state.publish(&["k1"]);
        let app = Router::new()
            .route("/.well-known/openid-configuration", get(discovery))
            .route("/.well-known/oauth-authorization-server", get(discovery))
            .route("/redirect/.well-known/openid-configuration", get(redirect))
            .route("/slow/.well-known/openid-configuration", get(slow))
            .route("/jwks", get(jwks))
            .route("/token", post(token))
            .route("/revoke", post(revoke))
            .route("/introspect", post(introspect))
            .route("/userinfo", get(userinfo))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let issuer = format!("http://{}", listener.local_addr().unwrap());
        *state.issuer.lock().unwrap() = issuer.clone();
        tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self {
            issuer,
            state,
            clock: Arc::new(FixedClock::at_unix(T0)),
        }
    }

    pub(crate) fn metadata(&self) -> ProviderMetadata {
        metadata_for(&self.issuer)
    }

    pub(crate) fn http(&self) -> HttpClient {
        HttpClient::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .unwrap()
    }

    pub(crate) fn client(&self, auth: ClientAuth) -> Client {
        Client::builder(self.metadata(), "web")
            .auth(auth)
            .redirect_uri("http://127.0.0.1/cb")
            .http_client(self.http())
            .clock(self.clock.clone())
            .build()
            .unwrap()
    }

    pub(crate) fn advance(&self, secs: u64) {
        self.clock.advance(Duration::from_secs(secs));
    }

    pub(crate) fn jwks_hits(&self) -> usize {
        self.state.jwks_hits.load(Ordering::SeqCst)
    }

    pub(crate) fn token_hits(&self) -> usize {
        self.state.token_hits.load(Ordering::SeqCst)
    }
}

fn metadata_for(issuer: &str) -> ProviderMetadata {
    let mut m = ProviderMetadata::new(issuer);
    m.authorization_endpoint = Some(format!("{issuer}/authorize"));
    m.token_endpoint = Some(format!("{issuer}/token"));
    m.jwks_uri = Some(format!("{issuer}/jwks"));
    m.revocation_endpoint = Some(format!("{issuer}/revoke"));
    m.introspection_endpoint = Some(format!("{issuer}/introspect"));
    m.userinfo_endpoint = Some(format!("{issuer}/userinfo"));
    m.id_token_signing_alg_values_supported = Some(vec!["ES256".into()]);
    m
}

// ---------------------------------------------------------------------------------------
// Signing keys
// ---------------------------------------------------------------------------------------

/// ES256 keys by kid, generated once per test binary.
fn key(kid: &str) -> &'static EcdsaKeyPair {
    static KEYS: OnceLock<Mutex<HashMap<String, &'static EcdsaKeyPair>>> = OnceLock::new();
    let mut map = KEYS.get_or_init(Default::default).lock().unwrap();
    map.entry(kid.to_owned()).or_insert_with(|| {
        Box::leak(Box::new(
            EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap(),
        ))
    })
}

pub(crate) fn jwk(kid: &str) -> Jwk {
    let point = key(kid).public_key().as_ref().to_vec(); // 04 || x || y
    Jwk::ec("P-256", &point[1..33], &point[33..65])
        .with_kid(kid)
        .for_signing(Algorithm::ES256)
}

fn b64(v: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(v)
}

/// A compact JWS of `claims` signed by `kid` (or by key "k1" with no kid in the header).
pub(crate) fn sign(kid: Option<&str>, claims: &Value) -> String {
    let header = match kid {
        Some(k) => json!({"alg": "ES256", "typ": "JWT", "kid": k}),
        None => json!({"alg": "ES256", "typ": "JWT"}),
    };
    sign_with_header(&header, kid.unwrap_or("k1"), claims)
}

/// A compact JWS of `claims` with this `header` (its `alg` should be ES256), signed by the
/// key `key_id` whatever the header's `kid` says.
pub(crate) fn sign_with_header(header: &Value, key_id: &str, claims: &Value) -> String {
    let input = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    let sig = key(key_id)
        .sign(&SystemRandom::new(), input.as_bytes())
        .unwrap();
    format!("{input}.{}", b64(sig.as_ref()))
}

// ---------------------------------------------------------------------------------------
// Handlers
// ---------------------------------------------------------------------------------------

type S = State<Arc<FakeState>>;

fn respond(status: u16, headers: &[(&str, String)], body: String) -> Response {
    let mut b = Response::builder()
        .status(StatusCode::from_u16(status).unwrap())
        .header("content-type", "application/json");
    for (k, v) in headers {
        b = b.header(*k, v);
    }
    b.body(Body::from(body)).unwrap()
}

fn form(body: &Bytes) -> Vec<(String, String)> {
    url::form_urlencoded::parse(body).into_owned().collect()
}

async fn discovery(State(s): S) -> Response {
    s.discovery_hits.fetch_add(1, Ordering::SeqCst);
    let issuer = s.issuer.lock().unwrap().clone();
    let mut m = metadata_for(&issuer);
    if let Some(other) = s.advertised_issuer.lock().unwrap().clone() {
        m.issuer = other;
    }
    m.token_endpoint_auth_methods_supported = s.auth_methods.lock().unwrap().clone();
    respond(200, &[], serde_json::to_string(&m).unwrap())
}

async fn redirect(State(s): S) -> Response {
    let issuer = s.issuer.lock().unwrap().clone();
    respond(
        302,
        &[(
            "location",
            format!("{issuer}/.well-known/openid-configuration"),
        )],
        String::new(),
    )
}

async fn slow() -> Response {
    tokio::time::sleep(Duration::from_secs(3)).await;
    respond(200, &[], "{}".into())
}

async fn jwks(State(s): S) -> Response {
    s.jwks_hits.fetch_add(1, Ordering::SeqCst);
    if s.jwks_fail.load(Ordering::SeqCst) {
        return respond(500, &[], "oops".into());
    }
    let mut keys: Vec<Value> = s
        .published_kids
        .lock()
        .unwrap()
        .iter()
        .map(|k| serde_json::to_value(jwk(k)).unwrap())
        .collect();
    keys.extend(s.extra_jwks_entries.lock().unwrap().iter().cloned());
    let headers: Vec<(&str, String)> = s
        .jwks_cache_control
        .lock()
        .unwrap()
        .iter()
        .map(|cc| ("cache-control", cc.clone()))
        .collect();
    respond(200, &headers, json!({ "keys": keys }).to_string())
}

async fn token(State(s): S, headers: HeaderMap, body: Bytes) -> Response {
    let n = s.token_hits.fetch_add(1, Ordering::SeqCst) + 1;
    s.token_forms.lock().unwrap().push(form(&body));
    s.token_auth.lock().unwrap().push(
        headers
            .get("authorization")
            .map(|v| v.to_str().unwrap().to_owned()),
    );
    let delay = s.token_delay_ms.load(Ordering::SeqCst);
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    let scripted = s.token_script.lock().unwrap().pop_front();
    if let Some(r) = scripted {
        return respond(r.status, &r.headers, r.body);
    }
    let f = form(&body);
    let resources: Vec<&str> = f
        .iter()
        .filter(|(k, _)| k == "resource")
        .map(|(_, v)| v.as_str())
        .collect();
    let access_token = if s.jwt_for_resource.load(Ordering::SeqCst) && !resources.is_empty() {
        let issuer = s.issuer.lock().unwrap().clone();
        let header = json!({"alg": "ES256", "typ": "at+jwt", "kid": "k1"});
        let claims = json!({
            "iss": issuer, "sub": "user-1", "aud": resources, "client_id": "web",
            "iat": T0, "exp": T0 + 300, "jti": format!("jti-{n}"), "scope": "read:orders",
        });
        sign_with_header(&header, "k1", &claims)
    } else {
        format!("svc-token-{n}")
    };
    let body = json!({
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": s.expires_in.load(Ordering::SeqCst),
    });
    respond(
        200,
        &[("cache-control", "no-store".into())],
        body.to_string(),
    )
}

async fn revoke(State(s): S, body: Bytes) -> Response {
    s.revoke_forms.lock().unwrap().push(form(&body));
    respond(200, &[], String::new())
}

async fn introspect(State(s): S, body: Bytes) -> Response {
    let f = form(&body);
    s.introspect_forms.lock().unwrap().push(f.clone());
    let active = f.iter().any(|(k, v)| k == "token" && v == "at-good");
    let body = if active {
        json!({"active": true, "scope": "read write", "client_id": "web", "sub": "user-1",
               "exp": T0 + 300, "token_type": "Bearer"})
    } else {
        json!({"active": false})
    };
    respond(200, &[], body.to_string())
}

async fn userinfo(headers: HeaderMap) -> Response {
    match headers.get("authorization").and_then(|v| v.to_str().ok()) {
        Some("Bearer at-good") => respond(
            200,
            &[],
            json!({"sub": "user-1", "email": "ada@example.com", "email_verified": true,
                   "name": "Ada", "tenant_role": "admin"})
            .to_string(),
        ),
        _ => respond(
            401,
            &[(
                "www-authenticate",
                r#"Bearer error="invalid_token", error_description="expired""#.into(),
            )],
            String::new(),
        ),
    }
}
