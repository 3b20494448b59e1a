//! The provider: configuration, shared state and the management API.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use idp_core::{Algorithm, Clock, Scope, SystemClock, ValidationPolicy};

use crate::Error;
use crate::crypto::EncryptionKey;
use crate::keys::KeyRing;
use crate::manage::{Clients, Keys, NewClient, NewUser, Users};
use crate::store::Store;

/// A hook that may adjust or reject a new user before it is stored.
pub type UserHook = Arc<dyn Fn(&mut NewUser) -> Result<(), String> + Send + Sync>;
/// A hook that may adjust or reject a new client before it is stored.
pub type ClientHook = Arc<dyn Fn(&mut NewClient) -> Result<(), String> + Send + Sync>;

/// Settings read by request handlers.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub(crate) issuer: String,
    pub(crate) access_token_ttl: i64,
    pub(crate) refresh_token_ttl: i64,
    pub(crate) id_token_ttl: i64,
    pub(crate) access_token_alg: Algorithm,
    pub(crate) id_token_alg: Algorithm,
    pub(crate) key_rotation: i64,
    pub(crate) scopes_supported: Scope,
    pub(crate) insecure_http_redirect_uris: bool,
    pub(crate) jwks_max_age: u64,
    pub(crate) session_ttl: i64,
    /// Path of the provider's cookies: the issuer's path, so that a provider mounted under
    /// a prefix does not send its cookies to the rest of the application.
    pub(crate) cookie_path: String,
    /// Origins allowed to call the token, userinfo and revocation endpoints from a browser.
    pub(crate) cors_allowed_origins: Vec<String>,
}

impl Settings {
    pub(crate) fn endpoint(&self, path: &str) -> String {
        format!("{}{}", self.issuer, path)
    }
}

/// How the provider validates its own tokens, built once from the settings.
#[derive(Debug)]
pub(crate) struct Policies {
    /// Access tokens presented for use (introspection, userinfo): no leeway.
    pub(crate) access: ValidationPolicy,
    /// Access tokens presented for revocation: recently expired ones still count.
    pub(crate) access_recent: ValidationPolicy,
    /// `id_token_hint`: our ID tokens, expired or not.
    pub(crate) id_token_hint: ValidationPolicy,
}

impl Policies {
    fn new(s: &Settings) -> Result<Self, Error> {
        let access = |leeway: u64| {
            ValidationPolicy::builder()
                .issuer(s.issuer.clone())
                .insecure_any_audience()
                .algorithms([Algorithm::RS256, Algorithm::ES256, Algorithm::EdDSA])
                .required_typ("at+jwt")
                .leeway(Duration::from_secs(leeway))
                .build()
        };
        let policy_err = |e: idp_core::Error| Error::Config(e.to_string());
        Ok(Self {
            access: access(0).map_err(policy_err)?,
            access_recent: access(300).map_err(policy_err)?,
            id_token_hint: ValidationPolicy::builder()
                .issuer(s.issuer.clone())
                .insecure_any_audience()
                .insecure_allow_expired()
                .algorithms([s.id_token_alg])
                .build()
                .map_err(policy_err)?,
        })
    }
}

pub(crate) struct Inner {
    pub(crate) settings: Settings,
    pub(crate) policies: Policies,
    pub(crate) store: Arc<dyn Store>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) keys: KeyRing,
    pub(crate) discovery: bytes::Bytes,
    pub(crate) templates: crate::http::pages::Templates,
    pub(crate) limiters: crate::rate_limit::Limiters,
    pub(crate) client_auth_cache: crate::client_auth::VerifiedSecrets,
    pub(crate) user_hook: Option<UserHook>,
    pub(crate) client_hook: Option<ClientHook>,
}

impl fmt::Debug for Inner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Provider")
            .field("settings", &self.settings)
            .field("store", &self.store)
            .finish_non_exhaustive()
    }
}

impl Inner {
    pub(crate) fn now(&self) -> i64 {
        self.clock.unix_now()
    }

    pub(crate) fn users_api(&self) -> Users<'_> {
        Users::new(self)
    }
}

/// An OAuth 2.0 / OpenID Connect provider. Cheap to clone: clones share state.
///
/// Serve it with [`Provider::router`] (an `axum::Router` to nest or merge into an app) or run
/// it standalone with the `idp` binary. Manage users, clients and keys with
/// [`Provider::users`], [`Provider::clients`] and [`Provider::keys`].
#[derive(Clone, Debug)]
pub struct Provider {
    pub(crate) inner: Arc<Inner>,
}

