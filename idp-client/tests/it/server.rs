//! Every SDK operation against the real provider (idp-server) on 127.0.0.1:0: discovery,
//! the JWKS cache (and a key rotation), the authorization code flow driven through the
//! login form, callback checks, code exchange with PKCE, refresh rotation, revocation,
//! introspection, userinfo, ID-token verification, the three client authentication methods
//! and the service-token cache.
//!
//! The provider runs on a `FixedClock` frozen near real time; the SDK is given the same clock,
//! so that advancing it moves both sides together and no test sleeps.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use idp_client::idp_core::{
    AccessToken, AccessTokenClaims, Algorithm, Clock, Error as CoreError, ErrorCode, FixedClock,
    IdTokenClaims, ProviderMetadata, Scope, TokenError, TokenUse, ValidationPolicy, at_hash,
};
use idp_client::{
    AudienceParameter, CallbackError, Client, ClientAuth, Discovery, Error, JwksCache,
    PendingAuthorization, ServiceTokenCache, ServiceTokenRequest, TokenSet, WellKnown,
};
use idp_server::Provider;
use idp_server::manage::{NewClient, NewUser};
use idp_server::store::MemoryStore;
use reqwest::header::LOCATION;
use url::Url;

const ENCRYPTION_KEY: &str = "test encryption key, at least 32 bytes long";
const EMAIL: &str = "ada@example.com";
const PASSWORD: &str = "correct horse battery";
/// Where the confidential clients' callbacks go (never fetched: the browser stops there).
const REDIRECT: &str = "http://localhost:3000/callback";
/// The public client's callback (a loopback IP: any port is accepted, RFC 8252 §7.3).
const SPA_REDIRECT: &str = "http://127.0.0.1:4321/callback";
/// Scopes every browser client asks for.
const SCOPES: &str = "openid profile email offline_access";

// ---------------------------------------------------------------------------------------
// The provider
// ---------------------------------------------------------------------------------------

/// Requests the provider has answered, by endpoint.
#[derive(Default)]
struct Hits {
    jwks: AtomicUsize,
    discovery: AtomicUsize,
    token: AtomicUsize,
}

async fn count(State(hits): State<Arc<Hits>>, req: Request, next: Next) -> Response {
    let path = req.uri().path();
    let counter = if path.ends_with("/.well-known/jwks.json") {
        Some(&hits.jwks)
    } else if path.contains("/.well-known/openid-configuration")
        || path.contains("/.well-known/oauth-authorization-server")
    {
        Some(&hits.discovery)
    } else if path.ends_with("/oauth/token") {
        Some(&hits.token)
    } else {
        None
    };
    if let Some(c) = counter {
        c.fetch_add(1, Ordering::SeqCst);
    }
    next.run(req).await
}

/// A provider on 127.0.0.1:0 with a memory store and a frozen clock; its issuer is its own
/// address. It has the user [`EMAIL`] and the clients `web` (client_secret_basic),
/// `web-post` (client_secret_post), `spa` (public), `partner` (needs consent) and `worker`
/// (client_credentials).
struct Idp {
    base: String,
    provider: Provider,
    clock: Arc<FixedClock>,
    hits: Arc<Hits>,
    user_id: String,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Idp {
    async fn start() -> Self {
        Self::start_with(|b| b).await
    }

    async fn start_with(
        configure: impl FnOnce(idp_server::ProviderBuilder) -> idp_server::ProviderBuilder,
    ) -> Self {
        Self::start_full("", configure).await
    }

    /// A provider nested under `prefix` (empty: at the root) of an application; its issuer
    /// is the address followed by the prefix.
    async fn start_full(
        prefix: &str,
        configure: impl FnOnce(idp_server::ProviderBuilder) -> idp_server::ProviderBuilder,
    ) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}{prefix}", listener.local_addr().unwrap());
        let clock = Arc::new(FixedClock::now_frozen());
        let builder = Provider::builder()
            .issuer(base.clone())
            .store(Arc::new(MemoryStore::new()))
            .clock(clock.clone() as Arc<dyn Clock>)
            .encryption_key(ENCRYPTION_KEY);
        let provider = configure(builder).build().await.unwrap();
        let hits = Arc::new(Hits::default());
        let app = if prefix.is_empty() {
            provider.router()
        } else {
            axum::Router::new()
                .nest(prefix, provider.router())
                .merge(provider.root_router())
        };
        let router = app.layer(axum::middleware::from_fn_with_state(hits.clone(), count));
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            axum::serve(listener, router)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await
                .unwrap();
        });
        let user = provider
            .users()
            .insert(NewUser {
                email: EMAIL.into(),
                password: Some(PASSWORD.into()),
                name: Some("Ada Lovelace".into()),
                given_name: Some("Ada".into()),
                family_name: Some("Lovelace".into()),
                email_verified: true,
                ..Default::default()
            })
            .await
            .unwrap();
        let idp = Self {
            base,
            provider,
            clock,
            hits,
            user_id: user.id,
            shutdown: Some(tx),
            task: Some(task),
        };
        idp.register_clients().await;
        idp
    }

    async fn register_clients(&self) {
        let browser_client = |id: &str, method: Option<&str>, first_party: bool| NewClient {
            client_id: id.into(),
            secret: Some(format!("{id}-secret").as_str().into()),
            name: Some(format!("App {id}")),
            redirect_uris: vec![REDIRECT.into()],
            post_logout_redirect_uris: vec!["http://127.0.0.1:9/bye".into()],
            allowed_scopes: ["openid", "profile", "email", "offline_access"]
                .map(String::from)
                .to_vec(),
            grant_types: vec!["authorization_code".into(), "refresh_token".into()],
            token_endpoint_auth_method: method.map(str::to_owned),
            first_party,
            audiences: vec!["api".into()],
            ..Default::default()
        };
        let clients = [
            browser_client("web", None, true),
            browser_client("web-post", Some("client_secret_post"), true),
            browser_client("partner", None, false),
            NewClient {
                client_id: "spa".into(),
                public: true,
                redirect_uris: vec!["http://127.0.0.1/callback".into()],
                allowed_scopes: ["openid", "profile", "email", "offline_access"]
                    .map(String::from)
                    .to_vec(),
                grant_types: vec!["authorization_code".into(), "refresh_token".into()],
                first_party: true,
                ..Default::default()
            },
            NewClient {
                client_id: "worker".into(),
                secret: Some("worker-secret".into()),
                grant_types: vec!["client_credentials".into()],
                allowed_scopes: vec!["read".into(), "write".into()],
                audiences: vec!["api".into(), "other-api".into()],
                ..Default::default()
            },
        ];
        for c in clients {
            self.provider.clients().insert(c).await.unwrap();
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// The clock, as the SDK takes it.
    fn clock(&self) -> Arc<dyn Clock> {
        self.clock.clone()
    }

    fn advance(&self, secs: u64) {
        self.clock.advance(Duration::from_secs(secs));
    }

    fn jwks_hits(&self) -> usize {
        self.hits.jwks.load(Ordering::SeqCst)
    }

    async fn metadata(&self) -> Arc<ProviderMetadata> {
        Discovery::builder(self.base.clone())
            .clock(self.clock())
            .build()
            .unwrap()
            .metadata()
            .await
            .unwrap()
    }

    /// A client of this provider with the redirect URI its registration has.
    async fn client(&self, client_id: &str, auth: ClientAuth) -> Client {
        let redirect = if client_id == "spa" {
            SPA_REDIRECT
        } else {
            REDIRECT
        };
        Client::builder(self.metadata().await, client_id)
            .auth(auth)
            .redirect_uri(redirect)
            .clock(self.clock())
            .build()
            .unwrap()
    }

    /// `web`, authenticating with client_secret_basic.
    async fn web(&self) -> Client {
        self.client("web", ClientAuth::basic("web-secret")).await
    }

    /// A JWKS cache for the provider's keys, on the provider's clock.
    async fn jwks(&self) -> JwksCache {
        let uri = self.metadata().await.jwks_uri.clone().unwrap();
        JwksCache::builder(uri).clock(self.clock()).build().unwrap()
    }

    /// What a resource server accepts: an RFC 9068 access token for `api`, ES256.
    fn access_policy(&self) -> ValidationPolicy {
        ValidationPolicy::builder()
            .issuer(self.base.clone())
            .audience("api")
            .algorithms([Algorithm::ES256])
            .required_typ("at+jwt")
            .build()
            .unwrap()
    }

    async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.task.take() {
            let _ = t.await;
        }
    }
}

