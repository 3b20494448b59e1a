//! The provider: its builder, and the ways to serve it (a router, a root router and a Tower
//! layer). The table of contents of what a provider is made of.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use idp_core::{Algorithm, Clock, SystemClock};

use crate::Error;
use crate::attributes::{AttributeSchema, ClaimMapping};
use crate::config::{Config, Sensitive};
use crate::issuer::paths;
use crate::layer::ProviderLayer;
use crate::mail::{MailContext, MailKind, Mailer, SmtpConfig};
use crate::manage::hooks::{Hooks, hook};
use crate::manage::{
    ClientUpdate, Clients, HookContext, Keys, NewClient, NewUser, Tenants, TokenClaims, UserUpdate,
    Users,
};
use crate::rate_limit::RateLimits;
use crate::state::State;
use crate::store::Store;
use crate::store::{Client, User};
use crate::web::App;
use crate::web::csrf::CsrfKey;
use crate::web::templates::Templates;
use std::future::Future;

/// An OAuth 2.0 / OpenID Connect provider. Cheap to clone: clones share state.
///
/// Serve it with [`Provider::serve`] (on a TCP listener, as the `idp` binary does),
/// [`Provider::router`] (an `axum::Router` to nest or merge into an app) or
/// [`Provider::layer`] (a Tower middleware). Manage users, clients and
/// keys with [`Provider::users`], [`Provider::clients`] and [`Provider::keys`].
#[derive(Clone, Debug)]
pub struct Provider {
    app: Arc<App>,
}

impl Provider {
    /// Starts configuring a provider.
    pub fn builder() -> ProviderBuilder {
        ProviderBuilder::default()
    }

    /// The issuer identifier.
    pub fn issuer(&self) -> &str {
        self.app.issuer.as_str()
    }

    /// The provider's state (for the test kit, which mints tokens with its keys).
    #[cfg(feature = "test-kit")]
    pub(crate) fn state(&self) -> &crate::state::State {
        &self.app
    }