impl Provider {
    /// Starts configuring a provider.
    pub fn builder() -> ProviderBuilder {
        ProviderBuilder::default()
    }

    /// The issuer identifier.
    pub fn issuer(&self) -> &str {
        &self.inner.settings.issuer
    }

    /// The store behind the provider.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.inner.store
    }

    /// Users.
    pub fn users(&self) -> Users<'_> {
        Users::new(&self.inner)
    }

    /// Clients.
    pub fn clients(&self) -> Clients<'_> {
        Clients::new(&self.inner)
    }

    /// Signing keys.
    pub fn keys(&self) -> Keys<'_> {
        Keys::new(&self.inner)
    }

    /// Periodic work: picks up keys changed by another replica or the CLI, rotates keys that
    /// are due, drops expired keys and purges expired codes, tokens and sessions. The `idp`
    /// binary calls this every minute.
    pub async fn maintenance(&self) -> Result<(), Error> {
        let inner = &self.inner;
        let now = inner.now();
        inner
            .keys
            .rotate_if_due(inner.store.as_ref(), now, inner.settings.key_rotation)
            .await?;
        inner.store.delete_expired_keys(now).await?;
        inner.keys.reload(inner.store.as_ref(), now).await?;
        inner.store.purge_expired(now).await?;
        inner.limiters.shrink();
        Ok(())
    }
}

/// Builder for [`Provider`].
pub struct ProviderBuilder {
    issuer: Option<String>,
    store: Option<Arc<dyn Store>>,
    clock: Arc<dyn Clock>,
    encryption_key: Option<String>,
    access_token_ttl: Duration,
    refresh_token_ttl: Duration,
    id_token_ttl: Duration,
    key_rotation: Duration,
    key_publish_ahead: Duration,
    access_token_alg: Algorithm,
    id_token_alg: Algorithm,
    scopes_supported: Vec<String>,
    insecure_http_redirect_uris: bool,
    jwks_max_age: Duration,
    session_ttl: Duration,
    templates_dir: Option<std::path::PathBuf>,
    rate_limits: crate::rate_limit::RateLimits,
    cors_allowed_origins: Vec<String>,
    user_hook: Option<UserHook>,
    client_hook: Option<ClientHook>,
}

impl fmt::Debug for ProviderBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProviderBuilder")
            .field("issuer", &self.issuer)
            .field("access_token_ttl", &self.access_token_ttl)
            .finish_non_exhaustive()
    }
}

impl Default for ProviderBuilder {
    fn default() -> Self {
        Self {
            issuer: None,
            store: None,
            clock: Arc::new(SystemClock),
            encryption_key: None,
            access_token_ttl: Duration::from_secs(15 * 60),
            refresh_token_ttl: Duration::from_secs(7 * 86_400),
            id_token_ttl: Duration::from_secs(3_600),
            key_rotation: Duration::from_secs(30 * 86_400),
            key_publish_ahead: Duration::from_secs(10 * 60),
            access_token_alg: Algorithm::ES256,
            id_token_alg: Algorithm::RS256,
            scopes_supported: ["openid", "profile", "email", "offline_access"]
                .map(String::from)
                .to_vec(),
            insecure_http_redirect_uris: false,
            jwks_max_age: Duration::from_secs(300),
            session_ttl: Duration::from_secs(12 * 3600),
            templates_dir: None,
            rate_limits: crate::rate_limit::RateLimits::default(),
            cors_allowed_origins: Vec::new(),
            user_hook: None,
            client_hook: None,
        }
    }
}

