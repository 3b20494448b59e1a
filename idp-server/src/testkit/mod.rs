//! A provider for an application's own tests (feature `test-kit`): started in-process on an
//! ephemeral loopback port in one line, with preset users and clients, tokens minted with any
//! claims (expired, for another audience, from another issuer), and keys rotated on demand.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), idp_server::Error> {
//! use idp_server::testkit::TestProvider;
//!
//! let idp = TestProvider::start().await?;
//! let token = idp.access_token().subject("user-1").audience("orders-api").scope("read:orders").sign()?;
//! let expired = idp.access_token().audience("orders-api").expired().sign()?;
//! assert_ne!(token, expired);
//! assert!(idp.issuer().starts_with("http://127.0.0.1:"));
//! idp.stop().await;
//! # Ok(()) }
//! ```
//!
//! Presets of [`TestProvider::start`]: the user [`USER_EMAIL`] / [`USER_PASSWORD`], the
//! confidential first-party web client [`WEB_CLIENT`] / [`WEB_SECRET`] (code + refresh,
//! redirect [`WEB_REDIRECT`], scopes `openid profile email offline_access`), and the service
//! client [`SERVICE_CLIENT`] / [`SERVICE_SECRET`] (client_credentials, audience
//! [`API_AUDIENCE`], scopes `read:orders write:orders`). Rate limits are off and a rotated
//! key signs at once.
//!
//! [`SmtpSink`] is an SMTP server on loopback that keeps what it receives: give its
//! [`smtp_config`](SmtpSink::smtp_config) to the provider and read the verification and
//! reset mails it sends.

mod smtp;

use std::sync::Arc;
use std::time::Duration;

use idp_core::{Algorithm, Audience, IdTokenClaims, TokenUse, ValidationPolicy};
use serde_json::{Map, Value};

use crate::Error;
use crate::manage::{NewClient, NewUser};
use crate::provider::{Provider, ProviderBuilder};
use crate::rate_limit::RateLimits;
use crate::store::MemoryStore;

pub use smtp::{ReceivedMail, SmtpSink};

/// The preset user's e-mail address.
pub const USER_EMAIL: &str = "alice@example.com";
/// The preset user's password.
pub const USER_PASSWORD: &str = "correct horse battery staple";
/// The preset web client.
pub const WEB_CLIENT: &str = "test-web";
/// Its secret.
pub const WEB_SECRET: &str = "test-web-secret";
/// Its redirect URI.
pub const WEB_REDIRECT: &str = "http://127.0.0.1:3000/callback";
/// The preset service client.
pub const SERVICE_CLIENT: &str = "test-service";
/// Its secret.
pub const SERVICE_SECRET: &str = "test-service-secret";
/// The audience of the service client's tokens (and the default of minted ones).
pub const API_AUDIENCE: &str = "orders-api";

/// A running provider for tests; it stops when dropped or [`stopped`](Self::stop).
#[derive(Debug)]
pub struct TestProvider {
    provider: Provider,
    base: String,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for TestProvider {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Builds a [`TestProvider`]: presets or not, more users and clients, any provider setting.
pub struct TestProviderBuilder {
    presets: bool,
    users: Vec<NewUser>,
    clients: Vec<NewClient>,
    configure: Box<dyn FnOnce(ProviderBuilder) -> ProviderBuilder + Send>,
}

impl std::fmt::Debug for TestProviderBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestProviderBuilder")
            .field("presets", &self.presets)
            .field("users", &self.users.len())
            .field("clients", &self.clients.len())
            .finish_non_exhaustive()
    }
}

impl TestProviderBuilder {
    /// Without the preset user and clients.
    pub fn without_presets(mut self) -> Self {
        self.presets = false;
        self
    }

    /// Another user.
    pub fn user(mut self, user: NewUser) -> Self {
        self.users.push(user);
        self
    }

    /// Another client.
    pub fn client(mut self, client: NewClient) -> Self {
        self.clients.push(client);
        self
    }