    /// The store behind the provider.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.app.store
    }

    /// Users.
    pub fn users(&self) -> Users<'_> {
        self.app.users()
    }

    /// Clients.
    pub fn clients(&self) -> Clients<'_> {
        self.app.clients()
    }

    /// Tenants: their look on the sign-in and consent pages and the scopes they allow.
    pub fn tenants(&self) -> Tenants<'_> {
        self.app.tenants()
    }

    /// Signing keys.
    pub fn keys(&self) -> Keys<'_> {
        self.app.keys_api()
    }

    /// Periodic work: picks up keys changed by another replica or the CLI, rotates keys that
    /// are due, drops expired keys and purges expired codes, tokens and sessions. The `idp`
    /// binary calls this every minute.
    pub async fn maintenance(&self) -> Result<(), Error> {
        self.app.maintenance().await
    }

    /// Waits (up to `limit`) until the back-channel logout tokens and e-mails queued so far
    /// have been delivered or given up on; whether none is left. Deliveries run in the
    /// background; a process about to exit (the `idp` command line after `users
    /// set-password`, say) calls this so that clients and people are still told.
    pub async fn flush_notifications(&self, limit: Duration) -> bool {
        self.app.drain_notifications(limit).await
    }

    /// Renders the message of `kind` to `to` with the provider's templates (see
    /// [`MailTemplates`](crate::mail::MailTemplates)) and queues it for the provider's
    /// mailer, without waiting for the mail server. `false`: not queued (no mailer
    /// configured, a full queue), which is logged. [`flush_notifications`](Self::flush_notifications)
    /// waits for the queue.
    ///
    /// ```
    /// # async fn f(provider: idp_server::Provider) {
    /// use idp_server::mail::{MailContext, MailKind};
    /// let ctx = MailContext::new("Shop").user_name("Ada").link("https://shop.example.com/account");
    /// provider.send_mail(MailKind::PasswordChanged, "ada@example.com", &ctx);
    /// # }
    /// ```
    pub fn send_mail(&self, kind: MailKind, to: &str, ctx: &MailContext) -> bool {
        self.app.mail.send(kind, to, ctx)
    }

    /// The provider's endpoints as an `axum::Router`, to serve alone or to `nest`/`merge`
    /// into an application. URLs in responses come from the configured issuer, so mounting
    /// under a prefix works when the issuer includes that prefix.
    pub fn router(&self) -> Router {
        crate::oauth::routes(Arc::clone(&self.app))
    }

    /// [`router`](Self::router) with the landing page at the issuer's root: what
    /// [`Provider::serve`] runs.
    pub(crate) fn own_router(&self) -> Router {
        let landing = crate::account::settings::landing_routes().with_state(Arc::clone(&self.app));
        self.router().merge(landing)
    }

    /// Routes that belong at the root of the host rather than under the issuer's path: for
    /// an issuer with a path (`https://example.com/idp`), the RFC 8414 §3.1 metadata URL
    /// `/.well-known/oauth-authorization-server/idp`. Merge it into the application's
    /// root router next to `nest("/idp", provider.router())`; it is empty for an issuer
    /// without a path. [`Provider::layer`] serves it by itself.
    pub fn root_router(&self) -> Router {
        crate::oauth::root_routes(Arc::clone(&self.app))
    }

    /// The provider as a Tower [`Layer`](tower_layer::Layer): it answers the provider's
    /// paths under the issuer's path (for issuer `https://example.com/auth`,
    /// `/auth/oauth/token` and so on) and passes every other request to the wrapped service.
    pub fn layer(&self) -> ProviderLayer {
        ProviderLayer::new(self.router(), self.app.issuer.path())
    }

    /// The configuration the provider was built with (for `Provider::serve`).
    pub(crate) fn config(&self) -> &Config {
        &self.app.config
    }

    /// `GET /metrics` alone: the provider's metrics as OpenMetrics text, which Prometheus
    /// scrapes. [`Provider::serve_metrics`] serves it on a listener of its own (key
    /// `metrics_listen`); key `metrics = true` adds it to [`Provider::router`] instead.
    /// Mounted in an application, put it where only the monitoring system can reach it.
    pub fn metrics_router(&self) -> Router {
        crate::oauth::metrics_routes(Arc::clone(&self.app))
    }

    /// The provider's metrics as OpenMetrics text (what `GET /metrics` answers).
    pub fn render_metrics(&self) -> String {
        self.app.render_metrics()
    }

    /// Reads the TLS certificate and key files (`tls_cert`, `tls_key`) again: the next
    /// handshakes of [`Provider::serve`] use the new pair, connections already open keep
    /// theirs. On an error (a missing file, a key that does not match) the pair in use
    /// stays and the error says why. `Ok(false)`: the provider has no TLS configured.
    /// The `idp` binary calls this on SIGHUP; `serve` also reloads when the files change.
    pub fn reload_tls(&self) -> Result<bool, Error> {
        let Some((tls, metrics)) = self.tls_state() else {
            return Ok(false);
        };
        let result = tls.reload();
        metrics.tls_reload(result.is_ok());
        result.map(|()| true)
    }

    /// The TLS state and the metrics that count its reloads, if TLS is configured.
    pub(crate) fn tls_state(&self) -> Option<(Arc<crate::tls::Tls>, Arc<crate::metrics::Metrics>)> {
        let tls = self.app.tls.as_ref()?;
        Some((Arc::clone(tls), Arc::clone(&self.app.metrics)))
    }
}

/// Builder for [`Provider`]: a [`Config`] plus what cannot come from a file (the store, the
/// clock, hooks).
pub struct ProviderBuilder {
    config: Config,
    store: Option<Arc<dyn Store>>,
    clock: Arc<dyn Clock>,
    hooks: Hooks,
    mailer: Option<Arc<dyn Mailer>>,
}