// ---------------------------------------------------------------------------------------
// The browser
// ---------------------------------------------------------------------------------------

/// A cookie-keeping HTTP client that never follows redirects: the user's browser.
struct Browser {
    http: reqwest::Client,
}

struct Page {
    status: u16,
    location: Option<String>,
    body: String,
}

impl Page {
    fn is_login_form(&self) -> bool {
        self.body.contains(r#"name="password""#)
    }

    fn is_consent_form(&self) -> bool {
        self.body.contains(r#"value="consent""#)
    }

    /// The redirect target; panics with the page when there is none.
    fn location(&self) -> String {
        assert!(
            matches!(self.status, 302 | 303),
            "expected a redirect, got {}: {}",
            self.status,
            self.body
        );
        self.location.clone().expect("a Location header")
    }

    /// The `action` of the page's form.
    fn form_action(&self) -> String {
        let key = r#"action=""#;
        let start = self.body.find(key).expect("a form") + key.len();
        let end = self.body[start..].find('"').unwrap();
        unescape(&self.body[start..start + end])
    }

    /// The hidden fields of the page's form.
    fn hidden_fields(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for chunk in self.body.split("<input").skip(1) {
            let tag = &chunk[..chunk.find('>').unwrap_or(chunk.len())];
            if !tag.contains(r#"type="hidden""#) {
                continue;
            }
            let attr = |name: &str| {
                let key = format!(r#"{name}=""#);
                tag.find(&key).map(|i| {
                    let rest = &tag[i + key.len()..];
                    unescape(&rest[..rest.find('"').unwrap()])
                })
            };
            if let (Some(n), Some(v)) = (attr("name"), attr("value")) {
                out.push((n, v));
            }
        }
        out
    }
}

fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&#39;", "'")
        .replace("&#x2f;", "/")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

impl Browser {
    fn new() -> Self {
        Self {
            http: reqwest::Client::builder()
                .cookie_store(true)
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
        }
    }

    async fn page(resp: reqwest::Response) -> Page {
        let status = resp.status().as_u16();
        let location = resp
            .headers()
            .get(LOCATION)
            .map(|v| v.to_str().unwrap().to_owned());
        Page {
            status,
            location,
            body: resp.text().await.unwrap(),
        }
    }

    async fn get(&self, url: &str) -> Page {
        Self::page(self.http.get(url).send().await.unwrap()).await
    }

    /// Submits the form on `page` with its hidden fields and `extra`.
    async fn submit(&self, page: &Page, extra: &[(&str, &str)]) -> Page {
        let mut form = page.hidden_fields();
        form.extend(
            extra
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        );
        Self::page(
            self.http
                .post(page.form_action())
                .form(&form)
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    /// Opens the authorization URL, signs in on the login form and returns where the
    /// provider sends the browser back to.
    async fn sign_in(&self, url: &Url) -> String {
        let login = self.get(url.as_str()).await;
        assert_eq!(login.status, 200, "{}", login.body);
        assert!(login.is_login_form(), "not a login page: {}", login.body);
        assert!(
            login
                .hidden_fields()
                .iter()
                .any(|(k, v)| k == "_action" && v == "login")
        );
        assert!(login.hidden_fields().iter().any(|(k, _)| k == "csrf_token"));
        let done = self
            .submit(&login, &[("email", EMAIL), ("password", PASSWORD)])
            .await;
        assert_eq!(done.status, 303, "{}", done.body);
        done.location()
    }
}

// ---------------------------------------------------------------------------------------
// Flows
// ---------------------------------------------------------------------------------------

/// Builds the authorization URL for `client`, signs in through the login form, and returns
/// the pending authorization and the callback URL the browser was sent to.
async fn authorize(client: &Client, browser: &Browser) -> (PendingAuthorization, String) {
    let (url, pending) = client
        .authorization_request()
        .scope(SCOPES)
        .build()
        .unwrap();
    let callback = browser.sign_in(&url).await;
    (pending, callback)
}

/// The whole front and back channel: sign in, check the callback, exchange the code.
async fn sign_in(client: &Client) -> (TokenSet, PendingAuthorization) {
    let (pending, callback) = authorize(client, &Browser::new()).await;
    let code = client.validate_callback(&pending, &callback).unwrap();
    let tokens = client.exchange_code(&pending, code).send().await.unwrap();
    (tokens, pending)
}

fn query(url: &str) -> HashMap<String, String> {
    Url::parse(url)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect()
}

/// The callback URL with `name` replaced by `value` (or removed with `None`).
fn with_param(url: &str, name: &str, value: Option<&str>) -> String {
    let mut u = Url::parse(url).unwrap();
    let pairs: Vec<(String, String)> = u
        .query_pairs()
        .into_owned()
        .filter(|(k, _)| k != name)
        .collect();
    {
        let mut q = u.query_pairs_mut();
        q.clear().extend_pairs(pairs);
        if let Some(v) = value {
            q.append_pair(name, v);
        }
    }
    u.to_string()
}

fn oauth_code(e: &Error) -> ErrorCode {
    e.oauth_error()
        .unwrap_or_else(|| panic!("expected an OAuth error, got {e:?}"))
        .error
        .clone()
}

fn token_error(e: &Error) -> TokenError {
    match e {
        Error::Token(CoreError::InvalidToken(t)) => t.clone(),
        other => panic!("expected a token error, got {other:?}"),
    }
}

/// A fresh client_credentials token for `api`, uncached.
async fn cc(worker: &Client) -> AccessToken {
    worker
        .client_credentials()
        .audience("api")
        .send()
        .await
        .unwrap()
        .access_token
}

fn kid(token: &str) -> String {
    use base64::Engine;
    let header = token.split('.').next().unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(header)
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    v["kid"].as_str().unwrap().to_owned()
}

// ---------------------------------------------------------------------------------------
// Discovery
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn discovery_reads_the_servers_metadata_and_caches_it() {
    let idp = Idp::start().await;
    let discovery = Discovery::builder(idp.base.clone())
        .clock(idp.clock())
        .build()
        .unwrap();
    let m = discovery.metadata().await.unwrap();
    assert_eq!(m.issuer, idp.base);
    assert_eq!(
        m.authorization_endpoint.as_deref(),
        Some(idp.url("/oauth/authorize").as_str())
    );
    assert_eq!(
        m.token_endpoint.as_deref(),
        Some(idp.url("/oauth/token").as_str())
    );
    assert_eq!(
        m.jwks_uri.as_deref(),
        Some(idp.url("/.well-known/jwks.json").as_str())
    );
    for (endpoint, path) in [
        (&m.userinfo_endpoint, "/oauth/userinfo"),
        (&m.introspection_endpoint, "/oauth/introspect"),
        (&m.revocation_endpoint, "/oauth/revoke"),
    ] {
        assert_eq!(endpoint.as_deref(), Some(idp.url(path).as_str()));
    }
    assert_eq!(m.authorization_response_iss_parameter_supported, Some(true));
    assert!(
        m.code_challenge_methods_supported
            .iter()
            .flatten()
            .any(|c| c == "S256")
    );
    // A second call is served from the cache.
    let again = discovery.metadata().await.unwrap();
    assert!(Arc::ptr_eq(&m, &again));
    assert_eq!(idp.hits.discovery.load(Ordering::SeqCst), 1);
    // After the TTL it is fetched again.
    idp.advance(3601);
    discovery.metadata().await.unwrap();
    assert_eq!(idp.hits.discovery.load(Ordering::SeqCst), 2);

    // RFC 8414's document names the same endpoints.
    let oauth = Discovery::builder(idp.base.clone())
        .well_known(WellKnown::OAuthAuthorizationServer)
        .clock(idp.clock())
        .build()
        .unwrap();
    assert_eq!(
        oauth.url().as_str(),
        idp.url("/.well-known/oauth-authorization-server")
    );
    let m2 = oauth.metadata().await.unwrap();
    assert_eq!(m2.issuer, idp.base);
    assert_eq!(m2.token_endpoint, m.token_endpoint);
    idp.stop().await;
}

#[tokio::test]
async fn discovery_refuses_metadata_for_another_issuer() {
    let idp = Idp::start().await;
    // A trailing slash is another issuer identifier (OIDC Discovery §4.3: exact match).
    let configured = format!("{}/", idp.base);
    let err = Discovery::builder(configured.clone())
        .clock(idp.clock())
        .build()
        .unwrap()
        .metadata()
        .await
        .unwrap_err();
    match err {
        Error::IssuerMismatch { expected, found } => {
            assert_eq!(expected, configured);
            assert_eq!(found, idp.base);
        }
        other => panic!("expected an issuer mismatch, got {other:?}"),
    }
    // An issuer with a path the provider does not serve: its 404, not a mismatch.
    let err = Discovery::builder(idp.url("/tenant-a"))
        .clock(idp.clock())
        .build()
        .unwrap()
        .metadata()
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(404), "{err:?}");
    idp.stop().await;
}

#[tokio::test]
async fn a_provider_mounted_under_a_prefix_works_end_to_end() {
    let idp = Idp::start_full("/idp", |b| b).await;
    assert!(idp.base.ends_with("/idp"));
    let m = idp.metadata().await;
    assert_eq!(m.issuer, idp.base);
    assert_eq!(
        m.token_endpoint.as_deref(),
        Some(idp.url("/oauth/token").as_str())
    );
    let web = idp.web().await;
    let (pending, callback) = authorize(&web, &Browser::new()).await;
    assert_eq!(query(&callback)["iss"], idp.base);
    let code = web.validate_callback(&pending, &callback).unwrap();
    let set = web.exchange_code(&pending, code).send().await.unwrap();
    assert_eq!(set.id_token_claims.unwrap().iss, idp.base);
    let info = web.userinfo(&set.tokens.access_token).await.unwrap();
    assert_eq!(info.sub, idp.user_id);
    let rt = set.tokens.refresh_token.unwrap();
    let refreshed = web.refresh(&rt).send().await.unwrap();
    web.revoke(refreshed.tokens.refresh_token.as_ref().unwrap())
        .await
        .unwrap();
    idp.stop().await;
}

#[tokio::test]
async fn rfc8414_metadata_of_a_prefixed_provider_is_at_the_path_inserted_url() {
    let idp = Idp::start_full("/idp", |b| b).await;
    let oauth = Discovery::builder(idp.base.clone())
        .well_known(WellKnown::OAuthAuthorizationServer)
        .clock(idp.clock())
        .build()
        .unwrap();
    assert!(
        oauth
            .url()
            .as_str()
            .ends_with("/.well-known/oauth-authorization-server/idp")
    );
    let m = oauth.metadata().await.unwrap();
    assert_eq!(m.issuer, idp.base);
    idp.stop().await;
}

// ---------------------------------------------------------------------------------------
// JWKS
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn jwks_cache_validates_server_access_and_id_tokens() {
    let idp = Idp::start().await;
    let web = idp.web().await;
    let (set, pending) = sign_in(&web).await;
    let jwks = idp.jwks().await;
    let hits_before = idp.jwks_hits();

    // The access token: RFC 9068, ES256, for `api`.
    let at = set.tokens.access_token.secret();
    let v = jwks
        .validate::<AccessTokenClaims>(&idp.access_policy(), at)
        .await
        .unwrap();
    assert_eq!(v.header.alg, Algorithm::ES256);
    assert_eq!(v.header.typ.as_deref(), Some("at+jwt"));
    assert_eq!(v.header.kid.as_deref(), Some(kid(at).as_str()));
    assert_eq!(v.claims.iss, idp.base);
    assert_eq!(v.claims.sub, idp.user_id);
    assert_eq!(v.claims.client_id, "web");
    assert!(v.claims.aud.contains("api"));
    assert!(v.claims.has_scope("openid") && v.claims.has_scope("email"));
    assert_eq!(v.claims.token_use, Some(TokenUse::User));
    assert_eq!(v.claims.exp - v.claims.iat, 15 * 60);

    // The ID token: RS256 (the provider's default), for the client.
    let raw_id = set.tokens.id_token.as_deref().unwrap();
    let id_policy = ValidationPolicy::builder()
        .issuer(idp.base.clone())
        .audience("web")
        .algorithms([Algorithm::RS256])
        .nonce(pending.nonce().unwrap())
        .build()
        .unwrap();
    let id = jwks
        .validate::<IdTokenClaims>(&id_policy, raw_id)
        .await
        .unwrap();
    assert_eq!(id.header.alg, Algorithm::RS256);
    assert_eq!(id.claims.sub, idp.user_id);
    assert_eq!(id.claims.profile.email.as_deref(), Some(EMAIL));
    // One fetch served both keys.
    assert_eq!(idp.jwks_hits(), hits_before + 1);

    // What a resource server must refuse: an ID token as an access token (typ), a token
    // for another API, a token past its expiry.
    let as_access = ValidationPolicy::builder()
        .issuer(idp.base.clone())
        .audience("web")
        .algorithms([Algorithm::RS256, Algorithm::ES256])
        .required_typ("at+jwt")
        .build()
        .unwrap();
    let e = jwks
        .validate::<AccessTokenClaims>(&as_access, raw_id)
        .await
        .unwrap_err();
    assert_eq!(token_error(&e), TokenError::WrongType);
    let other_api = ValidationPolicy::builder()
        .issuer(idp.base.clone())
        .audience("other-api")
        .algorithms([Algorithm::ES256])
        .build()
        .unwrap();
    let e = jwks
        .validate::<AccessTokenClaims>(&other_api, at)
        .await
        .unwrap_err();
    assert_eq!(token_error(&e), TokenError::WrongAudience);
    idp.advance(15 * 60 + 61);
    let e = jwks
        .validate::<AccessTokenClaims>(&idp.access_policy(), at)
        .await
        .unwrap_err();
    assert_eq!(token_error(&e), TokenError::Expired);
    assert!(e.is_token_rejected());
    idp.stop().await;
}

#[tokio::test]
async fn a_key_rotation_at_the_server_costs_one_jwks_refetch() {
    let idp = Idp::start_with(|b| b.key_publish_ahead(Duration::from_secs(60))).await;
    let jwks = idp.jwks().await;
    let web = Client::builder(idp.metadata().await, "web")
        .auth(ClientAuth::basic("web-secret"))
        .redirect_uri(REDIRECT)
        .clock(idp.clock())
        .jwks(jwks.clone())
        .build()
        .unwrap();
    let worker = idp
        .client("worker", ClientAuth::basic("worker-secret"))
        .await;
    let policy = idp.access_policy();

    let old = cc(&worker).await;
    jwks.validate::<AccessTokenClaims>(&policy, old.secret())
        .await
        .unwrap();
    assert_eq!(idp.jwks_hits(), 1);

    let created = idp.provider.keys().rotate().await.unwrap();
    let new_kids: Vec<String> = created.iter().map(|k| k.kid.clone()).collect();
    // Published, not signing yet: tokens still carry the old key, and nothing is fetched.
    let still_old = cc(&worker).await;
    assert_eq!(kid(still_old.secret()), kid(old.secret()));
    jwks.validate::<AccessTokenClaims>(&policy, still_old.secret())
        .await
        .unwrap();
    assert_eq!(idp.jwks_hits(), 1);

    // Past the publish-ahead delay the new key signs; the cache (still fresh: max-age is
    // five minutes) meets an unknown kid and fetches the set once.
    idp.advance(61);
    let new = cc(&worker).await;
    assert!(
        new_kids.contains(&kid(new.secret())),
        "not signed by a new key"
    );
    jwks.validate::<AccessTokenClaims>(&policy, new.secret())
        .await
        .unwrap();
    assert_eq!(idp.jwks_hits(), 2);
    // Tokens of the old key keep validating; more new tokens need no fetch.
    jwks.validate::<AccessTokenClaims>(&policy, old.secret())
        .await
        .unwrap();
    jwks.validate::<AccessTokenClaims>(&policy, cc(&worker).await.secret())
        .await
        .unwrap();
    // The ID token is signed by the new RS256 key, fetched by that same refetch.
    let (set, _) = sign_in(&web).await;
    let id_kid = kid(set.tokens.id_token.as_deref().unwrap());
    assert!(
        new_kids.contains(&id_kid),
        "ID token not signed by a new key"
    );
    assert_eq!(idp.jwks_hits(), 2);
    idp.stop().await;
}

// ---------------------------------------------------------------------------------------
// Authorization code flow
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn authorization_code_flow_with_pkce_state_and_nonce() {
    let idp = Idp::start().await;
    let web = idp.web().await;
    let (url, pending) = web.authorization_request().scope(SCOPES).build().unwrap();
    assert!(url.as_str().starts_with(&idp.url("/oauth/authorize?")));
    let q = query(url.as_str());
    assert_eq!(q["response_type"], "code");
    assert_eq!(q["client_id"], "web");
    assert_eq!(q["redirect_uri"], REDIRECT);
    assert_eq!(
        q["scope"].parse::<Scope>().unwrap(),
        SCOPES.parse::<Scope>().unwrap()
    );
    assert_eq!(q["state"], pending.state());
    assert_eq!(q["nonce"], pending.nonce().unwrap());
    assert_eq!(q["code_challenge_method"], "S256");
    assert_eq!(
        q["code_challenge"],
        pending.code_verifier().challenge().as_str()
    );

    let callback = Browser::new().sign_in(&url).await;
    assert!(callback.starts_with(REDIRECT), "{callback}");
    let cq = query(&callback);
    assert_eq!(cq["state"], pending.state());
    assert_eq!(cq["iss"], idp.base);
    let code = web.validate_callback(&pending, &callback).unwrap();
    assert_eq!(code.secret(), cq["code"]);

    let set = web
        .exchange_code(&pending, code.clone())
        .send()
        .await
        .unwrap();
    assert!(
        set.tokens.token_type.eq_ignore_ascii_case("bearer"),
        "{}",
        set.tokens.token_type
    );
    assert_eq!(set.tokens.expires_in, Some(15 * 60));
    assert_eq!(set.tokens.scope, Some(SCOPES.parse::<Scope>().unwrap()));
    assert!(set.tokens.refresh_token.is_some());
    let claims = set
        .id_token_claims
        .clone()
        .expect("verified ID token claims");
    assert_eq!(claims.iss, idp.base);
    assert_eq!(claims.sub, idp.user_id);
    assert!(claims.aud.contains("web"));
    assert_eq!(claims.azp.as_deref(), Some("web"));
    assert_eq!(claims.nonce.as_deref(), pending.nonce());
    assert_eq!(
        claims.at_hash.as_deref(),
        Some(at_hash(set.tokens.access_token.secret(), Algorithm::RS256).as_str())
    );
    assert!(claims.auth_time.is_some());
    assert_eq!(claims.profile.email.as_deref(), Some(EMAIL));
    assert_eq!(claims.profile.name.as_deref(), Some("Ada Lovelace"));
    let dbg = format!("{set:?}");
    assert!(!dbg.contains(set.tokens.access_token.secret()), "{dbg}");

    // A code works once; replaying it revokes what its first use issued.
    let e = web.exchange_code(&pending, code).send().await.unwrap_err();
    assert_eq!(oauth_code(&e), ErrorCode::InvalidGrant);
    assert_eq!(e.status(), Some(400));
    assert!(
        !web.introspect(&set.tokens.access_token)
            .await
            .unwrap()
            .active
    );
    let rt = set.tokens.refresh_token.as_ref().unwrap();
    let e = web.refresh(rt).send().await.unwrap_err();
    assert_eq!(oauth_code(&e), ErrorCode::InvalidGrant);
    idp.stop().await;
}

#[tokio::test]
async fn sso_skips_the_login_form_for_a_signed_in_browser() {
    let idp = Idp::start().await;
    let web = idp.web().await;
    let browser = Browser::new();
    let (first, callback) = authorize(&web, &browser).await;
    web.validate_callback(&first, &callback).unwrap();
    // prompt=none with a session: straight back with a code.
    let (url, pending) = web
        .authorization_request()
        .scope("openid email")
        .param("prompt", "none")
        .build()
        .unwrap();
    let page = browser.get(url.as_str()).await;
    assert_eq!(page.status, 302, "{}", page.body);
    let code = web.validate_callback(&pending, &page.location()).unwrap();
    let set = web.exchange_code(&pending, code).send().await.unwrap();
    assert_eq!(set.id_token_claims.unwrap().sub, idp.user_id);
    idp.stop().await;
}

#[tokio::test]
async fn callback_checks_state_and_iss_of_real_redirects() {
    let idp = Idp::start().await;
    let web = idp.web().await;
    let browser = Browser::new();
    let (pending, callback) = authorize(&web, &browser).await;
    let err = |p: &PendingAuthorization, cb: &str| match web.validate_callback(p, cb) {
        Err(Error::Callback(e)) => e,
        other => panic!("expected a callback error, got {other:?}"),
    };

    // Another request's state: CSRF.
    let (_, other) = web.authorization_request().scope(SCOPES).build().unwrap();
    assert_eq!(err(&other, &callback), CallbackError::StateMismatch);
    // A mix-up: iss names another provider.
    let mixed = with_param(&callback, "iss", Some("https://evil.example"));
    assert_eq!(err(&pending, &mixed), CallbackError::IssuerMismatch);
    // The provider advertises RFC 9207, so iss is required.
    let stripped = with_param(&callback, "iss", None);
    assert_eq!(err(&pending, &stripped), CallbackError::MissingIssuer);
    // The genuine callback passes.
    web.validate_callback(&pending, &callback).unwrap();
    // As does its query string alone.
    let q = Url::parse(&callback).unwrap().query().unwrap().to_owned();
    web.validate_callback(&pending, &q).unwrap();
    idp.stop().await;
}

#[tokio::test]
async fn provider_errors_in_the_callback_are_typed() {
    let idp = Idp::start().await;
    let web = idp.web().await;

    // prompt=none without a session: error=login_required, with our state and the issuer.
    let (url, pending) = web
        .authorization_request()
        .scope(SCOPES)
        .param("prompt", "none")
        .build()
        .unwrap();
    let page = Browser::new().get(url.as_str()).await;
    assert_eq!(page.status, 302, "{}", page.body);
    let e = web
        .validate_callback(&pending, &page.location())
        .unwrap_err();
    match &e {
        Error::Callback(CallbackError::Authorization(body)) => {
            assert_eq!(body.error, ErrorCode::LoginRequired);
            assert!(body.error_description.is_some());
        }
        other => panic!("expected a provider error, got {other:?}"),
    }
    assert_eq!(oauth_code(&e), ErrorCode::LoginRequired);

    // A third-party client: the user signs in, then denies consent.
    let partner = idp
        .client("partner", ClientAuth::basic("partner-secret"))
        .await;
    let (url, pending) = partner
        .authorization_request()
        .scope("openid email")
        .build()
        .unwrap();
    let browser = Browser::new();
    let login = browser.get(url.as_str()).await;
    let consent = browser
        .submit(&login, &[("email", EMAIL), ("password", PASSWORD)])
        .await;
    assert!(consent.is_consent_form(), "{}", consent.body);
    let denied = browser.submit(&consent, &[("decision", "deny")]).await;
    let e = partner
        .validate_callback(&pending, &denied.location())
        .unwrap_err();
    assert_eq!(oauth_code(&e), ErrorCode::AccessDenied);
    // Allowing gives a code that exchanges.
    let (url, pending) = partner
        .authorization_request()
        .scope("openid email")
        .build()
        .unwrap();
    let consent = browser.get(url.as_str()).await;
    assert!(consent.is_consent_form(), "{}", consent.body);
    let allowed = browser.submit(&consent, &[("decision", "allow")]).await;
    let code = partner
        .validate_callback(&pending, &allowed.location())
        .unwrap();
    let set = partner.exchange_code(&pending, code).send().await.unwrap();
    assert_eq!(set.id_token_claims.unwrap().sub, idp.user_id);
    idp.stop().await;
}

#[tokio::test]
async fn exchange_code_sends_the_pkce_verifier_of_its_own_request() {
    let idp = Idp::start().await;
    let web = idp.web().await;
    let (pending, callback) = authorize(&web, &Browser::new()).await;
    let code = web.validate_callback(&pending, &callback).unwrap();
    // Another request's verifier (an attacker who injected a stolen code): refused.
    let (_, other) = web.authorization_request().scope(SCOPES).build().unwrap();
    let e = web
        .exchange_code(&other, code.clone())
        .send()
        .await
        .unwrap_err();
    assert_eq!(oauth_code(&e), ErrorCode::InvalidGrant);
    // A wrong secret: invalid_client, 401.
    let impostor = idp.client("web", ClientAuth::basic("not-the-secret")).await;
    let e = impostor
        .exchange_code(&pending, code.clone())
        .send()
        .await
        .unwrap_err();
    assert_eq!(oauth_code(&e), ErrorCode::InvalidClient);
    assert_eq!(e.status(), Some(401));
    idp.stop().await;
}

// ---------------------------------------------------------------------------------------
// Refresh, revocation, introspection, userinfo, ID tokens
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn refresh_rotates_and_reuse_of_the_old_token_is_refused() {
    let idp = Idp::start().await;
    let web = idp.web().await;
    let (set, _) = sign_in(&web).await;
    let rt1 = set.tokens.refresh_token.clone().unwrap();

    idp.advance(60);
    let refreshed = web.refresh(&rt1).send().await.unwrap();
    let rt2 = refreshed.tokens.refresh_token.clone().unwrap();
    assert_ne!(
        rt2.secret(),
        rt1.secret(),
        "the refresh token did not rotate"
    );
    assert_ne!(
        refreshed.tokens.access_token.secret(),
        set.tokens.access_token.secret()
    );
    // The new ID token was verified (no nonce on refresh) and names the same user.
    // OIDC Core §12.2: same iss, sub and aud, and auth_time of the original sign-in.
    let original = set.id_token_claims.clone().unwrap();
    let id = refreshed
        .id_token_claims
        .clone()
        .expect("an ID token on refresh");
    assert_eq!(id.iss, original.iss);
    assert_eq!(id.sub, idp.user_id);
    assert_eq!(id.aud, original.aud);
    assert_eq!(id.auth_time, original.auth_time);
    assert!(id.iat > original.iat);
    assert_eq!(id.nonce, None);

    // A narrower scope is allowed; a wider one is not.
    let narrow: Scope = "openid email offline_access".parse().unwrap();
    let narrowed = web
        .refresh(&rt2)
        .scope(narrow.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(narrowed.tokens.scope.as_ref(), Some(&narrow));
    let rt3 = narrowed.tokens.refresh_token.clone().unwrap();
    let wider: Scope = "openid email offline_access admin".parse().unwrap();
    let e = web
        .refresh(&rt3)
        .scope(wider.clone())
        .send()
        .await
        .unwrap_err();
    assert_eq!(oauth_code(&e), ErrorCode::InvalidScope);

    // Reuse of a rotated token: invalid_grant, and the whole family is revoked.
    let e = web.refresh(&rt1).send().await.unwrap_err();
    assert_eq!(oauth_code(&e), ErrorCode::InvalidGrant);
    assert_eq!(e.status(), Some(400));
    let e = web.refresh(&rt3).send().await.unwrap_err();
    assert_eq!(oauth_code(&e), ErrorCode::InvalidGrant);
    assert!(!web.introspect(&rt3).await.unwrap().active);
    idp.stop().await;
}

#[tokio::test]
async fn revoke_and_introspect_access_and_refresh_tokens() {
    let idp = Idp::start().await;
    let web = idp.web().await;
    let (set, _) = sign_in(&web).await;
    let at = &set.tokens.access_token;
    let rt = set.tokens.refresh_token.as_ref().unwrap();

    // The access token: active, described, then revoked.
    let info = web.introspect(at).await.unwrap();
    assert!(info.active);
    assert_eq!(info.sub.as_deref(), Some(idp.user_id.as_str()));
    assert_eq!(info.client_id.as_deref(), Some("web"));
    assert_eq!(info.iss.as_deref(), Some(idp.base.as_str()));
    assert!(info.scope.as_ref().unwrap().contains("openid"));
    assert!(info.aud.as_ref().unwrap().contains("api"));
    assert!(info.exp.unwrap() > idp.clock.unix_now());
    web.revoke(at).await.unwrap();
    assert!(!web.introspect(at).await.unwrap().active);
    // The provider no longer serves it either.
    let e = web.userinfo(at).await.unwrap_err();
    assert_eq!(e.status(), Some(401));
    assert_eq!(oauth_code(&e), ErrorCode::InvalidToken);

    // The refresh token: active, then revoked, then useless.
    let info = web.introspect(rt).await.unwrap();
    assert!(info.active);
    assert_eq!(info.client_id.as_deref(), Some("web"));
    assert_eq!(info.sub.as_deref(), Some(idp.user_id.as_str()));
    web.revoke(rt).await.unwrap();
    assert!(!web.introspect(rt).await.unwrap().active);
    let e = web.refresh(rt).send().await.unwrap_err();
    assert_eq!(oauth_code(&e), ErrorCode::InvalidGrant);

    // Revoking again, or revoking a token the provider never issued, succeeds (RFC 7009).
    web.revoke(rt).await.unwrap();
    let unknown = idp_client::idp_core::RefreshToken::new("never-issued");
    web.revoke(&unknown).await.unwrap();
    assert!(!web.introspect(&unknown).await.unwrap().active);

    // An access token that has expired is inactive.
    let (set, _) = sign_in(&web).await;
    assert!(
        web.introspect(&set.tokens.access_token)
            .await
            .unwrap()
            .active
    );
    idp.advance(15 * 60 + 1);
    assert!(
        !web.introspect(&set.tokens.access_token)
            .await
            .unwrap()
            .active
    );

    // Introspection needs valid client credentials.
    let impostor = idp.client("web", ClientAuth::basic("not-the-secret")).await;
    let e = impostor.introspect(rt).await.unwrap_err();
    assert_eq!(oauth_code(&e), ErrorCode::InvalidClient);
    idp.stop().await;
}

#[tokio::test]
async fn userinfo_describes_the_signed_in_user() {
    let idp = Idp::start().await;
    let web = idp.web().await;
    let (set, _) = sign_in(&web).await;
    let info = web.userinfo(&set.tokens.access_token).await.unwrap();
    assert_eq!(info.sub, set.id_token_claims.as_ref().unwrap().sub);
    assert_eq!(info.sub, idp.user_id);
    assert_eq!(info.profile.email.as_deref(), Some(EMAIL));
    assert_eq!(info.profile.email_verified, Some(true));
    assert_eq!(info.profile.name.as_deref(), Some("Ada Lovelace"));
    assert_eq!(info.profile.given_name.as_deref(), Some("Ada"));
    assert_eq!(info.profile.family_name.as_deref(), Some("Lovelace"));
    assert_eq!(info.claims["email"], EMAIL);

    // A service token is not a user's: refused.
    let worker = idp
        .client("worker", ClientAuth::basic("worker-secret"))
        .await;
    let svc = worker.client_credentials().send().await.unwrap();
    let e = web.userinfo(&svc.access_token).await.unwrap_err();
    assert_eq!(oauth_code(&e), ErrorCode::InvalidToken);
    // An expired one too.
    idp.advance(15 * 60 + 1);
    let e = web.userinfo(&set.tokens.access_token).await.unwrap_err();
    assert_eq!(e.status(), Some(401));
    idp.stop().await;
}

#[tokio::test]
async fn verify_id_token_checks_nonce_audience_at_hash_and_expiry() {
    let idp = Idp::start().await;
    let web = idp.web().await;
    let (set, pending) = sign_in(&web).await;
    let raw = set.tokens.id_token.as_deref().unwrap();
    let at = &set.tokens.access_token;

    let claims: IdTokenClaims = web
        .verify_id_token(raw)
        .nonce(pending.nonce().unwrap())
        .access_token(at)
        .send()
        .await
        .unwrap();
    assert_eq!(claims.sub, idp.user_id);
    let e = web
        .verify_id_token(raw)
        .nonce("another-nonce")
        .access_token(at)
        .send()
        .await
        .unwrap_err();
    assert_eq!(token_error(&e), TokenError::NonceMismatch);
    assert!(e.is_token_rejected());

    // at_hash binds the ID token to its access token.
    let (other, _) = sign_in(&web).await;
    let e = web
        .verify_id_token(raw)
        .nonce(pending.nonce().unwrap())
        .access_token(&other.tokens.access_token)
        .send()
        .await
        .unwrap_err();
    assert!(matches!(e, Error::AtHashMismatch), "{e:?}");
    assert!(e.is_token_rejected());

    // Another client of the same provider refuses it (aud).
    let post = idp
        .client("web-post", ClientAuth::post("web-post-secret"))
        .await;
    let e = post.verify_id_token(raw).send().await.unwrap_err();
    assert_eq!(token_error(&e), TokenError::WrongAudience);

    // After its lifetime (1 h) plus leeway it is expired.
    idp.advance(3600 + 61);
    let e = web
        .verify_id_token(raw)
        .nonce(pending.nonce().unwrap())
        .access_token(at)
        .send()
        .await
        .unwrap_err();
    assert_eq!(token_error(&e), TokenError::Expired);
    idp.stop().await;
}

// ---------------------------------------------------------------------------------------
// Client authentication methods
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn client_secret_post_client_runs_every_operation() {
    let idp = Idp::start().await;
    let client = idp
        .client("web-post", ClientAuth::post("web-post-secret"))
        .await;
    assert_eq!(client.auth_method(), "client_secret_post");
    let (set, _) = sign_in(&client).await;
    assert_eq!(set.id_token_claims.as_ref().unwrap().sub, idp.user_id);
    let rt = set.tokens.refresh_token.clone().unwrap();
    let refreshed = client.refresh(&rt).send().await.unwrap();
    let rt2 = refreshed.tokens.refresh_token.clone().unwrap();
    assert_ne!(rt2.secret(), rt.secret());
    let at = &refreshed.tokens.access_token;
    assert!(client.introspect(at).await.unwrap().active);
    client.revoke(at).await.unwrap();
    assert!(!client.introspect(at).await.unwrap().active);
    client.revoke(&rt2).await.unwrap();
    assert!(!client.introspect(&rt2).await.unwrap().active);

    // The registered method is the only one accepted.
    let basic = idp
        .client("web-post", ClientAuth::basic("web-post-secret"))
        .await;
    let e = basic.introspect(&rt2).await.unwrap_err();
    assert_eq!(oauth_code(&e), ErrorCode::InvalidClient);
    // And a client_secret_basic client cannot switch to the body.
    let web_as_post = idp.client("web", ClientAuth::post("web-secret")).await;
    let e = web_as_post.introspect(&rt2).await.unwrap_err();
    assert_eq!(oauth_code(&e), ErrorCode::InvalidClient);
    idp.stop().await;
}

#[tokio::test]
async fn client_secret_basic_form_encodes_id_and_secret() {
    let idp = Idp::start().await;
    // RFC 6749 §2.3.1 / Appendix B: both are form-encoded before Base64, so a `+` or `%`
    // in the id, and `+`, `%`, `:` or a space in the secret, survive the round trip.
    let (id, secret) = ("svc+odd%41", "p@ss w:rd+%2B/=é");
    idp.provider
        .clients()
        .insert(NewClient {
            client_id: id.into(),
            secret: Some(secret.into()),
            grant_types: vec!["client_credentials".into()],
            allowed_scopes: vec!["read".into()],
            audiences: vec!["api".into()],
            ..Default::default()
        })
        .await
        .unwrap();
    let client = idp.client(id, ClientAuth::basic(secret)).await;
    let t = client
        .client_credentials()
        .send()
        .await
        .unwrap()
        .access_token;
    let v = idp
        .jwks()
        .await
        .validate::<AccessTokenClaims>(&idp.access_policy(), t.secret())
        .await
        .unwrap();
    assert_eq!(v.claims.client_id, id);
    assert!(client.introspect(&t).await.unwrap().active);
    idp.stop().await;
}

#[tokio::test]
async fn public_client_uses_pkce_without_a_secret() {
    let idp = Idp::start().await;
    let spa = idp.client("spa", ClientAuth::None).await;
    assert_eq!(spa.auth_method(), "none");
    let (pending, callback) = authorize(&spa, &Browser::new()).await;
    assert!(callback.starts_with(SPA_REDIRECT), "{callback}");
    let code = spa.validate_callback(&pending, &callback).unwrap();
    let set = spa.exchange_code(&pending, code).send().await.unwrap();
    let claims = set.id_token_claims.as_ref().unwrap();
    assert_eq!(claims.sub, idp.user_id);
    assert_eq!(claims.aud.iter().collect::<Vec<_>>(), ["spa"]);
    // Access tokens of a client without registered audiences are for the client itself.
    let v = spa
        .jwks()
        .unwrap()
        .validate::<AccessTokenClaims>(
            &ValidationPolicy::builder()
                .issuer(idp.base.clone())
                .audience("spa")
                .algorithms([Algorithm::ES256])
                .required_typ("at+jwt")
                .build()
                .unwrap(),
            set.tokens.access_token.secret(),
        )
        .await
        .unwrap();
    assert_eq!(v.claims.client_id, "spa");

    // Refresh rotates for public clients too, and reuse is detected (pattern 3).
    let rt = set.tokens.refresh_token.clone().unwrap();
    let refreshed = spa.refresh(&rt).send().await.unwrap();
    let rt2 = refreshed.tokens.refresh_token.clone().unwrap();
    assert_ne!(rt2.secret(), rt.secret());
    let e = spa.refresh(&rt).send().await.unwrap_err();
    assert_eq!(oauth_code(&e), ErrorCode::InvalidGrant);
    let e = spa.refresh(&rt2).send().await.unwrap_err();
    assert_eq!(oauth_code(&e), ErrorCode::InvalidGrant);

    // Logout: the app revokes its refresh token.
    let (set, _) = sign_in(&spa).await;
    let rt = set.tokens.refresh_token.clone().unwrap();
    spa.revoke(&rt).await.unwrap();
    let e = spa.refresh(&rt).send().await.unwrap_err();
    assert_eq!(oauth_code(&e), ErrorCode::InvalidGrant);

    // A public client cannot use client_credentials, and the cache says so up front.
    assert!(matches!(
        ServiceTokenCache::new(spa.clone()),
        Err(Error::Config(_))
    ));
    idp.stop().await;
}

#[tokio::test]
async fn public_client_must_send_pkce() {
    let idp = Idp::start().await;
    // Built by hand: the SDK always sends PKCE, so check that the provider insists on it
    // for public clients, and that the SDK reports the error it redirects with.
    let spa = idp.client("spa", ClientAuth::None).await;
    let (url, pending) = spa.authorization_request().scope("openid").build().unwrap();
    let mut stripped = url.clone();
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .into_owned()
        .filter(|(k, _)| !k.starts_with("code_challenge"))
        .collect();
    stripped.query_pairs_mut().clear().extend_pairs(pairs);
    let page = Browser::new().get(stripped.as_str()).await;
    let e = spa
        .validate_callback(&pending, &page.location())
        .unwrap_err();
    assert_eq!(oauth_code(&e), ErrorCode::InvalidRequest);
    idp.stop().await;
}

#[tokio::test]
async fn introspection_requires_client_credentials() {
    let idp = Idp::start().await;
    let web = idp.web().await;
    let (set, _) = sign_in(&web).await;
    let spa = idp.client("spa", ClientAuth::None).await;
    let e = spa.introspect(&set.tokens.access_token).await.unwrap_err();
    assert_eq!(oauth_code(&e), ErrorCode::InvalidClient);
    idp.stop().await;
}

#[tokio::test]
async fn discovery_advertises_none_for_revocation() {
    let idp = Idp::start().await;
    let m = idp.metadata().await;
    let methods = m.revocation_endpoint_auth_methods_supported.clone();
    // What the endpoint accepts (see public_client_uses_pkce_without_a_secret) ...
    let spa = idp.client("spa", ClientAuth::None).await;
    spa.revoke(&idp_client::idp_core::RefreshToken::new("x"))
        .await
        .unwrap();
    // ... is what discovery says.
    assert!(methods.iter().flatten().any(|m| m == "none"), "{methods:?}");
    idp.stop().await;
}

// ---------------------------------------------------------------------------------------
// Service tokens
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn service_token_cache_against_client_credentials() {
    let idp = Idp::start().await;
    let worker = idp
        .client("worker", ClientAuth::basic("worker-secret"))
        .await;
    let cache = ServiceTokenCache::new(worker.clone()).unwrap();
    let request = ServiceTokenRequest::new()
        .scope("read".parse().unwrap())
        .audience("api");
    let hits = || idp.hits.token.load(Ordering::SeqCst);

    let t1 = cache.get(&request).await.unwrap();
    let t2 = cache.get(&request).await.unwrap();
    assert_eq!(t1.secret(), t2.secret(), "the token was not cached");
    assert_eq!(hits(), 1);

    // It validates like any access token, and names the service.
    let jwks = idp.jwks().await;
    let v = jwks
        .validate::<AccessTokenClaims>(&idp.access_policy(), t1.secret())
        .await
        .unwrap();
    assert_eq!(v.claims.sub, "worker");
    assert_eq!(v.claims.client_id, "worker");
    assert_eq!(v.claims.token_use, Some(TokenUse::Service));
    assert_eq!(v.claims.scope, Some("read".parse().unwrap()));
    assert_eq!(v.claims.aud.iter().collect::<Vec<_>>(), ["api"]);
    assert!(worker.introspect(&t1).await.unwrap().active);

    // Another audience is another cache entry.
    let other = ServiceTokenRequest::new()
        .scope("read write".parse().unwrap())
        .audience("other-api");
    let t3 = cache.get(&other).await.unwrap();
    assert_ne!(t3.secret(), t1.secret());
    let v = jwks
        .validate::<AccessTokenClaims>(
            &ValidationPolicy::builder()
                .issuer(idp.base.clone())
                .audience("other-api")
                .algorithms([Algorithm::ES256])
                .required_typ("at+jwt")
                .build()
                .unwrap(),
            t3.secret(),
        )
        .await
        .unwrap();
    assert!(v.claims.has_scope("write"));
    assert_eq!(hits(), 2);

    // 60 s before its 15-minute expiry the token is replaced.
    idp.advance(15 * 60 - 61);
    assert_eq!(cache.get(&request).await.unwrap().secret(), t1.secret());
    idp.advance(1);
    let t4 = cache.get(&request).await.unwrap();
    assert_ne!(t4.secret(), t1.secret());
    assert_eq!(hits(), 3);
    jwks.validate::<AccessTokenClaims>(&idp.access_policy(), t4.secret())
        .await
        .unwrap();

    // The audience as an RFC 8707 resource indicator works the same.
    let by_resource = ServiceTokenCache::builder(worker.clone())
        .audience_parameter(AudienceParameter::Resource)
        .build()
        .unwrap();
    let t5 = by_resource.get(&request).await.unwrap();
    let v = jwks
        .validate::<AccessTokenClaims>(&idp.access_policy(), t5.secret())
        .await
        .unwrap();
    assert_eq!(v.claims.aud.iter().collect::<Vec<_>>(), ["api"]);
    assert_eq!(hits(), 4);

    // The provider's refusals come back typed, and are not cached.
    let bad_scope = ServiceTokenRequest::new()
        .scope("admin".parse().unwrap())
        .audience("api");
    let e = cache.get(&bad_scope).await.unwrap_err();
    assert_eq!(oauth_code(&e), ErrorCode::InvalidScope);
    let e = cache.get(&bad_scope).await.unwrap_err();
    assert_eq!(oauth_code(&e), ErrorCode::InvalidScope);
    let bad_audience = ServiceTokenRequest::new().audience("payments-api");
    let e = cache.get(&bad_audience).await.unwrap_err();
    assert_eq!(oauth_code(&e), ErrorCode::InvalidTarget);
    assert_eq!(hits(), 7);

    // With the wrong secret: invalid_client.
    let impostor = idp
        .client("worker", ClientAuth::basic("not-the-secret"))
        .await;
    let e = ServiceTokenCache::new(impostor)
        .unwrap()
        .get(&request)
        .await
        .unwrap_err();
    assert_eq!(oauth_code(&e), ErrorCode::InvalidClient);
    idp.stop().await;
}

/// `max_age` goes out in the authorization URL, and the code exchange checks the ID
/// token's `auth_time` against it (OIDC Core §3.1.3.7).
#[tokio::test]
async fn max_age_is_sent_and_auth_time_checked() {
    let s = Idp::start().await;
    let web = s.web().await;
    let (url, pending) = web
        .authorization_request()
        .scope(SCOPES)
        .max_age(Duration::from_secs(300))
        .login_hint("ada@example.com")
        .build()
        .unwrap();
    assert_eq!(query(url.as_str())["max_age"], "300");
    assert_eq!(query(url.as_str())["login_hint"], "ada@example.com");
    assert_eq!(pending.max_age(), Some(300));
    let callback = Browser::new().sign_in(&url).await;
    let code = web.validate_callback(&pending, &callback).unwrap();
    let tokens = web.exchange_code(&pending, code).send().await.unwrap();
    assert!(tokens.id_token_claims.unwrap().auth_time.is_some());

    // A client whose clock says the sign-in was ten minutes ago refuses the ID token.
    let late_clock = Arc::new(idp_client::idp_core::FixedClock::at_unix(
        s.clock().unix_now() + 600,
    ));
    let late = Client::builder(s.metadata().await, "web")
        .auth(ClientAuth::basic("web-secret"))
        .redirect_uri(REDIRECT)
        .clock(late_clock)
        .build()
        .unwrap();
    let (url, pending) = late
        .authorization_request()
        .scope(SCOPES)
        .max_age(Duration::from_secs(300))
        .build()
        .unwrap();
    let callback = Browser::new().sign_in(&url).await;
    let code = late.validate_callback(&pending, &callback).unwrap();
    let err = late.exchange_code(&pending, code).send().await.unwrap_err();
    assert!(err.to_string().contains("max_age"), "{err}");
    // max_age is the builder's own parameter.
    assert!(
        web.authorization_request()
            .param("max_age", "1")
            .build()
            .is_err()
    );
    s.stop().await;
}

/// The end-session URL signs the user out at once with an ID token hint, and the
/// provider sends the browser back with `state`.
#[tokio::test]
async fn end_session_url_signs_out_at_the_provider() {
    let s = Idp::start().await;
    let web = s.web().await;
    let browser = Browser::new();
    let (pending, callback) = authorize(&web, &browser).await;
    let code = web.validate_callback(&pending, &callback).unwrap();
    let tokens = web.exchange_code(&pending, code).send().await.unwrap();
    let id_token = tokens.tokens.id_token.clone().unwrap();
    let url = web
        .end_session_url()
        .id_token_hint(&id_token)
        .post_logout_redirect_uri("http://127.0.0.1:9/bye")
        .state("bye-1")
        .build()
        .unwrap();
    let q = query(url.as_str());
    assert_eq!(q["client_id"], "web");
    assert_eq!(q["state"], "bye-1");
    let page = browser.get(url.as_str()).await;
    let back = page.location();
    assert!(back.starts_with("http://127.0.0.1:9/bye"), "{back}");
    assert_eq!(query(&back)["state"], "bye-1");
    // Signed out: the next authorization asks for a sign-in again.
    let (url, _) = web.authorization_request().scope(SCOPES).build().unwrap();
    assert!(browser.get(url.as_str()).await.is_login_form());
    s.stop().await;
}