impl ProviderBuilder {
    /// The issuer URL (required): `https://…`, or `http://` on a loopback host. Every endpoint
    /// URL is built from it, never from request URIs.
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = Some(issuer.into());
        self
    }

    /// The store (required), e.g. `SqliteStore` or `MemoryStore`.
    pub fn store(mut self, store: Arc<dyn Store>) -> Self {
        self.store = Some(store);
        self
    }

    /// The clock (default: the system clock).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The secret that encrypts signing keys at rest (required, at least 32 bytes).
    pub fn encryption_key(mut self, secret: impl Into<String>) -> Self {
        self.encryption_key = Some(secret.into());
        self
    }

    /// Access-token lifetime (default 15 minutes).
    pub fn access_token_ttl(mut self, ttl: Duration) -> Self {
        self.access_token_ttl = ttl;
        self
    }

    /// Refresh-token lifetime (default 7 days).
    pub fn refresh_token_ttl(mut self, ttl: Duration) -> Self {
        self.refresh_token_ttl = ttl;
        self
    }

    /// ID-token lifetime (default 1 hour).
    pub fn id_token_ttl(mut self, ttl: Duration) -> Self {
        self.id_token_ttl = ttl;
        self
    }

    /// How often signing keys rotate (default 30 days).
    pub fn key_rotation(mut self, period: Duration) -> Self {
        self.key_rotation = period;
        self
    }

    /// How long a new key is published before it signs (default 10 minutes; keep it above
    /// the JWKS `max-age` so that caches fetch the key before tokens carry it).
    pub fn key_publish_ahead(mut self, ahead: Duration) -> Self {
        self.key_publish_ahead = ahead;
        self
    }

    /// Access-token algorithm: ES256 (default), RS256 or EdDSA.
    pub fn access_token_alg(mut self, alg: Algorithm) -> Self {
        self.access_token_alg = alg;
        self
    }

    /// ID-token algorithm: RS256 (default), ES256 or EdDSA.
    pub fn id_token_alg(mut self, alg: Algorithm) -> Self {
        self.id_token_alg = alg;
        self
    }

    /// Scopes advertised in discovery (default `openid profile email offline_access`).
    pub fn scopes_supported<I: IntoIterator<Item = S>, S: Into<String>>(mut self, s: I) -> Self {
        self.scopes_supported = s.into_iter().map(Into::into).collect();
        self
    }

    /// `max-age` of the JWKS response (default 5 minutes).
    pub fn jwks_max_age(mut self, max_age: Duration) -> Self {
        self.jwks_max_age = max_age;
        self
    }

    /// How long a browser stays signed in (default 12 hours).
    pub fn session_ttl(mut self, ttl: Duration) -> Self {
        self.session_ttl = ttl;
        self
    }

    /// A directory whose `login.html`, `consent.html`, `error.html`, `logged_out.html` or
    /// `base.html` replace the built-in page templates (minijinja syntax).
    pub fn templates_dir(mut self, dir: impl Into<std::path::PathBuf>) -> Self {
        self.templates_dir = Some(dir.into());
        self
    }

    /// Rate limits (default: 10 sign-in attempts per account per minute, 100 requests per
    /// client per second); [`RateLimits::insecure_none`](crate::RateLimits::insecure_none)
    /// turns them off.
    pub fn rate_limits(mut self, limits: crate::rate_limit::RateLimits) -> Self {
        self.rate_limits = limits;
        self
    }

    /// Origins (`https://app.example.com`) whose browser code may call the token, userinfo
    /// and revocation endpoints (CORS). None by default. Discovery and the JWKS are readable
    /// from any origin.
    pub fn cors_allowed_origins<I: IntoIterator<Item = S>, S: Into<String>>(
        mut self,
        origins: I,
    ) -> Self {
        self.cors_allowed_origins = origins.into_iter().map(Into::into).collect();
        self
    }

    /// Allows registering `http` redirect URIs on non-loopback hosts. Insecure: codes travel
    /// in clear text.
    pub fn insecure_allow_http_redirect_uris(mut self) -> Self {
        self.insecure_http_redirect_uris = true;
        self
    }

    /// A hook run on every new user before it is validated and stored; it may change the
    /// record (e.g. assign a tenant) or reject it with a message.
    pub fn before_insert_user<F>(mut self, hook: F) -> Self
    where
        F: Fn(&mut NewUser) -> Result<(), String> + Send + Sync + 'static,
    {
        self.user_hook = Some(Arc::new(hook));
        self
    }

    /// A hook run on every new client before it is validated and stored.
    pub fn before_insert_client<F>(mut self, hook: F) -> Self
    where
        F: Fn(&mut NewClient) -> Result<(), String> + Send + Sync + 'static,
    {
        self.client_hook = Some(Arc::new(hook));
        self
    }

    /// Checks the configuration, makes sure signing keys exist (creating them on first
    /// start) and returns the provider.
    pub async fn build(self) -> Result<Provider, Error> {
        let issuer = self
            .issuer
            .ok_or_else(|| Error::Config("issuer is required".into()))?;
        let issuer = validate_issuer(&issuer)?;
        let issuer_for_path = issuer.clone();
        let templates = crate::http::pages::Templates::load(self.templates_dir.as_deref())?;
        let store = self
            .store
            .ok_or_else(|| Error::Config("a store is required".into()))?;
        let enc = EncryptionKey::from_secret(
            self.encryption_key
                .as_deref()
                .ok_or_else(|| Error::Config("encryption_key is required".into()))?,
        )?;
        for (name, alg) in [
            ("access_token_alg", self.access_token_alg),
            ("id_token_alg", self.id_token_alg),
        ] {
            if !matches!(alg, Algorithm::RS256 | Algorithm::ES256 | Algorithm::EdDSA) {
                return Err(Error::Config(format!(
                    "{name} {alg} is not supported; use RS256, ES256 or EdDSA"
                )));
            }
        }
        let secs = |d: Duration| i64::try_from(d.as_secs()).unwrap_or(i64::MAX / 4);
        for (name, d) in [
            ("access_token_ttl", self.access_token_ttl),
            ("refresh_token_ttl", self.refresh_token_ttl),
            ("id_token_ttl", self.id_token_ttl),
            ("key_rotation", self.key_rotation),
            ("session_ttl", self.session_ttl),
        ] {
            if d.as_secs() == 0 {
                return Err(Error::Config(format!("{name} must be positive")));
            }
        }
        let scopes_supported = Scope::from_tokens(&self.scopes_supported)
            .map_err(|e| Error::Config(format!("scopes_supported: {e}")))?;
        let mut algs = vec![self.access_token_alg];
        if self.id_token_alg != self.access_token_alg {
            algs.push(self.id_token_alg);
        }
        let longest = secs(self.access_token_ttl).max(secs(self.id_token_ttl));
        let keys = KeyRing::new(enc, algs, secs(self.key_publish_ahead), longest + 60);
        let settings = Settings {
            issuer,
            access_token_ttl: secs(self.access_token_ttl),
            refresh_token_ttl: secs(self.refresh_token_ttl),
            id_token_ttl: secs(self.id_token_ttl),
            access_token_alg: self.access_token_alg,
            id_token_alg: self.id_token_alg,
            key_rotation: secs(self.key_rotation),
            scopes_supported,
            insecure_http_redirect_uris: self.insecure_http_redirect_uris,
            jwks_max_age: self.jwks_max_age.as_secs(),
            session_ttl: secs(self.session_ttl),
            cookie_path: cookie_path(&issuer_for_path),
            cors_allowed_origins: self.cors_allowed_origins,
        };
        for o in &settings.cors_allowed_origins {
            let ok = url::Url::parse(o).is_ok_and(|u| {
                matches!(u.scheme(), "http" | "https") && u.path() == "/" && !o.ends_with('/')
            });
            if !ok {
                return Err(Error::Config(format!(
                    "cors_allowed_origins: {o:?} is not an origin like https://app.example.com"
                )));
            }
        }
        let inner = Inner {
            policies: Policies::new(&settings)?,
            settings,
            store,
            clock: self.clock,
            keys,
            discovery: bytes::Bytes::new(),
            templates,
            limiters: crate::rate_limit::Limiters::new(self.rate_limits),
            client_auth_cache: crate::client_auth::VerifiedSecrets::new(),
            user_hook: self.user_hook,
            client_hook: self.client_hook,
        };
        let mut inner = inner;
        inner.discovery = crate::http::meta::discovery_document(&inner);
        let now = inner.now();
        inner.keys.ensure(inner.store.as_ref(), now).await?;
        Ok(Provider {
            inner: Arc::new(inner),
        })
    }
}

fn cookie_path(issuer: &str) -> String {
    match url::Url::parse(issuer) {
        Ok(u) if !u.path().is_empty() => u.path().to_owned(),
        _ => "/".to_owned(),
    }
}

/// An issuer must be an `https` URL without query or fragment (`http` only on loopback);
/// it is returned without a trailing slash.
fn validate_issuer(issuer: &str) -> Result<String, Error> {
    let url = url::Url::parse(issuer)
        .map_err(|e| Error::Config(format!("issuer {issuer:?} is not a URL: {e}")))?;
    if url.query().is_some() || url.fragment().is_some() {
        return Err(Error::Config(
            "issuer must not have a query or fragment".into(),
        ));
    }
    match url.scheme() {
        "https" => {}
        "http" if crate::manage::is_loopback_host(&url) => {}
        _ => {
            return Err(Error::Config(
                "issuer must be https (http is allowed only for localhost)".into(),
            ));
        }
    }
    Ok(issuer.trim_end_matches('/').to_owned())
}