    /// Any provider setting (lifetimes, algorithms, attribute schemas, hooks…), applied
    /// after the kit's own (issuer, memory store, key, no rate limits).
    pub fn configure(
        mut self,
        f: impl FnOnce(ProviderBuilder) -> ProviderBuilder + Send + 'static,
    ) -> Self {
        self.configure = Box::new(f);
        self
    }

    /// Starts the provider on `127.0.0.1:0`.
    pub async fn start(self) -> Result<TestProvider, Error> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let base = format!("http://{}", listener.local_addr()?);
        let builder = Provider::builder()
            .issuer(base.clone())
            .store(Arc::new(MemoryStore::new()))
            .encryption_key("idp test kit: not a secret, at least 32 bytes long")
            .rate_limits(RateLimits::insecure_none())
            .key_publish_ahead(Duration::ZERO);
        let provider = (self.configure)(builder).build().await?;
        if self.presets {
            for u in presets_users() {
                provider.users().insert(u).await?;
            }
            for c in preset_clients() {
                provider.clients().insert(c).await?;
            }
        }
        for u in self.users {
            provider.users().insert(u).await?;
        }
        for c in self.clients {
            provider.clients().insert(c).await?;
        }
        let router = provider.router();
        let task = tokio::spawn(async move {
            let app = router.into_make_service_with_connect_info::<std::net::SocketAddr>();
            if let Err(e) = axum::serve(listener, app).await {
                tracing::error!(error = %e, "test provider stopped");
            }
        });
        Ok(TestProvider {
            provider,
            base,
            task,
        })
    }
}

fn presets_users() -> Vec<NewUser> {
    vec![NewUser {
        email: USER_EMAIL.into(),
        password: Some(USER_PASSWORD.into()),
        name: Some("Alice Example".into()),
        given_name: Some("Alice".into()),
        family_name: Some("Example".into()),
        email_verified: true,
        ..Default::default()
    }]
}

fn preset_clients() -> Vec<NewClient> {
    vec![
        NewClient {
            client_id: WEB_CLIENT.into(),
            secret: Some(WEB_SECRET.into()),
            name: Some("Test web app".into()),
            redirect_uris: vec![WEB_REDIRECT.into()],
            allowed_scopes: ["openid", "profile", "email", "offline_access"]
                .map(String::from)
                .to_vec(),
            grant_types: vec!["authorization_code".into(), "refresh_token".into()],
            audiences: vec![API_AUDIENCE.into()],
            first_party: true,
            ..Default::default()
        },
        NewClient {
            client_id: SERVICE_CLIENT.into(),
            secret: Some(SERVICE_SECRET.into()),
            allowed_scopes: vec!["read:orders".into(), "write:orders".into()],
            grant_types: vec!["client_credentials".into()],
            audiences: vec![API_AUDIENCE.into()],
            ..Default::default()
        },
    ]
}

impl TestProvider {
    /// A provider with the presets, started.
    pub async fn start() -> Result<Self, Error> {
        Self::builder().start().await
    }

    /// A builder, with the presets on.
    pub fn builder() -> TestProviderBuilder {
        TestProviderBuilder {
            presets: true,
            users: Vec::new(),
            clients: Vec::new(),
            configure: Box::new(|b| b),
        }
    }

    /// The issuer (`http://127.0.0.1:PORT`).
    pub fn issuer(&self) -> &str {
        &self.base
    }

    /// The JWKS URL.
    pub fn jwks_uri(&self) -> String {
        format!("{}/.well-known/jwks.json", self.base)
    }

    /// The rules an API of this provider checks access tokens with: this issuer, audience
    /// [`API_AUDIENCE`], `typ` `at+jwt`, the provider's asymmetric algorithms. Hand it to
    /// idp-tower's `JwtAuthLayer` constructors.
    pub fn api_policy(&self) -> ValidationPolicy {
        ValidationPolicy::builder()
            .issuer(self.base.clone())
            .audience(API_AUDIENCE)
            .algorithms([Algorithm::ES256, Algorithm::RS256, Algorithm::EdDSA])
            .required_typ("at+jwt")
            .build()
            .unwrap_or_else(|_| unreachable!("issuer, audience and algorithms are set"))
    }