impl fmt::Debug for ProviderBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProviderBuilder")
            .field("config", &self.config)
            .field("hooks", &self.hooks)
            .field("mailer", &self.mailer)
            .finish_non_exhaustive()
    }
}

impl Default for ProviderBuilder {
    fn default() -> Self {
        Self {
            config: Config::default(),
            store: None,
            clock: Arc::new(SystemClock),
            hooks: Hooks::default(),
            mailer: None,
        }
    }
}

impl ProviderBuilder {
    /// Starts from a whole [`Config`] (e.g. read from a file); the other methods then
    /// change single settings.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use std::sync::Arc;
    /// use idp_server::{Config, Provider, store::MemoryStore};
    ///
    /// // The same keys as the `idp` binary's TOML file.
    /// let config: Config = serde_json::from_value(serde_json::json!({
    ///     "issuer": "https://id.example.com",
    ///     "encryption_key": "an encryption key of at least 32 bytes!",
    ///     "access_token_ttl": "5m",
    /// }))?;
    /// let provider = Provider::builder()
    ///     .config(config)
    ///     .store(Arc::new(MemoryStore::new()))
    ///     .build()
    ///     .await?;
    /// assert_eq!(provider.issuer(), "https://id.example.com");
    /// # Ok(()) }
    /// ```
    pub fn config(mut self, config: Config) -> Self {
        self.config = config;
        self
    }