    /// The provider itself: its management API (`users()`, `clients()`, `keys()`…).
    pub fn provider(&self) -> &Provider {
        &self.provider
    }

    /// An access token to mint (RFC 9068 shape, signed with the provider's current
    /// access-token key): subject `test-user`, audience [`API_AUDIENCE`], client
    /// [`SERVICE_CLIENT`], 15 minutes, unless changed.
    pub fn access_token(&self) -> TokenBuilder<'_> {
        TokenBuilder::new(self, Kind::Access)
    }

    /// An ID token to mint (signed with the ID-token key): subject `test-user`, audience
    /// [`WEB_CLIENT`], an hour, unless changed.
    pub fn id_token(&self) -> TokenBuilder<'_> {
        TokenBuilder::new(self, Kind::Id)
    }

    /// Signs `email` in through the provider's login page, as a browser would: opens
    /// `authorization_url` (an authorization request your app built), submits the form
    /// with `password`, and returns where the provider redirects next — for a first-party
    /// client such as [`WEB_CLIENT`], the client's redirect URI with `code` and `state`.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// use idp_server::testkit::{TestProvider, USER_EMAIL, USER_PASSWORD};
    /// let idp = TestProvider::start().await?;
    /// # let authorization_url = String::new();
    /// // `authorization_url` from your app's /login route, or from idp_client.
    /// let callback = idp.sign_in(&authorization_url, USER_EMAIL, USER_PASSWORD).await?;
    /// assert!(callback.contains("code="));
    /// # Ok(()) }
    /// ```
    pub async fn sign_in(
        &self,
        authorization_url: &str,
        email: &str,
        password: &str,
    ) -> Result<String, Error> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(std::io::Error::other)?;
        let page = http
            .get(authorization_url)
            .send()
            .await
            .map_err(std::io::Error::other)?;
        // The login page's cookies (the CSRF binding), sent back with the form.
        let cookies: Vec<String> = page
            .headers()
            .get_all(reqwest::header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok()?.split(';').next().map(str::to_owned))
            .collect();
        let status = page.status();
        let html = page.text().await.map_err(std::io::Error::other)?;
        let mut form = hidden_fields(&html);
        if !status.is_success() || !form.iter().any(|(k, _)| k == "csrf_token") {
            return Err(Error::InvalidInput(format!(
                "no login form at the authorization URL (status {status})"
            )));
        }
        form.push(("email".into(), email.into()));
        form.push(("password".into(), password.into()));
        let res = http
            .post(format!("{}/oauth/authorize", self.base))
            .header(reqwest::header::COOKIE, cookies.join("; "))
            .form(&form)
            .send()
            .await
            .map_err(std::io::Error::other)?;
        match res.headers().get(reqwest::header::LOCATION) {
            Some(l) if res.status().is_redirection() => l
                .to_str()
                .map(str::to_owned)
                .map_err(|_| Error::InvalidInput("a redirect that is not text".into())),
            _ => Err(Error::Rejected(format!(
                "the provider did not sign {email} in (status {})",
                res.status()
            ))),
        }
    }

    /// Rotates the signing keys: new ones are published and sign at once; the old ones
    /// stay published (tokens they signed still verify).
    pub async fn rotate_keys(&self) -> Result<(), Error> {
        self.provider.keys().rotate().await.map(|_| ())
    }

    /// Stops the server.
    pub async fn stop(self) {
        self.task.abort();
    }
}

/// The hidden inputs of a page (name, value), HTML entities decoded.
fn hidden_fields(html: &str) -> Vec<(String, String)> {
    html.split("<input")
        .skip(1)
        .filter(|t| t.contains(r#"type="hidden""#))
        .filter_map(|t| {
            let attr = |n: &str| {
                let key = format!(r#" {n}=""#);
                let i = t.find(&key)? + key.len();
                let end = t[i..].find('"')?;
                Some(unescape(&t[i..i + end]))
            };
            Some((attr("name")?, attr("value")?))
        })
        .collect()
}

/// Decodes the entities the page templates write (minijinja's HTML escaping).
fn unescape(s: &str) -> String {
    s.replace("&#x2f;", "/")
        .replace("&#x27;", "'")
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Access,
    Id,
}

/// A token to mint; see [`TestProvider::access_token`]. The claims are what a real
/// issuance would carry, changed by the setters; [`claim`](Self::claim) sets any claim,
/// registered ones included (that is what tests of an API's validation need).
#[derive(Debug)]
pub struct TokenBuilder<'a> {
    kit: &'a TestProvider,
    kind: Kind,
    claims: Map<String, Value>,
    alg: Option<Algorithm>,
}

impl<'a> TokenBuilder<'a> {
    fn new(kit: &'a TestProvider, kind: Kind) -> Self {
        let now = kit.provider.state().now();
        let value = match kind {
            Kind::Access => {
                let mut c = kit.provider.state().minter().access_claims(
                    "test-user".into(),
                    vec![API_AUDIENCE.into()],
                    uuid::Uuid::new_v4().to_string(),
                    SERVICE_CLIENT.into(),
                    TokenUse::User,
                );
                c.scope = None;
                serde_json::to_value(c)
            }
            Kind::Id => serde_json::to_value(IdTokenClaims::<idp_core::NoExtra>::new(
                kit.base.clone(),
                "test-user",
                Audience::single(WEB_CLIENT),
                now,
                now + 3600,
            )),
        };
        let claims = match value {
            Ok(Value::Object(m)) => m,
            _ => Map::new(),
        };
        Self {
            kit,
            kind,
            claims,
            alg: None,
        }
    }

    /// Sets any claim.
    pub fn claim(mut self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        self.claims.insert(name.into(), value.into());
        self
    }

    /// `sub`.
    pub fn subject(self, sub: impl Into<String>) -> Self {
        self.claim("sub", sub.into())
    }

    /// `aud`: one audience.
    pub fn audience(self, aud: impl Into<String>) -> Self {
        self.claim("aud", aud.into())
    }

    /// `scope`, space-separated.
    pub fn scope(self, scope: impl Into<String>) -> Self {
        self.claim("scope", scope.into())
    }

    /// `tenant`.
    pub fn tenant(self, tenant: impl Into<String>) -> Self {
        self.claim("tenant", tenant.into())
    }

    /// `iss`: another issuer (the token is still signed with this provider's key).
    pub fn issuer(self, iss: impl Into<String>) -> Self {
        self.claim("iss", iss.into())
    }

    /// Valid for `d` from now.
    pub fn expires_in(self, d: Duration) -> Self {
        let now = self.kit.provider.state().now();
        let secs = i64::try_from(d.as_secs()).unwrap_or(i64::MAX / 2);
        self.claim("exp", now.saturating_add(secs))
    }

    /// Expired an hour ago (issued two hours ago).
    pub fn expired(self) -> Self {
        let now = self.kit.provider.state().now();
        self.claim("iat", now - 7200).claim("exp", now - 3600)
    }

    /// Not valid for another hour (`nbf`).
    pub fn not_yet_valid(self) -> Self {
        let now = self.kit.provider.state().now();
        self.claim("nbf", now + 3600)
    }

    /// Signed with the provider's key for `alg` (it must be one the provider signs with).
    pub fn algorithm(mut self, alg: Algorithm) -> Self {
        self.alg = Some(alg);
        self
    }

    /// The signed token.
    pub fn sign(self) -> Result<String, Error> {
        let config = &self.kit.provider.state().config;
        let (alg, typ) = match self.kind {
            Kind::Access => (self.alg.unwrap_or(config.access_token_alg), "at+jwt"),
            Kind::Id => (self.alg.unwrap_or(config.id_token_alg), "JWT"),
        };
        self.kit
            .provider
            .state()
            .minter()
            .sign(alg, typ, &Value::Object(self.claims))
            .map_err(|e| Error::Crypto(format!("cannot sign the test token: {e:?}")))
    }
}