    /// The issuer URL (required): `https://…`, or `http://` on a loopback host. Every endpoint
    /// URL is built from it, never from request URIs.
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.config.issuer = Some(issuer.into());
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
        self.config.encryption_key = Some(Sensitive::new(secret));
        self
    }

    /// Access-token lifetime (default 15 minutes).
    pub fn access_token_ttl(mut self, ttl: Duration) -> Self {
        self.config.access_token_ttl = ttl.into();
        self
    }

    /// Refresh-token lifetime (default 7 days).
    pub fn refresh_token_ttl(mut self, ttl: Duration) -> Self {
        self.config.refresh_token_ttl = ttl.into();
        self
    }

    /// ID-token lifetime (default 1 hour).
    pub fn id_token_ttl(mut self, ttl: Duration) -> Self {
        self.config.id_token_ttl = ttl.into();
        self
    }

    /// How often signing keys rotate (default 30 days).
    pub fn key_rotation(mut self, period: Duration) -> Self {
        self.config.key_rotation = period.into();
        self
    }

    /// How long a new key is published before it signs (default 10 minutes; keep it above
    /// the JWKS `max-age` so that caches fetch the key before tokens carry it).
    pub fn key_publish_ahead(mut self, ahead: Duration) -> Self {
        self.config.key_publish_ahead = ahead.into();
        self
    }

    /// Access-token algorithm: ES256 (default), RS256 or EdDSA.
    pub fn access_token_alg(mut self, alg: Algorithm) -> Self {
        self.config.access_token_alg = alg;
        self
    }

    /// ID-token algorithm: RS256 (default), ES256 or EdDSA.
    pub fn id_token_alg(mut self, alg: Algorithm) -> Self {
        self.config.id_token_alg = alg;
        self
    }

    /// The scopes this provider knows (key `scopes_supported`): advertised in discovery,
    /// and enforced. A client may be registered (or updated) only with these scopes, and
    /// a tenant may allow only these; a request for another scope is dropped at the
    /// authorization endpoint and `invalid_scope` at the token endpoint. Not set, discovery
    /// advertises `openid profile email offline_access` and clients may register any scope.
    pub fn scopes_supported<I: IntoIterator<Item = S>, S: Into<String>>(mut self, s: I) -> Self {
        self.config.scopes_supported = Some(s.into_iter().map(Into::into).collect());
        self
    }

    /// `max-age` of the JWKS response (default 5 minutes).
    pub fn jwks_max_age(mut self, max_age: Duration) -> Self {
        self.config.jwks_max_age = max_age.into();
        self
    }

    /// How long a client record stays in memory (default 5 seconds; zero turns the cache
    /// off). Changes made through this provider, and with PostgreSQL changes announced by
    /// other replicas, take effect at once; the lifetime bounds what nobody announced (the
    /// `idp` command line on a SQLite file).
    pub fn client_cache_ttl(mut self, ttl: Duration) -> Self {
        self.config.client_cache_ttl = ttl.into();
        self
    }

    /// How long a browser stays signed in (default 12 hours).
    pub fn session_ttl(mut self, ttl: Duration) -> Self {
        self.config.session_ttl = ttl.into();
        self
    }

    /// A directory whose `login.html`, `consent.html`, `device.html`,
    /// `logout_confirm.html`, `error.html`, `logged_out.html`, the account pages' and the
    /// two-factor pages' (`totp_setup.html`, `totp_challenge.html`, `backup_codes.html`),
    /// `base.html` or `idp.css`
    /// replace the built-in page templates and stylesheet, and whose `mail/NAME.txt` and
    /// `mail/NAME.html` replace the e-mail templates (see
    /// [`MailTemplates`](crate::mail::MailTemplates)); minijinja syntax.
    pub fn templates_dir(mut self, dir: impl Into<std::path::PathBuf>) -> Self {
        self.config.templates_dir = Some(dir.into());
        self
    }

    /// Self-service registration (off by default): who may register, from which domains,
    /// with which terms. Needs a mailer.
    pub fn registration(mut self, registration: crate::Registration) -> Self {
        self.config.registration = registration;
        self
    }

    /// Refuses sign-in to users whose e-mail address is not verified (default: off); the
    /// login page offers to send the link again.
    pub fn require_verified_email(mut self) -> Self {
        self.config.require_verified_email = true;
        self
    }

    /// How long verification links (default 24 h) and password-reset links (default 1 h)
    /// work.
    pub fn account_link_ttls(mut self, verification: Duration, reset: Duration) -> Self {
        self.config.email_verification_ttl = verification.into();
        self.config.password_reset_ttl = reset.into();
        self
    }

    /// Where e-mail goes (key `[smtp]`): an [`SmtpMailer`](crate::mail::SmtpMailer) with
    /// these settings, unless [`mailer`](Self::mailer) gives another.
    pub fn smtp(mut self, smtp: SmtpConfig) -> Self {
        self.config.smtp = Some(smtp);
        self
    }

    /// The mailer the provider sends e-mail with (verification, password reset…), instead
    /// of the one `[smtp]` configures: [`DevMailer`](crate::mail::DevMailer), or a
    /// transport of your own (a test's, an HTTP mail API's). Without either, no e-mail is
    /// sent. Messages reach it through a bounded queue, never while a request waits.
    pub fn mailer(mut self, mailer: Arc<dyn Mailer>) -> Self {
        self.mailer = Some(mailer);
        self
    }

    /// Rate limits (default: 10 sign-in attempts per account per minute, 100 requests per
    /// client per second); [`RateLimits::insecure_none`](crate::RateLimits::insecure_none)
    /// turns them off.
    pub fn rate_limits(mut self, limits: RateLimits) -> Self {
        self.config.rate_limits = Some(limits);
        self
    }

    /// The password-hashing budget: at most `concurrency` argon2 computations at once
    /// (default: the number of cores; each holds ~19 MiB), and how long a sign-in or client
    /// authentication waits for a turn before it is answered 503 with `Retry-After`
    /// (default 1 s).
    pub fn password_hashing(mut self, concurrency: usize, wait: Duration) -> Self {
        self.config.password_hashing_concurrency = Some(concurrency);
        self.config.password_hashing_wait = wait.into();
        self
    }

    /// How much one query string or form body may carry: at most `max_parameters`
    /// parameters (default 64, 16 to 1024) of at most `max_parameter_len` bytes each
    /// (default 16 KiB, 4 KiB to 64 KiB). More is `400 invalid_request`, decided before
    /// anything reads the request. This also bounds `state`, which the authorization
    /// endpoint returns exactly as given.
    pub fn parameter_bounds(mut self, max_parameters: usize, max_parameter_len: usize) -> Self {
        self.config.max_parameters = max_parameters;
        self.config.max_parameter_len = max_parameter_len;
        self
    }

    /// Addresses of the reverse proxies in front of the provider: from them, and only
    /// from them, `X-Forwarded-For` / `Forwarded` name the client address that rate limits
    /// key on. None by default (the connection's peer is the client).
    pub fn trusted_proxies<I: IntoIterator<Item = std::net::IpAddr>>(mut self, proxies: I) -> Self {
        self.config.trusted_proxies = proxies.into_iter().collect();
        self
    }

    /// Origins (`https://app.example.com`) whose browser code may call the token, userinfo
    /// and revocation endpoints (CORS), or `"*"` for any origin. None by default. Discovery
    /// and the JWKS are readable from any origin.
    pub fn cors_allowed_origins<I: IntoIterator<Item = S>, S: Into<String>>(
        mut self,
        origins: I,
    ) -> Self {
        self.config.cors_allowed_origins = origins.into_iter().map(Into::into).collect();
        self
    }

    /// Allows browser code on `http://localhost`, `http://127.0.0.1` and `http://[::1]`,
    /// on any port, to call the token, userinfo and revocation endpoints, besides
    /// [`cors_allowed_origins`](Self::cors_allowed_origins) (`cors_allow_localhost`; what
    /// `idp serve --dev` sets). The origin is parsed exactly: `http://localhost.evil.com`
    /// and `https://localhost:3000` do not match.
    pub fn cors_allow_localhost(mut self) -> Self {
        self.config.cors_allow_localhost = true;
        self
    }

    /// Answers CORS requests from allowed origins with
    /// `Access-Control-Allow-Credentials: true` (`cors_allow_credentials`, default off), so
    /// that browser code may send cookies or HTTP authentication with `credentials:
    /// "include"`. Cannot be combined with the origin `"*"`: `build` refuses it.
    pub fn cors_allow_credentials(mut self) -> Self {
        self.config.cors_allow_credentials = true;
        self
    }

    /// The consent page's words for `scope` (`scope_descriptions`), e.g.
    /// `("read:orders", "See your orders")`; a scope without words is shown by its name.
    /// Display only. Also replaces the built-in words for `openid`, `profile`, `email` and
    /// `offline_access` (to translate them, say).
    pub fn scope_description(mut self, scope: impl Into<String>, text: impl Into<String>) -> Self {
        self.config
            .scope_descriptions
            .insert(scope.into(), text.into());
        self
    }

    /// Allows registering `http` redirect URIs on non-loopback hosts. Insecure: codes travel
    /// in clear text.
    pub fn insecure_allow_http_redirect_uris(mut self) -> Self {
        self.config.insecure_allow_http_redirect_uris = true;
        self
    }

    /// The rules for users' custom attributes (key `user_attributes`): once it names an
    /// attribute, users may have only the attributes it names. See [`AttributeSchema`].
    pub fn user_attributes(mut self, schema: AttributeSchema) -> Self {
        self.config.user_attributes = schema;
        self
    }

    /// The rules for clients' custom attributes (key `client_attributes`).
    pub fn client_attributes(mut self, schema: AttributeSchema) -> Self {
        self.config.client_attributes = schema;
        self
    }

    /// Rules added for the users of one tenant (key `tenant_user_attributes.TENANT`): the
    /// provider's schema with these added, these winning where both name an attribute.
    pub fn tenant_user_attributes(
        mut self,
        tenant: impl Into<String>,
        schema: AttributeSchema,
    ) -> Self {
        self.config
            .tenant_user_attributes
            .insert(tenant.into(), schema);
        self
    }

    /// Rules added for the clients of one tenant (key `tenant_client_attributes.TENANT`).
    pub fn tenant_client_attributes(
        mut self,
        tenant: impl Into<String>,
        schema: AttributeSchema,
    ) -> Self {
        self.config
            .tenant_client_attributes
            .insert(tenant.into(), schema);
        self
    }

    /// Releases a user attribute as a claim (key `[[claims]]`), e.g. `role` in the access
    /// token when the scope `roles` is granted. A registered claim name (`sub`, `email`,
    /// `tenant`…) or a scope outside `scopes_supported` fails the build.
    pub fn claim(mut self, mapping: ClaimMapping) -> Self {
        self.config.claims.push(mapping);
        self
    }

    /// Awaited before a user is inserted, with the context of the change (tenant, actor,
    /// client address); returns the user to insert, changed or not, or refuses with a
    /// message. See [`HookContext`] for every moment.
    ///
    /// ```
    /// # async fn f(b: idp_server::ProviderBuilder) -> idp_server::ProviderBuilder {
    /// b.before_insert_user(|ctx, mut user| async move {
    ///     if user.tenant_id.is_none() {
    ///         let domain = user.email.rsplit('@').next().unwrap_or("").to_owned();
    ///         user.tenant_id = Some(domain.split('.').next().unwrap_or("").to_owned());
    ///     }
    ///     let _ = ctx.actor; // who: Actor::Cli, Actor::Admin(sub), Actor::Code
    ///     Ok(user)
    /// })
    /// # }
    /// ```
    pub fn before_insert_user<F, Fut>(mut self, f: F) -> Self
    where
        F: Fn(HookContext, NewUser) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<NewUser, String>> + Send + 'static,
    {
        self.hooks.insert_user = Some(hook(f));
        self
    }

    /// Awaited before a user is updated, with the stored user and the update; returns the
    /// update to apply, or refuses.
    pub fn before_update_user<F, Fut>(mut self, f: F) -> Self
    where
        F: Fn(HookContext, (User, UserUpdate)) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<UserUpdate, String>> + Send + 'static,
    {
        self.hooks.update_user = Some(hook(f));
        self
    }

    /// Awaited before a client is inserted; returns the client to insert, or refuses.
    pub fn before_insert_client<F, Fut>(mut self, f: F) -> Self
    where
        F: Fn(HookContext, NewClient) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<NewClient, String>> + Send + 'static,
    {
        self.hooks.insert_client = Some(hook(f));
        self
    }

    /// Awaited before a client is updated, with the stored client and the update; returns
    /// the update to apply, or refuses.
    pub fn before_update_client<F, Fut>(mut self, f: F) -> Self
    where
        F: Fn(HookContext, (Client, ClientUpdate)) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<ClientUpdate, String>> + Send + 'static,
    {
        self.hooks.update_client = Some(hook(f));
        self
    }

    /// Awaited after a person's password has been checked, before their session starts
    /// (the context names the client and the address); a refusal ends the sign-in with the
    /// hook's message on the login page.
    pub fn after_sign_in<F, Fut>(mut self, f: F) -> Self
    where
        F: Fn(HookContext, User) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), String>> + Send + 'static,
    {
        self.hooks.after_sign_in = Some(hook(f));
        self
    }

    /// Awaited before every token (and userinfo response) with its custom claims (those
    /// of the configured `claims` mapping); returns them changed, or refuses the token
    /// (`access_denied`). A registered claim in the result fails the request.
    pub fn before_token<F, Fut>(mut self, f: F) -> Self
    where
        F: Fn(HookContext, TokenClaims) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<serde_json::Map<String, serde_json::Value>, String>>
            + Send
            + 'static,
    {
        self.hooks.before_token = Some(hook(f));
        self
    }

    /// Checks the configuration, makes sure signing keys exist (creating them on first
    /// start) and returns the provider.
    pub async fn build(self) -> Result<Provider, Error> {
        self.config.check_templates_dir()?;
        let store = self
            .store
            .ok_or_else(|| Error::Config("a store is required".into()))?;
        let state = State::new(
            self.config,
            store,
            self.clock,
            self.hooks,
            RateLimits::default(),
            self.mailer,
        )
        .await?;
        let templates = Templates::load(
            state.config.templates_dir.as_deref(),
            &state.issuer.endpoint(paths::STYLESHEET),
        )?;
        let discovery = crate::oauth::metadata::discovery_document(&state);
        let jwks_cache_control =
            crate::oauth::metadata::jwks_cache_control(state.config.jwks_max_age_secs());
        // `State::new` has checked that the secret is there.
        let csrf = CsrfKey::from_secret(state.config.encryption_key().unwrap_or_default())?;
        Ok(Provider {
            app: Arc::new(App {
                state: Arc::new(state),
                templates,
                csrf,
                discovery,
                jwks_cache_control,
            }),
        })
    }

    /// How long an HTTP/1 client has to send a request head, and a new connection its first
    /// request, under [`Provider::serve`] (default 10 seconds).
    pub fn header_read_timeout(mut self, timeout: Duration) -> Self {
        self.config.header_read_timeout = timeout.into();
        self
    }

    /// How long a connection with no request in flight stays open under
    /// [`Provider::serve`] (default 60 seconds).
    pub fn idle_timeout(mut self, timeout: Duration) -> Self {
        self.config.idle_timeout = timeout.into();
        self
    }

    /// How many connections [`Provider::serve`] serves at once (default 1024).
    pub fn max_connections(mut self, max: usize) -> Self {
        self.config.max_connections = max;
        self
    }

    /// How long a request body may take to arrive once a handler reads it (default 10
    /// seconds); a slower one is answered `400 invalid_request`. Applies to the router, so
    /// also when the provider is mounted in your own server.
    pub fn request_body_timeout(mut self, timeout: Duration) -> Self {
        self.config.request_body_timeout = timeout.into();
        self
    }

    /// Serves HTTPS under [`Provider::serve`] with the certificate chain in `cert` and its
    /// private key in `key`, PEM files (keys `tls_cert`, `tls_key`); `build` fails with a
    /// message naming the file when one does not load or the key does not match. Reloaded
    /// when the files change and by [`Provider::reload_tls`].
    pub fn tls(
        mut self,
        cert: impl Into<std::path::PathBuf>,
        key: impl Into<std::path::PathBuf>,
    ) -> Self {
        self.config.tls_cert = Some(cert.into());
        self.config.tls_key = Some(key.into());
        self
    }

    /// Ignores the configuration's `tls_cert` and `tls_key`: for a provider built to manage
    /// its data rather than to serve (the `idp` subcommands other than `serve`), which then
    /// need not read the certificate's private key.
    pub fn without_tls(mut self) -> Self {
        self.config.tls_cert = None;
        self.config.tls_key = None;
        self
    }

    /// Serves `GET /metrics` with the provider's endpoints (key `metrics = true`) in
    /// [`Provider::router`] and [`Provider::serve`]; [`Provider::layer`] does not claim the
    /// path (mount [`Provider::metrics_router`] yourself there). Off by default: in
    /// production prefer [`Provider::serve_metrics`] on an address of its own
    /// (`metrics_listen`), which clients cannot reach.
    pub fn metrics_endpoint(mut self) -> Self {
        self.config.metrics = true;
        self
    }

    /// How long [`Provider::serve`] lets requests in flight finish after the shutdown
    /// signal before it drops the remaining connections (default 10 seconds).
    pub fn shutdown_grace(mut self, grace: Duration) -> Self {
        self.config.shutdown_grace = grace.into();
        self
    }
}
